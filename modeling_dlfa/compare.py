"""Runs side by side (`run_glue_x.py compare`): per language and per group, with differences against the first
run; compare.json, compare.md and compare.png."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .report import MISSING, fmt, language_groups, plot, signed, table, union, write_report
from .results import RESULTS_FILE, SWEEP_FILE, RunResults, SweepResults, label_for_setting

logger = logging.getLogger(__name__)

Scores = dict[str, float | None]


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 2) if values else None


def _diff(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else round(value - reference, 2)


def load_run(run_dir: str | os.PathLike) -> RunResults:
    """A run's results.json; for a sweep folder, its selected setting's results.

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


def _require_same(dirs: list[Path], values: list[Any], key: str, what: str) -> None:
    if len(set(values)) > 1:
        listing = ", ".join(f"{folder} ({key} {value})" for folder, value in zip(dirs, values, strict=True))
        raise ValueError(f"cannot compare runs with different {what}: {listing}")


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


def _entry(scores: Scores, labels: list[str]) -> dict[str, Scores]:
    """Scores per run label, and their differences to the first (reference) run."""
    reference = scores[labels[0]]
    return {"scores": scores, "differences": {label: _diff(scores[label], reference) for label in labels[1:]}}


def _comparison(dirs: list[Path], runs: list[RunResults], labels: list[str]) -> dict:
    languages = union(run.languages for run in runs)
    common = [language for language in languages if all(language in run.languages for run in runs)]
    groups_of = language_groups(runs)
    by_label = dict(zip(labels, runs, strict=True))

    def average(members: list[str]) -> dict[str, Scores]:
        means = {label: _mean(run.languages[m] for m in members) for label, run in by_label.items()}
        return {"members": members, **_entry(means, labels)}

    first = runs[0]
    return {
        "task": first.task,
        "metric": first.metric,
        "metric_display": first.metric_display,
        "eval_split": first.eval_split,
        "train_language": first.train_language,
        "runs": [
            {
                "label": label,
                "dir": str(folder),
                "model_name_or_path": run.model_name_or_path,
                "fusion_layer": run.fusion_layer,
                "selected_from_sweep": run.selected_from_sweep,
            }
            for label, folder, run in zip(labels, dirs, runs, strict=True)
        ],
        "reference": labels[0],
        "languages": {
            language: _entry({label: run.languages.get(language) for label, run in by_label.items()}, labels)
            for language in languages
        },
        "not_in_every_run": {
            language: [label for label, run in by_label.items() if language not in run.languages]
            for language in languages
            if language not in common
        },
        "groups": {
            group: average([language for language in common if groups_of.get(language) == group])
            for group in union(run.groups for run in runs)
        },
        "average": average(common),
    }


def compare_markdown(comparison: dict) -> str:
    labels = [run["label"] for run in comparison["runs"]]
    others = labels[1:]
    header = ["", *labels, *(f"Δ {label}" for label in others)]

    def row(name: str, entry: dict) -> list[str]:
        return [
            name,
            *(fmt(entry["scores"][label]) for label in labels),
            *(signed(entry["differences"][label]) for label in others),
        ]

    runs = [
        [
            run["label"],
            run["dir"],
            run["model_name_or_path"],
            label_for_setting(run["fusion_layer"]),
            f"selected in {run['selected_from_sweep']}" if run["selected_from_sweep"] else RESULTS_FILE,
        ]
        for run in comparison["runs"]
    ]
    common = comparison["average"]["members"]
    averages = [row(f"{group} ({', '.join(e['members'])})", e) for group, e in comparison["groups"].items()]
    averages.append(row("average", comparison["average"]))
    parts = [
        f"# Comparison | {comparison['task']} | {comparison['metric_display']} "
        f"on the {comparison['eval_split']} split, trained on {comparison['train_language']}",
        f"Differences (Δ) are against the reference run, {comparison['reference']}.",
        table(["run", "folder", "model", "setting", "source"], runs),
        "## Averages",
        f"Over the {len(common)} languages every run evaluated.",
    ]
    if comparison["not_in_every_run"]:
        missing = ", ".join(
            f"{language} (not in {', '.join(absent)})"
            for language, absent in comparison["not_in_every_run"].items()
        )
        parts[-1] += f" Left out of the averages, and shown as {MISSING} where missing: {missing}."
    parts += [
        table(header, averages),
        "## Per language",
        table(header, (row(language, e) for language, e in comparison["languages"].items())),
    ]
    return "\n\n".join(parts) + "\n"


def _plot_comparison(comparison: dict, path: Path) -> Path | None:
    labels = [run["label"] for run in comparison["runs"]]
    entries = {**comparison["languages"], "average": comparison["average"]}
    width = 0.8 / len(labels)

    def draw(axes: Any) -> None:
        for index, label in enumerate(labels):
            offset = (index - (len(labels) - 1) / 2) * width
            scores = [e["scores"][label] for e in entries.values()]
            positions = [position + offset for position in range(len(entries))]
            axes.bar(positions, [math.nan if s is None else s for s in scores], width, label=label)
        axes.set_xticks(range(len(entries)), list(entries))
        axes.set_ylabel(comparison["metric_display"])
        axes.set_title(f"{comparison['task']}: {comparison['eval_split']}")

    return plot(path, draw, len(entries) * len(labels) / 2)


def compare_runs(
    run_dirs: list[str | os.PathLike], output_dir: str | os.PathLike, labels: list[str] | None = None
) -> dict:
    """Compare runs (or sweeps' selected settings) side by side; the first run is the reference.

    Writes compare.json, compare.md and compare.png into `output_dir` and returns the comparison.
    """
    dirs = [Path(folder) for folder in run_dirs]
    if not dirs:
        raise ValueError("no runs to compare")
    if labels is not None and len(labels) != len(dirs):
        raise ValueError(f"{len(labels)} labels for {len(dirs)} runs")
    runs = [load_run(folder) for folder in dirs]
    _require_same(dirs, [run.task for run in runs], "task", "tasks")
    _require_same(dirs, [run.metric for run in runs], "metric", "metrics")
    _require_same(dirs, [run.eval_split for run in runs], "eval_split", "evaluation splits")
    default = [f"{Path(run.model_name_or_path).name} {label_for_setting(run.fusion_layer)}" for run in runs]
    comparison = _comparison(dirs, runs, _unique(labels or default))
    texts = {
        "compare.json": json.dumps(comparison, indent=2, ensure_ascii=False) + "\n",
        "compare.md": compare_markdown(comparison),
    }
    write_report(output_dir, texts, "compare.png", lambda path: _plot_comparison(comparison, path))
    return comparison
