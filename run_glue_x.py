#!/usr/bin/env python
"""Zero-shot cross-lingual transfer with DLFA: fine-tune on one language, evaluate on every other.

    python run_glue_x.py --task_name xnli --model_name_or_path bert-base-multilingual-cased \
        --fusion_layer none,6,11 --output_dir runs/xnli-mbert [any TrainingArguments flag]
    python run_glue_x.py ... --fusion_layer all --seeds 1,2,3 [--sweep_backend ray [--ray_address HEAD:6379]]
    python run_glue_x.py args.json
    python run_glue_x.py compare runs/xnli-mbert runs/xnli-xlmr --output_dir runs/compare [--labels a,b] [--force]
    python run_glue_x.py predict runs/xnli-mbert --input sentences.txt --output predictions.jsonl

Tasks: xnli, pawsx, panx (alias wikiann), udpos. Data: the Hub by default, --data_dir in the XTREME layout,
or files per language (--train_file, --validation_file, --eval_files de=PATH,...).
"""

from __future__ import annotations

import argparse
import logging
import sys

# Imports are per command: `compare` needs neither datasets nor the training stack (seconds of imports).

logger = logging.getLogger("run_glue_x")


def compare_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="run_glue_x.py compare", description="Side-by-side report of several runs of one task."
    )
    parser.add_argument("run_dirs", nargs="+", help="output folders of run_glue_x.py (a run or a sweep)")
    parser.add_argument("--output_dir", required=True, help="where compare.md/.json/.png go")
    parser.add_argument(
        "--labels",
        help="comma list, one label per column: runs of one setting with different seeds share a column "
        "(default: model and setting)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="compare runs of different training languages, metrics, splits or evaluation examples anyway, "
        "marking every table as not comparable (different tasks are always refused)",
    )
    args = parser.parse_args(argv)
    from modeling_dlfa import compare, compare_report

    labels = args.labels.split(",") if args.labels else None
    comparison = compare.compare_runs(args.run_dirs, args.output_dir, labels=labels, force=args.force)
    print(compare_report.compare_markdown(comparison))
    return 0


def setup_logging(training_args) -> None:
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    logging.getLogger("modeling_dlfa").setLevel(level)
    logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)
    # transformers has its own handler; under CI=true it also propagates to the root one: say things once.
    transformers.utils.logging.disable_propagation()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Bad input ends in one line, not a traceback (DataError is a ValueError, FileNotFoundError an OSError).
    failures: tuple[type[Exception], ...] = (ValueError, OSError)
    try:
        if argv[:1] == ["compare"]:
            return compare_main(argv[1:])
        if argv[:1] == ["predict"]:
            from modeling_dlfa.predict import main as predict_main

            return predict_main(argv[1:])
        from modeling_dlfa.arguments import parse_arguments

        model_args, data_args, training_args, sweep_args = parse_arguments(argv)
        # After parsing: --help and a bad flag need none of the training stack (datasets, the Trainer, metrics).
        from modeling_dlfa.sweep import SweepError
        from modeling_dlfa.transfer import run

        failures = (*failures, SweepError)
        setup_logging(training_args)
        run(model_args, data_args, training_args, sweep_args)
    except Exception as error:
        if not isinstance(error, failures):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
