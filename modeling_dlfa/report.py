"""Reports for one run, a fusion-layer sweep and a comparison of runs: markdown, terminal text, plots.

Every file is written atomically, and the plot is drawn before the text files are replaced, so a
failing plot leaves the previous report as it was.
"""

from __future__ import annotations

import json
import logging
import math
import os
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_path, write_text

logger = logging.getLogger(__name__)

MISSING = "-"
TERMINAL_WIDTH = 100
SELECTED_MARK = "**←selected**"

Scores = dict[str, float | None]


# ---------------------------------------------------------------- formatting


def label_for_setting(fusion_layer: int | None) -> str:
    """The paper's name for a setting: `Dx` fuses layer x with the last layer."""
    return "baseline" if fusion_layer is None else f"D{fusion_layer}"


def _fmt(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    # Rounded first and +0.0 so that a tiny negative difference prints as +0.00, not -0.00.
    return MISSING if value is None else f"{round(value, 2) + 0.0:+.2f}"


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 2) if values else None


def _diff(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else round(value - reference, 2)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == MISSING
    return True


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A markdown table; columns holding only numbers are right-aligned, the others left-aligned."""
    rows = [list(row) for row in rows]
    numeric = [all(_is_number(row[column]) for row in rows) for column in range(len(header))]
    rule = "|" + "|".join("--:" if right else ":--" for right in numeric) + "|"
    lines = ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]
    return "\n".join(lines)


def _union(keys: Iterable[Iterable[str]]) -> list[str]:
    """Every key, in order of first appearance."""
    return list(dict.fromkeys(key for group in keys for key in group))


def _language_groups(runs: Iterable[dict]) -> dict[str, str]:
    return {
        language: group
        for run in runs
        for group, members in run["group_members"].items()
        for language in members
    }


def _setting_text(results: dict) -> str:
    layer = results["fusion_layer"]
    if layer is None:
        return "baseline (no fusion)"
    return f"D{layer} (layer {layer} fused with the last layer, gate {results.get('fusion_gate', '?')})"


def _heading(results: dict, setting: str) -> str:
    return " | ".join(
        [
            results["task"],
            results["model_name_or_path"],
            setting,
            f"{results['metric_display']} on the {results['eval_split']} split",
            f"trained on {results['train_language']}",
        ]
    )


# ---------------------------------------------------------------- plots and files


def _plot(path: str | os.PathLike, draw: Callable[[Any], None], slots: float) -> Path | None:
    """Draw one figure with `draw(axes)` and save it atomically as PNG; None without matplotlib.

    `slots` (about how many bars or points side by side) sets the figure's width.
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
    figure = Figure(figsize=(min(4 + 0.4 * slots, 40), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    draw(axes)
    # Outside the axes, where it cannot hide bars or points.
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    return Path(path)


def _write_report(
    output_dir: str | os.PathLike,
    texts: dict[str, str],
    plot_name: str,
    plot: Callable[[Path], Path | None],
) -> list[Path]:
    output_dir = Path(output_dir)
    # The plot first: if drawing fails, the text files of the previous report stay untouched.
    drawn = plot(output_dir / plot_name)
    written = [write_text(output_dir / name, text) for name, text in texts.items()]
    return written + ([drawn] if drawn else [])


# ---------------------------------------------------------------- one run


METRIC_NAMES = {"span_precision": "precision", "span_recall": "recall", "token_accuracy": "token accuracy"}


def results_markdown(results: dict) -> str:
    train = results["train_language"]
    metric = results["metric_display"]
    languages = results["languages"]
    examples = results.get("num_examples", {})
    groups_of = _language_groups([results])
    averages = [
        [group, _fmt(score), ", ".join(results["group_members"].get(group, []))]
        for group, score in results["groups"].items()
    ]
    averages += [
        ["average", _fmt(results["average"]), ", ".join(languages)],
        [
            f"average without {train}",
            _fmt(results["average_without_train_language"]),
            ", ".join(language for language in languages if language != train),
        ],
    ]
    # Every metric the task reports (PAN-X precision/recall, UD-POS token accuracy) beside the headline one.
    all_metrics = results.get("metrics") or {}
    extra = [name for name in _union(all_metrics.values()) if name != results["metric"]]
    per_language = [
        [
            language,
            groups_of.get(language, MISSING),
            _fmt(score),
            *(_fmt(all_metrics.get(language, {}).get(name)) for name in extra),
            str(examples.get(language, MISSING)),
        ]
        for language, score in languages.items()
    ]
    details = (
        f"Dev score on {train} (used for model selection): {_fmt(results.get('train_dev_score'))}; "
        f"training examples: {results.get('num_train_examples', MISSING)}; "
        f"seed: {results.get('seed', MISSING)}."
    )
    heldout = results.get("heldout")
    if heldout:
        details += f" Held out of the training file: {heldout['count']} rows (seed {heldout['seed']})"
        details += "; every language is scored on those rows." if heldout.get("parallel") else "."
    skipped = results.get("skipped_languages")
    if skipped:
        details += " Not evaluated: " + "; ".join(f"{code} ({why})" for code, why in skipped.items()) + "."
    return (
        "\n\n".join(
            [
                f"# {_heading(results, _setting_text(results))}",
                details,
                "## Averages",
                _table(["average over", metric, "languages"], averages),
                "## Per language",
                _table(
                    ["language", "group", metric, *(METRIC_NAMES.get(n, n) for n in extra), "examples"],
                    per_language,
                ),
            ]
        )
        + "\n"
    )


def _grid(cells: list[str], width: int, gap: int = 3) -> list[str]:
    """Lay cells out in as many columns as fit in `width`, filled column by column."""
    cell_width = max(map(len, cells), default=0)
    columns = max(1, (width + gap) // (cell_width + gap))
    rows = math.ceil(len(cells) / columns)
    return [
        (" " * gap).join(cell.ljust(cell_width) for cell in cells[row::rows]).rstrip() for row in range(rows)
    ]


def terminal_summary(results: dict) -> str:
    train = results["train_language"]
    averages = [f"average {_fmt(results['average'])}"]
    averages.append(f"without {train} {_fmt(results['average_without_train_language'])}")
    averages += [f"{group} {_fmt(score)}" for group, score in results["groups"].items()]
    averages.append(f"dev ({train}) {_fmt(results.get('train_dev_score'))}")
    name_width = max(map(len, results["languages"]), default=0)
    cells = [f"{language:<{name_width}} {_fmt(score):>6}" for language, score in results["languages"].items()]
    lines = textwrap.wrap(_heading(results, label_for_setting(results["fusion_layer"])), TERMINAL_WIDTH)
    lines += textwrap.wrap("   ".join(averages), TERMINAL_WIDTH)
    lines.append("-" * TERMINAL_WIDTH)
    lines += _grid(cells, TERMINAL_WIDTH)
    return "\n".join(lines)


def plot_languages(results: dict, path: str | os.PathLike) -> Path | None:
    languages = list(results["languages"])
    groups_of = _language_groups([results])
    colors = {group: f"C{index}" for index, group in enumerate(results["groups"])}

    def draw(axes: Any) -> None:
        bar_colors = [colors.get(groups_of.get(language), "gray") for language in languages]
        axes.bar(languages, list(results["languages"].values()), color=bar_colors)
        for group, score in results["groups"].items():
            axes.axhline(score, color=colors[group], linestyle="--", label=f"{group} average {_fmt(score)}")
        average = results["average"]
        axes.axhline(average, color="black", linestyle=":", label=f"average {_fmt(average)}")
        axes.set_ylabel(results["metric_display"])
        axes.set_title(f"{results['task']}: {label_for_setting(results['fusion_layer'])}")

    return _plot(path, draw, len(languages))


def write_run_report(results: dict, output_dir: str | os.PathLike) -> list[Path]:
    """Write results.md and per_language.png into `output_dir`."""
    texts = {"results.md": results_markdown(results)}
    return _write_report(output_dir, texts, "per_language.png", lambda path: plot_languages(results, path))


# ---------------------------------------------------------------- sweeps


def select_setting(settings: list[dict]) -> dict:
    """The setting with the best dev score on the training language; ties go to the earlier one.

    Target-language scores are never looked at: choosing on them would not be zero-shot.
    """
    best = None
    for setting in settings:
        score = setting["results"].get("train_dev_score")
        if score is None:
            raise ValueError(f"setting {label_for_setting(setting['fusion_layer'])} has no train_dev_score")
        if best is None or score > best["results"]["train_dev_score"]:
            best = setting
    if best is None:
        raise ValueError("no settings to select from")
    return best


def _selected(sweep: dict) -> dict:
    """The setting the sweep recorded as selected, or, if it recorded none, `select_setting`'s choice."""
    if "selected_fusion_layer" not in sweep:
        return select_setting(sweep["settings"])
    layer = sweep["selected_fusion_layer"]
    for setting in sweep["settings"]:
        if setting["fusion_layer"] == layer:
            return setting
    raise ValueError(f"the sweep's selected_fusion_layer {layer} is none of its settings")


def _baseline(settings: list[dict]) -> dict | None:
    return next((setting for setting in settings if setting["fusion_layer"] is None), None)


def sweep_markdown(sweep: dict) -> str:
    settings = sweep["settings"]
    selected = _selected(sweep)
    runs = [setting["results"] for setting in settings]
    groups = _union(run["groups"] for run in runs)
    languages = _union(run["languages"] for run in runs)
    header = ["setting", f"dev ({sweep['train_language']})", "average", *groups, *languages]

    def numbers(run: dict) -> list[float | None]:
        return [
            run.get("train_dev_score"),
            run["average"],
            *(run["groups"].get(group) for group in groups),
            *(run["languages"].get(language) for language in languages),
        ]

    def name(setting: dict) -> str:
        label = label_for_setting(setting["fusion_layer"])
        return f"{label} {SELECTED_MARK}" if setting is selected else label

    parts = [
        f"# {_heading(selected['results'], 'fusion-layer sweep')}",
        f"Selection: {sweep.get('selection', 'best train_dev_score')}. "
        f"Selected: **{label_for_setting(selected['fusion_layer'])}**.",
        "## Scores",
        _table(header, ([name(s), *map(_fmt, numbers(s["results"]))] for s in settings)),
    ]
    baseline = _baseline(settings)
    if baseline is not None:
        reference = numbers(baseline["results"])
        differences = (
            [name(s), *(_signed(_diff(v, r)) for v, r in zip(numbers(s["results"]), reference, strict=True))]
            for s in settings
            if s is not baseline
        )
        parts += ["## Difference vs the baseline", _table(header, differences)]
    return "\n\n".join(parts) + "\n"


def _plot_sweep(sweep: dict, path: Path) -> Path | None:
    settings = sweep["settings"]
    layered = sorted((s for s in settings if s["fusion_layer"] is not None), key=lambda s: s["fusion_layer"])
    baseline = _baseline(settings)
    series = ["average", *_union(s["results"]["groups"] for s in settings)]
    selected = _selected(sweep)["fusion_layer"]

    def value(results: dict, name: str) -> float:
        return results["average"] if name == "average" else results["groups"].get(name, math.nan)

    def draw(axes: Any) -> None:
        layers = [s["fusion_layer"] for s in layered]
        for index, name in enumerate(series):
            color = f"C{index}"
            axes.plot(
                layers, [value(s["results"], name) for s in layered], marker="o", color=color, label=name
            )
            if baseline is not None:
                base = value(baseline["results"], name)
                axes.axhline(base, color=color, linestyle="--", label=f"{name}, baseline")
        if selected is not None:
            axes.axvline(
                selected, color="gray", linestyle=":", label=f"selected {label_for_setting(selected)}"
            )
        axes.set_xticks(layers)
        axes.set_xlabel("fusion layer x (Dx)")
        axes.set_ylabel(sweep["metric_display"])
        axes.set_title(f"{sweep['task']}: {sweep['model_name_or_path']}")

    return _plot(path, draw, len(layered))


def write_sweep_report(sweep: dict, output_dir: str | os.PathLike) -> list[Path]:
    """Write sweep.md and sweep.png (score per fusion layer, the baseline dashed) into `output_dir`."""
    texts = {"sweep.md": sweep_markdown(sweep)}
    return _write_report(output_dir, texts, "sweep.png", lambda path: _plot_sweep(sweep, path))


# ---------------------------------------------------------------- comparisons


def load_run(run_dir: str | os.PathLike) -> dict:
    """A run's results.json; for a sweep folder, its selected setting's results.

    Those carry `selected_from_sweep` (the sweep.json path), so reports can say where they came from.
    """
    folder = Path(run_dir)
    if (folder / "results.json").is_file():
        return json.loads((folder / "results.json").read_text(encoding="utf-8"))
    sweep_file = folder / "sweep.json"
    if not sweep_file.is_file():
        raise FileNotFoundError(
            f"{folder} holds neither results.json nor sweep.json: is it a run's output folder?"
        )
    setting = _selected(json.loads(sweep_file.read_text(encoding="utf-8")))
    logger.info(
        "%s is a sweep: using its selected setting %s", folder, label_for_setting(setting["fusion_layer"])
    )
    return {**setting["results"], "selected_from_sweep": str(sweep_file)}


def _require_same(dirs: list[Path], runs: list[dict], key: str, what: str) -> None:
    if len({run[key] for run in runs}) > 1:
        listing = ", ".join(f"{folder} ({key} {run[key]})" for folder, run in zip(dirs, runs, strict=True))
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


def _comparison(dirs: list[Path], runs: list[dict], labels: list[str]) -> dict:
    languages = _union(run["languages"] for run in runs)
    common = [language for language in languages if all(language in run["languages"] for run in runs)]
    groups_of = _language_groups(runs)
    by_label = dict(zip(labels, runs, strict=True))

    def average(members: list[str]) -> dict[str, Scores]:
        means = {label: _mean(run["languages"][m] for m in members) for label, run in by_label.items()}
        return {"members": members, **_entry(means, labels)}

    first = runs[0]
    return {
        **{key: first[key] for key in ("task", "metric", "metric_display", "eval_split", "train_language")},
        "runs": [
            {
                "label": label,
                "dir": str(folder),
                "model_name_or_path": run["model_name_or_path"],
                "fusion_layer": run["fusion_layer"],
                "selected_from_sweep": run.get("selected_from_sweep"),
            }
            for label, folder, run in zip(labels, dirs, runs, strict=True)
        ],
        "reference": labels[0],
        "languages": {
            language: _entry(
                {label: run["languages"].get(language) for label, run in by_label.items()}, labels
            )
            for language in languages
        },
        "not_in_every_run": {
            language: [label for label, run in by_label.items() if language not in run["languages"]]
            for language in languages
            if language not in common
        },
        "groups": {
            group: average([language for language in common if groups_of.get(language) == group])
            for group in _union(run["groups"] for run in runs)
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
            *(_fmt(entry["scores"][label]) for label in labels),
            *(_signed(entry["differences"][label]) for label in others),
        ]

    runs = [
        [
            run["label"],
            run["dir"],
            run["model_name_or_path"],
            label_for_setting(run["fusion_layer"]),
            f"selected in {run['selected_from_sweep']}" if run["selected_from_sweep"] else "results.json",
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
        _table(["run", "folder", "model", "setting", "source"], runs),
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
        _table(header, averages),
        "## Per language",
        _table(header, (row(language, e) for language, e in comparison["languages"].items())),
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

    return _plot(path, draw, len(entries) * len(labels) / 2)


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
    _require_same(dirs, runs, "task", "tasks")
    _require_same(dirs, runs, "metric", "metrics")
    _require_same(dirs, runs, "eval_split", "evaluation splits")
    default = [
        f"{Path(run['model_name_or_path']).name} {label_for_setting(run['fusion_layer'])}" for run in runs
    ]
    comparison = _comparison(dirs, runs, _unique(labels or default))
    texts = {
        "compare.json": json.dumps(comparison, indent=2, ensure_ascii=False) + "\n",
        "compare.md": compare_markdown(comparison),
    }
    _write_report(output_dir, texts, "compare.png", lambda path: _plot_comparison(comparison, path))
    return comparison
