"""What every report shares: number and table formatting, plots, and writing a report's files atomically.

The reports themselves: run_report.py (one run), sweep_report.py (a fusion-layer sweep) and compare_report.py
(runs side by side, as compare.py compares them). The plot is drawn before the text files are replaced, so a failing plot leaves the previous
report as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_path, write_text
from .results import RunResults
from .statistics import Summary

logger = logging.getLogger(__name__)

MISSING = "-"


def fmt(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def signed(value: float | None) -> str:
    # Rounded first and +0.0 so that a tiny negative difference prints as +0.00, not -0.00.
    return MISSING if value is None else f"{round(value, 2) + 0.0:+.2f}"


def spread(summary: Summary | None) -> str:
    """`mean ± std` over seeds (just the mean for one seed)."""
    if summary is None:
        return MISSING
    if summary.std is None:
        return fmt(summary.mean)
    return f"{summary.mean:.2f} ± {summary.std:.2f}"


def interval(summary: Summary | None) -> str:
    """A paired difference: `+mean [+low, +high]`, starred when the interval excludes 0."""
    if summary is None:
        return MISSING
    if summary.ci_low is None:
        return signed(summary.mean)
    star = " *" if summary.excludes_zero else ""
    return f"{signed(summary.mean)} [{signed(summary.ci_low)}, {signed(summary.ci_high)}]{star}"


def _is_number(cell: str) -> bool:
    """A number, or one with its spread after it ('80.00 ± 1.20', '+1.00 [-0.50, +2.50]')."""
    try:
        float(cell.split(" ", 1)[0])
    except ValueError:
        return cell == MISSING
    return True


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A markdown table; columns holding only numbers are right-aligned, the others left-aligned."""
    rows = [list(row) for row in rows]
    numeric = [all(_is_number(row[column]) for row in rows) for column in range(len(header))]
    rule = "|" + "|".join("--:" if right else ":--" for right in numeric) + "|"
    lines = ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]
    return "\n".join(lines)


def union(keys: Iterable[Iterable[str]]) -> list[str]:
    """Every key, in order of first appearance."""
    return list(dict.fromkeys(key for group in keys for key in group))


def language_groups(runs: Iterable[RunResults]) -> dict[str, str]:
    return {
        language: group
        for run in runs
        for group, members in run.group_members.items()
        for language in members
    }


def heading(results: RunResults, setting: str) -> str:
    return " | ".join(
        [
            results.task,
            results.model_name_or_path,
            setting,
            f"{results.metric_display} on the {results.eval_split} split",
            f"trained on {results.train_language}",
        ]
    )


def plot(
    path: str | os.PathLike, draw: Callable[[Any], None], slots: float, *, panels: int = 1
) -> Path | None:
    """Draw one figure with `draw(axes)` and save it atomically as PNG; None without matplotlib.

    `slots` (about how many bars or points side by side) sets the figure's width; with `panels` > 1, `draw`
    gets that many axes, one above the other.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning(
            "matplotlib is not installed, %s is not drawn (pip install 'modeling-dlfa[plots]')", path
        )
        return None
    # A bare Figure on an Agg canvas: no pyplot, so no global backend switch and nothing to close.
    figure = Figure(
        figsize=(min(4 + 0.4 * slots, 40), 4.5 if panels == 1 else 1 + 3.5 * panels), layout="constrained"
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1) if panels > 1 else figure.subplots()
    draw(axes)
    for each in axes if panels > 1 else [axes]:
        # Outside the axes, where it cannot hide bars or points.
        each.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    return Path(path)


def write_report(
    output_dir: str | os.PathLike,
    texts: dict[str, str],
    plot_name: str,
    draw_plot: Callable[[Path], Path | None],
) -> list[Path]:
    output_dir = Path(output_dir)
    # The plot first: if drawing fails, the text files of the previous report stay untouched.
    drawn = draw_plot(output_dir / plot_name)
    written = [write_text(output_dir / name, text) for name, text in texts.items()]
    return written + ([drawn] if drawn else [])
