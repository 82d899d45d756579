"""The one scorer of checkpoint selection and of the final per-language scores."""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
from transformers import EvalPrediction, Trainer

from .metrics import compute_metrics
from .task_kinds import Task
from .training import evaluation_named, model_inputs


def score_predictions(
    task: Task, raw: datasets.Dataset, features: datasets.Dataset, predicted, entity_level: bool = False
):
    """(every metric of the task, one prediction per example, words left unpredicted): the one scorer of
    checkpoint selection and evaluation. `predicted` holds the argmax of every feature row, in feature order."""
    guesses, unpredicted = task.decode(raw, features, predicted)
    return compute_metrics(task, guesses, task.references(raw), entity_level), guesses, unpredicted


def top_label_share(labels: list[str]) -> float:
    """The most predicted label's share of the predictions, in % (never empty: scoring refused that first)."""
    return 100.0 * max(Counter(labels).values()) / len(labels)


def dev_metric(task: Task, raw: datasets.Dataset, features: datasets.Dataset):
    """compute_metrics for the Trainer: the task's score on the training language's dev set (what selection
    reads), and the most predicted label's share (`top_label_share`, logged only): a model that collapses onto
    one class shows it at every evaluation, not only in the final predictions."""

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        predicted = np.argmax(prediction.predictions, axis=-1)
        metrics, guesses, _ = score_predictions(task, raw, features, predicted)
        return {
            "score": metrics[task.metric],
            "top_label_share": top_label_share(task.predicted_labels(guesses)),
        }

    return compute


def predict_language(
    trainer: Trainer,
    task: Task,
    raw: datasets.Dataset,
    features: datasets.Dataset,
    entity_level: bool = False,
    language: str = "",
):
    """(every metric of the task, prediction records, unpredicted words) for one language. Feature rows run
    sorted by length, so batches pad little."""
    order = np.argsort(np.asarray(features["length"]), kind="stable")
    # Without labels: the score is computed here, over words; the Trainer's compute_metrics is the dev set's.
    inputs = model_inputs(features.select(order)).remove_columns("labels")
    with evaluation_named(trainer, f"evaluating {language}".strip()):
        output = trainer.predict(inputs, metric_key_prefix="predict")
    predicted_sorted = np.argmax(output.predictions, axis=-1)
    predicted = [None] * len(order)
    for sorted_position, original in enumerate(order):
        predicted[original] = predicted_sorted[sorted_position]
    metrics, guesses, unpredicted = score_predictions(task, raw, features, predicted, entity_level)
    return metrics, task.prediction_records(raw, guesses), unpredicted
