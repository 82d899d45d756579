"""The Trainer a run uses, and what it is fed."""

from __future__ import annotations

import datasets
from torch.utils.data import SequentialSampler
from transformers import Trainer, default_data_collator

from .features import MODEL_COLUMNS
from .optimization import parameter_groups
from .tasks import Task


class OrderedEvaluationTrainer(Trainer):
    """A Trainer whose evaluation keeps dataset order. With --train_sampling_strategy group_by_length the stock
    one length-groups evaluation too, and predictions would no longer line up with their examples (evaluation
    here is already sorted by length)."""

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
