"""Overhead of DLFA over the plain head on the same backbone: training step, inference, peak memory.

    python benchmarks/overhead.py                  # full run -> benchmarks/results/overhead.{json,md}
    python benchmarks/overhead.py --quick          # tiny shapes, 3 reps, < 30 s, writes to a temp folder
    python benchmarks/overhead.py --output PATH    # JSON at PATH, the markdown summary beside it (.md)

Each case (backbone x head) builds two models in this one process, with identical backbone, pooler and
classifier weights: `fusion_layer=None` (the plain head: exactly BertForSequenceClassification's /
BertForTokenClassification's computation) and `fusion_layer=6` (DLFA, paper gate). Timings are interleaved
pairs (plain, DLFA), the order alternating every pair (AB, BA, AB, ...), on the same inputs, with the same
`torch.manual_seed` before each step (same dropout masks in the backbone) and 2 fixed threads; the headline
ratio is the median of the per-pair ratios DLFA/plain, with their interquartile range as the spread. Other
processes sharing the CPU slow both members of a pair alike, which is what the pairing protects against.

Peak memory: see `memory_child` (a fresh process per variant, RSS high-water mark reset around one step).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    # `python benchmarks/overhead.py` puts benchmarks/ on the path, not the repository root.
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# OpenMP threads that wait for a descheduled sibling by spinning make a loaded machine (other jobs on the
# same cores) cost every parallel region up to a time slice: measured here under load ~5 on 2 cores, a tiny
# training step took 1.46 s with the default policy, 0.49 s with PASSIVE, 0.40 s on 1 thread. That penalty
# grows with the number of ops, not their size, and would charge DLFA's many small ops far more than their
# compute. PASSIVE (sleep at barriers) costs a few microseconds per region on an idle machine. It must be set
# before torch loads the OpenMP runtime; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import transformers  # noqa: E402
import transformers.models.bert.modeling_bert  # noqa: E402, F401  (imported before any memory baseline)
from environment import git_commit, machine, uncommitted_changes  # noqa: E402
from transformers import BertConfig  # noqa: E402
from transformers.utils import logging as transformers_logging  # noqa: E402

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification, DLFAForTokenClassification  # noqa: E402
from modeling_dlfa.offline import backbone_is_built, default_backbone_dir  # noqa: E402

THREADS = 2
transformers_logging.disable_progress_bar()


def _code_fingerprint() -> dict[str, str]:
    """sha256 (12 hex digits) of the model sources this process imported, read right after importing them:
    other engineers edit the tree during a run, and the memory children import it again later."""
    import modeling_dlfa.configuration_dlfa
    import modeling_dlfa.modeling_dlfa

    return {
        Path(module.__file__).name: hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:12]
        for module in (modeling_dlfa.modeling_dlfa, modeling_dlfa.configuration_dlfa)
    }


CODE_FINGERPRINT = _code_fingerprint()
TARGETS = {"train": 1.03, "inference": 1.02, "memory": 1.05}
VARIANTS = ("plain", "dlfa")
HEADS = {"sequence": DLFAForSequenceClassification, "token": DLFAForTokenClassification}
NUM_LABELS = {"sequence": 3, "token": 7}  # XNLI's 3 classes; PAN-X's 7 BIO tags
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "overhead.json"
# glibc serves allocations >= this many bytes with mmap and returns them to the OS on free (a fixed value
# also turns off glibc's adaptive threshold), so the resident set follows the live tensor bytes.
MALLOC_MMAP_THRESHOLD = 65536

MBERT = "mbert-base-shape"
E5 = "multilingual-e5-small"


def settings_for(quick: bool) -> dict:
    full = {
        "mode": "full",
        "mbert_shape": {"num_hidden_layers": 12, "vocab_size": 119547},
        "fusion_layer": 6,
        "train_batch": [8, 128],
        "inference_batch": [32, 128],
        "warmup_pairs": 1,
        "train_pairs": 7,
        "inference_pairs": 7,
        "fusion_module_reps": 9,
        "cases": [[MBERT, "sequence"], [E5, "sequence"], [E5, "token"]],
    }
    if not quick:
        return full
    return full | {
        "mode": "quick",
        "mbert_shape": {"num_hidden_layers": 2, "vocab_size": 1000},
        "fusion_layer": 1,
        "train_batch": [2, 32],
        "inference_batch": [2, 32],
        "train_pairs": 3,
        "inference_pairs": 3,
        "fusion_module_reps": 3,
        "cases": [[MBERT, "sequence"], [MBERT, "token"]],
    }


# ----------------------------------------------------------------------------- models and inputs


def mbert_config(shape: dict) -> BertConfig:
    """bert-base-multilingual-cased's shape (12 x 768, 12 heads, FF 3072), randomly initialised."""
    return BertConfig(
        hidden_size=768,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        **shape,
    )


def build_model(backbone: str, head: str, fusion_layer: int | None, settings: dict):
    model_class = HEADS[head]
    torch.manual_seed(0)
    if backbone == E5:
        return model_class.from_backbone(
            str(default_backbone_dir()),
            fusion_layer=fusion_layer,
            fusion_gate="paper",
            num_labels=NUM_LABELS[head],
        )
    config = DLFAConfig(
        backbone_config=mbert_config(settings["mbert_shape"]),
        fusion_layer=fusion_layer,
        num_labels=NUM_LABELS[head],
    )
    return model_class(config)


def build_pair(backbone: str, head: str, settings: dict) -> dict:
    """The plain and the DLFA model, sharing every weight but the fusion module's."""
    plain = build_model(backbone, head, None, settings)
    dlfa = build_model(backbone, head, settings["fusion_layer"], settings)
    missing, unexpected = dlfa.load_state_dict(plain.state_dict(), strict=False)
    if unexpected or any(not key.startswith("dlfa.fusion.") for key in missing):
        raise RuntimeError(f"weight copy mismatch: missing={missing} unexpected={unexpected}")
    return {"plain": plain, "dlfa": dlfa}


def make_batch(config, head: str, batch: int, length: int, seed: int, labels: bool) -> dict:
    """Random ids with realistic padding: row 0 full length, the others between length/2 and length."""
    generator = torch.Generator().manual_seed(seed)
    backbone = config.backbone_config
    input_ids = torch.randint(5, backbone.vocab_size, (batch, length), generator=generator)
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=generator)
    lengths[0] = length
    attention_mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    input_ids = input_ids.masked_fill(attention_mask == 0, backbone.pad_token_id or 0)
    inputs = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": torch.zeros_like(input_ids),
    }
    if labels and head == "sequence":
        inputs["labels"] = torch.randint(0, config.num_labels, (batch,), generator=generator)
    elif labels:
        tags = torch.randint(0, config.num_labels, (batch, length), generator=generator)
        # Only a word's first sub-token carries a label: about half of the real tokens.
        first_subtoken = torch.rand((batch, length), generator=generator) < 0.5
        inputs["labels"] = tags.masked_fill(~first_subtoken | (attention_mask == 0), -100)
    return inputs


def make_optimizer(model):
    # XTREME's mBERT recipe: learning rate 2e-5, no weight decay. torch's default implementation for CPU.
    return torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.0)


def _clocks() -> tuple[float, float]:
    # Wall time, and this process's CPU time (all threads): the latter counts only the cycles the step ran,
    # so it is far less sensitive than wall time to other jobs taking the cores (see the notes).
    return time.perf_counter(), time.process_time()


def _phases(marks: list[tuple[float, float]], names: list[str]) -> dict:
    phases = {"total": marks[-1][0] - marks[0][0], "cpu_total": marks[-1][1] - marks[0][1]}
    if len(names) > 1:
        for name, (start, end) in zip(names, zip(marks, marks[1:], strict=False), strict=True):
            phases[name] = end[0] - start[0]
            phases[f"cpu_{name}"] = end[1] - start[1]
    return phases


def train_step(model, optimizer, batch: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    marks = [_clocks()]
    loss = model(**batch).loss
    marks.append(_clocks())
    loss.backward()
    marks.append(_clocks())
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    marks.append(_clocks())
    return _phases(marks, ["forward", "backward", "optimizer"])


def inference_step(model, batch: dict) -> dict:
    marks = [_clocks()]
    with torch.no_grad():
        model(**batch)
    marks.append(_clocks())
    return _phases(marks, ["total"])


# ----------------------------------------------------------------------------- statistics


def quartiles(values: list[float]) -> list[float]:
    if len(values) == 1:
        return [values[0], values[0]]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return [q1, q3]


def verdict(ratio: float, spread: list[float], target: float) -> dict:
    return {
        "target": target,
        "verdict": "PASS" if ratio <= target else "MISS",
        # Whether the whole interquartile range of the per-pair ratios lies on the verdict's side.
        "clear": (spread[1] <= target) if ratio <= target else (spread[0] > target),
    }


def summarize(times: dict[str, list[dict]], target: float) -> dict:
    """Medians per variant and phase, per-pair ratios DLFA/plain, their median and IQR."""
    phases = list(times["plain"][0])
    result = {"n_pairs": len(times["plain"])}
    for variant in VARIANTS:
        result[variant] = {
            "median_s": {phase: statistics.median(t[phase] for t in times[variant]) for phase in phases},
            "times_s": times[variant],
        }
    pair_ratios = {
        phase: [b[phase] / a[phase] for a, b in zip(times["plain"], times["dlfa"], strict=True)]
        for phase in phases
    }
    result["pair_ratios"] = pair_ratios["total"]
    result["ratio_median"] = statistics.median(pair_ratios["total"])
    result["ratio_iqr"] = quartiles(pair_ratios["total"])
    result["ratio_of_medians"] = result["dlfa"]["median_s"]["total"] / result["plain"]["median_s"]["total"]
    result["phase_ratio_median"] = {phase: statistics.median(r) for phase, r in pair_ratios.items()}
    result.update(verdict(result["ratio_median"], result["ratio_iqr"], target))
    cpu = {
        "pair_ratios": pair_ratios["cpu_total"],
        "ratio_median": statistics.median(pair_ratios["cpu_total"]),
        "ratio_iqr": quartiles(pair_ratios["cpu_total"]),
        "ratio_of_medians": result["dlfa"]["median_s"]["cpu_total"]
        / result["plain"]["median_s"]["cpu_total"],
    }
    result["cpu"] = cpu | verdict(cpu["ratio_median"], cpu["ratio_iqr"], target)
    return result


# ----------------------------------------------------------------------------- load accounting


def cpu_busy_seconds() -> float | None:
    """Seconds of CPU time spent by everything on the machine (from /proc/stat), None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class LoadMeter:
    """How much of the machine other processes used while a block ran."""

    def __init__(self):
        self.start = (time.perf_counter(), cpu_busy_seconds(), own_cpu_seconds(), os.getloadavg())

    def stop(self) -> dict:
        wall0, busy0, own0, load0 = self.start
        wall, busy, own = time.perf_counter() - wall0, cpu_busy_seconds(), own_cpu_seconds() - own0
        cores = os.cpu_count() or 1
        result = {"wall_s": wall, "loadavg_start": list(load0), "loadavg_end": list(os.getloadavg())}
        if busy is not None and busy0 is not None and wall > 0:
            foreign = max(0.0, (busy - busy0) - own)
            result["other_processes_cores"] = foreign / wall
            result["other_processes_share"] = foreign / (wall * cores)
        return result


# ----------------------------------------------------------------------------- timing


def run_interleaved(step_a, step_b, pairs: int, warmup_pairs: int) -> dict[str, list[dict]]:
    """A, B, B, A, A, B, ... after warm-up; garbage collection only between steps."""
    for _ in range(warmup_pairs):
        step_a()
        step_b()
    times = {"plain": [], "dlfa": []}
    gc.disable()
    try:
        for pair in range(pairs):
            order = (("plain", step_a), ("dlfa", step_b))
            for variant, step in order if pair % 2 == 0 else order[::-1]:
                gc.collect()
                times[variant].append(step())
    finally:
        gc.enable()
    return times


def time_case(backbone: str, head: str, settings: dict) -> dict:
    models = build_pair(backbone, head, settings)
    config = models["dlfa"].config
    train_batch = make_batch(config, head, *settings["train_batch"], seed=1, labels=True)
    infer_batch = make_batch(config, head, *settings["inference_batch"], seed=2, labels=False)
    optimizers = {variant: make_optimizer(model) for variant, model in models.items()}
    result = {}

    for model in models.values():
        model.train()
    step_counter = {"plain": 0, "dlfa": 0}

    def trainer(variant):
        def step():
            # The k-th step of either model draws the same dropout masks.
            step_counter[variant] += 1
            return train_step(models[variant], optimizers[variant], train_batch, seed=step_counter[variant])

        return step

    meter = LoadMeter()
    train_times = run_interleaved(
        trainer("plain"), trainer("dlfa"), settings["train_pairs"], settings["warmup_pairs"]
    )
    result["train"] = summarize(train_times, TARGETS["train"]) | {"load": meter.stop()}

    for model in models.values():
        model.eval()
    meter = LoadMeter()
    infer_times = run_interleaved(
        lambda: inference_step(models["plain"], infer_batch),
        lambda: inference_step(models["dlfa"], infer_batch),
        settings["inference_pairs"],
        settings["warmup_pairs"],
    )
    result["inference"] = summarize(infer_times, TARGETS["inference"]) | {"load": meter.stop()}

    result["fusion_module"] = time_fusion_module(models["dlfa"], train_batch, infer_batch, settings)
    for kind in ("train", "inference"):
        # CPU time on both sides of the fraction: the estimate is what it would be on an idle machine.
        module = result["fusion_module"][f"{kind}_cpu_median_s"]
        result["fusion_module"][f"{kind}_implied_ratio"] = (
            1 + module / result[kind]["plain"]["median_s"]["cpu_total"]
        )
    return result


def time_fusion_module(model, train_batch: dict, infer_batch: dict, settings: dict) -> dict:
    """The fusion module alone on this case's shapes: a low-noise estimate of what DLFA adds to a step.

    Training: forward + backward of `DLFAFusion` on random `L1`, `L2` needing gradients, as inside the model.
    Its parameters' gradients are dropped after each repetition.
    """
    fusion = model.dlfa.fusion
    hidden = model.config.hidden_size
    reps = settings["fusion_module_reps"]
    generator = torch.Generator().manual_seed(3)
    result = {}
    for kind, batch in (("train", train_batch), ("inference", infer_batch)):
        mask = batch["attention_mask"]
        L1, L2 = (torch.randn(*mask.shape, hidden, generator=generator) for _ in range(2))
        fusion.train(kind == "train")

        def run(L1=L1, L2=L2, mask=mask, kind=kind):
            start = _clocks()
            if kind == "train":
                L1.requires_grad_(True)
                L2.requires_grad_(True)
                fusion(L1, L2, mask).sum().backward()
                L1.grad = L2.grad = None
                fusion.zero_grad(set_to_none=True)
            else:
                with torch.no_grad():
                    fusion(L1, L2, mask)
            end = _clocks()
            return end[0] - start[0], end[1] - start[1]

        run()
        times = [run() for _ in range(reps)]
        result[f"{kind}_median_s"] = statistics.median(wall for wall, _ in times)
        result[f"{kind}_cpu_median_s"] = statistics.median(cpu for _, cpu in times)
        result[f"{kind}_times_s"] = [wall for wall, _ in times]
        result[f"{kind}_cpu_times_s"] = [cpu for _, cpu in times]
    return result


# ----------------------------------------------------------------------------- memory

# Peak memory on CPU. torch has no CPU counterpart of torch.cuda.max_memory_allocated, and tracemalloc does
# not see torch's allocations. So each variant runs in a fresh child process (`--memory-child`) with glibc's
# mmap threshold fixed at 64 KiB: every tensor buffer is then an mmap returned to the OS when freed, and the
# resident set size tracks the live tensor bytes closely (no allocator cache hides or inflates them). The
# child runs one warm-up step (AdamW allocates its state lazily), writes "5" to /proc/self/clear_refs to
# reset the kernel's RSS high-water mark (VmHWM) to the current RSS, runs one training step and reads VmHWM.
# The step peak is that high-water mark minus the RSS before the model was built (interpreter, libraries):
# weights + gradients + AdamW state + activations + temporaries, what torch.cuda.max_memory_allocated would
# report on a GPU. A fresh process per variant keeps one variant's freed pages and library state from
# leaking into the other's numbers. As a check, the child also reports the persistent bytes it measured
# between steps against what the parameters and AdamW state should take (3 x 4 bytes per parameter).


def read_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_bytes() -> int:
    return read_status_kib("VmRSS") * 1024


def hwm_bytes() -> int:
    return read_status_kib("VmHWM") * 1024


def prime_runtime() -> None:
    """One tiny DLFA training step and inference, alike in both variants' children, before any baseline.

    The first step of a process allocates once-only state (oneDNN and MKL kernels and buffers, the autograd
    and OpenMP threads, lazily imported modules): tens of MiB that would otherwise be counted as the first
    measured model's.
    """
    tiny = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=64
    )
    for head, model_class in HEADS.items():
        model = model_class(DLFAConfig(backbone_config=tiny, fusion_layer=0, num_labels=NUM_LABELS[head]))
        optimizer = make_optimizer(model)
        train_step(model, optimizer, make_batch(model.config, head, 2, 8, seed=0, labels=True), seed=0)
        model.eval()
        inference_step(model, make_batch(model.config, head, 2, 8, seed=0, labels=False))


def measure_memory_in_process(
    backbone: str, heads: list[str], fusion_layer: int | None, settings: dict
) -> dict:
    prime_runtime()
    result = {}
    for head in heads:
        gc.collect()
        base = rss_bytes()
        model = build_model(backbone, head, fusion_layer, settings)
        config = model.config
        train_batch = make_batch(config, head, *settings["train_batch"], seed=1, labels=True)
        infer_batch = make_batch(config, head, *settings["inference_batch"], seed=2, labels=False)
        optimizer = make_optimizer(model)
        model.train()
        train_step(model, optimizer, train_batch, seed=1)  # warm-up: allocates the AdamW state
        gc.collect()
        before = rss_bytes()
        if not reset_peak_rss():
            raise RuntimeError("cannot reset the RSS high-water mark (/proc/self/clear_refs)")
        train_step(model, optimizer, train_batch, seed=2)
        train_peak = hwm_bytes()
        del optimizer
        gc.collect()
        model.eval()
        infer_before = rss_bytes()
        reset_peak_rss()
        inference_step(model, infer_batch)
        infer_peak = hwm_bytes()
        parameters = sum(p.numel() * p.element_size() for p in model.parameters())
        result[head] = {
            "train_step_peak_bytes": train_peak - base,
            "train_activation_peak_bytes": train_peak - before,
            "persistent_bytes_measured": before - base,
            "persistent_bytes_expected": 3 * parameters,
            "inference_activation_peak_bytes": infer_peak - infer_before,
            "parameter_bytes": parameters,
        }
        del model
    result["process_maxrss_bytes"] = _maxrss_bytes()
    result["code"] = CODE_FINGERPRINT
    return result


def _maxrss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(spec: str) -> None:
    args = json.loads(spec)
    torch.set_num_threads(THREADS)
    result = measure_memory_in_process(
        args["backbone"], args["heads"], args["fusion_layer"], args["settings"]
    )
    print("MEMORY_RESULT " + json.dumps(result), flush=True)


def run_memory_child(backbone: str, heads: list[str], fusion_layer: int | None, settings: dict) -> dict:
    spec = json.dumps(
        {"backbone": backbone, "heads": heads, "fusion_layer": fusion_layer, "settings": settings}
    )
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = str(MALLOC_MMAP_THRESHOLD)
    env["OMP_NUM_THREADS"] = str(THREADS)
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", spec],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("MEMORY_RESULT "):
            return json.loads(line.removeprefix("MEMORY_RESULT "))
    raise RuntimeError(f"memory child failed (rc={completed.returncode}):\n{completed.stderr[-4000:]}")


def measure_memory(backbone: str, heads: list[str], settings: dict) -> dict[str, dict]:
    """One fresh process per variant (plain first, then DLFA); memory is deterministic up to a few pages."""
    layers = {"plain": None, "dlfa": settings["fusion_layer"]}
    children = {variant: run_memory_child(backbone, heads, layers[variant], settings) for variant in VARIANTS}
    result = {}
    for head in heads:
        entry = {variant: children[variant][head] for variant in VARIANTS}
        plain, dlfa = entry["plain"], entry["dlfa"]
        entry["ratio"] = dlfa["train_step_peak_bytes"] / plain["train_step_peak_bytes"]
        entry["activation_ratio"] = dlfa["train_activation_peak_bytes"] / plain["train_activation_peak_bytes"]
        entry["inference_activation_ratio"] = (
            dlfa["inference_activation_peak_bytes"] / plain["inference_activation_peak_bytes"]
        )
        entry["method"] = (
            "fresh process per variant; VmHWM reset via /proc/self/clear_refs; mmap threshold 64 KiB"
        )
        entry.update(verdict(entry["ratio"], [entry["ratio"], entry["ratio"]], TARGETS["memory"]))
        result[head] = entry
    result["process_maxrss_bytes"] = {
        variant: children[variant]["process_maxrss_bytes"] for variant in VARIANTS
    }
    result["code"] = {variant: children[variant]["code"] for variant in VARIANTS}
    return result


# ----------------------------------------------------------------------------- report


def machine_info() -> dict:
    """environment.py's machine and commit, and this process's torch version and threads."""
    return machine() | {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "git_commit": git_commit(short=False),
        "modeling_dlfa_uncommitted_changes": uncommitted_changes("modeling_dlfa"),
    }


def results_table(report: dict) -> list[str]:
    """One row per case and metric: medians of both variants, the median per-pair ratio [IQR], the verdict."""
    rows = [
        "| backbone | head | metric | plain | DLFA | ratio [IQR] | target | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in report["results"]:
        name = f"| {case['backbone']} | {case['head']} |"
        for kind in ("train", "inference"):
            entry = case[kind]
            for clock, stats, key in (("wall", entry, "total"), ("CPU", entry["cpu"], "cpu_total")):
                q1, q3 = stats["ratio_iqr"]
                plain, dlfa = (entry[variant]["median_s"][key] * 1000 for variant in VARIANTS)
                rows.append(
                    f"{name} {kind} time ({clock}) | {plain:,.1f} ms | {dlfa:,.1f} ms | "
                    f"{stats['ratio_median']:.4f} [{q1:.4f}, {q3:.4f}] | <= {stats['target']} | "
                    f"{stats['verdict']}{'' if stats['clear'] else ' (IQR spans target)'} |"
                )
        if memory := case.get("memory"):
            plain, dlfa = (memory[variant]["train_step_peak_bytes"] / 2**20 for variant in VARIANTS)
            rows.append(
                f"{name} train peak memory | {plain:,.1f} MiB | {dlfa:,.1f} MiB | {memory['ratio']:.4f} (n=1) | "
                f"<= {memory['target']} | {memory['verdict']} |"
            )
    return rows


def markdown_report(report: dict) -> str:
    settings, machine, code = report["settings"], report["machine"], report["code"]
    commit = machine.get("git_commit", "?")[:12]
    if machine.get("modeling_dlfa_uncommitted_changes"):
        commit += " + uncommitted changes"
    lines = [
        "# DLFA overhead vs the plain head",
        "",
        f"`{report['command']}` ({settings['mode']} mode), {report['date']}; {machine['cpu_model']}, "
        f"{machine['cores']} cores, torch {machine['torch']} ({machine['torch_threads']} threads); commit "
        f"{commit}, sources "
        + ", ".join(f"{name} {digest}" for name, digest in code["timing"].items())
        + ("" if code["consistent"] else " (CHANGED during the run)")
        + ".",
        "",
        f"DLFA `fusion_layer={settings['fusion_layer']}` vs plain `fusion_layer=None`, same weights; train step "
        f"(forward, backward, AdamW) on {settings['train_batch'][0]} x {settings['train_batch'][1]} tokens, "
        f"inference on {settings['inference_batch'][0]} x {settings['inference_batch'][1]}; "
        f"{settings['train_pairs']} / {settings['inference_pairs']} interleaved pairs. Ratio = median of the "
        "per-pair ratios DLFA/plain [IQR]; method in `benchmarks/overhead.py`, every raw number in the JSON.",
        "",
        *results_table(report),
        "",
        "Cross-checks:",
        "",
        "| backbone | head | fusion module alone: implied train / inference ratio (CPU) | persistent bytes "
        "measured / expected (plain) | other processes' cores during train / inference timing |",
        "|---|---|---|---|---|",
    ]
    for case in report["results"]:
        module, memory = case["fusion_module"], case.get("memory")
        persistent = (
            f"{memory['plain']['persistent_bytes_measured'] / 2**20:,.1f} / "
            f"{memory['plain']['persistent_bytes_expected'] / 2**20:,.1f} MiB"
            if memory
            else "-"
        )
        load = " / ".join(
            f"{case[kind]['load'].get('other_processes_cores', float('nan')):.2f}"
            for kind in ("train", "inference")
        )
        lines.append(
            f"| {case['backbone']} | {case['head']} | {module['train_implied_ratio']:.4f} / "
            f"{module['inference_implied_ratio']:.4f} | {persistent} | {load} of {machine['cores']} |"
        )
    lines += ["", "## Notes", ""]
    lines += [
        f"- skipped {item['backbone']} / {item['head']}: {item['reason']}" for item in report["skipped"]
    ]
    lines += [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 3 reps, no e5 (a smoke run)")
    parser.add_argument("--output", type=Path, help="JSON path; the markdown summary goes beside it")
    parser.add_argument(
        "--pairs", type=int, help="override the number of timed pairs (training and inference)"
    )
    parser.add_argument(
        "--cases",
        help=f"comma-separated backbone:head list, e.g. '{MBERT}:sequence,{E5}:token' (default: by mode)",
    )
    parser.add_argument("--skip-memory", action="store_true", help="no memory measurement")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    torch.set_num_threads(THREADS)
    settings = settings_for(args.quick)
    if args.pairs:
        settings["train_pairs"] = settings["inference_pairs"] = args.pairs
    if args.cases:
        settings["cases"] = [item.split(":", 1) for item in args.cases.split(",")]
    output = args.output
    if output is None:
        output = (
            Path(tempfile.mkdtemp(prefix="dlfa-overhead-")) / "overhead.json"
            if args.quick
            else DEFAULT_OUTPUT
        )
    command = shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None else shlex.join(argv)

    started = time.perf_counter()
    machine = machine_info()  # the git commit as the run starts
    meter = LoadMeter()
    results, skipped = [], []
    cases = []
    for backbone, head in settings["cases"]:
        if head not in HEADS or backbone not in (MBERT, E5):
            raise SystemExit(f"unknown case {backbone}:{head}")
        if backbone == E5 and not backbone_is_built(default_backbone_dir()):
            skipped.append(
                {
                    "backbone": backbone,
                    "head": head,
                    "reason": f"offline backbone not built at {default_backbone_dir()} "
                    "(python -m modeling_dlfa.offline build)",
                }
            )
            continue
        cases.append((backbone, head))

    for backbone, head in cases:
        print(f"timing {backbone}/{head} ...", flush=True)
        case = {"backbone": backbone, "head": head} | time_case(backbone, head, settings)
        results.append(case)
    if not args.skip_memory:
        for backbone in dict.fromkeys(backbone for backbone, _ in cases):
            heads = [head for b, head in cases if b == backbone]
            print(f"memory {backbone} ({', '.join(heads)}) ...", flush=True)
            memory = measure_memory(backbone, heads, settings)
            for case in results:
                if case["backbone"] == backbone:
                    case["memory"] = memory[case["head"]]
                    case["memory"]["process_maxrss_bytes"] = memory["process_maxrss_bytes"]
                    case["memory"]["code"] = memory["code"]

    notes = [
        "Other jobs may share the cores. Interleaved pairs (order alternating) cancel slow drifts in load, but "
        "wall ratios still swing with it; the CPU-time ratio counts only this process's cycles and is the robust "
        "estimate. The fusion module timed alone is a low-noise cross-check: 1 + module / plain step (CPU).",
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}: spinning OpenMP barriers on a loaded machine "
        "would charge DLFA's many small ops for waiting rather than for their compute.",
        "Memory is measured once per variant (n=1: a step allocates the same tensors each time) as the RSS "
        "high-water mark in a fresh process; persistent bytes measured vs expected (weights + AdamW) check it.",
        f"{MBERT}: random weights, hidden 768, 12 heads, FF 3072, {settings['mbert_shape']['num_hidden_layers']} "
        f"layers, vocab {settings['mbert_shape']['vocab_size']}; {E5}: the offline backbone (from_backbone).",
    ]
    child_code = [code for case in results for code in case.get("memory", {}).get("code", {}).values()]
    code_consistent = all(code == CODE_FINGERPRINT for code in child_code)
    if not code_consistent:
        notes.append(
            "WARNING: the model sources changed during the run: the memory children imported "
            f"{child_code}, the timing process {CODE_FINGERPRINT}."
        )
    report = {
        "benchmark": "dlfa-overhead",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine,
        "code": {"timing": CODE_FINGERPRINT, "consistent": code_consistent},
        "settings": settings
        | {
            "threads": THREADS,
            "targets": TARGETS,
            "variants": {"plain": None, "dlfa": settings["fusion_layer"]},
        },
        "results": results,
        "skipped": skipped,
        "notes": notes,
        "load": meter.stop(),
        "elapsed_s": time.perf_counter() - started,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = output.with_suffix(".md")
    markdown.write_text(markdown_report(report), encoding="utf-8")
    print("\n".join(results_table(report)))
    print(f"wrote {output} and {markdown} in {report['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
