"""Gradient accumulation trains what one batch of the same size trains (issue: batch size must not change what
the model learns)."""

from __future__ import annotations

import datasets
import torch
from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.features import IGNORE_INDEX

from .conftest import save_tiny_tokenizer, tiny_dlfa_config


def _sentences(tokenizer) -> datasets.Dataset:
    # Very different numbers of labelled tokens per sentence: a per-sentence mean weighs them differently.
    lengths = [2, 11, 3, 7]
    generator = torch.Generator().manual_seed(0)
    rows = {"input_ids": [], "attention_mask": [], "labels": []}
    for length in lengths:
        ids = torch.randint(5, 100, (length,), generator=generator).tolist()
        rows["input_ids"].append([tokenizer.cls_token_id, *ids, tokenizer.sep_token_id])
        rows["attention_mask"].append([1] * (length + 2))
        labels = torch.randint(0, 3, (length,), generator=generator).tolist()
        rows["labels"].append([IGNORE_INDEX, *labels, IGNORE_INDEX])
    return datasets.Dataset.from_dict(rows)


def test_accumulated_micro_batches_of_one_equal_one_batch(tmp_path):
    """Fails with a per-micro-batch mean loss: there, 1 x 4 accumulation weighs each sentence equally, so a
    word of the 2-word sentence counts 5.5 times as much as one of the 11-word sentence. The head without
    fusion and without dropout, so that nothing but the loss could depend on the batch."""
    tokenizer = save_tiny_tokenizer(tmp_path / "tokenizer")
    config = tiny_dlfa_config(fusion_layer=None, dropout=0.0)
    dataset = _sentences(tokenizer)
    torch.manual_seed(0)
    initial = DLFAForTokenClassification(config).classifier.weight.detach().clone()
    weights = {}
    for batch, accumulation in ((4, 1), (1, 4)):
        torch.manual_seed(0)
        model = DLFAForTokenClassification(config)
        args = TrainingArguments(
            output_dir=str(tmp_path / f"run-{batch}x{accumulation}"),
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation,
            max_steps=1,
            learning_rate=0.5,
            optim="sgd",
            lr_scheduler_type="constant",
            max_grad_norm=0.0,
            weight_decay=0.0,
            report_to="none",
            save_strategy="no",
            seed=0,
            use_cpu=True,
            disable_tqdm=True,
        )
        collator = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
        trainer.train()
        weights[(batch, accumulation)] = {name: p.detach().clone() for name, p in model.named_parameters()}
    one_batch, accumulated = weights[(4, 1)], weights[(1, 4)]
    assert not torch.allclose(one_batch["classifier.weight"], initial)  # the step did something
    for name in one_batch:
        torch.testing.assert_close(accumulated[name], one_batch[name], atol=1e-6, rtol=1e-5, msg=name)
