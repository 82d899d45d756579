"""Zero-shot evaluation throughput: dynamic padding + length-sorted batches vs padding to max_seq_length.

    python benchmarks/eval_throughput.py                     # full -> benchmarks/results/eval_throughput.{json,md}
    python benchmarks/eval_throughput.py --quick --model DIR # tiny backbone, synthetic data, temp folder

What run_glue_x.py does for every evaluated language (`modeling_dlfa.scoring.predict_language` on
features from `modeling_dlfa.features.tokenize`) is timed against the same call on features padded to
max_seq_length (`tokenize(..., pad_to_max_length=True)` + `default_data_collator`, i.e. --pad_to_max_length),
and against dynamic padding in file order (no length sort), which
separates the two effects (the same `predict_language` call on features whose `length` column is constant,
so its stable sort keeps the file order). All arms use one `transformers.Trainer` per arm (same model object, same eval
batch size) and run in one process, interleaved: every repetition evaluates every language once per arm,
the arm order rotating between repetitions (ABC, BCA, CAB, ...), so slow drifts of the load of a shared
machine hit every arm alike. The headline is the median over repetitions of the per-repetition ratio of
examples/second. Tokenization is timed cold (a fresh cache folder: tokenize and save) and from the cache
(load_from_disk), as `tokenize` does on a second run of the same data.

Default model: the offline multilingual-e5-small as a DLFA token classifier (fusion layer 8, PAN-X's 7
tags), untrained (throughput does not depend on the weights). Data: PAN-X dev sentences of 8+ languages.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
for folder in (REPO_ROOT, BENCHMARKS):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Before torch starts OpenMP: spinning waits for descheduled threads cost a lot on a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from environment import cpu_model, load_average, versions  # noqa: E402
from transformers import AutoTokenizer, Trainer, TrainingArguments  # noqa: E402

from modeling_dlfa import DLFAForTokenClassification  # noqa: E402
from modeling_dlfa.data import read_file  # noqa: E402
from modeling_dlfa.features import tokenize  # noqa: E402
from modeling_dlfa.scoring import predict_language  # noqa: E402
from modeling_dlfa.tasks import get_task  # noqa: E402
from modeling_dlfa.training import data_collator  # noqa: E402

DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "eval_throughput.json"
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "xtreme"
TASK = "panx"
ARMS = ("dynamic_sorted", "max_length", "dynamic_unsorted")
ARM_TEXT = {
    "dynamic_sorted": "dynamic padding, length-sorted batches (what run_glue_x.py does)",
    "max_length": "every example padded to max_seq_length (--pad_to_max_length)",
    "dynamic_unsorted": "dynamic padding, batches in file order (no length sort)",
}
FULL = {
    "languages": "en,de,es,fr,ru,ar,hi,zh,ja,ko",
    "samples": 64,
    "repetitions": 5,
    "batch_size": 32,
    "max_seq_length": 128,
    "threads": 2,
    "fusion_layer": 8,
}
QUICK = {
    "languages": "en,de,fr",
    "samples": 16,
    "repetitions": 2,
    "batch_size": 8,
    "max_seq_length": 32,
    "threads": 1,
    "fusion_layer": 1,
}


def load_data(data_dir: Path, languages: list[str], samples: int) -> dict[str, datasets.Dataset]:
    """Each language's PAN-X dev file, the first `samples` of a seed-0 shuffle (as --max_eval_samples)."""
    task = get_task(TASK)
    raw = {}
    for code in languages:
        dataset = read_file(task, data_dir / TASK / f"dev-{code}.tsv")
        if samples < len(dataset):
            dataset = dataset.shuffle(seed=0).select(range(samples))
        raw[code] = dataset
    return raw


def time_tokenization(raw, tokenizer, max_length: int, repetitions: int, scratch: Path) -> dict:
    """Seconds to tokenize every language: cold (fresh cache folder) and from the cache, both paddings."""
    task = get_task(TASK)
    out = {}
    for padded in (False, True):
        cold, cached = [], []
        for rep in range(repetitions):
            cache = scratch / f"features-{int(padded)}-{rep}"
            for target in (cold, cached):
                started = time.perf_counter()
                for dataset in raw.values():
                    tokenize(
                        task,
                        dataset,
                        tokenizer,
                        max_length=max_length,
                        pad_to_max_length=padded,
                        cache_dir=cache,
                    )
                target.append(time.perf_counter() - started)
            shutil.rmtree(cache, ignore_errors=True)
        out["max_length" if padded else "dynamic"] = {
            "cold_s": _summary(cold),
            "cached_s": _summary(cached),
            "speedup_median": round(statistics.median(cold) / statistics.median(cached), 2),
        }
    return out


def _summary(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "values": [round(value, 4) for value in values],
    }


def padded_tokens(lengths: np.ndarray, batch_size: int, mode: str, max_length: int) -> int:
    """Token positions the encoder computes for one language under each arm (real + padding)."""
    if mode == "max_length":
        return len(lengths) * max_length
    ordered = np.sort(lengths, kind="stable") if mode == "dynamic_sorted" else lengths
    return int(
        sum(
            ordered[i : i + batch_size].max() * len(ordered[i : i + batch_size])
            for i in range(0, len(ordered), batch_size)
        )
    )


def make_trainer(model, tokenizer, arm: str, batch_size: int, folder: Path) -> Trainer:
    args = TrainingArguments(
        output_dir=str(folder),
        per_device_eval_batch_size=batch_size,
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        dataloader_pin_memory=False,
    )
    collator = data_collator(get_task(TASK), tokenizer, pad_to_max_length=arm == "max_length")
    return Trainer(model=model, args=args, processing_class=tokenizer, data_collator=collator)


def evaluate_arm(trainer: Trainer, arm: str, raw: dict, features: dict) -> tuple[float, dict[str, float]]:
    """Seconds to evaluate every language with `arm`, and its scores (which must not depend on the arm)."""
    task = get_task(TASK)
    scores = {}
    started = time.perf_counter()
    for code, dataset in raw.items():
        scores[code] = predict_language(trainer, task, dataset, features[code])[0][task.metric]
    return time.perf_counter() - started, scores


def machine_info() -> dict:
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "gpu": "none (CPU only)",
    }


def markdown(report: dict) -> str:
    s, r = report["settings"], report["results"]
    rows = [
        [
            arm,
            ARM_TEXT[arm],
            f"{r['throughput'][arm]['median']:.1f} [{r['throughput'][arm]['min']:.1f}–{r['throughput'][arm]['max']:.1f}]",
            f"{r['token_positions'][arm]:,}",
        ]
        for arm in ARMS
    ]
    tok = r["tokenization"]
    tok_rows = [
        [
            padding,
            f"{tok[padding]['cold_s']['median']:.3f}",
            f"{tok[padding]['cached_s']['median']:.3f}",
            f"{tok[padding]['speedup_median']:.1f}x",
        ]
        for padding in tok
    ]
    ratio = r["ratio_dynamic_sorted_vs_max_length"]
    unsorted = r["ratio_dynamic_sorted_vs_dynamic_unsorted"]
    lines = [
        "# Evaluation throughput: dynamic padding + length-sorted batches vs padding to max_seq_length",
        f"Measured {report['date']} on {report['machine']['cpu']} ({report['machine']['cpus']} cores shared with "
        f"other jobs; load average {report['load_start']} at the start, {report['load_end']} at the end), "
        f"{s['threads']} torch thread(s), OMP_WAIT_POLICY={s['omp_wait_policy']}; "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
        + ".",
        f"Command: `{report['command']}` (wall time {report['wall_s']:.0f} s).",
        f"Model: `{s['model']}` as DLFAForTokenClassification (fusion layer {s['fusion_layer']}, untrained). "
        f"Data: PAN-X dev, {s['samples']} sentences in each of {len(s['languages'])} languages "
        f"({', '.join(s['languages'])}) = {r['num_examples']} examples; eval batch {s['batch_size']}, "
        f"max_seq_length {s['max_seq_length']}; {s['repetitions']} interleaved repetitions, arm order rotating.",
        f"**Dynamic + sorted is {ratio['median']:.2f}x the examples/second of padding to {s['max_seq_length']}** "
        f"(per-repetition ratios {', '.join(f'{v:.2f}' for v in ratio['values'])}); "
        f"{unsorted['median']:.2f}x dynamic padding in file order.",
        "| arm | what | examples/s, median [min–max] | token positions computed |\n|---|---|---|---|\n"
        + "\n".join("| " + " | ".join(row) + " |" for row in rows),
        f"Real tokens: {r['real_tokens']:,} (mean length {r['mean_length']:.1f}); the scores agree across arms "
        f"(max difference {r['max_score_difference']:.4f} F1 points between the sorted-dynamic and max-length arms).",
        "Tokenization of all languages (seconds, median over repetitions): cold = tokenize and save to a fresh "
        "cache folder; cached = `tokenize` again, loading the saved features.\n\n"
        "| padding | cold s | cached s | cold/cached |\n|---|---|---|---|\n"
        + "\n".join("| " + " | ".join(row) + " |" for row in tok_rows),
        "## Notes\n\n" + "\n".join(f"- {note}" for note in report["notes"]),
    ]
    return "\n\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny backbone (--model), synthetic data, seconds"
    )
    parser.add_argument("--model", help="backbone folder (default: the offline multilingual-e5-small)")
    parser.add_argument("--data_dir", type=Path, help=f"XTREME-layout folder (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--languages", nargs="+", help=f"PAN-X languages (default {FULL['languages']})")
    parser.add_argument("--samples", type=int, help=f"sentences per language (default {FULL['samples']})")
    parser.add_argument(
        "--repetitions", type=int, help=f"interleaved repetitions (default {FULL['repetitions']})"
    )
    parser.add_argument("--batch_size", type=int, help=f"eval batch size (default {FULL['batch_size']})")
    parser.add_argument("--max_seq_length", type=int, help=f"default {FULL['max_seq_length']}")
    parser.add_argument("--threads", type=int, help=f"torch threads (default {FULL['threads']})")
    parser.add_argument("--output", type=Path, help=f"JSON report, .md beside it (default {DEFAULT_OUTPUT})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    load_start = load_average()
    base = QUICK if args.quick else FULL
    languages = args.languages or base["languages"].split(",")
    languages = [code for item in languages for code in item.split(",") if code]
    if len(languages) == 1 and languages[0] == "":
        raise SystemExit("--languages: none given")
    settings = {
        "mode": "quick" if args.quick else "full",
        "languages": languages,
        **{key: getattr(args, key) or base[key] for key in ("samples", "repetitions", "batch_size")},
        "max_seq_length": args.max_seq_length or base["max_seq_length"],
        "threads": args.threads or base["threads"],
        "fusion_layer": base["fusion_layer"],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    scratch = Path(tempfile.mkdtemp(prefix="dlfa-eval-throughput-"))
    if args.model:
        model_dir = Path(args.model).expanduser()
    elif args.quick:
        raise SystemExit("--quick needs --model DIR (a tiny backbone folder, e.g. the tests' tiny BERT)")
    else:
        from modeling_dlfa.offline import backbone_is_built, default_backbone_dir

        model_dir = default_backbone_dir()
        if not backbone_is_built(model_dir):
            raise SystemExit(
                f"{model_dir}: the offline backbone is not built (python -m modeling_dlfa.offline build)"
            )
    if args.quick and not args.data_dir:
        from synthetic_xtreme import write_synthetic_xtreme

        data_dir = write_synthetic_xtreme(scratch / "data", [TASK], languages, settings["samples"])
    else:
        data_dir = (args.data_dir or DEFAULT_DATA_DIR).resolve()
    settings.update(model=str(model_dir), data_dir=str(data_dir))
    output = args.output or (scratch / "eval_throughput.json" if args.quick else DEFAULT_OUTPUT)
    torch.set_num_threads(settings["threads"])
    transformers.utils.logging.set_verbosity_error()
    datasets.utils.logging.disable_progress_bar()

    task = get_task(TASK)
    raw = load_data(Path(data_dir), languages, settings["samples"])
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    max_length = settings["max_seq_length"]
    print("timing tokenization ...", flush=True)
    tokenization = time_tokenization(raw, tokenizer, max_length, settings["repetitions"], scratch)

    features = {
        padded: {
            code: tokenize(
                task,
                dataset,
                tokenizer,
                max_length=max_length,
                pad_to_max_length=padded,
                cache_dir=scratch / "features",
            )
            for code, dataset in raw.items()
        }
        for padded in (False, True)
    }
    # predict_language sorts by the `length` column (a stable sort): constant lengths keep the file order, so
    # the unsorted arm does exactly the same work (same call, same post-processing) in another batch order.
    unsorted = {
        code: part.remove_columns("length").add_column("length", [0] * len(part))
        for code, part in features[False].items()
    }
    arm_features = {
        "dynamic_sorted": features[False],
        "dynamic_unsorted": unsorted,
        "max_length": features[True],
    }
    model = DLFAForTokenClassification.from_backbone(
        str(model_dir), fusion_layer=settings["fusion_layer"], fusion_gate="paper", id2label=task.id2label
    ).eval()
    trainers = {
        arm: make_trainer(model, tokenizer, arm, settings["batch_size"], scratch / arm) for arm in ARMS
    }
    num_examples = sum(len(dataset) for dataset in raw.values())

    print("warm-up ...", flush=True)
    warm = {code: dataset.select(range(min(8, len(dataset)))) for code, dataset in list(raw.items())[:1]}
    for arm in ARMS:
        evaluate_arm(
            trainers[arm],
            arm,
            warm,
            {code: arm_features[arm][code].select(range(len(d))) for code, d in warm.items()},
        )

    seconds = {arm: [] for arm in ARMS}
    scores = {}
    for rep in range(settings["repetitions"]):
        order = ARMS[rep % len(ARMS) :] + ARMS[: rep % len(ARMS)]
        for arm in order:
            elapsed, arm_scores = evaluate_arm(trainers[arm], arm, raw, arm_features[arm])
            seconds[arm].append(elapsed)
            if arm_scores:
                scores[arm] = arm_scores
            print(f"  rep {rep + 1} {arm}: {num_examples / elapsed:.1f} examples/s", flush=True)

    throughput = {arm: _summary([num_examples / s for s in values]) for arm, values in seconds.items()}
    ratios = [b / a for a, b in zip(seconds["dynamic_sorted"], seconds["max_length"], strict=True)]
    unsorted_ratios = [
        b / a for a, b in zip(seconds["dynamic_sorted"], seconds["dynamic_unsorted"], strict=True)
    ]
    lengths = {code: np.asarray(features[False][code]["length"]) for code in raw}
    positions = {
        arm: sum(padded_tokens(lengths[code], settings["batch_size"], arm, max_length) for code in raw)
        for arm in ARMS
    }
    score_difference = max(
        abs(scores["dynamic_sorted"][code] - scores["max_length"][code]) for code in scores["dynamic_sorted"]
    )
    report = {
        "benchmark": "dlfa-eval-throughput",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(
            ["python", "benchmarks/eval_throughput.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": machine_info(),
        "versions": versions(),
        "settings": settings,
        "results": {
            "num_examples": num_examples,
            "seconds": {arm: [round(v, 3) for v in values] for arm, values in seconds.items()},
            "throughput": throughput,
            "ratio_dynamic_sorted_vs_max_length": _summary(ratios),
            "ratio_dynamic_sorted_vs_dynamic_unsorted": _summary(unsorted_ratios),
            "real_tokens": int(sum(int(v.sum()) for v in lengths.values())),
            "mean_length": float(np.mean(np.concatenate(list(lengths.values())))),
            "token_positions": positions,
            "scores": scores,
            "max_score_difference": round(score_difference, 6),
            "tokenization": tokenization,
        },
        "load_start": load_start,
        "load_end": load_average(),
        "wall_s": round(time.perf_counter() - started, 1),
        "notes": [
            "One process, interleaved repetitions with rotating arm order; the ratio is computed per repetition "
            "(same load conditions) and its median reported. The CPU is shared with other engineers' jobs "
            "(see the load averages): absolute examples/s vary with their load, the ratio much less.",
            "The speed-up grows with max_seq_length / mean length: PAN-X sentences are short, so padding to 128 "
            "mostly computes padding. Longer inputs (XNLI/PAWS-X pairs) gain less.",
            "The model is untrained: throughput does not depend on the weights, the F1 scores are meaningless "
            "and only checked to agree between the arms.",
            "Cold tokenization includes `save_to_disk`; cached is `load_from_disk` (memory-mapped Arrow). "
            "Profiled on e5-small: nearly all of a cold call is `datasets.map` fingerprinting its fn_kwargs, "
            "i.e. dill-pickling the 250k-vocabulary tokenizer, once per language; the tokenizing itself takes "
            "milliseconds.",
        ],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    shutil.rmtree(scratch / "features", ignore_errors=True)
    print(markdown(report))
    print(f"wrote {output} and {output.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
