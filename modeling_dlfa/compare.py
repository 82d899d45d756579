"""Runs side by side (`run_glue_x.py compare`): per language and per group, with differences against the first
(reference) column. What is compared is decided here; compare_report.py writes it (compare.json, compare.md,
compare.png).

Runs that would not be compared fairly are refused: different tasks always; different training languages,
metrics, evaluation splits or evaluation examples (a language's example count or data source, where several
runs score it) unless `force`, which compares them anyway and marks every table as not comparable.

Runs of one setting (`setting_key`) with different seeds share a column: mean ± std over seeds, and against a
reference of several seeds the paired per-seed difference (runs of the same seed) with its 95% interval. A
column with no seed in common with the reference gets no difference rather than an unpaired one. Two single
runs get the plain difference, as before seeds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compare_report import NO_COMMON_SEED, seed_list, write_compare_report
from .report import language_groups, union
from .results import RESULTS_FILE, SWEEP_FILE, RunResults, label_for_setting
from .statistics import Summary, paired_difference, summarize
from .sweep_results import SweepResults

logger = logging.getLogger(__name__)

Scores = dict[str, float | None]

# What identifies a run's setting besides its seed (and its training data, below): runs that agree on all of
# it are seeds of one setting. Left out: scores and counts, the seed, date, runtime, versions, and where the
# results were read from.
SETTING_FIELDS = (
    "task",
    "model_name_or_path",
    "backbone_type",
    "fusion_layer",
    "fusion_gate",
    "fusion_init",
    "aif_global_norm",
    "train_language",
    "metric",
    "eval_split",
    "num_train_examples",
    "training",
    "heldout",
    "task_definition",
)
# Named in default labels where columns of one model and fusion layer differ in them.
_LABEL_FIELDS = ("model_name_or_path", "fusion_gate", "fusion_init", "aif_global_norm", "train_language")
# Must agree unless `force`: (field, what the error calls them, what the warning calls one).
_MUST_AGREE = (
    ("train_language", "training languages", "training language"),
    ("metric", "metrics", "metric"),
    ("eval_split", "evaluation splits", "split"),
)
# The same for each language several runs score: (field, what the error calls it, the unit of its values).
_PER_LANGUAGE = (("num_examples", "examples", " examples"), ("data_sources", "data sources", ""))


def setting_key(results: RunResults) -> str:
    """What a run's setting is, as one string: equal for the seeds of one setting."""
    identity = {name: getattr(results, name) for name in SETTING_FIELDS}
    identity["train_data"] = results.data_sources.get("train")
    return json.dumps(identity, sort_keys=True, default=str)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 2) if values else None


def _diff(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else round(value - reference, 2)


@dataclass(frozen=True)
class _Run:
    """One run as compare reads it: the folder given, the run's own folder (a seed's in a sweep), results."""

    given: Path
    dir: Path
    results: RunResults


@dataclass
class _Column:
    """The runs of one setting, one per seed."""

    key: str
    runs: list[_Run]
    label: str = ""

    @property
    def results(self) -> RunResults:
        return self.runs[0].results

    @property
    def seeds(self) -> list[int | None]:
        return [run.results.seed for run in self.runs]

    def accepts(self, run: _Run) -> bool:
        """Another seed of this column's setting (runs without a seed stand alone)."""
        seed = run.results.seed
        return (
            setting_key(run.results) == self.key
            and seed is not None
            and None not in self.seeds
            and seed not in self.seeds
        )


def load_run(run_dir: str | os.PathLike) -> RunResults:
    """A run's results.json; for a sweep folder, its selected setting's results (for several seeds, their
    mean; `compare` reads each seed's run instead).

    Those carry `selected_from_sweep` (the sweep.json path), so reports can say where they came from.
    """
    folder = Path(run_dir)
    if (folder / RESULTS_FILE).is_file():
        return RunResults.read(folder)
    if not (folder / SWEEP_FILE).is_file():
        raise FileNotFoundError(
            f"{folder} holds neither {RESULTS_FILE} nor {SWEEP_FILE}: is it a run's output folder?"
        )
    setting = SweepResults.read(folder).selected
    logger.info("%s is a sweep: using its selected setting %s", folder, setting.label)
    return dataclasses.replace(setting.results, selected_from_sweep=str(folder / SWEEP_FILE))


def _load(run_dir: str | os.PathLike) -> list[_Run]:
    """A run folder's run; a sweep folder's selected setting: one run per seed where it ran several."""
    folder = Path(run_dir)
    if (folder / RESULTS_FILE).is_file() or not (folder / SWEEP_FILE).is_file():
        return [_Run(folder, folder, load_run(folder))]
    setting = SweepResults.read(folder).selected
    if len(setting.runs) == 1:
        return [_Run(folder, folder, load_run(folder))]
    logger.info(
        "%s is a sweep: using its selected setting %s's %d seeds", folder, setting.label, len(setting.runs)
    )
    source = str(folder / SWEEP_FILE)
    return [
        _Run(
            folder,
            folder / run.dir if run.dir else folder,
            dataclasses.replace(run.results, selected_from_sweep=source),
        )
        for run in setting.runs
    ]


def _values(runs: list[_Run], value_of: Callable[[RunResults], Any]) -> dict[str, Any]:
    """Each given folder's value; where a folder's runs (a sweep's seeds) disagree, each run's."""
    values: dict[str, Any] = {}
    for given in dict.fromkeys(run.given for run in runs):
        mine = [run for run in runs if run.given == given]
        if len({value_of(run.results) for run in mine}) == 1:
            values[str(given)] = value_of(mine[0].results)
        else:
            values.update((str(run.dir), value_of(run.results)) for run in mine)
    return values


def _mismatch(field: str, language: str | None, values: dict[str, Any], message: str, warning: str) -> dict:
    distinct = " vs ".join(map(str, dict.fromkeys(values.values())))
    return {
        "kind": field,
        "language": language,
        "values": values,
        "message": message,
        "warning": f"{warning} ({distinct})",
    }


def _per_language(name: str, language: str) -> Callable[[RunResults], Any]:
    return lambda results: getattr(results, name)[language]


def _mismatches(runs: list[_Run]) -> list[dict]:
    """What makes the runs not comparable (short of a different task): training language, metric, split, and
    per language that several runs score, its example count or data source."""
    found = []
    for name, what, one in _MUST_AGREE:
        values = _values(runs, lambda results, name=name: getattr(results, name))
        if len(set(values.values())) > 1:
            listing = ", ".join(f"{folder} ({name} {value})" for folder, value in values.items())
            found.append(_mismatch(name, None, values, f"different {what}: {listing}", f"{one} differs"))
    for language in union(run.results.languages for run in runs):
        scoring = [run for run in runs if language in run.results.languages]
        for name, what, unit in _PER_LANGUAGE:
            having = [run for run in scoring if language in getattr(run.results, name)]
            values = _values(having, _per_language(name, language))
            if len(set(values.values())) > 1:
                listing = ", ".join(f"{folder} ({value}{unit})" for folder, value in values.items())
                message = f"different evaluation {what} for {language}: {listing}"
                found.append(_mismatch(name, language, values, message, f"{language} {what} differ"))
    return found


def _require_same_task(runs: list[_Run]) -> None:
    values = _values(runs, lambda results: results.task)
    if len(set(values.values())) > 1:
        listing = ", ".join(f"{folder} (task {value})" for folder, value in values.items())
        raise ValueError(f"cannot compare runs with different tasks: {listing}")


def _columns(runs: list[_Run]) -> list[_Column]:
    """Runs grouped by setting, in order of first appearance; a seed already in a column starts another."""
    columns: list[_Column] = []
    for run in runs:
        column = next((column for column in columns if column.accepts(run)), None)
        if column is None:
            columns.append(_Column(setting_key(run.results), [run]))
        else:
            column.runs.append(run)
    return columns


def _unique(labels: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for label in labels:
        candidate, number = label, 1
        while candidate in seen:
            number += 1
            candidate = f"{label} ({number})"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _default_labels(columns: list[_Column]) -> list[str]:
    """Model and setting; where columns share both, what else tells them apart."""
    base = [
        f"{Path(column.results.model_name_or_path).name} {label_for_setting(column.results.fusion_layer)}"
        for column in columns
    ]
    labels = []
    for column, name in zip(columns, base, strict=True):
        alike = [other for other, other_name in zip(columns, base, strict=True) if other_name == name]
        differing = [
            f"{field}={getattr(column.results, field)}"
            for field in _LABEL_FIELDS
            if len({getattr(other.results, field) for other in alike}) > 1
        ]
        labels.append(" ".join([name, *differing]))
    return _unique(labels)


def _pairing(column: _Column, reference: _Column, seeded: bool) -> dict:
    """How a column's differences to the reference are taken: `plain` (one run each), `paired` (per seed,
    over the seeds both have) or `none` (no seed in common: no difference)."""
    if len(column.runs) == 1 and len(reference.runs) == 1:
        note = None
        if seeded:
            note = (
                f"one run each (seed {seed_list(column.seeds)} and {seed_list(reference.seeds)}): "
                "the plain difference, no interval"
            )
        return {"kind": "plain", "seeds": None, "note": note}
    common = [seed for seed in column.seeds if seed is not None and seed in reference.seeds]
    if not common:
        note = (
            f"none, {NO_COMMON_SEED} with {reference.label} (seeds {seed_list(column.seeds)} against "
            f"{seed_list(reference.seeds)}): runs of different seeds are not paired"
        )
        return {"kind": "none", "seeds": [], "note": note}
    note = f"paired on seed{'s' if len(common) > 1 else ''} {seed_list(common)}"
    if len(common) < max(len(column.runs), len(reference.runs)):
        note += f" (of {seed_list(column.seeds)} against {seed_list(reference.seeds)}: the seeds both have)"
    return {"kind": "paired", "seeds": common, "note": note}


def _plain(summary: Summary | None) -> dict | None:
    return None if summary is None else summary.to_dict()


def _comparison(columns: list[_Column], mismatches: list[dict]) -> dict:
    results = [run.results for column in columns for run in column.runs]
    languages = union(r.languages for r in results)
    common = [language for language in languages if all(language in r.languages for r in results)]
    groups_of = language_groups(results)
    seeded = any(len(column.runs) > 1 for column in columns)
    reference, others = columns[0], columns[1:]
    pairings = {column.label: _pairing(column, reference, seeded) for column in others}

    def entry(value: Callable[[RunResults], float | None]) -> dict:
        """Scores per column (a column of several seeds: their mean) and differences to the reference; with
        seeds, also the spread over seeds (`summary`) and the paired differences (`difference`)."""
        by_seed = {
            column.label: {
                run.results.seed: score for run in column.runs if (score := value(run.results)) is not None
            }
            for column in columns
        }
        summaries = {
            label: summarize(values.values()) if values else None for label, values in by_seed.items()
        }
        scores: Scores = {
            column.label: value(column.results)
            if len(column.runs) == 1
            else getattr(summaries[column.label], "mean", None)
            for column in columns
        }
        differences: Scores = {}
        paired: dict[str, Summary | None] = {}
        for column in others:
            label, pairing = column.label, pairings[column.label]["kind"]
            if pairing == "plain":
                differences[label], paired[label] = _diff(scores[label], scores[reference.label]), None
                continue
            values, baseline = by_seed[label], by_seed[reference.label]
            both = pairing == "paired" and values.keys() & baseline.keys()
            paired[label] = paired_difference(values, baseline) if both else None
            differences[label] = None if paired[label] is None else round(paired[label].mean, 2)
        result: dict[str, Any] = {"scores": scores, "differences": differences}
        if seeded:
            result["summary"] = {label: _plain(summary) for label, summary in summaries.items()}
            result["difference"] = {label: _plain(summary) for label, summary in paired.items()}
        return result

    def average(members: list[str]) -> dict:
        return {"members": members, **entry(lambda r: _mean(r.languages[m] for m in members))}

    first = reference.results
    return {
        "task": first.task,
        "models": list(dict.fromkeys(column.results.model_name_or_path for column in columns)),
        "metric": first.metric,
        "metric_display": first.metric_display,
        "eval_split": first.eval_split,
        "train_language": first.train_language,
        "mismatches": mismatches,
        "seeded": seeded,
        "runs": [
            {
                "label": column.label,
                "dir": ", ".join(dict.fromkeys(str(run.given) for run in column.runs)),
                "model_name_or_path": column.results.model_name_or_path,
                "fusion_layer": column.results.fusion_layer,
                "fusion_gate": column.results.fusion_gate,
                "fusion_init": column.results.fusion_init,
                "selected_from_sweep": ", ".join(
                    dict.fromkeys(
                        run.results.selected_from_sweep
                        for run in column.runs
                        if run.results.selected_from_sweep
                    )
                )
                or None,
                "seeds": column.seeds,
                "seed_runs": [{"seed": run.results.seed, "dir": str(run.dir)} for run in column.runs],
                "pairing": pairings.get(column.label),
            }
            for column in columns
        ],
        "reference": reference.label,
        "languages": {
            language: entry(lambda r, language=language: r.languages.get(language)) for language in languages
        },
        "not_in_every_run": {
            language: [
                column.label
                for column in columns
                if any(language not in run.results.languages for run in column.runs)
            ]
            for language in languages
            if language not in common
        },
        "groups": {
            group: average([language for language in common if groups_of.get(language) == group])
            for group in union(r.groups for r in results)
        },
        "average": average(common),
    }


def compare_runs(
    run_dirs: list[str | os.PathLike],
    output_dir: str | os.PathLike,
    labels: list[str] | None = None,
    *,
    force: bool = False,
) -> dict:
    """Compare runs (or sweeps' selected settings) side by side; the first column is the reference.

    Runs of one setting with different seeds (a sweep's selected setting's seeds among them) share a column;
    `labels` name the columns, not the folders. Runs of different tasks are refused; of different training
    languages, metrics, splits or evaluation examples too, unless `force`, which records the differences as
    `mismatches` and marks every table. Writes compare.json, compare.md and compare.png into `output_dir` and
    returns the comparison.
    """
    dirs = [Path(folder) for folder in run_dirs]
    if not dirs:
        raise ValueError("no runs to compare")
    runs = [run for folder in dirs for run in _load(folder)]
    _require_same_task(runs)
    mismatches = _mismatches(runs)
    if mismatches and not force:
        reasons = "; ".join(mismatch["message"] for mismatch in mismatches)
        raise ValueError(
            f"cannot compare runs with {reasons} (--force compares them anyway, marked as not comparable)"
        )
    columns = _columns(runs)
    if labels is not None and len(labels) != len(columns):
        listing = "; ".join(", ".join(dict.fromkeys(str(run.given) for run in c.runs)) for c in columns)
        raise ValueError(
            f"{len(labels)} labels for {len(columns)} columns (one per setting, its seeds share it): {listing}"
        )
    for column, label in zip(columns, _unique(labels or _default_labels(columns)), strict=True):
        column.label = label
    comparison = _comparison(columns, mismatches)
    write_compare_report(comparison, output_dir)
    return comparison
