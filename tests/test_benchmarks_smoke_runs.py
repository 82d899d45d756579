"""Smoke runs of the benchmark scripts' --quick modes on the tiny random backbone: they run end to end and
write reports of the documented structure with finite numbers. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(script: str, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=env,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_stats(entry: dict, where: str) -> None:
    assert entry is not None, where
    for key in ("mean", "std", "min", "max"):
        assert _finite(entry[key]), f"{where}: {key}={entry[key]!r}"
    assert entry["min"] <= entry["mean"] <= entry["max"], where
    assert entry["n"] == len(entry["values"]) >= 1, where


def test_zero_shot_quick(tiny_bert_dir: Path, tmp_path: Path):
    output = tmp_path / "zero_shot.json"
    runs = tmp_path / "runs"
    _run("zero_shot.py", "--model", str(tiny_bert_dir), "--output", str(output), "--output_dir", str(runs))

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["benchmark"] == "dlfa-zero-shot"
    assert report["command"].startswith("python benchmarks/zero_shot.py --quick")
    for key in ("machine", "versions", "config", "date", "runs", "summary", "notes"):
        assert key in report, key
    assert _finite(report["wall_s"])
    assert report["missing_runs"] == []
    config = report["config"]
    assert config["mode"] == "quick" and config["tasks"] == ["panx", "xnli"]
    for run in report["runs"]:
        assert run["complete"] and run["commands"], run
        assert all("run_glue_x.py" in item["command"] for item in run["commands"]), run
    assert set(report["summary"]) == {"panx", "xnli"}
    for task, summary in report["summary"].items():
        assert list(summary["settings"]) == ["baseline", "D1"], task
        for name, entry in summary["settings"].items():
            where = f"{task}/{name}"
            _check_stats(entry["average"], where)
            assert set(entry["groups"]) == {"enf", "noenf"}, where
            for group, stats in entry["groups"].items():
                _check_stats(stats, f"{where}/{group}")
            assert len(entry["languages"]) >= 3, where
            for code, stats in entry["languages"].items():
                _check_stats(stats, f"{where}/{code}")
                assert 0 <= stats["mean"] <= 100
        _check_stats(summary["settings"]["D1"]["delta_vs_baseline"]["average"], f"{task} delta")
    markdown = output.with_suffix(".md").read_text(encoding="utf-8")
    assert "| baseline |" in markdown and "## panx" in markdown and "## xnli" in markdown

    # Resumable: a second invocation finds every sweep finished and runs nothing.
    again = _run(
        "zero_shot.py", "--model", str(tiny_bert_dir), "--output", str(output), "--output_dir", str(runs)
    )
    assert "rc=" not in again.stdout
    assert json.loads(output.read_text(encoding="utf-8"))["summary"] == report["summary"]

    # A layer added later runs alone, into the folder a sweep would have used; the others are kept.
    more = _run(
        "zero_shot.py", "--model", str(tiny_bert_dir), "--output", str(output), "--output_dir", str(runs),
        "--tasks", "panx", "--layers", "none,1,2",
    )  # fmt: skip
    assert more.stdout.count("rc=0") == 1 and "(2)" in more.stdout
    extended = json.loads(output.read_text(encoding="utf-8"))["summary"]["panx"]["settings"]
    assert list(extended) == ["baseline", "D1", "D2"]
    assert extended["D1"] == report["summary"]["panx"]["settings"]["D1"]
    assert (runs / "panx" / "seed1" / "fusion_2" / "results.json").is_file()


def test_eval_throughput_quick(tiny_bert_dir: Path, tmp_path: Path):
    output = tmp_path / "eval_throughput.json"
    _run("eval_throughput.py", "--model", str(tiny_bert_dir), "--output", str(output))

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["benchmark"] == "dlfa-eval-throughput"
    assert report["settings"]["mode"] == "quick"
    results = report["results"]
    arms = ("dynamic_sorted", "max_length", "dynamic_unsorted")
    assert set(results["throughput"]) == set(arms)
    repetitions = report["settings"]["repetitions"]
    for arm in arms:
        summary = results["throughput"][arm]
        assert len(summary["values"]) == repetitions
        assert all(_finite(value) and value > 0 for value in summary["values"]), arm
        assert results["token_positions"][arm] >= results["real_tokens"] > 0
    # Padding to max_seq_length computes the most positions, length sorting the fewest.
    positions = results["token_positions"]
    assert positions["max_length"] >= positions["dynamic_unsorted"] >= positions["dynamic_sorted"]
    for key in ("ratio_dynamic_sorted_vs_max_length", "ratio_dynamic_sorted_vs_dynamic_unsorted"):
        assert _finite(results[key]["median"]) and results[key]["median"] > 0, key
    for padding in ("dynamic", "max_length"):
        timing = results["tokenization"][padding]
        assert _finite(timing["cold_s"]["median"]) and _finite(timing["cached_s"]["median"]), padding
    assert set(results["scores"]["dynamic_sorted"]) == set(report["settings"]["languages"])
    assert _finite(results["max_score_difference"])
    assert "examples/s" in output.with_suffix(".md").read_text(encoding="utf-8")
