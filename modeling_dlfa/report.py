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
from .results import RESULTS_FILE, SWEEP_FILE

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
    """A number, or one with its spread after it ('80.00 ± 1.20', '+1.00 [-0.50, +2.50]')."""
    try:
        float(cell.split(" ", 1)[0])
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

SELECTION = "best mean score over seeds on the training language's dev set (train_dev_score)"
# Everything a sweep summarizes over seeds, as paths into a results dict.
_SCALARS = ("train_dev_score", "average", "average_without_train_language")
_MAPPINGS = ("groups", "languages")


def seed_runs(setting: dict) -> list[dict]:
    """A sweep setting's runs, one per seed: `{"seed", "dir", "results"}` (a sweep.json of one seed per
    setting, as older versions wrote it, has just the setting's results)."""
    if "runs" in setting:
        return setting["runs"]
    results = setting["results"]
    return [{"seed": results.get("seed"), "dir": setting.get("dir"), "results": results}]


def _paths(runs: list[dict]) -> list[tuple[str, ...]]:
    paths = [(key,) for key in _SCALARS]
    for key in _MAPPINGS:
        paths += [(key, name) for name in _union(run["results"].get(key, {}) for run in runs)]
    return paths


def _value(results: dict, path: tuple[str, ...]) -> float | None:
    value = results.get(path[0])
    return value.get(path[1]) if len(path) == 2 and value is not None else value


def _by_seed(runs: list[dict], path: tuple[str, ...]) -> dict:
    values = {run["seed"]: _value(run["results"], path) for run in runs}
    return {seed: value for seed, value in values.items() if value is not None}


def _nested(values: dict[tuple[str, ...], Any]) -> dict:
    nested: dict = {key: {} for key in _MAPPINGS}
    for path, value in values.items():
        if len(path) == 1:
            nested[path[0]] = value
        else:
            nested[path[0]][path[1]] = value
    return nested


def summarize_setting(runs: list[dict], baseline_runs: list[dict] | None = None) -> dict:
    """Mean, std and 95% interval over seeds of every score (dev, averages, groups, languages) as `summary`,
    and with `baseline_runs`, the paired per-seed difference to the baseline as `difference`.

    The baseline of the same seed starts from the same head initialisation (the fusion module draws from its
    own generator), so the per-seed difference removes the part of the spread that the seed explains.
    """
    from .statistics import paired_difference, summarize

    summary, difference = {}, {}
    for path in _paths(runs):
        scores = _by_seed(runs, path)
        summary[path] = summarize(scores.values()).to_dict() if scores else None
        if baseline_runs is not None:
            reference = _by_seed(baseline_runs, path)
            common = scores.keys() & reference.keys()
            difference[path] = paired_difference(scores, reference).to_dict() if common else None
    entry = {"summary": _nested(summary)}
    if baseline_runs is not None:
        entry["difference"] = _nested(difference)
    return entry


def mean_results(runs: list[dict]) -> dict:
    """One results dict for several seeds of a setting: every score the mean over seeds (what `compare` and
    the selection read); a single seed's results as they are."""
    if len(runs) == 1:
        return runs[0]["results"]
    first = runs[0]["results"]
    means = {}
    for path in _paths(runs):
        values = [_value(run["results"], path) for run in runs]
        means[path] = None if None in values else sum(values) / len(values)
    nested = _nested(means)
    merged = {key: value for key, value in first.items() if key not in ("date", "runtime")}
    return {**merged, **nested, "seed": None, "seeds": [run["seed"] for run in runs]}


def sweep_setting(fusion_layer: int | None, folder: str, runs: list[dict]) -> dict:
    """A sweep.json setting: its runs (one per seed) and their mean results."""
    return {"fusion_layer": fusion_layer, "dir": folder, "runs": runs, "results": mean_results(runs)}


def summarize_sweep(settings: list[dict]) -> list[dict]:
    """The settings with their `summary` over seeds and (against the baseline, where the sweep has one) their
    paired `difference`."""
    baseline = _baseline(settings)
    baseline_runs = seed_runs(baseline) if baseline is not None else None
    return [
        {**setting, **summarize_setting(seed_runs(setting), None if setting is baseline else baseline_runs)}
        for setting in settings
    ]


def select_setting(settings: list[dict]) -> dict:
    """The setting with the best dev score on the training language (for several seeds, their mean); ties go
    to the earlier one.

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


def _spread(summary: dict | None) -> str:
    """`mean ± std` over seeds (just the mean for one seed)."""
    if summary is None:
        return MISSING
    if summary["std"] is None:
        return _fmt(summary["mean"])
    return f"{summary['mean']:.2f} ± {summary['std']:.2f}"


def _interval(summary: dict | None) -> str:
    """A paired difference: `+mean [+low, +high]`, starred when the interval excludes 0."""
    if summary is None:
        return MISSING
    if summary["ci_low"] is None:
        return _signed(summary["mean"])
    star = " *" if summary["ci_low"] > 0 or summary["ci_high"] < 0 else ""
    return f"{_signed(summary['mean'])} [{_signed(summary['ci_low'])}, {_signed(summary['ci_high'])}]{star}"


def sweep_markdown(sweep: dict) -> str:
    settings = summarize_sweep(sweep["settings"])
    selected = _selected({**sweep, "settings": settings})
    runs = [run for setting in settings for run in seed_runs(setting)]
    paths = [path for path in _paths(runs) if path != ("average_without_train_language",)]
    header = [
        "setting",
        f"dev ({sweep['train_language']})",
        "average",
        *(name for _, name in paths[2:]),
    ]
    seeds = _union([run["seed"]] for run in runs)
    several = any(len(seed_runs(setting)) > 1 for setting in settings)

    def cells(entry: dict, format_cell: Callable[[dict | None], str]) -> list[str]:
        return [format_cell(_value(entry, path)) for path in paths]

    def name(setting: dict) -> str:
        label = label_for_setting(setting["fusion_layer"])
        return f"{label} {SELECTED_MARK}" if setting is selected else label

    parts = [
        f"# {_heading(selected['results'], 'fusion-layer sweep')}",
        f"Selection: {sweep.get('selection', 'best train_dev_score')}. "
        f"Selected: **{label_for_setting(selected['fusion_layer'])}**.",
    ]
    if several:
        parts.append(
            f"Seeds: {', '.join(map(str, seeds))}. Scores: mean ± std over seeds. Δ: the paired per-seed "
            "difference to the baseline of the same seed, mean [95% t-interval]; * marks an interval that "
            "excludes 0."
        )
    parts += ["## Scores", _table(header, ([name(s), *cells(s["summary"], _spread)] for s in settings))]
    if any("difference" in setting for setting in settings):
        differences = ([name(s), *cells(s["difference"], _interval)] for s in settings if "difference" in s)
        parts += ["## Difference vs the baseline", _table(header, differences)]
    return "\n\n".join(parts) + "\n"


def _plot_sweep(sweep: dict, path: Path) -> Path | None:
    settings = summarize_sweep(sweep["settings"])
    # The baseline first, then the fusion layers in order; each setting is a point with its interval.
    ordered = sorted(settings, key=lambda s: -1 if s["fusion_layer"] is None else s["fusion_layer"])
    baseline = _baseline(ordered)
    series = ["average", *_union(s["results"]["groups"] for s in settings)]
    selected = _selected({**sweep, "settings": ordered})
    several = any(len(seed_runs(setting)) > 1 for setting in settings)

    def point(setting: dict, name: str) -> tuple[float, float, float]:
        """(mean, down, up): the mean and its 95% interval's distance below and above (0 for one seed)."""
        summary = _value(setting["summary"], ("average",) if name == "average" else ("groups", name))
        if summary is None:
            return math.nan, 0.0, 0.0
        if summary["ci_low"] is None:
            return summary["mean"], 0.0, 0.0
        return summary["mean"], summary["mean"] - summary["ci_low"], summary["ci_high"] - summary["mean"]

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
            label=f"selected {label_for_setting(selected['fusion_layer'])}",
        )
        axes.set_xticks(list(positions), [label_for_setting(s["fusion_layer"]) for s in ordered])
        axes.set_xlabel("setting (Dx fuses layer x; dashed: the baseline)")
        spread = f", mean and 95% interval over {len(seed_runs(ordered[0]))} seeds" if several else ""
        axes.set_ylabel(sweep["metric_display"] + spread)
        axes.set_title(f"{sweep['task']}: {sweep['model_name_or_path']}")

    return _plot(path, draw, len(ordered))


def write_sweep_report(sweep: dict, output_dir: str | os.PathLike) -> list[Path]:
    """Write sweep.md and sweep.png (score per setting with its interval over seeds) into `output_dir`."""
    texts = {"sweep.md": sweep_markdown(sweep)}
    return _write_report(output_dir, texts, "sweep.png", lambda path: _plot_sweep(sweep, path))


# ---------------------------------------------------------------- comparisons


def load_run(run_dir: str | os.PathLike) -> dict:
    """A run's results.json; for a sweep folder, its selected setting's results.

    Those carry `selected_from_sweep` (the sweep.json path), so reports can say where they came from.
    """
    folder = Path(run_dir)
    if (folder / RESULTS_FILE).is_file():
        return json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
    sweep_file = folder / SWEEP_FILE
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
