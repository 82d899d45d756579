"""What a run prints: one line per model build for the weights it creates, the full report for anything else."""

from __future__ import annotations

import logging

import torch
from safetensors.torch import load_file, save_file
from transformers import BertModel

from modeling_dlfa import DLFAForTokenClassification


def test_expected_new_weights_are_one_line_not_a_load_report(tiny_bert_dir, caplog):
    caplog.set_level(logging.INFO, logger="modeling_dlfa")
    model = DLFAForTokenClassification.from_backbone(str(tiny_bert_dir), fusion_layer=1, num_labels=3)
    messages = [record.getMessage() for record in caplog.records]
    assert not any("LOAD REPORT" in message for message in messages), messages
    built = [message for message in messages if "new weights:" in message]
    assert built == [f"DLFAForTokenClassification from {tiny_bert_dir}: new weights: fusion, classifier"]
    assert isinstance(model, DLFAForTokenClassification)


def test_unexpected_weights_still_get_the_full_report(tmp_path, tiny_bert_dir, caplog):
    """A checkpoint with a weight nothing in the model takes: transformers' table is shown as it is."""
    backbone = BertModel.from_pretrained(tiny_bert_dir)
    backbone.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["encoder.extra_adapter.weight"] = torch.zeros(2, 2)
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    caplog.set_level(logging.INFO, logger="modeling_dlfa")
    model, info = DLFAForTokenClassification.from_backbone(
        str(tmp_path), fusion_layer=1, num_labels=3, output_loading_info=True
    )
    reports = [record.getMessage() for record in caplog.records if "LOAD REPORT" in record.getMessage()]
    assert len(reports) == 1 and "UNEXPECTED" in reports[0] and "extra_adapter" in reports[0]
    assert info["unexpected_keys"] and not any("new weights:" in r.getMessage() for r in caplog.records)
    assert isinstance(model, DLFAForTokenClassification)
