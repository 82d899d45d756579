"""One example per device vs a real batch: does the AIF's global branch learn the same? (issue: batch of one)

    python benchmarks/batch_one.py            # -> benchmarks/results/batch_one.{md,json}

Trains DLFA (paper init and gate, layer 8) on English UD-POS with per-device batch 8, and with per-device
batch 1 x 8 gradient accumulation (the same effective batch), two seeds each, then reads at evaluation: the
English dev score, the global branch's running variance and the share of saturated gates
(sigmoid(W_global + W_local) below 1e-3 or above 1 - 1e-3) on English dev sentences.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
from environment import load_average, versions

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from transformers import AutoTokenizer  # noqa: E402

from modeling_dlfa import DLFAForTokenClassification  # noqa: E402
from modeling_dlfa.atomic import write_json, write_text  # noqa: E402
from modeling_dlfa.data import read_file  # noqa: E402
from modeling_dlfa.offline import default_backbone_dir  # noqa: E402
from modeling_dlfa.results import RunResults  # noqa: E402
from modeling_dlfa.statistics import paired_difference, summarize  # noqa: E402

DATA = REPO_ROOT.parent / "shared" / "data" / "xtreme" / "udpos"
SCRATCH = Path.home() / ".cache" / "modeling_dlfa" / "benchmarks" / "batch_one"
SHAPES = {"batch 8": (8, 1), "batch 1 x 8 accumulation": (1, 8)}


def train(
    shape: tuple[int, int],
    seed: int,
    model: str,
    output_dir: Path,
    samples: int,
    global_norm: str,
    layer: str,
) -> list[str]:
    batch, accumulation = shape
    args = [
        sys.executable, str(REPO_ROOT / "run_glue_x.py"), "--task_name", "udpos", "--model_name_or_path", model,
        "--fusion_layer", layer, "--fusion_init", "paper", "--fusion_gate", "paper", "--aif_global_norm", global_norm, "--data_dir", str(DATA.parent), "--eval_languages", "en",
        "--max_train_samples", str(samples), "--max_eval_samples", "300", "--num_train_epochs", "1",
        "--per_device_train_batch_size", str(batch), "--gradient_accumulation_steps", str(accumulation),
        "--learning_rate", "5e-5", "--head_learning_rate", "1e-3", "--freeze_embeddings", "--seed", str(seed),
        "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
        "--report_to", "none", "--disable_tqdm", "true", "--output_dir", str(output_dir), "--overwrite_output_dir",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(args, check=True, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    return args


@torch.no_grad()
def gate_statistics(run_dir: Path, sentences: list[list[str]]) -> dict:
    model = DLFAForTokenClassification.from_pretrained(run_dir).eval()
    if model.config.fusion_layer is None:  # the baseline has no gates
        return {"saturated_gate_share": None, "median_abs_W_global": None, "global_running_var_min": None}
    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    aif = model.dlfa.fusion.aif
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        aif.global_context.register_forward_hook(lambda m, a, out: captured.update(W_global=out)),
        aif.local_context.register_forward_hook(lambda m, a, out: captured.update(W_local=out)),
    ]
    saturated, total, global_magnitudes = 0, 0, []
    for start in range(0, len(sentences), 32):
        batch = tokenizer(sentences[start : start + 32], is_split_into_words=True, truncation=True,
                          max_length=128, padding=True, return_tensors="pt")  # fmt: skip
        model(**batch)
        gate = torch.sigmoid(captured["W_global"] + captured["W_local"])  # B x E x T
        real = batch["attention_mask"][:, None, :].bool().expand_as(gate)
        saturated += int(((gate < 1e-3) | (gate > 1 - 1e-3))[real].sum())
        total += int(real.sum())
        global_magnitudes.append(captured["W_global"].abs().flatten())
    for hook in hooks:
        hook.remove()
    # The `layer` global branch keeps no running statistics (it normalises each example on its own).
    running_var = getattr(aif.global_context.expand_norm, "running_var", None)
    return {
        "saturated_gate_share": saturated / total,
        "median_abs_W_global": float(torch.cat(global_magnitudes).median()),
        "global_running_var_min": None if running_var is None else float(running_var.min()),
        "global_running_var_median": None if running_var is None else float(running_var.median()),
    }


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _running_var(run: dict) -> str:
    if run["saturated_gate_share"] is None:
        return "no fusion"
    if run["global_running_var_min"] is None:
        return "none kept"
    return f"{run['global_running_var_min']:.2e} / {run['global_running_var_median']:.2e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--train_samples", type=int, default=400)
    parser.add_argument("--model", default=None)
    parser.add_argument("--aif_global_norm", default="batch", choices=("batch", "layer"))
    parser.add_argument("--fusion_layer", default="8", help="'none': the baseline, to see what is DLFA's own")
    parser.add_argument("--output", type=Path, default=None, help="default: results/batch_one_<norm>.md")
    args = parser.parse_args(argv)
    model = args.model or str(default_backbone_dir())
    arm = "baseline" if args.fusion_layer == "none" else args.aif_global_norm
    output = args.output or REPO_ROOT / "benchmarks" / "results" / f"batch_one_{arm}.md"
    sentences = read_file("udpos", DATA / "dev-en.tsv")["tokens"][:200]
    runs = []
    for seed in [int(seed) for seed in args.seeds.split(",")]:
        for name, shape in SHAPES.items():  # interleaved, so load changes hit both alike
            run_dir = SCRATCH / f"{arm}-{name.replace(' ', '_')}-seed{seed}"
            started, load = time.perf_counter(), load_average()
            command = train(
                shape, seed, model, run_dir, args.train_samples, args.aif_global_norm, args.fusion_layer
            )
            results = RunResults.read(run_dir)
            runs.append({
                "shape": name, "seed": seed, "dev_en": results.languages["en"],
                "wall_seconds": round(time.perf_counter() - started, 1), "load_average": load,
                "command": shlex.join(["python", *command[1:]]).replace(str(run_dir), "RUN_DIR"),
                **gate_statistics(run_dir, sentences),
            })  # fmt: skip
            print(runs[-1], flush=True)
    lines = [
        "# Per-device batch 1 x 8 accumulation vs batch 8 ("
        + (
            "baseline, no fusion"
            if arm == "baseline"
            else f"DLFA D{args.fusion_layer}, paper init, aif_global_norm={args.aif_global_norm}"
        )
        + ", English UD-POS, e5-small)",
        "",
        f"{args.train_samples} English training sentences, 1 epoch; English dev: 300 sentences (score), 200",
        f"(gates). `python benchmarks/batch_one.py --aif_global_norm {args.aif_global_norm} --fusion_layer "
        f"{args.fusion_layer} --seeds {args.seeds}`. Saturated: sigmoid(W_global + W_local) < 1e-3 or > 1 - 1e-3.",
        "",
        "| shape | seed | en dev | saturated gates | median abs(W_global) | global running var min / median | wall |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['shape']} | {run['seed']} | {run['dev_en']:.2f} | {_share(run['saturated_gate_share'])} | "
            f"{_number(run['median_abs_W_global'])} | {_running_var(run)} | {run['wall_seconds']:.0f} s |"
        )
    lines.append("")
    for name in SHAPES:
        summary = summarize(run["dev_en"] for run in runs if run["shape"] == name)
        spread = f" ± {summary.std:.2f}" if summary.std is not None else ""
        lines.append(f"- {name}: en dev {summary.mean:.2f}{spread} over {summary.n} seeds")
    by_shape = [{run["seed"]: run["dev_en"] for run in runs if run["shape"] == name} for name in SHAPES]
    if len(by_shape[0]) >= 2:
        delta = paired_difference(by_shape[1], by_shape[0])
        lines.append(
            f"- paired Δ (1 x 8 accumulation − batch 8): {delta.mean:+.2f}, 95% interval "
            f"[{delta.ci_low:+.2f}, {delta.ci_high:+.2f}] over {delta.n} seeds"
        )
    lines.append("")
    write_json(output.with_suffix(".json"), {"versions": versions(), "runs": runs})
    write_text(output, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
