"""Zero-shot cross-lingual transfer, baseline vs DLFA at several fusion layers, on real XTREME data.

    python benchmarks/zero_shot.py                 # full run -> benchmarks/results/zero_shot.{json,md}
    python benchmarks/zero_shot.py --quick --model DIR    # tiny backbone, synthetic data, temp folder
    python benchmarks/zero_shot.py --aggregate_only       # rebuild the report from finished runs

The driver runs `run_glue_x.py` once per (task, seed) as a subprocess, each a sweep over `--layers` (one
process loads the data, tokenizes once and trains every fusion setting in turn; the settings of one seed
share the seed, so the baseline and DLFA start from the same head initialisation draw and data order). It
is resumable: settings whose fusion_<x>/results.json exists are never run again; when some settings of a
(task, seed) are done (an interrupted sweep, or layers added to --layers later) each missing one runs on its
own into the fusion_<x> folder a sweep would have used.

Training follows the paper's zero-shot protocol at reduced scale: English only, checkpoint chosen on the
English dev set, every other language evaluated without any of its own data. XNLI and PAWS-X have no
English training file in ../shared/data, so they train on part of dev-en (`--train_split validation
--dev_holdout N`): the N held-out English pairs are the English dev and evaluation set.

CPU notes. `--freeze_embeddings` keeps the 250k x 384 word-embedding matrix (96M of e5-small's 118M
parameters) fixed: its gradient and AdamW update otherwise dominate a CPU training step. Each run_glue_x.py
process gets OMP_NUM_THREADS=1 (and OMP_WAIT_POLICY=PASSIVE): on a 2-core machine shared with other jobs,
2 spinning OpenMP threads per process were measured 5-8x slower than one; `--jobs 2` runs two (task, seed)
sweeps side by side instead.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import json
import math
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from environment import cpu_model, load_average, versions

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "zero_shot.json"
# Outside the repository: run folders are bulky and not part of the project.
DEFAULT_RUNS_DIR = Path.home() / ".cache" / "modeling_dlfa" / "benchmarks" / "zero_shot"
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "xtreme"
RUN_GLUE_X = REPO_ROOT / "run_glue_x.py"
TASKS = ("panx", "udpos", "xnli", "pawsx")
SEQUENCE_TASKS = ("xnli", "pawsx")
# Eight languages per task where it has them: English, its family (de), three more European languages
# and three distant scripts; PAWS-X has seven languages in all, every one is used.
DEFAULT_LANGUAGES = {
    "panx": "en,de,es,fr,ru,ar,hi,zh",
    "udpos": "en,de,es,fr,ru,ar,hi,zh",
    "xnli": "en,de,es,fr,ru,ar,hi,zh",
    "pawsx": "en,de,es,fr,ja,ko,zh",
}
# Sized so that 4 tasks x 3 settings x 3 seeds fit in ~50 minutes on a shared 2-core CPU (see RESULTS.md):
# measured there, one e5-small training example costs ~0.1-0.3 s (PAN-X..PAWS-X) on one contended thread.
# Batch 8 rather than 16-32: at these sizes the number of optimizer steps, not the examples per step, decides
# whether PAN-X learns anything (500 examples at batch 16, one epoch = 32 steps, left F1 at 0 in a trial run).
FULL = {
    "layers": "none,8,10",
    "seeds": "1,2,3",
    "train_samples": "panx=800,udpos=500,xnli=500,pawsx=400",
    "eval_samples": 60,
    "epochs": 1.0,
    "learning_rate": 1e-4,
    "batch_size": 8,
    "eval_batch_size": 64,
    "max_seq_length": 128,
    "jobs": 2,
    "threads": 1,
}
QUICK = {
    "tasks": "panx,xnli",
    "layers": "none,1",
    "seeds": "1",
    "train_samples": "24",
    "eval_samples": 8,
    "epochs": 1.0,
    "learning_rate": 1e-3,
    "batch_size": 8,
    "eval_batch_size": 16,
    "max_seq_length": 32,
    "jobs": 2,
    "threads": 1,
}
RUN_INFO = "zero_shot_run.json"

# --- synthetic data for --quick -------------------------------------------------------------------------

_WORDS = ["the", "cat", "dog", "house", "is", "red", "blue", "big", "not", "a"]
_TAGS = {
    "panx": ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
    "udpos": ("DET", "NOUN", "VERB", "ADJ", "PART"),
}
_PAIR_LABELS = {"xnli": ("entailment", "neutral", "contradiction"), "pawsx": ("0", "1")}


def write_synthetic_xtreme(root: Path, tasks: list[str], languages: list[str], count: int) -> Path:
    """Tiny XTREME-layout files (train-en, dev-<lang>) whose words are in the test tokenizer's vocabulary."""
    for task in tasks:
        folder = root / task
        folder.mkdir(parents=True, exist_ok=True)
        for split, codes in (("train", ["en"]), ("dev", languages)):
            for offset, code in enumerate(codes):
                rng = random.Random(f"{task}-{split}-{code}-{offset}")
                rows = []
                for _ in range(count):
                    words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 9))]
                    if task in _PAIR_LABELS:
                        other = [rng.choice(_WORDS) for _ in range(rng.randint(3, 9))]
                        rows.append(
                            f"{' '.join(words)}\t{' '.join(other)}\t{rng.choice(_PAIR_LABELS[task])}\n"
                        )
                    else:
                        rows.append("".join(f"{word}\t{rng.choice(_TAGS[task])}\n" for word in words) + "\n")
                (folder / f"{split}-{code}.tsv").write_text("".join(rows), encoding="utf-8")
    return root


# --- the runs -------------------------------------------------------------------------------------------


def per_task(spec: str, tasks: list[str], cast=int) -> dict[str, object]:
    """'1000' -> every task 1000; 'panx=2000,xnli=1500' -> per task (every task must be named)."""
    if "=" not in spec:
        return dict.fromkeys(tasks, cast(spec))
    values = {}
    for item in spec.split(","):
        name, _, value = item.partition("=")
        values[name.strip()] = cast(value)
    missing = [task for task in tasks if task not in values]
    if missing:
        raise SystemExit(f"--train_samples {spec!r} names no value for {', '.join(missing)}")
    return values


def run_command(task: str, seed: int, config: dict, run_dir: Path) -> list[str]:
    """The run_glue_x.py command line of one (task, seed) sweep."""
    eval_samples = config["eval_samples"]
    command = [
        sys.executable, str(RUN_GLUE_X),
        "--task_name", task,
        "--model_name_or_path", config["model"],
        "--fusion_layer", config["layers"],
        "--data_dir", config["data_dir"],
        "--eval_languages", config["languages"][task],
        "--max_train_samples", str(config["train_samples"][task]),
        "--max_eval_samples", str(eval_samples),
        "--max_seq_length", str(config["max_seq_length"]),
        "--do_train",
        "--freeze_embeddings",
        "--learning_rate", str(config["learning_rate"]),
        "--per_device_train_batch_size", str(config["batch_size"]),
        "--per_device_eval_batch_size", str(config["eval_batch_size"]),
        "--num_train_epochs", str(config["epochs"]),
        "--weight_decay", "0",
        "--warmup_steps", "0",
        "--seed", str(seed),
        "--output_dir", str(run_dir),
        "--save_model", "false",
        "--report_to", "none",
        "--disable_tqdm", "true",
        "--log_level", "warning",
        "--dataloader_pin_memory", "false",
    ]  # fmt: skip
    if task in SEQUENCE_TASKS:
        command += ["--train_split", "validation", "--dev_holdout", str(eval_samples)]
    if config["epochs"] > 1:
        # Checkpoint selection on the English dev set at the end of every epoch (the paper's protocol).
        command += ["--eval_strategy", "epoch", "--save_strategy", "epoch", "--save_only_model", "true"]
        command += ["--save_total_limit", "1"]
    else:
        # One epoch leaves nothing to select between: the dev set is scored once, after training.
        command += ["--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]
    return command


def run_env(config: dict) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(config["threads"])
    env.update(
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        OMP_WAIT_POLICY="PASSIVE",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    if config.get("features_cache_dir"):
        env["DLFA_FEATURES_CACHE"] = config["features_cache_dir"]
    return env


def layer_names(spec: str) -> list[str]:
    """'none,8,10' -> ['none', '8', '10'] (the fusion_<name> folder names run_glue_x.py writes)."""
    return [item.strip().lower() for item in spec.split(",") if item.strip()]


def setting_done(run_dir: Path, name: str) -> bool:
    return (run_dir / f"fusion_{name}" / "results.json").is_file()


def is_done(run_dir: Path, layers: str) -> bool:
    return all(setting_done(run_dir, name) for name in layer_names(layers))


_PER_RUN_FLAGS = ("--fusion_layer", "--output_dir")


def identity_args(args: list[str]) -> list[str]:
    """A run's flags without those that differ between the runs of one (task, seed): layers, folder."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in _PER_RUN_FLAGS:
            skip = True
        else:
            kept.append(arg)
    return kept


def load_info(path: Path) -> dict:
    if not path.is_file():
        return {}
    info = json.loads(path.read_text(encoding="utf-8"))
    if "runs" not in info and "attempts" in info:  # one sweep per file, the first format
        layers = info["command_args"][info["command_args"].index("--fusion_layer") + 1]
        info = {
            "task": info["task"],
            "seed": info["seed"],
            "identity": identity_args(info["command_args"]),
            "runs": [
                {
                    "layers": layers,
                    "command": info["command"],
                    "attempts": info["attempts"],
                    "wall_s": info["wall_s"],
                }
            ],
        }
    return info


def execute(task: str, seed: int, config: dict, run_dir: Path, retries: int = 1) -> dict:
    """Train and evaluate every fusion setting of (task, seed) that has no results yet; returns the run info.

    Nothing done yet: one run_glue_x.py sweep over all settings (data and tokenization shared). Some done
    (more layers asked for later, or an interrupted sweep): one run per missing setting, each in the
    fusion_<x> folder a sweep would have used. Every run is retried once (a sweep resumes where it stopped).
    """
    info_path = run_dir / RUN_INFO
    info = load_info(info_path)
    identity = identity_args(run_command(task, seed, config, run_dir)[2:])
    if info.get("identity", identity) != identity:
        raise SystemExit(
            f"{run_dir} holds runs with other settings ({RUN_INFO} differs): use another --output_dir "
            "(or delete it)"
        )
    info = {"task": task, "seed": seed, "identity": identity, "runs": info.get("runs", [])}
    missing = [name for name in layer_names(config["layers"]) if not setting_done(run_dir, name)]
    if not missing:
        return {**info, "wall_s": sum(run["wall_s"] for run in info["runs"]), "skipped": True}
    nothing_done = len(missing) == len(layer_names(config["layers"])) and len(missing) > 1
    plan = (
        [(",".join(missing), run_dir)]
        if nothing_done
        else [(name, run_dir / f"fusion_{name}") for name in missing]
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    for layers, output_dir in plan:
        command = run_command(task, seed, {**config, "layers": layers}, output_dir)
        attempts = []
        for attempt in range(retries + 1):
            started = time.perf_counter()
            load_before = load_average()
            start_date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            with open(run_dir / "log.txt", "a", encoding="utf-8") as log:
                log.write(f"\n### attempt {attempt + 1} {start_date}: {shlex.join(command)}\n")
                log.flush()
                returncode = subprocess.call(
                    command, stdout=log, stderr=subprocess.STDOUT, env=run_env(config), cwd=REPO_ROOT
                )
            attempts.append(
                {
                    "returncode": returncode,
                    "wall_s": round(time.perf_counter() - started, 1),
                    "start": start_date,
                    "load_before": load_before,
                    "load_after": load_average(),
                }
            )
            print(
                f"  {task} seed {seed} ({layers}): rc={returncode} in {attempts[-1]['wall_s']:.0f} s",
                flush=True,
            )
            if returncode == 0 and all(setting_done(run_dir, name) for name in layer_names(layers)):
                break
        info["runs"].append(
            {
                "layers": layers,
                "command": shlex.join(["python", *command[1:]]),
                "attempts": attempts,
                "wall_s": round(sum(item["wall_s"] for item in attempts), 1),
            }
        )
        info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return {**info, "wall_s": round(sum(run["wall_s"] for run in info["runs"]), 1)}


# --- aggregation ----------------------------------------------------------------------------------------


def stats(values: list[float]) -> dict | None:
    values = [value for value in values if value is not None and math.isfinite(value)]
    if not values:
        return None
    return {
        "mean": round(statistics.fmean(values), 2),
        "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
        "values": [round(value, 2) for value in values],
    }


def setting_name(layer) -> str:
    return "baseline" if layer is None else f"D{layer}"


def top_class_share(setting_dir: Path) -> float | None:
    """Sentence tasks: the share of evaluation examples (all languages) given the most frequent predicted
    label; 100 means the model predicts one class for everything (a degenerate, chance-level run)."""
    counts: dict[str, int] = {}
    for path in sorted((setting_dir / "predictions").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "prediction" not in record:
                return None
            counts[record["prediction"]] = counts.get(record["prediction"], 0) + 1
    return round(100.0 * max(counts.values()) / sum(counts.values()), 1) if counts else None


def load_settings(run_dir: Path) -> list[dict]:
    """[{fusion_layer, results}] of a finished (or partly finished) sweep, or of a single run."""
    if (run_dir / "results.json").is_file():
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        return [{"fusion_layer": results["fusion_layer"], "results": results}]
    found = []
    for folder in sorted(run_dir.glob("fusion_*")):
        path = folder / "results.json"
        if path.is_file():
            results = json.loads(path.read_text(encoding="utf-8"))
            results["top_class_share"] = top_class_share(folder)
            found.append({"fusion_layer": results["fusion_layer"], "results": results})
    return found


def aggregate(tasks: list[str], seeds: list[int], runs_dir: Path) -> dict:
    summary = {}
    for task in tasks:
        by_setting: dict[str, list[dict]] = {}
        selected = {}
        for seed in seeds:
            entries = load_settings(runs_dir / task / f"seed{seed}")
            for entry in entries:
                by_setting.setdefault(setting_name(entry["fusion_layer"]), []).append(entry["results"])
            scored = [e for e in entries if e["results"].get("train_dev_score") is not None]
            if len(scored) > 1:
                # run_glue_x.py's rule (report.select_setting): best English dev score, ties to the earlier
                # setting in the order baseline, D0, D1, ...
                scored.sort(key=lambda e: -1 if e["fusion_layer"] is None else e["fusion_layer"])
                best = max(scored, key=lambda e: e["results"]["train_dev_score"])
                selected[str(seed)] = setting_name(best["fusion_layer"])
        if not by_setting:
            continue
        order = sorted(by_setting, key=lambda name: -1 if name == "baseline" else int(name[1:]))
        baseline = {r["seed"]: r for r in by_setting.get("baseline", [])}
        settings = {}
        for name in order:
            runs = sorted(by_setting[name], key=lambda r: r["seed"])
            languages = list(dict.fromkeys(code for r in runs for code in r["languages"]))
            groups = list(dict.fromkeys(group for r in runs for group in r["groups"]))
            entry = {
                "fusion_layer": runs[0]["fusion_layer"],
                "seeds": [r["seed"] for r in runs],
                "average": stats([r["average"] for r in runs]),
                "average_without_en": stats([r["average_without_train_language"] for r in runs]),
                "groups": {g: stats([r["groups"].get(g) for r in runs]) for g in groups},
                "languages": {code: stats([r["languages"].get(code) for r in runs]) for code in languages},
                "train_dev_score": stats([r.get("train_dev_score") for r in runs]),
                "top_class_share": stats([r.get("top_class_share") for r in runs]),
                "train_seconds": stats([r["runtime"]["train_seconds"] for r in runs]),
                "eval_seconds": stats([r["runtime"]["eval_seconds"] for r in runs]),
            }
            if name != "baseline" and baseline:
                paired = [r for r in runs if r["seed"] in baseline]
                entry["delta_vs_baseline"] = {
                    "average": stats([r["average"] - baseline[r["seed"]]["average"] for r in paired]),
                    **{
                        g: stats(
                            [
                                r["groups"][g] - baseline[r["seed"]]["groups"][g]
                                for r in paired
                                if g in r["groups"] and g in baseline[r["seed"]]["groups"]
                            ]
                        )
                        for g in groups
                    },
                    "note": "per-seed differences to the baseline of the same seed (paired)",
                }
            settings[name] = entry
        first = next(iter(by_setting.values()))[0]
        summary[task] = {
            "metric": first["metric_display"],
            "train_language": first["train_language"],
            "num_train_examples": first["num_train_examples"],
            "num_examples": first["num_examples"],
            "num_truncated": first["num_truncated"],
            "data_sources": first["data_sources"],
            "group_members": first["group_members"],
            "settings": settings,
            "selected_on_dev_per_seed": selected,
        }
    return summary


# --- the report -----------------------------------------------------------------------------------------


def _ms(entry: dict | None) -> str:
    return "-" if entry is None else f"{entry['mean']:.2f} ± {entry['std']:.2f}"


def _range(entry: dict | None) -> str:
    return "-" if entry is None else f"{entry['min']:.2f}–{entry['max']:.2f}"


def _signed(entry: dict | None) -> str:
    return "-" if entry is None else f"{entry['mean']:+.2f} ± {entry['std']:.2f}"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def elapsed(infos: list[dict]) -> float | None:
    """Seconds from the first run's start to the last run's end, over every attempt of every run."""
    spans = []
    for info in infos:
        for attempt in (attempt for run in info.get("runs", []) for attempt in run["attempts"]):
            start = datetime.datetime.fromisoformat(attempt["start"]).timestamp()
            spans.append((start, start + attempt["wall_s"]))
    if not spans:
        return None
    return round(max(end for _, end in spans) - min(start for start, _ in spans), 1)


def load_range(infos: list[dict]) -> str:
    """min–max of the 1-minute load average seen when runs started and ended."""
    loads = [
        float(attempt[key].split()[0])
        for info in infos
        for run in info.get("runs", [])
        for attempt in run["attempts"]
        for key in ("load_before", "load_after")
        if attempt.get(key, "unknown") != "unknown"
    ]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else "unknown"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    config, machine = report["config"], report["machine"]
    parts = [
        "# Zero-shot cross-lingual transfer: baseline vs DLFA (fusion layers)",
        f"Measured {report['date']} on {machine['cpu']} ({machine['cpus']} cores, shared with other jobs; "
        + (
            f"1-minute load average {machine['run_load_range']} at the starts and ends of the runs), "
            if machine["run_load_range"] != "unknown"
            else f"load average {machine['load_at_report']} when this report was written), "
        )
        + f"{', '.join(f'{k} {v}' for k, v in report['versions'].items())}.",
        f"Command to reproduce: `{report['reproduce']}` (resumable: finished sweeps are skipped; this report "
        f"was written by `{report['command']}`).",
        f"Wall time of the runs, first start to last finish: {_minutes(report['elapsed_s'])} "
        f"(this invocation: {report['wall_s'] / 60:.1f} min); sum of the (task, seed) sweeps' "
        f"wall times: {report['runs_wall_s'] / 60:.1f} min ({config['jobs']} run side by side, "
        f"{config['threads']} thread each).",
        f"Backbone: `{config['model']}`; data: `{config['data_dir']}`; "
        f"fusion settings {config['layers']}; seeds {config['seeds']}; training examples "
        f"{', '.join(f'{t} {n}' for t, n in config['train_samples'].items())}; "
        f"{config['eval_samples']} evaluation examples per language (the English dev set too); "
        f"{config['epochs']:g} epoch(s), lr {config['learning_rate']:g}, batch {config['batch_size']}, "
        f"max_seq_length {config['max_seq_length']}, embeddings frozen, weight decay 0, no warmup.",
        "Scores are mean ± sample std over seeds [min–max]; Δ is the mean ± std of the per-seed "
        "difference to the baseline of the same seed. enf = {en, de}, noenf = the other languages. "
        "Top-class share (sentence tasks): % of evaluation examples given the most frequent predicted "
        "label; 100 = the model predicts one class for everything (no transfer to measure).",
    ]
    missing = report.get("missing_runs") or []
    if missing:
        parts.append("**Missing runs** (not finished): " + ", ".join(missing))
    for task, summary in report["summary"].items():
        settings = summary["settings"]
        rows = []
        for name, entry in settings.items():
            delta = entry.get("delta_vs_baseline", {})
            rows.append(
                [
                    name,
                    str(len(entry["seeds"])),
                    f"{_ms(entry['average'])} [{_range(entry['average'])}]",
                    _ms(entry["average_without_en"]),
                    _ms(entry["groups"].get("enf")),
                    _ms(entry["groups"].get("noenf")),
                    _signed(delta.get("average")),
                    _signed(delta.get("noenf")),
                    _ms(entry["train_dev_score"]),
                    _ms(entry.get("top_class_share")),
                ]
            )
        languages = list(dict.fromkeys(code for e in settings.values() for code in e["languages"]))
        per_language = [
            [name] + [_ms(entry["languages"].get(code)) for code in languages]
            for name, entry in settings.items()
        ]
        selected = summary["selected_on_dev_per_seed"]
        parts += [
            f"## {task} — {summary['metric']}",
            f"{summary['num_train_examples']} English training examples; evaluation examples per language: "
            + ", ".join(f"{k} {v}" for k, v in summary["num_examples"].items())
            + (
                "; selected on the English dev set per seed: "
                + ", ".join(f"seed {s} {name}" for s, name in selected.items())
                if selected
                else ""
            )
            + ".",
            _table(
                [
                    "setting",
                    "seeds",
                    "average [min–max]",
                    "w/o en",
                    "enf",
                    "noenf",
                    "Δ avg",
                    "Δ noenf",
                    "en dev",
                    "top-class share %",
                ],
                rows,
            ),
            _table(["setting", *languages], per_language),
        ]
    parts += ["## Notes", "\n".join(f"- {note}" for note in report["notes"])]
    return "\n\n".join(parts) + "\n"


# --- machine --------------------------------------------------------------------------------------------


def machine_info() -> dict:
    cpu = cpu_model()
    memory = None
    with contextlib.suppress(ValueError, OSError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "platform": platform.platform(),
        "gpu": "none (CPU only)",
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny backbone (--model), synthetic data, seconds"
    )
    parser.add_argument("--model", help="backbone folder (default: the offline multilingual-e5-small)")
    parser.add_argument("--data_dir", help=f"XTREME-layout folder (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--tasks", help=f"comma list of {', '.join(TASKS)} (default: all four)")
    parser.add_argument("--layers", help=f"fusion settings, run_glue_x.py syntax (default {FULL['layers']})")
    parser.add_argument("--seeds", help=f"comma list of seeds (default {FULL['seeds']})")
    parser.add_argument(
        "--train_samples", help=f"N, or per task 'panx=N,...' (default {FULL['train_samples']})"
    )
    parser.add_argument(
        "--eval_samples",
        type=int,
        help=f"per language, also the English dev size (default {FULL['eval_samples']})",
    )
    parser.add_argument("--languages", help="comma list used for every task, filtered to what each task has")
    parser.add_argument("--epochs", type=float, help=f"default {FULL['epochs']}")
    parser.add_argument("--learning_rate", type=float, help=f"default {FULL['learning_rate']}")
    parser.add_argument("--batch_size", type=int, help=f"default {FULL['batch_size']}")
    parser.add_argument("--max_seq_length", type=int, help=f"default {FULL['max_seq_length']}")
    parser.add_argument("--jobs", type=int, help=f"sweeps run side by side (default {FULL['jobs']})")
    parser.add_argument("--threads", type=int, help=f"torch threads per run (default {FULL['threads']})")
    parser.add_argument("--output_dir", type=Path, help=f"run folders (default {DEFAULT_RUNS_DIR})")
    parser.add_argument("--output", type=Path, help=f"JSON report, .md beside it (default {DEFAULT_OUTPUT})")
    parser.add_argument(
        "--aggregate_only", action="store_true", help="run nothing; report on the finished runs"
    )
    return parser


def build_config(args) -> dict:
    base = {**FULL, **QUICK} if args.quick else dict(FULL)
    tasks = (args.tasks or base.get("tasks") or ",".join(TASKS)).split(",")
    tasks = [task.strip() for task in tasks if task.strip()]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        raise SystemExit(f"unknown task(s) {', '.join(unknown)}; allowed: {', '.join(TASKS)}")
    if args.model:
        model = args.model
    elif args.quick:
        raise SystemExit("--quick needs --model DIR (a tiny backbone folder, e.g. the tests' tiny BERT)")
    else:
        from modeling_dlfa.offline import backbone_is_built, default_backbone_dir

        model = str(default_backbone_dir())
        if not backbone_is_built(model):
            raise SystemExit(
                f"{model}: the offline backbone is not built (python -m modeling_dlfa.offline build)"
            )
    languages = {}
    for task in tasks:
        wanted = args.languages or DEFAULT_LANGUAGES[task]
        languages[task] = wanted
    config = {
        "mode": "quick" if args.quick else "full",
        "tasks": tasks,
        "model": str(Path(model).expanduser()),
        "layers": args.layers or base["layers"],
        "seeds": [int(seed) for seed in (args.seeds or base["seeds"]).split(",")],
        "train_samples": per_task(args.train_samples or base["train_samples"], tasks),
        "eval_samples": args.eval_samples or base["eval_samples"],
        "languages": languages,
        "epochs": args.epochs or base["epochs"],
        "learning_rate": args.learning_rate or base["learning_rate"],
        "batch_size": args.batch_size or base["batch_size"],
        "eval_batch_size": base["eval_batch_size"],
        "max_seq_length": args.max_seq_length or base["max_seq_length"],
        "jobs": args.jobs or base["jobs"],
        "threads": args.threads or base["threads"],
    }
    return config


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    config = build_config(args)
    temp = Path(tempfile.mkdtemp(prefix="dlfa-zero-shot-")) if args.quick else None
    output = args.output or (temp / "zero_shot.json" if args.quick else DEFAULT_OUTPUT)
    runs_dir = args.output_dir or (temp / "runs" if args.quick else DEFAULT_RUNS_DIR)
    if args.quick:
        every = sorted({code for spec in config["languages"].values() for code in spec.split(",")})
        config["data_dir"] = str(
            write_synthetic_xtreme(
                runs_dir / "_synthetic_data",
                config["tasks"],
                every,
                max(config["train_samples"].values()) + 16,
            )
        )
        config["features_cache_dir"] = str(runs_dir / "_features")
    else:
        config["data_dir"] = str(Path(args.data_dir or DEFAULT_DATA_DIR).resolve())
    # Keep only the languages each task's folder has (PAWS-X has 7).
    for task in config["tasks"]:
        folder = Path(config["data_dir"]) / task
        present = {path.name[4:-4] for path in folder.glob("dev-*.tsv")}
        kept = [code for code in config["languages"][task].split(",") if code in present]
        if "en" not in kept:
            kept.insert(0, "en")
        config["languages"][task] = ",".join(kept)
    command = shlex.join(["python", "benchmarks/zero_shot.py", *(sys.argv[1:] if argv is None else argv)])

    jobs = [(task, seed) for seed in config["seeds"] for task in config["tasks"]]
    infos = {}
    if not args.aggregate_only:
        print(f"{len(jobs)} (task, seed) jobs, settings {config['layers']} -> {runs_dir}", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=config["jobs"]) as pool:
            futures = {
                pool.submit(execute, task, seed, config, runs_dir / task / f"seed{seed}"): (task, seed)
                for task, seed in jobs
            }
            for future in concurrent.futures.as_completed(futures):
                infos[futures[future]] = future.result()
    for task, seed in jobs:
        info_path = runs_dir / task / f"seed{seed}" / RUN_INFO
        if (task, seed) not in infos and info_path.is_file():
            info = load_info(info_path)
            infos[(task, seed)] = {**info, "wall_s": round(sum(run["wall_s"] for run in info["runs"]), 1)}

    summary = aggregate(config["tasks"], config["seeds"], runs_dir)
    missing = [
        f"{task} seed {seed}"
        for task, seed in jobs
        if not is_done(runs_dir / task / f"seed{seed}", config["layers"])
    ]
    report = {
        "benchmark": "dlfa-zero-shot",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        "reproduce": shlex.join([word for word in shlex.split(command) if word != "--aggregate_only"]),
        "machine": {
            **machine_info(),
            "run_load_range": load_range(list(infos.values())),
            "load_at_report": load_average(),
        },
        "versions": versions(),
        "config": {key: value for key, value in config.items() if key != "features_cache_dir"},
        "runs_dir": str(runs_dir),
        "runs": [
            {
                "task": task,
                "seed": seed,
                "dir": str(runs_dir / task / f"seed{seed}"),
                "complete": is_done(runs_dir / task / f"seed{seed}", config["layers"]),
                "wall_s": infos.get((task, seed), {}).get("wall_s"),
                "commands": [
                    {"layers": run["layers"], "command": run["command"], "wall_s": run["wall_s"]}
                    for run in infos.get((task, seed), {}).get("runs", [])
                ],
            }
            for task, seed in jobs
        ],
        "missing_runs": missing,
        "summary": summary,
        "wall_s": round(time.perf_counter() - started, 1),
        "elapsed_s": elapsed(list(infos.values())),
        "runs_wall_s": round(sum(info.get("wall_s") or 0 for info in infos.values()), 1),
        "notes": [
            "Quick mode: a tiny random backbone on synthetic data; the numbers only show that the pipeline runs."
            if args.quick
            else "The backbone is multilingual-e5-small (12 layers, hidden 384, a sentence-embedding model "
            "rebuilt offline from 4-bit weights), not mBERT: absolute numbers and the best layer need not "
            "match the paper's.",
            "Training sets are small subsets of the English data (XNLI/PAWS-X: of dev-en, whose held-out "
            "part is the English dev and evaluation set) and each language is scored on a fixed subset of "
            "its dev file (the same examples for every setting and seed), so differences of a point or two "
            "are within seed noise: read the std and min–max before the means.",
            "Embeddings are frozen (--freeze_embeddings): the 96M-parameter embedding matrix would otherwise "
            "dominate each CPU step. The paper fine-tunes every weight.",
            "PAN-X and UD-POS: the English score is measured on the English dev subset that also selects the "
            "checkpoint (the task has no separate English test file here); it is not a zero-shot number. "
            "XNLI/PAWS-X: the held-out English pairs likewise serve as dev and evaluation set.",
            f"The CPU was shared with other engineers' jobs (2 cores; 1-minute load average "
            f"{load_range(list(infos.values()))} at the starts and ends of the runs, this driver's own "
            f"{config['jobs']} runs included): wall times vary with their load, scores do not.",
        ],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    print(f"wrote {output} and {output.with_suffix('.md')}")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
