"""sweep.json, typed: a `SweepResults` holds every setting of a sweep over fusion layers and seeds, each
setting's runs (one per seed), their mean results and statistics over seeds, and the setting selected.

The statistics (mean, std and 95% interval over seeds; the paired per-seed difference to the baseline) and the
selection rule are here because sweep.json records both; reading and writing it is as for results.json
(results.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .results import SWEEP_FILE, FolderFile, RunResults, check_keys, checked_fields, label_for_setting
from .statistics import Summary, paired_difference, summarize

SELECTION = "best mean score over seeds on the training language's dev set (train_dev_score)"

# A score inside a results object: ("average",), or ("languages", "de") and ("groups", "enf").
ScorePath = tuple[str, ...]
_SCALARS = ("train_dev_score", "average", "average_without_train_language")
_MAPPINGS = ("groups", "languages")


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
        values = [_score(result, path) for result in results]
        means[path] = None if None in values else sum(values) / len(values)
    return dataclasses.replace(
        results[0], **_nested(means), seed=None, seeds=[run.seed for run in runs], date=None, runtime=None
    )


def _by_seed(runs: Sequence[SeedRun], path: ScorePath) -> dict:
    values = {run.seed: _score(run.results, path) for run in runs}
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
    data = check_keys(data, source, ("fusion_layer", "dir", "results"), _SETTING_KEYS)
    results = RunResults.from_dict(data["results"], f"{source}, results")
    if "runs" not in data:
        return data["fusion_layer"], data["dir"], [SeedRun(results.seed, data["dir"], results)], results
    runs = []
    for index, run in enumerate(data["runs"]):
        where = f"{source}, runs[{index}]"
        run = checked_fields(SeedRun, run, where)
        runs.append(
            SeedRun(run["seed"], run["dir"], RunResults.from_dict(run["results"], f"{where}, results"))
        )
    return data["fusion_layer"], data["dir"], runs, results


@dataclass(kw_only=True)
class SweepResults(FolderFile):
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
        data = check_keys(data, source, [name for name in names if name != "seeds"], names)
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
