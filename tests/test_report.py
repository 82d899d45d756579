"""Reports: markdown content, terminal width, plots, comparisons, atomic writes."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from modeling_dlfa import compare, run_report, sweep_report
from modeling_dlfa.results import RunResults, SeedRun, SweepResults

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
