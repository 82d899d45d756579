"""Smoke runs of benchmark scripts' --quick modes: they run end to end and write reports of the documented
structure with finite numbers. No timing is asserted (the machine is shared)."""

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


def _finite_positive(value) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


# ----------------------------------------------------------------------------- benchmarks/overhead.py


def test_overhead_quick(tmp_path: Path):
    output = tmp_path / "overhead.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "overhead.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=env,
    )
    assert completed.returncode == 0, (
        f"overhead.py failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    )

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["benchmark"] == "dlfa-overhead"
    assert "overhead.py --quick" in report["command"]
    for key in ("date", "machine", "settings", "results", "skipped", "notes", "load"):
        assert key in report, key
    machine = report["machine"]
    for key in ("cpu_model", "cores", "torch", "transformers", "torch_threads"):
        assert machine[key], key
    settings = report["settings"]
    assert settings["mode"] == "quick" and settings["threads"] == 2
    assert settings["targets"] == {"train": 1.03, "inference": 1.02, "memory": 1.05}
    pairs = {"train": settings["train_pairs"], "inference": settings["inference_pairs"]}
    assert pairs == {"train": 3, "inference": 3}

    results = report["results"]
    assert results, "no case was measured"
    assert all(case["backbone"] != "multilingual-e5-small" for case in results), "--quick skips e5"
    for case in results:
        where = f"{case['backbone']}/{case['head']}"
        for kind in ("train", "inference"):
            entry = case[kind]
            assert _finite_positive(entry["ratio_median"]), f"{where} {kind}"
            assert _finite_positive(entry["ratio_of_medians"]), f"{where} {kind}"
            q1, q3 = entry["ratio_iqr"]
            assert _finite_positive(q1) and _finite_positive(q3) and q1 <= entry["ratio_median"] <= q3, where
            assert len(entry["pair_ratios"]) == pairs[kind] and all(
                map(_finite_positive, entry["pair_ratios"])
            )
            for variant in ("plain", "dlfa"):
                times = entry[variant]["times_s"]
                assert len(times) == pairs[kind], f"{where} {kind} {variant}"
                assert all(_finite_positive(t["total"]) for t in times), f"{where} {kind} {variant}"
                assert _finite_positive(entry[variant]["median_s"]["total"])
            assert entry["verdict"] in ("PASS", "MISS") and entry["target"] == settings["targets"][kind]
            cpu = entry["cpu"]
            assert _finite_positive(cpu["ratio_median"]) and all(map(_finite_positive, cpu["ratio_iqr"])), (
                where
            )
            assert cpu["verdict"] in ("PASS", "MISS") and len(cpu["pair_ratios"]) == pairs[kind]
        phases = {"total", "forward", "backward", "optimizer"}
        assert set(case["train"]["phase_ratio_median"]) == phases | {f"cpu_{phase}" for phase in phases}
        module = case["fusion_module"]
        for key in (
            "train_cpu_median_s",
            "inference_cpu_median_s",
            "train_implied_ratio",
            "inference_implied_ratio",
        ):
            assert _finite_positive(module[key]), f"{where} fusion_module {key}"
        memory = case["memory"]
        for key in ("ratio", "activation_ratio", "inference_activation_ratio"):
            assert _finite_positive(memory[key]), f"{where} memory {key}"
        for variant in ("plain", "dlfa"):
            assert _finite_positive(memory[variant]["train_step_peak_bytes"]), f"{where} memory {variant}"
            assert _finite_positive(memory[variant]["persistent_bytes_expected"])
        # The fused model has strictly more parameters than the plain one.
        assert memory["dlfa"]["parameter_bytes"] > memory["plain"]["parameter_bytes"]
        assert memory["verdict"] in ("PASS", "MISS")

    markdown = output.with_suffix(".md").read_text(encoding="utf-8")
    assert "| backbone | head | metric |" in markdown
    assert "train time" in markdown and "inference time" in markdown and "train peak memory" in markdown
