"""Scale-out: two CPU processes under `accelerate launch` train the same model as one process with the
same effective batch, and DLFAMaskedBatchNorm1d's statistics are synchronised across the processes.

How to launch several CPU processes with accelerate 1.15 (checked in its launch code and by running it):
- `--cpu --num_processes 2` is NOT multi-process: `--cpu` selects the simple launcher, which starts one
  process (num_processes only matters with `--mpirun_hostfile` and an MPI install); the run has world_size 1.
- `--multi_gpu --num_processes 2` starts 2 processes through torch.distributed.run whatever the hardware;
  on a machine without GPUs they form a gloo group only when the script asks for the CPU
  (`--use_cpu true`, a TrainingArguments flag): then accelerate picks DistributedType.MULTI_CPU + gloo.
  Without it each process trains alone (world_size 1) on all the data.
So: `accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no
--dynamo_backend no --main_process_port PORT run_glue_x.py ... --use_cpu true`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed
from safetensors.torch import load_file
from transformers import AutoModel

from .conftest import REPO_ROOT, save_tiny_tokenizer, tiny_backbone_config
from .fixtures import write_xnli_dir

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is needed for multi-process CPU training",
)

DEV_SIZE = 13  # odd: the 2 processes get uneven evaluation shards, which must not duplicate an example
COMMON = [
    # The BatchNorm global branch too: its statistics are the ones that must be synchronised.
    "--task_name", "xnli", "--fusion_layer", "1", "--aif_global_norm", "batch", "--classifier_dropout", "0", "--num_train_epochs", "2",
    "--learning_rate", "1e-3", "--seed", "3", "--report_to", "none",
    "--disable_tqdm", "true", "--dataloader_pin_memory", "false",
    # The final model (8 steps) is compared, not a selected checkpoint: no checkpoints needed.
    "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
]  # fmt: skip
# Tolerances. Observed after the 8 steps: BN running statistics at most 1.2e-5 apart, all weights 3.4e-5
# (float rounding, see below); the same 2-process run with the BN all-reduce switched off: BN statistics
# 2e-4 to 7e-3 apart. So 1e-4 passes the synchronised run with a wide margin and fails the control.
BN_ATOL = 1e-4
WEIGHT_ATOL = 5e-4
# Launcher failures that say nothing about this project: the test is skipped on them.
LAUNCH_TROUBLE = ("DistNetworkError", "EADDRINUSE", "Address already in use", "RendezvousConnectionError")

NO_BN_SYNC = textwrap.dedent(
    """
    # run_glue_x.py with DLFAMaskedBatchNorm1d's cross-process sums switched off: the control run.
    import runpy, sys
    import modeling_dlfa.modeling_dlfa as modeling
    modeling._sum_across_processes = lambda tensor: tensor
    sys.argv = [sys.argv[1], *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(script: list[str], args: list[str], log: Path, cache: Path, processes: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        DLFA_FEATURES_CACHE=str(cache),
        PYTHONPATH=str(REPO_ROOT),
        HF_HOME=str(cache / "hf_home"),  # no user accelerate config file can change the launch
        OMP_NUM_THREADS="1",
    )
    if processes == 1:
        command = [sys.executable, *script, *args]
    else:
        command = [
            sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(processes), "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--main_process_port", str(free_port()), *script, *args,
        ]  # fmt: skip
    with open(log, "wb") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One process with batch 8; two with batch 4 each; the same two without BN sync; and two launched
    without --use_cpu. All at once (a few seconds of imports each, on 2 cores)."""
    root = tmp_path_factory.mktemp("scale_out")
    backbone = root / "backbone-no-dropout"
    torch.manual_seed(0)
    AutoModel.from_config(tiny_backbone_config("bert", num_layers=3, dropout=0.0)).save_pretrained(backbone)
    save_tiny_tokenizer(backbone)
    data = write_xnli_dir(root / "xnli", train=32, dev=DEV_SIZE)
    control = root / "no_bn_sync.py"
    control.write_text(NO_BN_SYNC)
    cli = str(REPO_ROOT / "run_glue_x.py")
    plans = {
        "single": ([cli], 1, "8", ["--use_cpu", "true"]),
        "ddp": ([cli], 2, "4", ["--use_cpu", "true"]),
        "ddp_without_bn_sync": ([str(control), cli], 2, "4", ["--use_cpu", "true"]),
        # The easy mistake: 2 processes launched, but without --use_cpu they are not one job (small run).
        "two_without_use_cpu": ([cli], 2, "4", ["--max_train_samples", "8", "--max_eval_samples", "4"]),
    }
    processes, codes = {}, {}
    try:
        for name, (script, count, batch, extra) in plans.items():
            args = [
                "--model_name_or_path", str(backbone), "--data_dir", str(data), "--output_dir",
                str(root / name), "--per_device_train_batch_size", batch, *COMMON, *extra,
            ]  # fmt: skip
            processes[name] = launch(script, args, root / f"{name}.log", root / f"cache-{name}", count)
        for name, process in processes.items():
            codes[name] = process.wait(timeout=400)
            log = (root / f"{name}.log").read_text(errors="replace")
            if codes[name] != 0 and plans[name][1] > 1 and any(sign in log for sign in LAUNCH_TROUBLE):
                pytest.skip(f"accelerate cannot launch 2 CPU processes here: {log[-1500:]}")
            if name != "two_without_use_cpu":
                assert codes[name] == 0, f"{name} failed:\n{log[-4000:]}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return {"root": root, "codes": codes, **{name: root / name for name in plans}}


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def bn_statistics(folder: Path) -> dict[str, torch.Tensor]:
    weights = load_file(folder / "model.safetensors")
    found = {k: v for k, v in weights.items() if "running_mean" in k or "running_var" in k}
    assert len(found) == 8, sorted(found)  # 2 branches x 2 norms x (mean, var)
    return found


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_two_processes_really_ran_distributed(runs):
    assert results(runs["single"])["training"]["world_size"] == 1
    assert results(runs["ddp"])["training"]["world_size"] == 2
    # Each example evaluated once, even though 13 examples split unevenly over 2 processes.
    for folder in (runs["single"], runs["ddp"]):
        assert results(folder)["num_examples"] == {"de": DEV_SIZE, "en": DEV_SIZE, "fr": DEV_SIZE}
        for language in ("de", "en", "fr"):
            lines = (folder / "predictions" / f"{language}.jsonl").read_text(encoding="utf-8").splitlines()
            assert len(lines) == DEV_SIZE
        assert results(folder)["num_train_examples"] == 32


def test_scores_match_one_process_with_the_same_effective_batch(runs):
    one, two = results(runs["single"]), results(runs["ddp"])
    # Both runs see the same 8 examples at each step (the sharded sampler gives process k batches k, k+2,
    # ... of the same seeded permutation) and DDP averages the 2 half-batch gradients into the full-batch
    # one, so the models agree up to float rounding (summation order, per-half-batch padding): ~1e-5. A
    # prediction whose margin is below that could flip, so the stated tolerance is one example's worth of
    # accuracy per language (100/13 points); it has always been exactly 0 here.
    one_example = 100 / DEV_SIZE + 0.01
    assert one["languages"].keys() == two["languages"].keys()
    for language, score in one["languages"].items():
        assert abs(score - two["languages"][language]) <= one_example, (language, one, two)
    assert abs(one["train_dev_score"] - two["train_dev_score"]) <= one_example
    disagreements = {}
    for language in one["languages"]:
        ours, theirs = (
            [json.loads(line)["prediction"] for line in (folder / "predictions" / f"{language}.jsonl").open()]
            for folder in (runs["single"], runs["ddp"])
        )
        disagreements[language] = sum(a != b for a, b in zip(ours, theirs, strict=True))
    assert all(count <= 1 for count in disagreements.values()), disagreements


def test_batchnorm_statistics_are_synchronised_across_processes(runs):
    single = bn_statistics(runs["single"])
    synced, unsynced = bn_statistics(runs["ddp"]), bn_statistics(runs["ddp_without_bn_sync"])
    assert max_difference(synced, single) <= BN_ATOL
    # The control: without the all-reduce, each process normalises with its half batch's statistics, and
    # the saved (process 0) running statistics are those of half the data, well outside the tolerance.
    assert max_difference(unsynced, single) > 10 * BN_ATOL
    weights = {
        name: load_file(runs[name] / "model.safetensors") for name in ("single", "ddp", "ddp_without_bn_sync")
    }
    tracked = {k: v for k, v in weights["single"].items() if k.endswith("num_batches_tracked")}
    assert all(torch.equal(v, weights["ddp"][k]) for k, v in tracked.items())
    assert max_difference(weights["ddp"], weights["single"]) <= WEIGHT_ATOL
    assert max_difference(weights["ddp_without_bn_sync"], weights["single"]) > WEIGHT_ATOL


def test_processes_that_are_not_one_job_are_refused(runs):
    log = (runs["root"] / "two_without_use_cpu.log").read_text(errors="replace")
    # Each process exits 2; the launcher reports the failed job with its own non-zero code.
    assert runs["codes"]["two_without_use_cpu"] != 0, log[-2000:]
    assert "--use_cpu" in log.split("error:")[-1]
    assert not (runs["two_without_use_cpu"] / "results.json").exists()
