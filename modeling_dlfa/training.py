"""The Trainer a run uses, and what it is fed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import datasets
from torch.utils.data import SequentialSampler
from tqdm.auto import tqdm
from transformers import ProgressCallback, Trainer, default_data_collator
from transformers.trainer_utils import has_length

from .features import MODEL_COLUMNS
from .optimization import parameter_groups
from .task_kinds import Task


class NamedProgressCallback(ProgressCallback):
    """The Trainer's tqdm bars, each named for what it counts: "training", and each evaluation as
    `evaluation_name` says when its bar opens (the stock bars have no name, and a run opens one per language)."""

    def __init__(self, evaluation_name: str):
        super().__init__()
        self.evaluation_name = evaluation_name

    # Both bars are opened here, named, rather than renamed after the stock callback opens them: a bar draws
    # itself when it opens, and that first line would have no name. on_train_begin replaces transformers 5.x's
    # whole method (it opens the bar and resets current_step); the other stock methods run as they are.
    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.training_bar = tqdm(total=state.max_steps, dynamic_ncols=True, desc="training")
        self.current_step = 0

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if state.is_world_process_zero and has_length(eval_dataloader) and self.prediction_bar is None:
            self.prediction_bar = tqdm(
                total=len(eval_dataloader),
                leave=self.training_bar is None,
                dynamic_ncols=True,
                desc=self.evaluation_name,
            )
        super().on_prediction_step(args, state, control, eval_dataloader=eval_dataloader, **kwargs)


@contextlib.contextmanager
def evaluation_named(trainer: Trainer, name: str) -> Iterator[None]:
    """Name the progress bars of the evaluations inside (where the trainer shows named bars)."""
    callbacks = [c for c in trainer.callback_handler.callbacks if isinstance(c, NamedProgressCallback)]
    before = [callback.evaluation_name for callback in callbacks]
    for callback in callbacks:
        callback.evaluation_name = name
    try:
        yield
    finally:
        for callback, earlier in zip(callbacks, before, strict=True):
            callback.evaluation_name = earlier


class OrderedEvaluationTrainer(Trainer):
    """A Trainer whose evaluation keeps dataset order. With --train_sampling_strategy group_by_length the stock
    one length-groups evaluation too, and predictions would no longer line up with their examples (evaluation
    here is already sorted by length).

    Its progress bars say what they count; `evaluate()`, the checkpoint selection, shows `dev_name`.
    """

    def __init__(self, *args, dev_name: str = "dev", **kwargs):
        super().__init__(*args, **kwargs)
        # Only where the stock bars are shown (tqdm on; notebooks have their own callback).
        if self.pop_callback(ProgressCallback) is not None:
            self.add_callback(NamedProgressCallback(dev_name))

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or self.args.world_size > 1:
            return None  # accelerate shards a sequential order and gathers it back in order
        return SequentialSampler(eval_dataset)

    def create_optimizer(self, model=None):
        # --head_learning_rate: the fusion module and the classifier get their own learning rate.
        head_learning_rate = getattr(self.args, "head_learning_rate", None)
        if self.optimizer is None and head_learning_rate is not None:
            model = self.model if model is None else model
            optimizer_class, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            groups = parameter_groups(
                model,
                learning_rate=self.args.learning_rate,
                head_learning_rate=head_learning_rate,
                weight_decay=self.args.weight_decay,
                decay_parameter_names=self.get_decay_parameter_names(model),
            )
            self.optimizer_cls_and_kwargs = (optimizer_class, {**optimizer_kwargs, "params": groups})
        return super().create_optimizer(model)


def data_collator(task: Task, tokenizer, pad_to_max_length: bool):
    return default_data_collator if pad_to_max_length else task.data_collator(tokenizer)


def model_inputs(features: datasets.Dataset) -> datasets.Dataset:
    return features.select_columns([column for column in MODEL_COLUMNS if column in features.column_names])
