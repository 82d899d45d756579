"""The report of a fusion-layer sweep: sweep.md and sweep.png, every setting's mean ± std over seeds and its
paired difference to the baseline, with the selected setting marked."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .report import heading, interval, plot, spread, table, union, write_report
from .results import SWEEP_FILE
from .statistics import Summary
from .sweep_results import ScorePath, ScoreStatistics, SweepResults, SweepSetting, score_paths

SELECTED_MARK = "**←selected**"
REPORT_FILE = "sweep.md"


def _several_seeds(sweep: SweepResults) -> bool:
    return any(len(setting.runs) > 1 for setting in sweep.settings)


def sweep_markdown(sweep: SweepResults) -> str:
    settings, selected = sweep.settings, sweep.selected
    runs = [run for setting in settings for run in setting.runs]
    paths = [
        path
        for path in score_paths(run.results for run in runs)
        if path != ("average_without_train_language",)
    ]
    header = [
        "setting",
        f"dev ({sweep.train_language})",
        "average",
        *(name for _, name in paths[2:]),
    ]
    seeds = union([run.seed] for run in runs)

    def cells(statistics: ScoreStatistics, format_cell: Callable[[Summary | None], str]) -> list[str]:
        return [format_cell(statistics.score(path)) for path in paths]

    def name(setting: SweepSetting) -> str:
        return f"{setting.label} {SELECTED_MARK}" if setting is selected else setting.label

    parts = [
        f"# {heading(selected.results, 'fusion-layer sweep')}",
        f"Selection: {sweep.selection}. Selected: **{selected.label}**.",
    ]
    if _several_seeds(sweep):
        parts.append(
            f"Seeds: {', '.join(map(str, seeds))}. Scores: mean ± std over seeds. Δ: the paired per-seed "
            "difference to the baseline of the same seed, mean [95% t-interval]; * marks an interval that "
            "excludes 0."
        )
    parts += ["## Scores", table(header, ([name(s), *cells(s.summary, spread)] for s in settings))]
    compared = [setting for setting in settings if setting.difference is not None]
    if compared:
        differences = ([name(s), *cells(s.difference, interval)] for s in compared)
        parts += ["## Difference vs the baseline", table(header, differences)]
    return "\n\n".join(parts) + "\n"


def _plot_sweep(sweep: SweepResults, path: Path) -> Path | None:
    # The baseline first, then the fusion layers in order; each setting is a point with its interval.
    ordered = sorted(sweep.settings, key=lambda s: -1 if s.fusion_layer is None else s.fusion_layer)
    baseline = next((setting for setting in ordered if setting.fusion_layer is None), None)
    series = ["average", *union(s.results.groups for s in sweep.settings)]
    selected = sweep.selected
    several = _several_seeds(sweep)

    def point(setting: SweepSetting, name: str) -> tuple[float, float, float]:
        """(mean, down, up): the mean and its 95% interval's distance below and above (0 for one seed)."""
        score: ScorePath = ("average",) if name == "average" else ("groups", name)
        summary = setting.summary.score(score)
        if summary is None:
            return math.nan, 0.0, 0.0
        if summary.ci_low is None:
            return summary.mean, 0.0, 0.0
        return summary.mean, summary.mean - summary.ci_low, summary.ci_high - summary.mean

    def draw(axes: Any) -> None:
        positions = range(len(ordered))
        # Series side by side around each setting's position, so their intervals do not hide each other.
        width = 0.3 / max(len(series) - 1, 1)
        for index, name in enumerate(series):
            color = f"C{index}"
            points = [point(setting, name) for setting in ordered]
            axes.errorbar(
                [position + (index - (len(series) - 1) / 2) * width for position in positions],
                [mean for mean, _, _ in points],
                yerr=[[down for _, down, _ in points], [up for _, _, up in points]],
                marker="o",
                capsize=3 if several else 0,
                color=color,
                label=name,
            )
            if baseline is not None:
                axes.axhline(point(baseline, name)[0], color=color, linestyle="--", alpha=0.5)
        axes.axvline(
            ordered.index(selected),
            color="gray",
            linestyle=":",
            label=f"selected {selected.label}",
        )
        axes.set_xticks(list(positions), [s.label for s in ordered])
        axes.set_xlabel("setting (Dx fuses layer x; dashed: the baseline)")
        spread = f", mean and 95% interval over {len(ordered[0].runs)} seeds" if several else ""
        axes.set_ylabel(sweep.metric_display + spread)
        axes.set_title(f"{sweep.task}: {sweep.model_name_or_path}")

    return plot(path, draw, len(ordered))


def write_sweep_report(sweep: SweepResults, output_dir: str | os.PathLike) -> list[Path]:
    """Write sweep.md and sweep.png (score per setting with its interval over seeds) into `output_dir`."""
    texts = {REPORT_FILE: sweep_markdown(sweep)}
    return write_report(output_dir, texts, "sweep.png", lambda path: _plot_sweep(sweep, path))


def sweep_paths(sweep: SweepResults, output_dir: Path) -> str:
    """Where a finished sweep's files are, for the end of its terminal summary."""
    selected = sweep.selected
    paths = [
        ("sweep", output_dir / SWEEP_FILE),
        ("report", output_dir / REPORT_FILE),
        (
            "selected",
            f"{output_dir / selected.dir}{os.sep} ({selected.label}, best on the {sweep.train_language} dev set)",
        ),
    ]
    return "\n".join(f"{name:<12} {path}" for name, path in paths)
