"""Task scores: the package's `evaluate` module (xtreme_scores.py, read offline) behind input checks that name
what is wrong, as percentages."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .task_kinds import Task
from .tasks import get_task

# The evaluate module's file: `evaluate.load(SCORES_MODULE, config_name=...)` (see its docstring).
SCORES_MODULE = str(Path(__file__).with_name("xtreme_scores.py"))
METRICS = ("accuracy", "span_f1", "span_precision", "span_recall", "token_accuracy")


@functools.cache
def _module(metric: str):
    import evaluate  # imported here: `compare` and --help need no metrics

    return evaluate.load(SCORES_MODULE, config_name=metric, keep_in_memory=True)


def _check_lengths(predictions: Sequence, references: Sequence, what: str) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references ({what})")
    if len(references) == 0:
        raise ValueError(f"nothing to score: no {what}")


def _check_inputs(metric: str, predictions: Sequence, references: Sequence) -> None:
    if metric == "accuracy":
        _check_lengths(predictions, references, "examples")
        predicted, gold = np.asarray(predictions), np.asarray(references)
        if predicted.ndim != 1 or gold.ndim != 1:
            raise ValueError(
                f"expected one class id per example, got shapes {predicted.shape} and {gold.shape}"
            )
        return
    _check_lengths(predictions, references, "sentences")
    for index, (predicted, gold) in enumerate(zip(predictions, references, strict=True)):
        if len(predicted) != len(gold):
            raise ValueError(f"sentence {index}: {len(predicted)} predicted tags but {len(gold)} gold tags")


def compute_score(
    task: str | Task, predictions: Sequence, references: Sequence, metric: str | None = None
) -> float:
    """The task's metric (or `metric`) as a percentage, unrounded (averages are taken before any rounding).

    Sequence tasks take class ids per example. Token tasks take, per sentence, the label names of its
    words. span_f1 is seqeval's entity-level F1 in its default (conlleval-like) mode, the call XTREME's
    evaluate.py makes for both NER and POS (the paper's "POS F1").
    """
    task = get_task(task)
    metric = metric or task.metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
    if metric not in task.metrics_allowed:
        raise ValueError(f"metric {metric} does not apply to {task.kind} task {task.name}")
    _check_inputs(metric, predictions, references)
    return 100.0 * _module(metric).compute(predictions=predictions, references=references)[metric]


def compute_metrics(
    task: str | Task, predictions: Sequence, references: Sequence, entity_level: bool = False
) -> dict[str, float]:
    """Every metric the task reports, its headline metric first (percentages, unrounded). With `entity_level`
    (tagging tasks), also each entity type's precision, recall, F1 and count, named as run_ner.py names them
    (`PER_f1`, `PER_number`, ...)."""
    task = get_task(task)
    metrics = {
        metric: compute_score(task, predictions, references, metric)
        for metric in (task.metric, *task.extra_metrics)
    }
    if entity_level:
        entities = _module("span_f1").compute(
            predictions=predictions, references=references, entity_level=True
        )
        del entities["span_f1"]
        metrics.update({name: v if name.endswith("_number") else 100.0 * v for name, v in entities.items()})
    return metrics


def macro_average(scores: Mapping[str, float]) -> float:
    """Unweighted mean over languages of the unrounded scores."""
    if not scores:
        raise ValueError("no scores to average")
    return float(np.mean(list(scores.values())))
