import pytest
from transformers import AutoConfig, BertConfig, DistilBertConfig

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification

from .conftest import tiny_backbone_config


def test_defaults_are_an_mbert_shaped_baseline():
    config = DLFAConfig()
    assert isinstance(config.backbone_config, BertConfig)
    assert config.backbone_config.vocab_size == 119547
    assert config.fusion_layer is None
    assert config.fusion_gate == "paper"
    assert config.aif_reduction == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fusion_layer": 12}, "fusion_layer=12 is out of range for a 12-layer backbone: use 0..11, or None"),
        ({"fusion_layer": -1}, "fusion_layer=-1 is out of range"),
        ({"fusion_layer": "6"}, "fusion_layer='6' must be an int in 0..11 or None"),
        ({"fusion_layer": True}, "fusion_layer=True must be an int"),
        (
            {"fusion_gate": "softmax"},
            "fusion_gate='softmax' is not supported: use one of ('paper', 'sigmoid')",
        ),
        ({"aif_reduction": 0}, "aif_reduction=0 must be an int in 1..768"),
        ({"aif_reduction": 1000}, "aif_reduction=1000 must be an int in 1..768"),
        ({"classifier_dropout": 1.5}, "classifier_dropout=1.5 must be a float in [0, 1)"),
        ({"backbone_config": {"hidden_size": 8}}, "backbone_config is a dict without 'model_type'"),
        ({"backbone_config": 3}, "backbone_config must be a PreTrainedConfig, a dict or None, not int"),
    ],
)
def test_invalid_values_raise_naming_field_value_and_allowed(kwargs, message):
    with pytest.raises(ValueError) as error:
        DLFAConfig(**kwargs)
    assert message in str(error.value)


def test_fusion_layer_range_follows_the_backbone():
    config = DLFAConfig(backbone_config=DistilBertConfig(n_layers=6), fusion_layer=5)
    assert config.num_hidden_layers == 6
    with pytest.raises(ValueError, match="out of range for a 6-layer backbone: use 0..5"):
        DLFAConfig(backbone_config=DistilBertConfig(n_layers=6), fusion_layer=6)
    assert DLFAConfig(fusion_layer=0).fusion_layer == 0


def test_save_and_load_round_trip_keeps_the_sub_config(tmp_path):
    config = DLFAConfig(
        backbone_config=tiny_backbone_config("xlm-roberta"),
        fusion_layer=2,
        fusion_gate="sigmoid",
        aif_reduction=8,
        classifier_dropout=0.2,
        id2label={0: "O", 1: "B-PER", 2: "I-PER"},
    )
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, DLFAConfig)
    assert loaded.backbone_config.model_type == "xlm-roberta"
    assert loaded.backbone_config.hidden_size == 32
    assert (loaded.fusion_layer, loaded.fusion_gate, loaded.aif_reduction) == (2, "sigmoid", 8)
    assert loaded.classifier_dropout == 0.2
    assert loaded.id2label == {0: "O", 1: "B-PER", 2: "I-PER"}
    assert loaded.label2id == {"O": 0, "B-PER": 1, "I-PER": 2}
    assert loaded.num_labels == 3


def test_backbone_config_from_dict():
    config = DLFAConfig(
        backbone_config={"model_type": "distilbert", "n_layers": 2, "dim": 64}, fusion_layer=1
    )
    assert isinstance(config.backbone_config, DistilBertConfig)
    assert config.hidden_size == 64


def test_attention_implementation_reaches_the_backbone():
    config = DLFAConfig(backbone_config=tiny_backbone_config("bert"), fusion_layer=1)
    config._attn_implementation = "eager"
    assert config.backbone_config._attn_implementation == "eager"


def test_head_dropout_defaults_to_the_backbone_hidden_dropout():
    assert DLFAConfig(backbone_config=tiny_backbone_config("bert", dropout=0.3)).head_dropout == 0.3
    assert DLFAConfig(backbone_config=tiny_backbone_config("distilbert", dropout=0.2)).head_dropout == 0.2
    assert DLFAConfig(classifier_dropout=0.0).head_dropout == 0.0


def test_text_config_is_the_backbone_config():
    config = DLFAConfig(backbone_config=tiny_backbone_config("xlm-roberta"), fusion_layer=1)
    assert config.get_text_config() is config.backbone_config
    assert config.get_text_config(encoder=True).vocab_size == 128
    # What transformers writes there (resize_token_embeddings, for one) is what the backbone is built from.
    config.get_text_config().vocab_size = 10
    assert config.backbone_config.vocab_size == 10


def test_a_changed_vocabulary_makes_from_pretrained_refuse_the_checkpoint(tmp_path):
    config = DLFAConfig(backbone_config=tiny_backbone_config("bert"), fusion_layer=1, num_labels=3)
    DLFAForSequenceClassification(config).save_pretrained(tmp_path)
    config.get_text_config().vocab_size = 10
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        DLFAForSequenceClassification.from_pretrained(tmp_path, config=config)
    loaded = DLFAForSequenceClassification.from_pretrained(
        tmp_path, config=config, ignore_mismatched_sizes=True
    )
    assert loaded.get_input_embeddings().weight.shape == (10, 32)
