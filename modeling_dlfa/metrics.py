"""Task scores computed offline with numpy and seqeval (no `evaluate.load`, which fetches from the Hub)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from .tasks import Task, get_task


def _check_lengths(predictions: Sequence, references: Sequence, what: str) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references ({what})")
    if len(references) == 0:
        raise ValueError(f"nothing to score: no {what}")


def _accuracy(predictions: Sequence[int], references: Sequence[int]) -> float:
    _check_lengths(predictions, references, "examples")
    predicted, gold = np.asarray(predictions), np.asarray(references)
    if predicted.ndim != 1 or gold.ndim != 1:
        raise ValueError(f"expected one class id per example, got shapes {predicted.shape} and {gold.shape}")
    return float(np.mean(predicted == gold))


def _check_sentences(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> None:
    _check_lengths(predictions, references, "sentences")
    for index, (predicted, gold) in enumerate(zip(predictions, references, strict=True)):
        if len(predicted) != len(gold):
            raise ValueError(f"sentence {index}: {len(predicted)} predicted tags but {len(gold)} gold tags")


def _token_accuracy(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    _check_sentences(predictions, references)
    predicted = [tag for tags in predictions for tag in tags]
    gold = [tag for tags in references for tag in tags]
    return _accuracy(predicted, gold)


def _seqeval(score_function, predictions, references) -> float:
    _check_sentences(predictions, references)
    with warnings.catch_warnings():
        # seqeval warns on every UPOS tag ("not a NE tag") and on F1 with no spans; both are expected.
        warnings.simplefilter("ignore")
        return float(
            score_function([list(tags) for tags in references], [list(tags) for tags in predictions])
        )


def _span_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    return _seqeval(f1_score, predictions, references)


def _span_precision(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    return _seqeval(precision_score, predictions, references)


def _span_recall(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    return _seqeval(recall_score, predictions, references)


_SCORERS = {
    "accuracy": _accuracy,
    "span_f1": _span_f1,
    "span_precision": _span_precision,
    "span_recall": _span_recall,
    "token_accuracy": _token_accuracy,
}


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
    if metric not in _SCORERS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(_SCORERS)}")
    if metric not in task.metrics_allowed:
        raise ValueError(f"metric {metric} does not apply to {task.kind} task {task.name}")
    return 100.0 * _SCORERS[metric](predictions, references)


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
        metrics.update(_entity_metrics(predictions, references))
    return metrics


def _entity_metrics(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict:
    _check_sentences(predictions, references)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on types with no gold or no predicted span
        report = classification_report(
            [list(tags) for tags in references], [list(tags) for tags in predictions], output_dict=True
        )
    names = {"precision": "precision", "recall": "recall", "f1-score": "f1"}
    metrics = {}
    for entity, values in report.items():
        if entity.endswith(" avg"):  # micro/macro/weighted averages: the headline metrics already say it
            continue
        metrics.update({f"{entity}_{names[key]}": 100.0 * values[key] for key in names})
        metrics[f"{entity}_number"] = int(values["support"])
    return metrics


def macro_average(scores: Mapping[str, float]) -> float:
    """Unweighted mean over languages of the unrounded scores."""
    if not scores:
        raise ValueError("no scores to average")
    return float(np.mean(list(scores.values())))
