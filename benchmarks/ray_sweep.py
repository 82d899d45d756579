"""One sweep grid run twice on this machine: sequentially in one process, and as Ray Tune trials.

    python benchmarks/ray_sweep.py            # -> benchmarks/results/ray_sweep.{md,json}

Both arms are the same `run_glue_x.py` command (by default UD-POS, offline multilingual-e5-small, real XTREME files), differing
only in `--sweep_backend`: `local` runs the (setting, seed) trials one after another with every core; `ray` runs
them as Ray Tune trials of `--trial_cpus` CPUs each, as many at once as the machine holds. It reports the wall
time of each arm with the load around it, and checks that every trial's scores are identical in both.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from environment import REPO_ROOT, cpu_model, load_average, versions

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from modeling_dlfa.atomic import write_json, write_text  # noqa: E402
from modeling_dlfa.offline import default_backbone_dir  # noqa: E402
from modeling_dlfa.results import RESULTS_FILE, RunResults  # noqa: E402

DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "xtreme"
SCRATCH = Path.home() / ".cache" / "modeling_dlfa" / "benchmarks" / "ray_sweep"


def sweep_command(args: argparse.Namespace, backend: str, output_dir: Path) -> list[str]:
    command = [
        sys.executable, str(REPO_ROOT / "run_glue_x.py"), "--task_name", args.task,
        "--model_name_or_path", args.model or str(default_backbone_dir()), "--data_dir", str(args.data_dir),
        "--eval_languages", args.languages, "--fusion_layer", args.settings, "--fusion_gate", "paper", "--seeds", args.seeds,
        "--max_train_samples", str(args.train_samples), "--max_eval_samples", str(args.eval_samples),
        "--num_train_epochs", "1", "--learning_rate", "5e-5", "--head_learning_rate", "1e-3",
        "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "64", "--freeze_embeddings",
        "--save_model", "false", "--report_to", "none", "--disable_tqdm", "true", "--log_level", "warning",
        "--output_dir", str(output_dir), "--overwrite_output_dir", "--sweep_backend", backend,
    ]  # fmt: skip
    if backend == "ray":
        command += ["--trial_cpus", str(args.trial_cpus)]
    return command


def trial_scores(output_dir: Path) -> dict[str, dict[str, float]]:
    """{trial folder: {language: score}} of every finished trial under a sweep folder."""
    return {
        path.parent.relative_to(output_dir).as_posix(): RunResults.read(path.parent).languages
        # fusion_<x>/results.json for one seed, fusion_<x>/seed_<s>/results.json for several
        for path in sorted(output_dir.rglob(RESULTS_FILE))
        if path.parent != output_dir
    }


def run_arm(args: argparse.Namespace, backend: str) -> dict:
    output_dir = args.scratch_dir / backend
    command = sweep_command(args, backend, output_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # Sequentially a run gets every core; Ray sets each trial's OMP_NUM_THREADS to its CPUs when it is unset.
    env.pop("OMP_NUM_THREADS", None)
    if backend == "local":
        env["OMP_NUM_THREADS"] = str(os.cpu_count())
    load_before, started = load_average(), time.perf_counter()
    with open(args.scratch_dir / f"{backend}.log", "w", encoding="utf-8") as log:
        subprocess.run(command, check=True, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    print(f"{backend}: {wall:.0f} s", flush=True)
    return {
        "backend": backend,
        "wall_seconds": round(wall, 1),
        "load_average": [load_before, load_average()],
        "command": shlex.join(["python", *command[1:]]).replace(str(output_dir), "OUTPUT_DIR"),
        "scores": trial_scores(output_dir),
        "sweep_report": (output_dir / "sweep.md").read_text(encoding="utf-8"),
    }


def markdown(args: argparse.Namespace, arms: list[dict], identical: bool) -> str:
    local, ray = arms
    lines = [
        "# A sweep sequentially and on Ray Tune, same grid, same machine",
        "",
        f"{args.task}, {args.model or 'offline multilingual-e5-small'}, settings `{args.settings}` x seeds `{args.seeds}` "
        f"({len(local['scores'])} trials), {args.train_samples} English training sentences x 1 epoch, "
        f"{args.eval_samples} evaluation sentences per language ({args.languages}). Machine: {os.cpu_count()} "
        f"cores ({cpu_model()}). `python benchmarks/ray_sweep.py`.",
        "",
        "| arm | wall | load average before / after | command |",
        "|---|---|---|---|",
    ]
    for arm in arms:
        lines.append(
            f"| {arm['backend']} | {arm['wall_seconds']:.0f} s | {arm['load_average'][0]} / "
            f"{arm['load_average'][1]} | `{arm['command']}` |"
        )
    lines += [
        "",
        f"Ray / sequential wall time: {ray['wall_seconds'] / local['wall_seconds']:.2f}.",
        f"Every trial's per-language scores identical in both arms: **{'yes' if identical else 'NO'}**.",
        "",
        "The Ray arm's sweep report:",
        "",
        ray["sweep_report"],
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", default="udpos", choices=("udpos", "panx"))
    parser.add_argument("--settings", default="none,8")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--train_samples", type=int, default=400)
    parser.add_argument("--eval_samples", type=int, default=200)
    parser.add_argument("--languages", default="en,de,zh,ar")
    parser.add_argument("--trial_cpus", type=int, default=1)
    parser.add_argument("--model", default=None, help="default: the offline multilingual-e5-small")
    parser.add_argument("--data_dir", type=Path, default=DATA_DIR)
    parser.add_argument("--scratch_dir", type=Path, default=SCRATCH)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "ray_sweep.md")
    args = parser.parse_args(argv)
    args.scratch_dir.mkdir(parents=True, exist_ok=True)
    arms = [run_arm(args, "local"), run_arm(args, "ray")]
    identical = arms[0]["scores"] == arms[1]["scores"] and bool(arms[0]["scores"])
    write_json(
        args.output.with_suffix(".json"), {"versions": versions(), "arms": arms, "identical": identical}
    )
    write_text(args.output, markdown(args, arms, identical))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
