"""Reports: markdown content, terminal width, plots, comparisons, atomic writes."""

from __future__ import annotations

import json
import logging
import re
import statistics
import sys
from pathlib import Path

import pytest

from modeling_dlfa import compare, compare_report, run_report, sweep_report
from modeling_dlfa.report import signed
from modeling_dlfa.results import RunResults
from modeling_dlfa.sweep_results import SeedRun, SweepResults

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ENF = ("en", "de")


def make_results(
    languages: dict[str, float] | None = None,
    *,
    fusion_layer: int | None = 6,
    train_dev_score: float | None = 80.12,
    task: str = "xnli",
    metric: str = "accuracy",
    eval_split: str = "validation",
    model: str = "bert-base-multilingual-cased",
) -> dict:
    """A results.json dict in the producers' schema, with averages computed as they compute them."""
    languages = languages or {"en": 80.12, "de": 70.5, "zh": 68.0}
    members = {
        "enf": [language for language in languages if language in ENF],
        "noenf": [language for language in languages if language not in ENF],
    }

    def mean(names: list[str]) -> float:
        return round(sum(languages[name] for name in names) / len(names), 2)

    return {
        "task": task,
        "model_name_or_path": model,
        "backbone_type": "bert",
        "fusion_layer": fusion_layer,
        "fusion_gate": "paper",
        "train_language": "en",
        "metric": metric,
        "metric_display": metric,
        "eval_split": eval_split,
        "languages": languages,
        "average": mean(list(languages)),
        "average_without_train_language": mean([name for name in languages if name != "en"]),
        "groups": {group: mean(names) for group, names in members.items()},
        "group_members": members,
        "num_examples": dict.fromkeys(languages, 2490),
        "num_train_examples": 10000,
        "train_dev_score": train_dev_score,
        "seed": 42,
    }


def make_sweep(settings: list[dict], selected: int | None) -> dict:
    first = settings[0]
    return {
        "task": first["task"],
        "model_name_or_path": first["model_name_or_path"],
        "metric": first["metric"],
        "metric_display": first["metric_display"],
        "train_language": "en",
        "settings": [
            {"fusion_layer": r["fusion_layer"], "dir": f"fusion_{r['fusion_layer'] or 'none'}", "results": r}
            for r in settings
        ],
        "selected_fusion_layer": selected,
        "selection": "best score on the training language's dev set (train_dev_score)",
    }


def write_run(folder: Path, results: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > len(PNG_MAGIC) and path.read_bytes()[:8] == PNG_MAGIC


def forty_languages() -> dict[str, float]:
    names = ["en", "de", *(f"l{index:02d}" for index in range(38))]
    return {name: 50.0 + index * 0.75 for index, name in enumerate(names)}


def test_results_markdown_lists_every_language_and_group() -> None:
    text = run_report.results_markdown(RunResults.from_dict(make_results()))
    assert text.splitlines()[0].startswith("# xnli | bert-base-multilingual-cased | D6")
    assert "accuracy on the validation split" in text
    for line in (
        "| en | enf | 80.12 | 2490 |",
        "| de | enf | 70.50 | 2490 |",
        "| zh | noenf | 68.00 | 2490 |",
        "| enf | 75.31 | en, de |",
        "| noenf | 68.00 | zh |",
        "| average | 72.87 | en, de, zh |",
        "| average without en | 69.25 | de, zh |",
    ):
        assert line in text


def test_results_markdown_shows_every_metric_held_out_rows_and_skipped_languages() -> None:
    languages = {"en": 200 / 3, "zh": 50.0}
    results = make_results(languages, task="panx", metric="span_f1") | {
        "metrics": {
            "en": {"span_f1": 200 / 3, "span_precision": 100.0, "span_recall": 50.0},
            "zh": {"span_f1": 50.0, "span_precision": 40.0, "span_recall": 200 / 3},
        },
        "heldout": {"count": 500, "seed": 0, "parallel": True, "rows": [3, 9]},
        "skipped_languages": {"kk": "no validation split on google/xtreme"},
    }
    text = run_report.results_markdown(RunResults.from_dict(results))
    assert "| language | group | span_f1 | precision | recall | examples |" in text
    assert "| en | enf | 66.67 | 100.00 | 50.00 | 2490 |" in text
    assert "| zh | noenf | 50.00 | 40.00 | 66.67 | 2490 |" in text
    assert "Held out of the training file: 500 rows (seed 0); every language is scored on those rows." in text
    assert "Not evaluated: kk (no validation split on google/xtreme)." in text


def test_terminal_summary_fits_100_columns_for_40_languages() -> None:
    results = make_results(forty_languages(), model="/very/long/checkpoint/path/" + "x" * 120)
    text = run_report.terminal_summary(RunResults.from_dict(results))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100
    assert len(lines) < 25  # wrapped into several columns, not one line per language
    for language, score in results["languages"].items():
        assert re.search(rf"(^| ){language} +{score:.2f}( |$)", text, re.MULTILINE)


def test_plot_languages_writes_png(tmp_path: Path) -> None:
    path = run_report.plot_languages(
        RunResults.from_dict(make_results(forty_languages())), tmp_path / "plot.png"
    )
    assert path == tmp_path / "plot.png"
    assert is_png(path)


def test_write_run_report(tmp_path: Path) -> None:
    paths = run_report.write_run_report(RunResults.from_dict(make_results()), tmp_path)
    assert paths == [tmp_path / "results.md", tmp_path / "per_language.png"]
    assert is_png(tmp_path / "per_language.png")
    assert "| zh | noenf | 68.00 | 2490 |" in (tmp_path / "results.md").read_text()


def test_run_report_without_matplotlib_warns_and_skips_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with caplog.at_level(logging.WARNING, logger="modeling_dlfa.report"):
        paths = run_report.write_run_report(RunResults.from_dict(make_results()), tmp_path)
    assert paths == [tmp_path / "results.md"]
    assert "matplotlib is not installed" in caplog.text


def test_failing_plot_leaves_no_partial_file_and_keeps_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    (tmp_path / "results.md").write_text("old report\n")

    def half_written(self: Figure, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(PNG_MAGIC + b"truncated")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        run_report.write_run_report(RunResults.from_dict(make_results()), tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.md"]
    assert (tmp_path / "results.md").read_text() == "old report\n"


def sweep_settings() -> list[dict]:
    """Dev score and target average disagree: D6 has the best dev score, D9 the best average."""
    return [
        make_results({"en": 80.0, "de": 70.0, "zh": 60.0}, fusion_layer=None, train_dev_score=80.0),
        make_results({"en": 81.0, "de": 69.0, "zh": 59.0}, fusion_layer=6, train_dev_score=81.0),
        make_results({"en": 79.0, "de": 75.0, "zh": 70.0}, fusion_layer=9, train_dev_score=79.0),
    ]


def test_sweep_markdown_marks_selection_and_differences() -> None:
    text = sweep_report.sweep_markdown(SweepResults.from_dict(make_sweep(sweep_settings(), selected=6)))
    assert "| dev (en) | average | enf | noenf | en | de | zh |" in text
    assert "| baseline | 80.00 | 70.00 | 75.00 | 60.00 | 80.00 | 70.00 | 60.00 |" in text
    assert (
        f"| D6 {sweep_report.SELECTED_MARK} | 81.00 | 69.67 | 75.00 | 59.00 | 81.00 | 69.00 | 59.00 |" in text
    )
    assert text.count(sweep_report.SELECTED_MARK) == 2  # the scores table and the differences table
    differences = text.split("## Difference vs the baseline")[1]
    assert "| D9 | -1.00 | +4.67 | +2.00 | +10.00 | -1.00 | +5.00 | +10.00 |" in differences
    assert "| baseline |" not in differences


def test_write_sweep_report(tmp_path: Path) -> None:
    paths = sweep_report.write_sweep_report(
        SweepResults.from_dict(make_sweep(sweep_settings(), selected=6)), tmp_path
    )
    assert paths == [tmp_path / "sweep.md", tmp_path / "sweep.png"]
    assert is_png(tmp_path / "sweep.png")


def seeded_sweep() -> dict:
    """Two seeds a setting. Baseline seed 1 has the best single dev score (82) and the best target scores, but
    D6 has the best mean dev score over seeds (77.5 against 76)."""
    seeds = {
        None: [({"en": 80.0, "de": 74.0, "zh": 66.0}, 82.0), ({"en": 78.0, "de": 72.0, "zh": 62.0}, 70.0)],
        6: [({"en": 81.0, "de": 71.0, "zh": 60.0}, 78.0), ({"en": 79.0, "de": 70.0, "zh": 58.0}, 77.0)],
    }

    def run(layer: int | None, seed: int, languages: dict[str, float], dev: float) -> SeedRun:
        results = make_results(languages, fusion_layer=layer, train_dev_score=dev) | {"seed": seed}
        return SeedRun(seed, f"fusion_{layer or 'none'}/seed_{seed}", RunResults.from_dict(results))

    settings = [
        (layer, f"fusion_{layer or 'none'}", [run(layer, seed, *r) for seed, r in enumerate(runs, 1)])
        for layer, runs in seeds.items()
    ]
    first = make_results()
    sweep = SweepResults.from_runs(
        task=first["task"],
        model_name_or_path=first["model_name_or_path"],
        metric=first["metric"],
        metric_display=first["metric_display"],
        train_language="en",
        seeds=[1, 2],
        settings=settings,
    )
    return sweep.to_dict()


def test_seeded_sweep_selects_on_the_mean_dev_score_and_reports_intervals(tmp_path: Path) -> None:
    sweep = seeded_sweep()
    assert sweep["selected_fusion_layer"] == 6
    baseline, d6 = sweep["settings"]
    assert d6["results"]["train_dev_score"] == 77.5 and d6["results"]["seeds"] == [1, 2]
    assert d6["results"]["languages"] == {"en": 80.0, "de": 70.5, "zh": 59.0}
    # The paired difference: per seed D6 - baseline, on zh -6 and -4: mean -5, t(1) = 12.706, std sqrt(2).
    zh = d6["difference"]["languages"]["zh"]
    assert zh["mean"] == -5.0 and zh["std"] == pytest.approx(2**0.5)
    assert zh["ci_low"] == pytest.approx(-5 - 12.706) and zh["ci_high"] == pytest.approx(-5 + 12.706)
    text = sweep_report.sweep_markdown(SweepResults.from_dict(sweep))
    assert f"| D6 {sweep_report.SELECTED_MARK} | 77.50 ± 0.71 |" in text
    assert "| baseline | 76.00 ± 8.49 |" in text
    assert "Seeds: 1, 2." in text
    differences = text.split("## Difference vs the baseline")[1]
    assert "-5.00 [-17.71, +7.71] |" in differences
    # en: +1 for both seeds, an interval of width 0 that excludes 0.
    assert "| +1.00 [+1.00, +1.00] * |" in differences
    paths = sweep_report.write_sweep_report(SweepResults.from_dict(sweep), tmp_path)
    assert is_png(tmp_path / "sweep.png") and paths[0] == tmp_path / "sweep.md"
    # compare reads a seeded sweep as its selected setting's means over seeds.
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    assert compare.load_run(tmp_path).languages == d6["results"]["languages"]


def drawn_sweep(sweep: dict, monkeypatch):
    """The axes sweep.png is drawn on."""
    from matplotlib.figure import Figure

    axes = Figure().subplots()
    monkeypatch.setattr(sweep_report, "plot", lambda path, draw, slots: draw(axes))
    sweep_report._plot_sweep(SweepResults.from_dict(sweep), Path("unused.png"))
    return axes


def test_sweep_plot_shows_intervals(monkeypatch) -> None:
    axes = drawn_sweep(seeded_sweep(), monkeypatch)
    average = next(c for c in axes.containers if c.get_label() == "average")
    _, _, (bars,) = average.lines  # the error bars: one segment (x, low) -> (x, high) per setting
    lows_highs = [(low, high) for (_, low), (_, high) in bars.get_segments()]
    summaries = [s["summary"]["average"] for s in seeded_sweep()["settings"]]
    assert lows_highs == [pytest.approx((s["ci_low"], s["ci_high"])) for s in summaries]


def test_sweep_plot_marks_a_selected_baseline(monkeypatch) -> None:
    axes = drawn_sweep(make_sweep(sweep_settings(), selected=None), monkeypatch)
    (marker,) = [line for line in axes.lines if line.get_label() == "selected baseline"]
    assert list(marker.get_xdata()) == [0, 0]  # the baseline is the first position
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["baseline", "D6", "D9"]


def test_load_run_names_the_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        compare.load_run(tmp_path / "nowhere")


def test_load_run_reads_a_sweeps_selected_setting(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text(json.dumps(make_sweep(sweep_settings(), selected=6)))
    results = compare.load_run(tmp_path)
    assert results.fusion_layer == 6
    assert results.selected_from_sweep == str(tmp_path / "sweep.json")


def test_compare_runs(tmp_path: Path) -> None:
    reference = write_run(
        tmp_path / "base", make_results({"en": 80.0, "de": 70.0, "zh": 60.0}, fusion_layer=None)
    )
    # Same model and setting as the sweep's selection below, so the default labels must be made unique.
    partial = write_run(tmp_path / "d6", make_results({"en": 82.0, "zh": 61.5}, fusion_layer=6))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps(make_sweep(sweep_settings(), selected=6)))

    comparison = compare.compare_runs([reference, partial, sweep], tmp_path / "out")

    labels = [run["label"] for run in comparison["runs"]]
    assert labels == [
        "bert-base-multilingual-cased baseline",
        "bert-base-multilingual-cased D6",
        "bert-base-multilingual-cased D6 (2)",
    ]
    d6, sweep_d6 = labels[1:]
    assert comparison["languages"]["en"]["differences"] == {d6: 2.0, sweep_d6: 1.0}
    assert comparison["languages"]["de"]["scores"][d6] is None
    assert comparison["languages"]["de"]["differences"] == {d6: None, sweep_d6: -1.0}
    assert comparison["not_in_every_run"] == {"de": [d6]}
    # Averages only over en and zh, the languages every run evaluated.
    assert comparison["average"]["members"] == ["en", "zh"]
    assert comparison["average"]["scores"] == {labels[0]: 70.0, d6: 71.75, sweep_d6: 70.0}
    assert comparison["average"]["differences"] == {d6: 1.75, sweep_d6: 0.0}
    assert comparison["groups"]["enf"]["scores"] == {labels[0]: 80.0, d6: 82.0, sweep_d6: 81.0}
    assert comparison["runs"][2]["selected_from_sweep"] == str(sweep / "sweep.json")

    out = tmp_path / "out"
    assert json.loads((out / "compare.json").read_text()) == comparison
    assert is_png(out / "compare.png")
    text = (out / "compare.md").read_text()
    assert "| de | 70.00 | - | 69.00 | - | -1.00 |" in text
    assert "| average | 70.00 | 71.75 | 70.00 | +1.75 | +0.00 |" in text
    assert "Over the 2 languages every run evaluated." in text
    assert f"de (not in {d6})" in text


def test_compare_runs_uses_given_labels(tmp_path: Path) -> None:
    first = write_run(tmp_path / "a", make_results(fusion_layer=None))
    second = write_run(tmp_path / "b", make_results())
    comparison = compare.compare_runs([first, second], tmp_path / "out", labels=["mine", "theirs"])
    assert [run["label"] for run in comparison["runs"]] == ["mine", "theirs"]
    assert comparison["reference"] == "mine"


def test_compare_refuses_mixed_tasks(tmp_path: Path) -> None:
    xnli = write_run(tmp_path / "xnli_run", make_results())
    pawsx = write_run(tmp_path / "pawsx_run", make_results(task="pawsx"))
    with pytest.raises(ValueError, match="different tasks") as error:
        compare.compare_runs([xnli, pawsx], tmp_path / "out")
    for text in (str(xnli), "xnli)", str(pawsx), "pawsx)"):
        assert text in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "what"),
    [({"metric": "f1"}, "different metrics"), ({"eval_split": "test"}, "evaluation splits")],
)
def test_compare_refuses_mixed_metrics_and_splits(tmp_path: Path, change: dict, what: str) -> None:
    first = write_run(tmp_path / "a", make_results())
    second = write_run(tmp_path / "b", make_results(**change))
    with pytest.raises(ValueError, match=what):
        compare.compare_runs([first, second], tmp_path / "out")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"train_language": "de"},
            "cannot compare runs with different training languages: {a} (train_language en), "
            "{b} (train_language de) (--force",
        ),
        (
            {"num_examples": {"en": 2490, "de": 300, "zh": 2490}},
            "cannot compare runs with different evaluation examples for de: {a} (2490 examples), "
            "{b} (300 examples) (--force",
        ),
        (
            {"data_sources": {"de": "xnli/dev-de.tsv"}},
            "cannot compare runs with different evaluation data sources for de: {a} (google/xtreme XNLI.de), "
            "{b} (xnli/dev-de.tsv) (--force",
        ),
    ],
    ids=["training language", "example counts", "data sources"],
)
def test_compare_refuses_runs_trained_or_evaluated_differently(
    tmp_path: Path, change: dict, expected: str
) -> None:
    # fr only in the first run, with its own count and source: a language one run scores is no mismatch.
    first = make_results({"en": 80.0, "de": 70.0, "zh": 60.0, "fr": 75.0})
    first["num_examples"]["fr"] = 1000
    first["data_sources"] = {"de": "google/xtreme XNLI.de", "fr": "fr.tsv"}
    a = write_run(tmp_path / "a", first)
    b = write_run(tmp_path / "b", make_results() | {"data_sources": {"de": "google/xtreme XNLI.de"}} | change)
    with pytest.raises(ValueError) as error:
        compare.compare_runs([a, b], tmp_path / "out")
    message = str(error.value)
    assert expected.format(a=a, b=b) in message
    assert "\n" not in message and "fr" not in message
    assert not (tmp_path / "out").exists()
    # The same runs without the change compare.
    c = write_run(tmp_path / "c", make_results() | {"data_sources": {"de": "google/xtreme XNLI.de"}})
    assert compare.compare_runs([a, c], tmp_path / "out")["mismatches"] == []


def test_compare_force_marks_every_table_and_records_the_mismatches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_run(tmp_path / "a", make_results())
    other = make_results(fusion_layer=None) | {"train_language": "de", "data_sources": {"zh": "zh.tsv"}}
    other["num_examples"]["de"] = 300
    b = write_run(tmp_path / "b", other)
    comparison = compare.compare_runs([a, b], tmp_path / "out", force=True)
    assert [(m["kind"], m["language"], m["values"]) for m in comparison["mismatches"]] == [
        ("train_language", None, {str(a): "en", str(b): "de"}),
        ("num_examples", "de", {str(a): 2490, str(b): 300}),
    ]
    assert (
        json.loads((tmp_path / "out" / "compare.json").read_text())["mismatches"] == comparison["mismatches"]
    )
    warning = "⚠ not comparable: training language differs (en vs de); de examples differ (2490 vs 300)."
    text = (tmp_path / "out" / "compare.md").read_text()
    title, *sections = text.split("\n## ")
    assert title.splitlines()[0].endswith("trained on en / de")
    assert title.splitlines()[2] == warning  # at the top, above the runs table
    for section in sections:  # under every table heading
        assert section.splitlines()[2] == warning
    assert text.count(warning) == 3
    (axes,) = drawn_comparison(comparison, monkeypatch)
    assert axes.figure.get_suptitle().endswith("| ⚠ not comparable")


def seeded_runs(tmp_path: Path, seeds: dict[int | None, list[int]]) -> tuple[list[Path], dict]:
    """Runs of several settings and seeds (folders interleaved by seed, so grouping does not rely on order),
    and their scores: {fusion_layer: {seed: languages}}."""
    scores: dict = {}
    folders = []
    for position in range(max(map(len, seeds.values()))):
        for layer, layer_seeds in seeds.items():
            if position >= len(layer_seeds):
                continue
            seed = layer_seeds[position]
            offset = 0.0 if layer is None else layer / 2
            languages = {
                "en": 80.0 + offset + seed * 0.7,
                "de": 70.0 + offset * seed - seed**2 * 0.3,
                "zh": 60.0 + offset * (seed % 2) + seed,
            }
            scores.setdefault(layer, {})[seed] = languages
            results = make_results(languages, fusion_layer=layer) | {"seed": seed}
            folders.append(write_run(tmp_path / f"fusion_{layer or 'none'}_seed_{seed}", results))
    return folders, scores


def test_compare_aggregates_seeds_with_paired_differences(tmp_path: Path) -> None:
    folders, scores = seeded_runs(tmp_path, {None: [1, 2, 3], 6: [1, 2, 3]})
    comparison = compare.compare_runs(folders, tmp_path / "out", labels=["base", "dlfa"])
    assert [(run["label"], run["seeds"]) for run in comparison["runs"]] == [
        ("base", [1, 2, 3]),
        ("dlfa", [1, 2, 3]),
    ]
    assert comparison["runs"][1]["pairing"]["kind"] == "paired"
    text = (tmp_path / "out" / "compare.md").read_text()

    def average(languages: dict) -> float:  # as the comparison averages a run: over en, de, zh, rounded
        return round(sum(languages.values()) / len(languages), 2)

    values = {
        "de": ({s: v["de"] for s, v in scores[None].items()}, {s: v["de"] for s, v in scores[6].items()}),
        "average": (
            {s: average(v) for s, v in scores[None].items()},
            {s: average(v) for s, v in scores[6].items()},
        ),
    }
    for name, (base, dlfa) in values.items():
        entry = comparison["average"] if name == "average" else comparison["languages"][name]
        for label, by_seed in (("base", base), ("dlfa", dlfa)):
            mean, std = statistics.fmean(by_seed.values()), statistics.stdev(by_seed.values())
            assert entry["scores"][label] == pytest.approx(mean)
            assert entry["summary"][label]["std"] == pytest.approx(std)
            assert f"{mean:.2f} ± {std:.2f}" in text
        per_seed = [dlfa[seed] - base[seed] for seed in (1, 2, 3)]
        difference = entry["difference"]["dlfa"]
        assert difference["n"] == 3 and difference["mean"] == pytest.approx(statistics.fmean(per_seed))
        assert entry["differences"]["dlfa"] == round(statistics.fmean(per_seed), 2)
        # The paired interval: t(2) over the per-seed differences, not over the two settings' spreads.
        half = 4.303 * statistics.stdev(per_seed) / 3**0.5
        assert difference["ci_low"] == pytest.approx(statistics.fmean(per_seed) - half)
        assert difference["ci_high"] == pytest.approx(statistics.fmean(per_seed) + half)
        assert difference["ci_low"] < difference["mean"] < difference["ci_high"]
        assert (
            f"{signed(difference['mean'])} [{signed(difference['ci_low'])}, {signed(difference['ci_high'])}]"
            in text
        )
    assert "Scores: mean ± std over seeds" in text and "- Δ dlfa: paired on seeds 1, 2, 3" in text


def test_compare_labels_name_columns_not_folders(tmp_path: Path) -> None:
    folders, _ = seeded_runs(tmp_path, {None: [1, 2, 3], 6: [1, 2, 3]})
    with pytest.raises(ValueError, match="6 labels for 2 columns") as error:
        compare.compare_runs(folders, tmp_path / "out", labels=list("abcdef"))
    assert ", ".join(str(folder) for folder in folders[::2]) in str(error.value)
    comparison = compare.compare_runs(folders, tmp_path / "out")
    assert [run["label"] for run in comparison["runs"]] == [
        "bert-base-multilingual-cased baseline",
        "bert-base-multilingual-cased D6",
    ]


def test_compare_pairs_only_common_seeds_and_gives_no_difference_without_one(tmp_path: Path) -> None:
    folders, scores = seeded_runs(tmp_path, {None: [1, 2], 6: [3, 4], 9: [2, 3]})
    comparison = compare.compare_runs(folders, tmp_path / "out", labels=["base", "d6", "d9"])
    d6, d9 = comparison["runs"][1:]
    assert d6["pairing"]["kind"] == "none" and d9["pairing"]["seeds"] == [2]
    for entry in [*comparison["languages"].values(), comparison["average"]]:
        assert entry["differences"]["d6"] is None and entry["difference"]["d6"] is None
    # d9 pairs on seed 2 alone: its difference, no interval.
    de = comparison["languages"]["de"]
    assert de["difference"]["d9"]["n"] == 1 and de["difference"]["d9"]["ci_low"] is None
    assert de["differences"]["d9"] == round(scores[9][2]["de"] - scores[None][2]["de"], 2)
    text = (tmp_path / "out" / "compare.md").read_text()
    assert "- Δ d6: none, no common seed with base (seeds 3, 4 against 1, 2)" in text
    assert "- Δ d9: paired on seed 2 (of 2, 3 against 1, 2: the seeds both have)" in text
    de_row = next(line for line in text.splitlines() if line.startswith("| de |"))
    assert de_row.endswith(f"| no common seed | {signed(de['differences']['d9'])} |")


def test_compare_expands_a_sweeps_seeds(tmp_path: Path) -> None:
    sweep = seeded_sweep()  # D6 selected, seeds 1 and 2
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.json").write_text(json.dumps(sweep))
    baseline, d6 = sweep["settings"]
    # The sweep's own baseline runs as run folders: the paired differences must be the sweep's own.
    runs = [write_run(tmp_path / f"base_{run['seed']}", run["results"]) for run in baseline["runs"]]
    comparison = compare.compare_runs([*runs, folder], tmp_path / "out", labels=["base", "swept"])
    swept = comparison["runs"][1]
    assert swept["seeds"] == [1, 2] and swept["dir"] == str(folder)
    assert swept["selected_from_sweep"] == str(folder / "sweep.json")
    assert [run["dir"] for run in swept["seed_runs"]] == [str(folder / run["dir"]) for run in d6["runs"]]
    for language, mean in d6["results"]["languages"].items():
        entry = comparison["languages"][language]
        assert entry["scores"]["swept"] == pytest.approx(mean)
        assert entry["summary"]["swept"] == pytest.approx(d6["summary"]["languages"][language])
        assert entry["difference"]["swept"] == pytest.approx(d6["difference"]["languages"][language])


def drawn_comparison(comparison: dict, monkeypatch: pytest.MonkeyPatch) -> list:
    """The axes compare.png is drawn on (two panels where there are seeds and something to compare)."""
    from matplotlib.figure import Figure

    drawn = []

    def fake_plot(path: Path, draw, slots: float, panels: int = 1) -> None:
        axes = Figure().subplots(panels, 1) if panels > 1 else Figure().subplots()
        draw(axes)
        drawn.extend(axes if panels > 1 else [axes])

    monkeypatch.setattr(compare_report, "plot", fake_plot)
    compare_report._plot_comparison(comparison, Path("unused.png"))
    return drawn


def error_bars(axes, label: str) -> list[tuple[float, float]]:
    """(low, high) of each bar's error bar in the bar series `label`."""
    (container,) = [c for c in axes.containers if c.get_label() == label]
    _, _, (segments,) = container.errorbar.lines
    return [(low, high) for (_, low), (_, high) in segments.get_segments()]


def test_compare_plot_shows_intervals_over_seeds_and_of_the_paired_differences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders, _ = seeded_runs(tmp_path, {None: [1, 2, 3], 6: [1, 2, 3]})
    comparison = compare.compare_runs(folders, tmp_path / "out", labels=["base", "dlfa"])
    assert is_png(tmp_path / "out" / "compare.png")
    scores, differences = drawn_comparison(comparison, monkeypatch)
    entries = [*comparison["languages"].values(), comparison["average"]]
    for label in ("base", "dlfa"):
        bars = error_bars(scores, f"{label}: mean, 95% interval over 3 seeds")
        summaries = [entry["summary"][label] for entry in entries]
        assert bars == [pytest.approx((s["ci_low"], s["ci_high"])) for s in summaries]
    bars = error_bars(differences, "Δ dlfa: paired, 95% interval")
    paired = [entry["difference"]["dlfa"] for entry in entries]
    assert bars == [pytest.approx((d["ci_low"], d["ci_high"])) for d in paired]


def test_compare_titles_name_task_models_and_metric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    display = {"metric_display": "accuracy (%)"}
    mbert = write_run(tmp_path / "mbert", make_results(task="pawsx") | display)
    xlmr = write_run(tmp_path / "xlmr", make_results(task="pawsx", model="xlm-roberta-base") | display)
    comparison = compare.compare_runs([mbert, xlmr], tmp_path / "out")
    expected = "pawsx | bert-base-multilingual-cased, xlm-roberta-base | accuracy (%) on the validation split"
    first_line = (tmp_path / "out" / "compare.md").read_text().splitlines()[0]
    assert first_line == f"# Comparison | {expected}, trained on en"
    (axes,) = drawn_comparison(comparison, monkeypatch)
    assert axes.figure.get_suptitle() == expected
