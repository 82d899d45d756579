"""What a finished run leaves, typed: results.json is a `RunResults` (sweep.json, a `SweepResults`, is in
sweep_results.py), with a `DataOrigin` for each dataset it read.

Both own their files (`FolderFile`): the names (defined here only), reading, with errors that name the file
and its keys, and atomic writing. `to_dict` gives the keys in the order runs have always written them, so a
file read and written again is the same byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from .atomic import write_json

RESULTS_FILE = "results.json"
SWEEP_FILE = "sweep.json"
# What must match for a run's checkpoints to be resumed, or its finished results reused.
RUN_CONFIG_FILE = "run_config.json"


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


def check_keys(data: Any, source: str, required: Iterable[str], known: Iterable[str]) -> dict:
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


def checked_fields(cls: type, data: Any, source: str) -> dict:
    """`data` checked against the dataclass `cls`: every field without a default given, no other key."""
    fields = dataclasses.fields(cls)
    required = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    return check_keys(data, source, required, [f.name for f in fields])


class FolderFile:
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
ORIGIN_SOURCES = ("file", "hub")


@dataclass(frozen=True, kw_only=True)
class DataOrigin:
    """Where one dataset of a run came from: a local file (`path`), or one `language` of a Hub dataset's split
    (`repo`, `config`, `split`; where one config holds every language, the rows whose `language_column` names
    it). `heldout`: only the rows held out of training were used (how many), not the whole file or split."""

    source: str
    path: str | None = None
    repo: str | None = None
    config: str | None = None
    split: str | None = None
    language_column: str | None = None
    language: str | None = None
    heldout: int | None = None

    def __post_init__(self) -> None:
        if self.source not in ORIGIN_SOURCES:
            raise ValueError(f"data origin source {self.source!r} is not one of {', '.join(ORIGIN_SOURCES)}")

    @property
    def from_hub(self) -> bool:
        return self.source == "hub"

    @property
    def from_file(self) -> bool:
        return self.source == "file"

    def to_dict(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> DataOrigin:
        return cls(**checked_fields(cls, data, source))


@dataclass(frozen=True, kw_only=True)
class SplitScores:
    """A split scored beside the run's headline split (--do_eval with --do_predict): what results.json keeps
    of it, with the same meaning as the run's keys of the same names."""

    languages: dict[str, float]
    average: float | None
    groups: dict[str, float | None]
    metrics: dict[str, dict[str, float]]
    num_examples: dict[str, int]
    skipped_languages: dict[str, str]
    data_sources: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> SplitScores:
        return cls(**checked_fields(cls, data, source))


def _typed_values(data: dict, key: str, cls: type, source: str) -> dict:
    """`data` with its JSON object under `key` (when present) read value by value as `cls`."""
    values = data.get(key)
    if values is None:
        return data
    if not isinstance(values, dict):
        raise ValueError(f"{source}: {key} is not a JSON object")
    return {
        **data,
        key: {name: cls.from_dict(value, f"{source}, {key}[{name}]") for name, value in values.items()},
    }


@dataclass(kw_only=True)
class RunResults(FolderFile):
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
    # Splits scored beside eval_split (--do_eval with --do_predict).
    other_splits: dict[str, SplitScores] | None = None

    @property
    def evaluation_only(self) -> bool:
        """An evaluation of a trained checkpoint: this run trained nothing."""
        return self.num_train_examples == 0

    def to_dict(self) -> dict[str, Any]:
        data = {
            item.name: getattr(self, item.name)
            for item in dataclasses.fields(self)
            if not (item.name in _OMITTED_WHEN_NONE and getattr(self, item.name) is None)
        }
        for key in ("data_origins", "other_splits"):
            if data.get(key) is not None:
                data[key] = {name: value.to_dict() for name, value in data[key].items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "results") -> RunResults:
        data = checked_fields(cls, data, source)
        data = _typed_values(data, "data_origins", DataOrigin, source)
        return cls(**_typed_values(data, "other_splits", SplitScores, source))
