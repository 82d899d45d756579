"""Smoke runs of the benchmark scripts' --quick modes on the tiny random backbone: they run end to end and
write reports of the documented structure with finite numbers. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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


def test_dlfa_experiment_smoke(tiny_bert_dir: Path, tmp_path: Path, monkeypatch):
    """The paired experiment end to end on the tiny backbone: records, resume without rerunning, report."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import dlfa_experiment

    from .fixtures import write_xnli_dir

    data = write_xnli_dir(tmp_path / "data" / "xnli", train=24, dev=16)
    monkeypatch.setattr(dlfa_experiment, "LAYERS", {"xnli": (1,)})
    monkeypatch.setattr(dlfa_experiment, "HOLDOUT", 8)
    monkeypatch.setattr(
        dlfa_experiment,
        "RECIPE",
        {"xnli": {"train": None, "eval": 8, "epochs": 1, "learning_rate": "1e-3", "batch": 16}},
    )
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    records, output = tmp_path / "records", tmp_path / "report" / "dlfa_experiment.md"
    args = ["--tasks", "xnli", "--seeds", "1,2", "--model", str(tiny_bert_dir), "--data_dir", str(data.parent),
            "--records_dir", str(records), "--scratch_dir", str(tmp_path / "scratch"), "--output", str(output)]  # fmt: skip
    assert dlfa_experiment.main(["run", *args]) == 0
    saved = sorted(path.relative_to(records).as_posix() for path in records.rglob("*.json"))
    assert saved == sorted(
        f"xnli/{s}/seed{k}.json"
        for s in (
            "baseline",
            "identity-D1",
            "identity-D1-one-lr",
            "identity-D1-sigmoid",
            "paper-D1",
            "paper-D1-sigmoid",
        )
        for k in (1, 2)
    )
    record = json.loads((records / "xnli" / "paper-D1" / "seed2.json").read_text())
    assert record["results"]["fusion_layer"] == 1 and record["results"]["seed"] == 2
    assert "--fusion_init paper" in record["command"] and "--head_learning_rate" in record["command"]
    assert 0 < record["train_language_predictions"]["top_predicted_class"] <= 100

    # Resumable: finished runs are never run again.
    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was started again")

    monkeypatch.setattr(dlfa_experiment.subprocess, "call", refuse)
    assert dlfa_experiment.main(["run", *args]) == 0

    summary = json.loads(output.with_suffix(".json").read_text())["tasks"]["xnli"]["settings"]
    assert set(summary) == {
        "baseline",
        "paper-D1",
        "identity-D1",
        "identity-D1-one-lr",
        "identity-D1-sigmoid",
        "paper-D1-sigmoid",
    }
    one_lr = json.loads((records / "xnli" / "identity-D1-one-lr" / "seed1.json").read_text())["command"]
    assert one_lr.endswith("--fusion_init identity --fusion_gate paper --head_learning_rate 1e-3")
    # The grid measures the paper's gate whatever run_glue_x.py's default is: every DLFA run names its gate.
    core = json.loads((records / "xnli" / "identity-D1" / "seed1.json").read_text())
    assert core["command"].endswith("--fusion_init identity --fusion_gate paper")
    assert core["results"]["fusion_gate"] == "paper"
    sigmoid = json.loads((records / "xnli" / "paper-D1-sigmoid" / "seed1.json").read_text())["command"]
    assert sigmoid.endswith("--fusion_init paper --fusion_gate sigmoid")
    assert json.loads((records / "xnli" / "paper-D1-sigmoid" / "seed1.json").read_text())["results"]
    # The sigmoid gate with the identity init is paired against the identity init with the paper gate.
    identity_sigmoid = json.loads((records / "xnli" / "identity-D1-sigmoid" / "seed1.json").read_text())
    assert identity_sigmoid["command"].endswith("--fusion_init identity --fusion_gate sigmoid")
    assert summary["identity-D1-sigmoid"]["twin"] == "identity-D1"
    delta = summary["paper-D1"]["delta_average"]
    assert delta["n"] == 2 and delta["ci_low"] <= delta["mean"] <= delta["ci_high"]
    baseline = {
        seed: json.loads((records / "xnli" / "baseline" / f"seed{seed}.json").read_text()) for seed in (1, 2)
    }
    paper = {
        seed: json.loads((records / "xnli" / "paper-D1" / f"seed{seed}.json").read_text()) for seed in (1, 2)
    }
    expected = [paper[s]["results"]["average"] - baseline[s]["results"]["average"] for s in (1, 2)]
    assert delta["mean"] == pytest.approx(sum(expected) / 2)
    per_seed = summary["paper-D1"]["delta_average_per_seed"]
    assert list(per_seed) == ["1", "2"] and list(per_seed.values()) == pytest.approx(expected)
    text = output.read_text()
    assert f"{expected[0]:+.2f} (s1), {expected[1]:+.2f} (s2)" in text

    # Each extra setting is also paired against its twin: the core setting it changes one choice of.
    def average(setting: str, seed: int) -> float:
        return json.loads((records / "xnli" / setting / f"seed{seed}.json").read_text())["results"]["average"]

    for extra, twin in (("identity-D1-one-lr", "identity-D1"), ("paper-D1-sigmoid", "paper-D1")):
        differences = [average(extra, seed) - average(twin, seed) for seed in (1, 2)]
        assert summary[extra]["twin"] == twin
        assert summary[extra]["delta_vs_twin"]["mean"] == pytest.approx(sum(differences) / 2)
        assert f"paired against {twin}: Δ all" in text
    assert (
        "identity-D1-one-lr: one learning rate (1e-3) for everything instead of --head_learning_rate" in text
    )
    assert "paper-D1-sigmoid: AFF's bounded sigmoid gate instead of the paper's" in text
    assert "delta_vs_twin" not in summary["paper-D1"]
    assert "## xnli" in text and "| paper-D1 | 1,2 |" in text
    # No language list is passed: every language with a dev file is scored, and the report says which.
    assert "--eval_languages" not in record["command"]
    assert "8 examples per language, 3 languages (de,en,fr)" in text
    assert "| language | baseline | paper-D1 |" in text and "\n| fr | " in text
    assert output.with_suffix(".png").is_file()


def test_ray_sweep_smoke(tiny_bert_dir: Path, tmp_path: Path):
    """Sequential and Ray arms of one tiny grid: the report exists and every trial scored the same in both."""
    from .fixtures import write_panx_dir

    data = write_panx_dir(tmp_path / "data" / "panx", train=16, dev=8)
    output = tmp_path / "ray_sweep.md"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    args = ["--task", "panx", "--model", str(tiny_bert_dir), "--data_dir", str(data.parent), "--settings",
            "none,1", "--seeds", "1", "--train_samples", "16", "--eval_samples", "8", "--languages", "en,de",
            "--scratch_dir", str(tmp_path / "scratch"), "--output", str(output)]  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "ray_sweep.py"), *args],
        capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(output.with_suffix(".json").read_text())
    assert report["identical"] is True
    local, ray = report["arms"]
    assert len(local["scores"]) == 2  # one folder per setting (one seed)
    assert local["scores"] == ray["scores"]
    assert "--sweep_backend ray" in ray["command"] and "identical in both arms: **yes**" in output.read_text()


def test_dlfa_experiment_plan_runs_the_core_grid_of_every_task_before_the_extras():
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import dlfa_experiment

    runs = dlfa_experiment.plan(["udpos", "panx"], [1, 2])
    extras = {
        "udpos": ["paper-D10-sigmoid", "identity-D10-sigmoid", "identity-D10-one-lr"],
        "panx": ["paper-D8-sigmoid", "identity-D8-sigmoid", "identity-D8-one-lr"],
    }
    assert {task: list(dlfa_experiment.extra_settings(task)) for task in extras} == extras
    core = 2 * 2 * 5  # two tasks x two seeds x (baseline + 2 inits x 2 layers)
    assert all(setting not in extras[task] for task, setting, _ in runs[:core])
    assert runs[core:] == [
        (task, setting, seed) for task in extras for seed in (1, 2) for setting in extras[task]
    ]
    assert runs[:5] == [
        ("udpos", s, 1) for s in ("baseline", "paper-D10", "paper-D8", "identity-D10", "identity-D8")
    ]
    assert dlfa_experiment.plan(["pawsx"], [3, 1], {"baseline"}) == [
        ("pawsx", "baseline", 3),
        ("pawsx", "baseline", 1),
    ]
    with pytest.raises(SystemExit):
        dlfa_experiment.main(
            ["run", "--tasks", "pawsx", "--settings", "paper-D8"]
        )  # pawsx has layers 6 and 10


def test_dlfa_experiment_report_refuses_runs_that_scored_different_languages():
    """Averages over different language sets cannot be paired (e.g. an 8-language run against an all-language one)."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import dlfa_experiment

    def run(*codes):
        return {"results": SimpleNamespace(languages=dict.fromkeys(codes, 50.0))}

    same = {"baseline": {1: run("en", "de")}, "paper-D8": {1: run("de", "en")}}
    assert dlfa_experiment._common_languages("panx", same) == ["de", "en"]
    mixed = {"baseline": {1: run("en", "de")}, "paper-D8": {1: run("en", "de"), 2: run("en", "de", "fr")}}
    with pytest.raises(
        ValueError, match=r"panx: the runs scored different languages.*paper-D8 seed 2: de,en,fr"
    ):
        dlfa_experiment._common_languages("panx", mixed)


def test_dlfa_experiment_report_refuses_runs_of_different_training_recipes():
    """A recipe change (e.g. PAWS-X's batch 16 -> 8) must not pair old runs with new ones; the variants' own
    change (head learning rate) and a field an older results.json lacks are not differences."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import dlfa_experiment

    def run(batch, head_rate=1e-3, **extra):
        training = {
            "learning_rate": 1e-4,
            "per_device_train_batch_size": batch,
            "head_learning_rate": head_rate,
        }
        training.update(extra)
        return {
            "results": SimpleNamespace(training=training, num_train_examples=1500, heldout={"count": 500})
        }

    same = {
        "baseline": {1: run(8, freeze_embeddings=True)},
        "paper-D6": {1: run(8)},
        "identity-D6-one-lr": {1: run(8, head_rate=1e-4, freeze_embeddings=True)},
    }
    recipe = dlfa_experiment._common_training("pawsx", same)
    assert recipe["per_device_train_batch_size"] == 8 and recipe["freeze_embeddings"] is True
    assert recipe["heldout"] == 500 and "head_learning_rate" not in recipe
    mixed = {"baseline": {1: run(8), 3: run(16)}, "paper-D6": {1: run(8)}}
    with pytest.raises(
        ValueError,
        match=r"pawsx: the runs used different training recipes.*baseline seed 3: per_device_train_batch_size=16",
    ):
        dlfa_experiment._common_training("pawsx", mixed)


def test_dlfa_experiment_report_of_mixed_language_sets_exits_with_the_error_and_writes_nothing(
    tmp_path: Path, capsys
):
    """Real committed records: PAN-X baseline seed 1 on 8 languages (first pass) and on all 47."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import dlfa_experiment

    results = REPO_ROOT / "benchmarks" / "results"
    records = tmp_path / "records"
    for folder, setting in (("dlfa_experiment_8lang", "baseline"), ("dlfa_experiment", "paper-D8")):
        record = json.loads((results / folder / "panx" / "baseline" / "seed1.json").read_text())
        record["setting"] = setting
        (records / "panx" / setting).mkdir(parents=True)
        (records / "panx" / setting / "seed1.json").write_text(json.dumps(record))
    output = tmp_path / "report" / "dlfa_experiment.md"
    with pytest.raises(SystemExit) as exit_info:
        dlfa_experiment.main(["report", "--records_dir", str(records), "--output", str(output)])
    assert exit_info.value.code == 2
    assert "panx: the runs scored different languages" in capsys.readouterr().err
    assert not output.parent.exists()
