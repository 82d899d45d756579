"""The report of one run: results.md, the terminal summary and per_language.png."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Any

from .report import MISSING, fmt, heading, language_groups, plot, table, union, write_report
from .results import RunResults, label_for_setting

TERMINAL_WIDTH = 100
REPORT_FILE = "results.md"
METRIC_NAMES = {"span_precision": "precision", "span_recall": "recall", "token_accuracy": "token accuracy"}


def _setting_text(results: RunResults) -> str:
    layer = results.fusion_layer
    if layer is None:
        return "baseline (no fusion)"
    return f"D{layer} (layer {layer} fused with the last layer, gate {results.fusion_gate})"


def results_markdown(results: RunResults) -> str:
    train = results.train_language
    metric = results.metric_display
    languages = results.languages
    examples = results.num_examples
    groups_of = language_groups([results])
    averages = [
        [group, fmt(score), ", ".join(results.group_members.get(group, []))]
        for group, score in results.groups.items()
    ]
    averages += [
        ["average", fmt(results.average), ", ".join(languages)],
        [
            f"average without {train}",
            fmt(results.average_without_train_language),
            ", ".join(language for language in languages if language != train),
        ],
    ]
    # Every metric the task reports (PAN-X precision/recall, UD-POS token accuracy) beside the headline one.
    all_metrics = results.metrics
    extra = [name for name in union(all_metrics.values()) if name != results.metric]
    per_language = [
        [
            language,
            groups_of.get(language, MISSING),
            fmt(score),
            *(fmt(all_metrics.get(language, {}).get(name)) for name in extra),
            str(examples.get(language, MISSING)),
        ]
        for language, score in languages.items()
    ]
    details = (
        f"Dev score on {train} (used for model selection): {fmt(results.train_dev_score)}; "
        f"training examples: {results.num_train_examples}; "
        f"seed: {results.seed}."
    )
    heldout = results.heldout
    if heldout:
        details += f" Held out of the training file: {heldout['count']} rows (seed {heldout['seed']})"
        details += "; every language is scored on those rows." if heldout.get("parallel") else "."
    skipped = results.skipped_languages
    if skipped:
        details += " Not evaluated: " + "; ".join(f"{code} ({why})" for code, why in skipped.items()) + "."
    return (
        "\n\n".join(
            [
                f"# {heading(results, _setting_text(results))}",
                details,
                "## Averages",
                table(["average over", metric, "languages"], averages),
                "## Per language",
                table(
                    ["language", "group", metric, *(METRIC_NAMES.get(n, n) for n in extra), "examples"],
                    per_language,
                ),
                *_other_splits(results),
            ]
        )
        + "\n"
    )


def _other_splits(results: RunResults) -> list[str]:
    """Splits scored beside the headline one (--do_eval with --do_predict): their per-language scores."""
    sections = []
    for split, scored in (results.other_splits or {}).items():
        counts = scored.num_examples
        rows = [
            [code, fmt(score), str(counts.get(code, MISSING))] for code, score in scored.languages.items()
        ]
        rows += [
            [name, fmt(score), ""] for name, score in {"average": scored.average, **scored.groups}.items()
        ]
        sections += [
            f"## The {split} split",
            table(["language", results.metric_display, "examples"], rows),
        ]
    return sections


def _grid(cells: list[str], width: int, gap: int = 3) -> list[str]:
    """Lay cells out in as many columns as fit in `width`, filled column by column."""
    cell_width = max(map(len, cells), default=0)
    columns = max(1, (width + gap) // (cell_width + gap))
    rows = math.ceil(len(cells) / columns)
    return [
        (" " * gap).join(cell.ljust(cell_width) for cell in cells[row::rows]).rstrip() for row in range(rows)
    ]


def terminal_summary(results: RunResults) -> str:
    train = results.train_language
    averages = [f"average {fmt(results.average)}"]
    averages.append(f"without {train} {fmt(results.average_without_train_language)}")
    averages += [f"{group} {fmt(score)}" for group, score in results.groups.items()]
    averages.append(f"dev ({train}) {fmt(results.train_dev_score)}")
    name_width = max(map(len, results.languages), default=0)
    cells = [f"{language:<{name_width}} {fmt(score):>6}" for language, score in results.languages.items()]
    lines = textwrap.wrap(heading(results, label_for_setting(results.fusion_layer)), TERMINAL_WIDTH)
    lines += textwrap.wrap("   ".join(averages), TERMINAL_WIDTH)
    lines.append("-" * TERMINAL_WIDTH)
    lines += _grid(cells, TERMINAL_WIDTH)
    return "\n".join(lines)


def plot_languages(results: RunResults, path: str | os.PathLike) -> Path | None:
    languages = list(results.languages)
    groups_of = language_groups([results])
    colors = {group: f"C{index}" for index, group in enumerate(results.groups)}

    def draw(axes: Any) -> None:
        bar_colors = [colors.get(groups_of.get(language), "gray") for language in languages]
        axes.bar(languages, list(results.languages.values()), color=bar_colors)
        for group, score in results.groups.items():
            axes.axhline(score, color=colors[group], linestyle="--", label=f"{group} average {fmt(score)}")
        average = results.average
        axes.axhline(average, color="black", linestyle=":", label=f"average {fmt(average)}")
        axes.set_ylabel(results.metric_display)
        axes.set_title(f"{results.task}: {label_for_setting(results.fusion_layer)}")

    return plot(path, draw, len(languages))


def write_run_report(results: RunResults, output_dir: str | os.PathLike) -> list[Path]:
    """Write results.md and per_language.png into `output_dir`."""
    texts = {REPORT_FILE: results_markdown(results)}
    return write_report(output_dir, texts, "per_language.png", lambda path: plot_languages(results, path))
