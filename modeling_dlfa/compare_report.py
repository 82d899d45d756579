"""Writing a comparison (compare.py makes it): compare.json as it is, and compare.md and compare.png from it.

Scores of a column of several seeds read `mean ± std`; its differences to the reference, the paired
difference with its 95% interval (or no difference, where the column shares no seed with the reference).
A forced comparison of runs that differ carries a warning on every table and in the plot's title.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .report import MISSING, fmt, interval, plot, signed, spread, table, write_report
from .results import RESULTS_FILE, label_for_setting
from .statistics import Summary

WARNING = "⚠ not comparable"
NO_COMMON_SEED = "no common seed"


def seed_list(seeds: Iterable[int | None]) -> str:
    return ", ".join(MISSING if seed is None else str(seed) for seed in seeds)


def _summary(data: dict | None) -> Summary | None:
    return None if data is None else Summary(**data)


def warning_line(comparison: dict) -> str | None:
    """The line every table of a forced comparison carries: what makes its runs not comparable."""
    mismatches = comparison.get("mismatches") or []
    if not mismatches:
        return None
    return f"{WARNING}: {'; '.join(mismatch['warning'] for mismatch in mismatches)}."


def _named(comparison: dict, key: str, field: str) -> str:
    """The runs' value of `key`; every value where a forced comparison's runs differ in `field`."""
    for mismatch in comparison.get("mismatches") or []:
        if mismatch["kind"] == field:
            return " / ".join(map(str, dict.fromkeys(mismatch["values"].values())))
    return comparison[key]


def title(comparison: dict) -> str:
    """Task, model(s) and metric, as compare.md and compare.png name them."""
    return (
        f"{comparison['task']} | {', '.join(comparison['models'])} | "
        f"{_named(comparison, 'metric_display', 'metric')} on the "
        f"{_named(comparison, 'eval_split', 'eval_split')} split"
    )


def compare_markdown(comparison: dict) -> str:
    columns = comparison["runs"]
    labels = [column["label"] for column in columns]
    others = columns[1:]
    seeded = comparison["seeded"]
    header = ["", *labels, *(f"Δ {label}" for label in labels[1:])]

    def score(entry: dict, label: str) -> str:
        return spread(_summary(entry["summary"][label])) if seeded else fmt(entry["scores"][label])

    def difference(entry: dict, column: dict) -> str:
        label, pairing = column["label"], column["pairing"]["kind"]
        if pairing == "none":
            return NO_COMMON_SEED
        if pairing == "paired":
            return interval(_summary(entry["difference"][label]))
        return signed(entry["differences"][label])

    def row(name: str, entry: dict) -> list[str]:
        return [name, *(score(entry, label) for label in labels), *(difference(entry, c) for c in others)]

    runs = [
        [
            column["label"],
            column["dir"],
            column["model_name_or_path"],
            label_for_setting(column["fusion_layer"]),
            seed_list(column["seeds"]),
            f"selected in {column['selected_from_sweep']}" if column["selected_from_sweep"] else RESULTS_FILE,
        ]
        for column in columns
    ]
    trained = _named(comparison, "train_language", "train_language")
    warning = warning_line(comparison)
    marked = [warning] if warning else []
    common = comparison["average"]["members"]
    averages = [row(f"{group} ({', '.join(e['members'])})", e) for group, e in comparison["groups"].items()]
    averages.append(row("average", comparison["average"]))
    parts = [
        f"# Comparison | {title(comparison)}, trained on {trained}",
        *marked,
    ]
    if seeded:
        parts.append(
            f"Scores: mean ± std over seeds (one run: its score). Δ against the reference, "
            f"{comparison['reference']}: the paired per-seed difference (runs of the same seed), mean [95% "
            "t-interval], * where the interval excludes 0; between two single runs, the plain difference."
        )
        notes = [f"- Δ {c['label']}: {c['pairing']['note']}" for c in others if c["pairing"]["note"]]
        if notes:
            parts.append("\n".join(notes))
    else:
        parts.append(f"Differences (Δ) are against the reference run, {comparison['reference']}.")
    parts += [
        table(["run", "folder", "model", "setting", "seeds", "source"], runs),
        "## Averages",
        *marked,
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
        *marked,
        table(header, (row(language, e) for language, e in comparison["languages"].items())),
    ]
    return "\n\n".join(parts) + "\n"


def _error_bars(summaries: list[dict | None]) -> list[list[float]] | None:
    """The 95% intervals as matplotlib's yerr (distances below and above the mean); None if none has one."""
    bars = [
        (0.0, 0.0)
        if summary is None or summary["ci_low"] is None
        else (summary["mean"] - summary["ci_low"], summary["ci_high"] - summary["mean"])
        for summary in summaries
    ]
    return [[low for low, _ in bars], [high for _, high in bars]] if any(map(any, bars)) else None


def _plot_comparison(comparison: dict, path: Path) -> Path | None:
    columns = comparison["runs"]
    entries = {**comparison["languages"], "average": comparison["average"]}
    seeded = comparison["seeded"]
    # With seeds, a second panel: each column's difference to the reference with its interval.
    panels = 2 if seeded and len(columns) > 1 else 1
    warning = f" | {WARNING}" if comparison.get("mismatches") else ""
    heading = f"{title(comparison)}{warning}"

    def bars(axes: Any, index: int, count: int, values: list[float | None], **style: Any) -> None:
        width = 0.8 / count
        offset = (index - (count - 1) / 2) * width
        positions = [position + offset for position in range(len(entries))]
        heights = [math.nan if value is None else value for value in values]
        axes.bar(positions, heights, width, capsize=3, **style)

    def draw(axes: Any) -> None:
        top = axes[0] if panels > 1 else axes
        for index, column in enumerate(columns):
            label = column["label"]
            several = len(column["seeds"]) > 1
            yerr = _error_bars([e["summary"][label] for e in entries.values()]) if several else None
            name = f"{label}: mean, 95% interval over {len(column['seeds'])} seeds" if several else label
            scores = [e["scores"][label] for e in entries.values()]
            bars(top, index, len(columns), scores, yerr=yerr, label=name, color=f"C{index}")
        top.set_xticks(range(len(entries)), list(entries))
        top.set_ylabel(comparison["metric_display"])
        top.figure.suptitle(heading, fontsize="medium")
        if panels == 1:
            return
        bottom = axes[1]
        for index, column in enumerate(columns[1:], 1):
            label, pairing = column["label"], column["pairing"]["kind"]
            paired = pairing == "paired"
            yerr = _error_bars([e["difference"][label] for e in entries.values()]) if paired else None
            name = {"paired": f"Δ {label}: paired, 95% interval", "none": f"Δ {label}: {NO_COMMON_SEED}"}
            differences = [
                (e["difference"][label] or {}).get("mean") if paired else e["differences"][label]
                for e in entries.values()
            ]
            bars(
                bottom,
                index - 1,
                len(columns) - 1,
                differences,
                yerr=yerr,
                label=name.get(pairing, f"Δ {label}"),
                color=f"C{index}",
            )
        bottom.axhline(0, color="gray", linewidth=0.8)
        bottom.set_xticks(range(len(entries)), list(entries))
        bottom.set_ylabel(f"Δ vs {comparison['reference']}")

    # Wide enough for the title above the axes and the legend beside them.
    return plot(path, draw, max(len(entries) * len(columns) / 2, len(heading) / 5), panels=panels)


def write_compare_report(comparison: dict, output_dir: str | os.PathLike) -> list[Path]:
    """compare.json, compare.md and compare.png in `output_dir`."""
    texts = {
        "compare.json": json.dumps(comparison, indent=2, ensure_ascii=False) + "\n",
        "compare.md": compare_markdown(comparison),
    }
    return write_report(output_dir, texts, "compare.png", lambda path: _plot_comparison(comparison, path))
