"""What a finished run or sweep leaves, typed: results.json is a `RunResults`, sweep.json a `SweepResults`.

They own their files: the names (defined here only), reading, with errors that name the file, and atomic
writing. `to_dict` gives the keys in the order runs have always written them, so a file read and written again
is the same byte for byte. A sweep's statistics over seeds and its selection rule are here too: sweep.json
records both.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from .atomic import write_json
from .statistics import Summary, paired_difference, summarize

RESULTS_FILE = "results.json"
SWEEP_FILE = "sweep.json"
# What must match for a run's checkpoints to be resumed, or its finished results reused.
RUN_CONFIG_FILE = "run_config.json"

SELECTION = "best mean score over seeds on the training language's dev set (train_dev_score)"

# A score inside a results object: ("average",), or ("languages", "de") and ("groups", "enf").
ScorePath = tuple[str, ...]
_SCALARS = ("train_dev_score", "average", "average_without_train_language")
_MAPPINGS = ("groups", "languages")


def label_for_setting(fusion_layer: int | None) -> str:
    """The paper's name for a setting: `Dx` fuses layer x with the last layer."""
    return "baseline" if fusion_layer is None else f"D{fusion_layer}"


def _read_json(path: Path, written: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file ({written})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # UnicodeDecodeError is one too
        raise ValueError(f"{path} is damaged, not JSON ({error})") from None


def _check_keys(data: Any, source: str, required: Iterable[str], known: Iterable[str]) -> dict:
    """`data` as a dict that has every required key and no unknown one: nothing is lost when it is written
    again, and a file of another layout is named rather than half-read."""
    if not isinstance(data, dict):
        raise ValueError(f"{source} is not a JSON object")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(
            f"{source} lacks {', '.join(missing)}: an older layout, or not written by modeling_dlfa"
        )
    unknown = [key for key in data if key not in known]
    if unknown:
        raise ValueError(f"{source} has unknown keys {', '.join(unknown)}: written by a newer modeling_dlfa?")
    return data


def _checked_fields(cls: type, data: Any, source: str) -> dict:
    fields = dataclasses.fields(cls)
    required = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    return _check_keys(data, source, required, [f.name for f in fields])


def _score(scores: Any, path: ScorePath) -> Any:
    value = getattr(scores, path[0])
    return value.get(path[1]) if len(path) == 2 else value


def _nested(values: dict[ScorePath, Any]) -> dict[str, Any]:
    """Values by score path -> the fields they fill: {"groups": {...}, "languages": {...}, "average": ...}."""
    nested: dict[str, Any] = {key: {} for key in _MAPPINGS}
    for path, value in values.items():
        if len(path) == 1:
            nested[path[0]] = value
        else:
            nested[path[0]][path[1]] = value
    return nested


class _FolderFile:
    """Reading and atomic writing of the file of its kind in a run's or a sweep's folder."""

    file_name: ClassVar[str]
    written_when: ClassVar[str]  # what the error for a missing file says

    @classmethod
    def read(cls, folder: str | os.PathLike) -> Self:
        path = Path(folder) / cls.file_name
        return cls.from_dict(_read_json(path, cls.written_when), source=str(path))

    def write(self, folder: str | os.PathLike) -> Path:
        return write_json(Path(folder) / self.file_name, self.to_dict())


# A mean over seeds has no date or runtime of its own, and only it has seeds; selected_from_sweep only marks
# a sweep's selected setting as `compare` reads it. Absent from the file, not null, when they do not apply.
_OMITTED_WHEN_NONE = (
    "date",
    "runtime",
    "seeds",
    "selected_from_sweep",
    "lineage",
    "task_definition",
    "data_origins",
    "other_splits",
)
ORIGIN_KINDS = ("file", "hub")


@dataclass(frozen=True, kw_only=True)
class DataOrigin:
    """Where one dataset of a run came from: a local file (`path`), or one `language` of a Hub dataset's split
    (`repo`, `config`, `split`; where one config holds every language, the rows whose `language_column` names
    it). `heldout`: only the rows held out of training were used (how many), not the whole file or split."""

    kind: str
    path: str | None = None
    repo: str | None = None
    config: str | None = None
    split: str | None = None
    language_column: str | None = None
    language: str | None = None
    heldout: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ORIGIN_KINDS:
            raise ValueError(f"data origin kind {self.kind!r} is not one of {', '.join(ORIGIN_KINDS)}")

    @property
    def from_hub(self) -> bool:
        return self.kind == "hub"

    @property
    def from_file(self) -> bool:
        return self.kind == "file"

    def to_dict(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> DataOrigin:
        return cls(**_checked_fields(cls, data, source))


@dataclass(kw_only=True)
class RunResults(_FolderFile):
    """results.json: one run, or a sweep setting's mean over seeds. Scores are unrounded percentages.

    Keys that older versions did not write yet, and that hand-made files may leave out, load with defaults.
    """

    file_name: ClassVar[str] = RESULTS_FILE
    written_when: ClassVar[str] = "the run writes it after evaluation"

    task: str
    model_name_or_path: str
    backbone_type: str
    fusion_layer: int | None
    fusion_gate: str
    fusion_init: str | None = None
    aif_global_norm: str | None = None
    train_language: str
    metric: str
    metric_display: str
    eval_split: str
    languages: dict[str, float]
    skipped_languages: dict[str, str] = field(default_factory=dict)
    average: float | None
    average_without_train_language: float | None
    groups: dict[str, float | None]
    group_members: dict[str, list[str]]
    num_examples: dict[str, int]
    num_truncated: dict[str, int] = field(default_factory=dict)
    # Token tasks: sentences longer than max_seq_length, split into windows; words no window predicted.
    num_split_sentences: dict[str, int] = field(default_factory=dict)
    num_unpredicted_words: dict[str, int] = field(default_factory=dict)
    num_train_examples: int
    data_sources: dict[str, str] = field(default_factory=dict)
    # The same per dataset, structured (what the card reads); results.json files before it lack it.
    data_origins: dict[str, DataOrigin] | None = None
    heldout: dict[str, Any] | None = None
    seed: int | None
    training: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    date: str | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    train_dev_score: float | None
    runtime: dict[str, float] | None = None
    seeds: list[int] | None = None
    selected_from_sweep: str | None = None
    # Continued training from a DLFA checkpoint: what it started from and what that was trained on, oldest
    # first (the few-shot target-language use case).
    lineage: list[dict[str, Any]] | None = None
    # A task defined by a task file or by run_ner.py's dataset flags (not a built-in one), as task_files reads it.
    task_definition: dict[str, Any] | None = None
    # Splits scored beside eval_split (--do_eval with --do_predict): per split its languages, average, groups,
    # metrics, example counts, skipped languages and data sources.
    other_splits: dict[str, dict[str, Any]] | None = None

    @property
    def evaluation_only(self) -> bool:
        """An evaluation of a trained checkpoint: this run trained nothing."""
        return self.num_train_examples == 0

    def score(self, path: ScorePath) -> float | None:
        return _score(self, path)

    def to_dict(self) -> dict[str, Any]:
        data = {
            item.name: getattr(self, item.name)
            for item in dataclasses.fields(self)
            if not (item.name in _OMITTED_WHEN_NONE and getattr(self, item.name) is None)
        }
        if self.data_origins is not None:
            data["data_origins"] = {name: origin.to_dict() for name, origin in self.data_origins.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "results") -> RunResults:
        data = _checked_fields(cls, data, source)
        origins = data.get("data_origins")
        if origins is not None:
            if not isinstance(origins, dict):
                raise ValueError(f"{source}: data_origins is not a JSON object")
            origins = {
                name: DataOrigin.from_dict(origin, f"{source}, data_origins[{name}]")
                for name, origin in origins.items()
            }
            data = {**data, "data_origins": origins}
        return cls(**data)


def score_paths(results: Iterable[RunResults]) -> list[ScorePath]:
    """Every score a sweep summarizes over seeds: dev, averages, then each group and language any run has."""
    results = list(results)
    paths: list[ScorePath] = [(key,) for key in _SCALARS]
    for key in _MAPPINGS:
        paths += [(key, name) for name in dict.fromkeys(name for r in results for name in getattr(r, key))]
    return paths


@dataclass(kw_only=True)
class ScoreStatistics:
    """A `Summary` for every score a sweep summarizes (None where no seed has it): the spread over seeds of a
    setting, or its paired per-seed difference to the baseline."""

    groups: dict[str, Summary | None]
    languages: dict[str, Summary | None]
    train_dev_score: Summary | None
    average: Summary | None
    average_without_train_language: Summary | None

    def score(self, path: ScorePath) -> Summary | None:
        return _score(self, path)

    def to_dict(self) -> dict[str, Any]:
        def plain(summary: Summary | None) -> dict | None:
            return None if summary is None else summary.to_dict()

        return {
            "groups": {name: plain(summary) for name, summary in self.groups.items()},
            "languages": {name: plain(summary) for name, summary in self.languages.items()},
            **{key: plain(getattr(self, key)) for key in _SCALARS},
        }


@dataclass
class SeedRun:
    """One seed of a sweep setting: its folder (relative to the sweep's) and its results."""

    seed: int | None
    dir: str | None
    results: RunResults

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "dir": self.dir, "results": self.results.to_dict()}


def mean_results(runs: Sequence[SeedRun]) -> RunResults:
    """One RunResults for several seeds of a setting: every score the mean over seeds (what `compare` and
    the selection read); a single seed's results as they are."""
    if len(runs) == 1:
        return runs[0].results
    results = [run.results for run in runs]
    means = {}
    for path in score_paths(results):
        values = [result.score(path) for result in results]
        means[path] = None if None in values else sum(values) / len(values)
    return dataclasses.replace(
        results[0], **_nested(means), seed=None, seeds=[run.seed for run in runs], date=None, runtime=None
    )


def _by_seed(runs: Sequence[SeedRun], path: ScorePath) -> dict:
    values = {run.seed: run.results.score(path) for run in runs}
    return {seed: value for seed, value in values.items() if value is not None}


def _statistics(runs: Sequence[SeedRun], baseline_runs: Sequence[SeedRun] | None) -> dict[str, Any]:
    """Mean, std and 95% interval over seeds of every score as `summary`, and with `baseline_runs`, the
    paired per-seed difference to the baseline as `difference`.

    The baseline of the same seed starts from the same head initialisation (the fusion module draws from its
    own generator), so the per-seed difference removes the part of the spread that the seed explains.
    """
    summary, difference = {}, {}
    for path in score_paths(run.results for run in runs):
        scores = _by_seed(runs, path)
        summary[path] = summarize(scores.values()) if scores else None
        if baseline_runs is not None:
            reference = _by_seed(baseline_runs, path)
            common = scores.keys() & reference.keys()
            difference[path] = paired_difference(scores, reference) if common else None
    statistics = {"summary": ScoreStatistics(**_nested(summary))}
    if baseline_runs is not None:
        statistics["difference"] = ScoreStatistics(**_nested(difference))
    return statistics


@dataclass(kw_only=True)
class SweepSetting:
    """One fusion setting of a sweep: its runs (one per seed), their mean results, the spread over seeds
    (`summary`) and, beside a baseline, the paired difference to it (`difference`)."""

    fusion_layer: int | None
    dir: str
    runs: list[SeedRun]
    results: RunResults
    summary: ScoreStatistics
    difference: ScoreStatistics | None = None

    @property
    def label(self) -> str:
        return label_for_setting(self.fusion_layer)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "fusion_layer": self.fusion_layer,
            "dir": self.dir,
            "runs": [run.to_dict() for run in self.runs],
            "results": self.results.to_dict(),
            "summary": self.summary.to_dict(),
        }
        if self.difference is not None:
            data["difference"] = self.difference.to_dict()
        return data


def _with_statistics(
    parts: Sequence[tuple[int | None, str, list[SeedRun], RunResults]],
) -> list[SweepSetting]:
    """(fusion_layer, dir, runs, mean results) per setting -> the settings with their statistics."""
    baseline_runs = next((runs for layer, _, runs, _ in parts if layer is None), None)
    return [
        SweepSetting(
            fusion_layer=layer,
            dir=folder,
            runs=runs,
            results=results,
            **_statistics(runs, None if layer is None else baseline_runs),
        )
        for layer, folder, runs, results in parts
    ]


def select_setting(settings: Sequence[SweepSetting]) -> SweepSetting:
    """The setting with the best dev score on the training language (for several seeds, their mean); ties go
    to the earlier one.

    Target-language scores are never looked at: choosing on them would not be zero-shot.
    """
    best = None
    for setting in settings:
        score = setting.results.train_dev_score
        if score is None:
            raise ValueError(f"setting {setting.label} has no train_dev_score")
        if best is None or score > best.results.train_dev_score:
            best = setting
    if best is None:
        raise ValueError("no settings to select from")
    return best


_SETTING_KEYS = ("fusion_layer", "dir", "runs", "results", "summary", "difference")


def _setting_parts(data: Any, source: str) -> tuple[int | None, str, list[SeedRun], RunResults]:
    """A sweep.json setting; one without runs (one seed per setting, as sweeps before seeds wrote it) is
    one run of its results."""
    data = _check_keys(data, source, ("fusion_layer", "dir", "results"), _SETTING_KEYS)
    results = RunResults.from_dict(data["results"], f"{source}, results")
    if "runs" not in data:
        return data["fusion_layer"], data["dir"], [SeedRun(results.seed, data["dir"], results)], results
    runs = []
    for index, run in enumerate(data["runs"]):
        where = f"{source}, runs[{index}]"
        run = _checked_fields(SeedRun, run, where)
        runs.append(
            SeedRun(run["seed"], run["dir"], RunResults.from_dict(run["results"], f"{where}, results"))
        )
    return data["fusion_layer"], data["dir"], runs, results


@dataclass(kw_only=True)
class SweepResults(_FolderFile):
    """sweep.json: every setting of a sweep over fusion layers and seeds, and the one selected."""

    file_name: ClassVar[str] = SWEEP_FILE
    written_when: ClassVar[str] = "the sweep writes it after its last run"

    task: str
    model_name_or_path: str
    metric: str
    metric_display: str
    train_language: str
    seeds: list[int]
    settings: list[SweepSetting]
    selected_fusion_layer: int | None
    selection: str

    @classmethod
    def from_runs(
        cls,
        *,
        task: str,
        model_name_or_path: str,
        metric: str,
        metric_display: str,
        train_language: str,
        seeds: list[int],
        settings: Sequence[tuple[int | None, str, list[SeedRun]]],
    ) -> SweepResults:
        """A finished sweep from each setting's (fusion_layer, dir, runs): the means and statistics over
        seeds, and the setting that SELECTION selects."""
        complete = _with_statistics(
            [(layer, folder, runs, mean_results(runs)) for layer, folder, runs in settings]
        )
        return cls(
            task=task,
            model_name_or_path=model_name_or_path,
            metric=metric,
            metric_display=metric_display,
            train_language=train_language,
            seeds=seeds,
            settings=complete,
            selected_fusion_layer=select_setting(complete).fusion_layer,
            selection=SELECTION,
        )

    @property
    def selected(self) -> SweepSetting:
        for setting in self.settings:
            if setting.fusion_layer == self.selected_fusion_layer:
                return setting
        raise ValueError(
            f"the sweep's selected_fusion_layer {self.selected_fusion_layer} is none of its settings"
        )

    def to_dict(self) -> dict[str, Any]:
        data = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        return {**data, "settings": [setting.to_dict() for setting in self.settings]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "sweep") -> SweepResults:
        """The statistics over seeds are computed again from the runs (the same numbers for a sweep.json this
        version wrote); sweeps before seeds lack them, and `seeds`."""
        names = [item.name for item in dataclasses.fields(cls)]
        data = _check_keys(data, source, [name for name in names if name != "seeds"], names)
        settings = _with_statistics(
            [
                _setting_parts(setting, f"{source}, settings[{i}]")
                for i, setting in enumerate(data["settings"])
            ]
        )
        if "seeds" in data:
            seeds = data["seeds"]
        else:
            seeds = list(dict.fromkeys(run.seed for setting in settings for run in setting.runs))
        return cls(**{**data, "seeds": seeds, "settings": settings})
