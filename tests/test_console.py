"""What a run prints: one line per model build for the weights it creates, the full report for anything else."""

from __future__ import annotations

import logging

import torch
from safetensors.torch import load_file, save_file
from transformers import BertModel

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.arguments import ModelArguments
from modeling_dlfa.model_builder import build_model, load_model_config
from modeling_dlfa.tasks import get_task


def _build(path) -> DLFAForTokenClassification:
    model_args = ModelArguments(model_name_or_path=str(path), fusion_layer="1")
    return build_model(get_task("panx"), model_args, 1, load_model_config(model_args))


def _messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_expected_new_weights_are_one_line_not_a_load_report(tiny_bert_dir, caplog):
    caplog.set_level(logging.INFO, logger="modeling_dlfa")
    model = _build(tiny_bert_dir)
    assert not any("LOAD REPORT" in message for message in _messages(caplog)), _messages(caplog)
    built = [message for message in _messages(caplog) if "new weights:" in message]
    assert built == [f"DLFAForTokenClassification from {tiny_bert_dir}: new weights: fusion, classifier"]
    assert isinstance(model, DLFAForTokenClassification)


def test_unexpected_weights_still_get_the_full_report(tmp_path, tiny_bert_dir, caplog):
    """A checkpoint with a weight nothing in the model takes: transformers' table is shown as it is."""
    BertModel.from_pretrained(tiny_bert_dir).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["encoder.extra_adapter.weight"] = torch.zeros(2, 2)
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    caplog.set_level(logging.INFO, logger="modeling_dlfa")
    _build(tmp_path)
    reports = [message for message in _messages(caplog) if "LOAD REPORT" in message]
    assert len(reports) == 1 and "UNEXPECTED" in reports[0] and "extra_adapter" in reports[0]
    assert not any("new weights:" in message for message in _messages(caplog))
