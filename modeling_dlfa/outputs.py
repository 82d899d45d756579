"""What a finished run writes: predictions, the model, the Trainer's files, reports, card and results.json."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import datasets
import torch
import transformers

from . import __version__, run_report
from .atomic import atomic_path, write_json, write_text
from .configuration_dlfa import DLFAConfig
from .features import num_split_examples, num_truncated_examples
from .metrics import macro_average
from .results import RESULTS_FILE, RunResults, SplitScores
from .resume import training_summary
from .task_files import task_definition

PREDICTIONS_DIR = "predictions"


def write_predictions(output_dir: Path, language: str, records: list[dict]) -> None:
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    write_text(output_dir / PREDICTIONS_DIR / f"{language}.jsonl", lines)


def output_paths(output_dir: Path, model_saved: bool) -> str:
    """Where a finished run's files are, for the end of its terminal summary."""
    paths = [
        ("results", output_dir / RESULTS_FILE),
        ("report", output_dir / run_report.REPORT_FILE),
        ("predictions", f"{output_dir / PREDICTIONS_DIR}{os.sep}"),
    ]
    if model_saved:
        paths.append(("model", f"{output_dir}{os.sep} (from_pretrained folder; card README.md)"))
    return "\n".join(f"{name:<12} {path}" for name, path in paths)


def _save_model(model, tokenizer, output_dir: Path) -> None:
    """save_pretrained into a temporary folder, then rename file by file: no half-written weights."""
    staging = Path(tempfile.mkdtemp(prefix=".model.", suffix=".tmp", dir=output_dir))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        for path in staging.iterdir():
            os.replace(path, output_dir / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def versions() -> dict[str, str]:
    return {
        "modeling_dlfa": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
    }


def lineage(checkpoint: str) -> list[dict]:
    """What a DLFA checkpoint was trained on, and what it had started from: its results.json where the
    checkpoint is a local run folder, else just its name (a Hub checkpoint)."""
    try:
        earlier = RunResults.read(checkpoint)
    except (OSError, ValueError):
        return [{"model_name_or_path": checkpoint}]
    step = {
        "model_name_or_path": checkpoint,
        "started_from": earlier.model_name_or_path,
        "task": earlier.task,
        "train_language": earlier.train_language,
        "num_train_examples": earlier.num_train_examples,
        "train_data": earlier.data_sources.get("train"),
        "seed": earlier.seed,
    }
    return [*(earlier.lineage or []), step]


def _group_averages(task, scores: dict[str, float]) -> tuple[dict, dict]:
    groups = task.language_groups(scores)
    averages = {
        group: macro_average({code: scores[code] for code in codes}) for group, codes in groups.items()
    }
    return averages, groups


def split_summary(inputs, split: str, scores, metrics, counts) -> SplitScores:
    """A split scored beside the headline one (--do_eval with --do_predict)."""
    scored = inputs.data.splits[split]
    return SplitScores(
        languages=scores,
        average=macro_average(scores),
        groups=_group_averages(inputs.task, scores)[0],
        metrics=metrics,
        num_examples=counts["num_examples"],
        skipped_languages=scored.skipped,
        data_sources=scored.sources,
    )


def run_results(
    inputs,
    model_args,
    data_args,
    training_args,
    model,
    scores,
    counts,
    *,
    metrics,
    train_dev_score,
    runtime,
    eval_split: str,
    other_splits: dict[str, SplitScores] | None = None,
) -> RunResults:
    task, config = inputs.task, model.config
    language = data_args.train_language
    group_scores, groups = _group_averages(task, scores)
    others = {code: score for code, score in scores.items() if code != language}
    return RunResults(
        task=task.name,
        model_name_or_path=model_args.model_name_or_path,
        backbone_type=config.backbone_config.model_type,
        fusion_layer=config.fusion_layer,
        fusion_gate=config.fusion_gate,
        fusion_init=config.fusion_init,
        aif_global_norm=config.aif_global_norm,
        train_language=language,
        metric=task.metric,
        metric_display=task.metric_display,
        eval_split=eval_split,
        languages=scores,
        skipped_languages=inputs.data.skipped,
        average=macro_average(scores),
        average_without_train_language=macro_average(others) if others else None,
        groups=group_scores,
        group_members=groups,
        num_examples=counts["num_examples"],
        num_truncated={code: num_truncated_examples(f) for code, f in inputs.eval_features.items()},
        num_split_sentences={code: num_split_examples(f) for code, f in inputs.eval_features.items()},
        num_unpredicted_words=counts["num_unpredicted_words"],
        num_train_examples=len(inputs.data.train) if training_args.do_train else 0,
        data_sources=inputs.data.sources,
        data_origins=inputs.data.origins,
        heldout=inputs.data.heldout,
        seed=training_args.seed,
        training={
            **training_summary(training_args),
            "max_seq_length": data_args.max_seq_length,
            "label_piece": data_args.label_piece,
            "freeze_embeddings": model_args.freeze_embeddings,
            **({"config_name": model_args.config_name} if model_args.config_name else {}),
            **({"label_all_tokens": True} if data_args.label_all_tokens else {}),
        },
        versions=versions(),
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        metrics=metrics,
        train_dev_score=train_dev_score,
        runtime=runtime,
        lineage=lineage(model_args.model_name_or_path)
        if isinstance(inputs.model_config, DLFAConfig)
        else None,
        other_splits=other_splits,
        task_definition=task_definition(task),
    )


def _write_trainer_outputs(trainer, output_dir: Path, split_metrics: dict[str, dict]) -> None:
    """What run_glue.py / run_ner.py leave: <split>_results.json, all_results.json and trainer_state.json
    (the loss history, which would otherwise go with the removed checkpoints)."""
    for split, metrics in split_metrics.items():
        write_json(output_dir / f"{split}_results.json", metrics)
    write_json(
        output_dir / "all_results.json",
        {k: v for metrics in split_metrics.values() for k, v in metrics.items()},
    )
    with atomic_path(output_dir / "trainer_state.json") as tmp:
        trainer.state.save_to_json(str(tmp))


def write_outputs(trainer, inputs, data_args, training_args, results, split_metrics) -> None:
    """Model, reports and card first; results.json last, so its presence means the run is complete."""
    from .model_card import write_model_card

    output_dir = Path(training_args.output_dir)
    if not training_args.should_save:  # only the main process writes
        return
    _write_trainer_outputs(trainer, output_dir, split_metrics)
    if data_args.save_model:
        _save_model(trainer.model, inputs.tokenizer, output_dir)
    run_report.write_run_report(results, output_dir)
    if data_args.save_model:
        write_model_card(output_dir, results)
    results.write(output_dir)
    # Checkpoints only serve to resume an unfinished run; removed once results.json marks the run finished.
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
