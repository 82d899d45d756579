"""from_backbone: every backbone weight (and the pooler where there is one) comes from the plain checkpoint."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModel,
    BertForPreTraining,
    DebertaV2ForMaskedLM,
    DistilBertForMaskedLM,
    XLMRobertaForMaskedLM,
)

from modeling_dlfa import DLFAForSequenceClassification, DLFAForTokenClassification

from .conftest import tiny_backbone_config

CHECKPOINTS = {
    # name: (model_type, class that saves it, key prefix of the encoder in the file, has a pooler)
    "mbert-pretraining": ("bert", BertForPreTraining, "bert.", True),
    "xlmr-masked-lm": ("xlm-roberta", XLMRobertaForMaskedLM, "roberta.", False),
    "distilbert-masked-lm": ("distilbert", DistilBertForMaskedLM, "distilbert.", False),
    "mdeberta-masked-lm": ("deberta-v2", DebertaV2ForMaskedLM, "deberta.", False),
    "bare-bert": ("bert", AutoModel, "", True),
    "bare-xlmr": ("xlm-roberta", AutoModel, "", True),
}


def save_checkpoint(directory, model_type, model_class):
    torch.manual_seed(0)
    config = tiny_backbone_config(model_type)
    model = model_class.from_config(config) if model_class is AutoModel else model_class(config)
    model.save_pretrained(directory)
    return load_file(directory / "model.safetensors")


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
@pytest.mark.parametrize("head", [DLFAForSequenceClassification, DLFAForTokenClassification])
def test_only_fusion_and_head_weights_are_new(tmp_path, name, head):
    model_type, model_class, prefix, has_pooler = CHECKPOINTS[name]
    saved = save_checkpoint(tmp_path, model_type, model_class)
    model, info = head.from_backbone(
        tmp_path, fusion_layer=1, id2label={0: "a", 1: "b", 2: "c"}, output_loading_info=True
    )
    new_prefixes = ("dlfa.fusion.", "classifier.")
    if head is DLFAForSequenceClassification and not has_pooler:
        new_prefixes += ("pooler.",)
    state = model.state_dict()
    expected_new = {key for key in state if key.startswith(new_prefixes) and "num_batches_tracked" not in key}
    missing = {key for key in info["missing_keys"] if "num_batches_tracked" not in key}
    assert missing == expected_new
    assert info["mismatched_keys"] == [] or not info["mismatched_keys"]
    # Every backbone tensor equals the checkpoint's.
    backbone_keys = [key for key in state if key.startswith("dlfa.backbone.")]
    assert backbone_keys
    for key in backbone_keys:
        source = prefix + key.removeprefix("dlfa.backbone.")
        if source in saved:
            torch.testing.assert_close(state[key], saved[source], msg=key)
        else:  # tied to the word embeddings in the file
            assert key.endswith(("position_ids", "token_type_ids")) or "embeddings" in key, key
    if head is DLFAForSequenceClassification and has_pooler:
        torch.testing.assert_close(state["pooler.dense.weight"], saved[f"{prefix}pooler.dense.weight"])
    assert model.config.num_labels == 3 and model.config.fusion_layer == 1
    assert model.config.backbone_config.model_type == model_type


def test_labels_and_fusion_settings_reach_the_config(tiny_bert_dir):
    model = DLFAForTokenClassification.from_backbone(
        tiny_bert_dir, fusion_layer=2, fusion_gate="sigmoid", aif_reduction=2, num_labels=7
    )
    assert (model.config.fusion_layer, model.config.fusion_gate, model.config.aif_reduction) == (
        2,
        "sigmoid",
        2,
    )
    assert model.classifier.out_features == 7


def test_new_models_take_the_measured_gate_and_old_checkpoints_keep_the_papers(tiny_bert_dir, tmp_path):
    """from_backbone defaults to AFF's bounded gate (ahead in benchmarks/RESULTS.md); a checkpoint whose
    config.json predates the field still loads with the paper's gate it was trained with."""
    model = DLFAForSequenceClassification.from_backbone(tiny_bert_dir, fusion_layer=1, num_labels=3)
    assert model.config.fusion_gate == "sigmoid"
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["fusion_gate"] == "sigmoid"
    saved.pop("fusion_gate")
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert DLFAForSequenceClassification.from_pretrained(tmp_path).config.fusion_gate == "paper"


def test_out_of_range_fusion_layer_for_the_checkpoint(tiny_bert_dir):
    with pytest.raises(ValueError, match="fusion_layer=3 is out of range for a 3-layer backbone: use 0..2"):
        DLFAForSequenceClassification.from_backbone(tiny_bert_dir, fusion_layer=3, num_labels=2)


def test_a_dlfa_checkpoint_is_not_a_backbone(tmp_path, tiny_bert_dir):
    model = DLFAForSequenceClassification.from_backbone(tiny_bert_dir, fusion_layer=1, num_labels=2)
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="already a DLFA checkpoint: load it with from_pretrained"):
        DLFAForSequenceClassification.from_backbone(tmp_path, fusion_layer=1, num_labels=2)
