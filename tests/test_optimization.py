"""A learning rate for the new parts: parameter_groups and run_glue_x.py's --head_learning_rate."""

import json

import pytest
from transformers import TrainingArguments

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.optimization import parameter_groups
from modeling_dlfa.training import OrderedEvaluationTrainer
from run_glue_x import main

from .conftest import tiny_dlfa_config
from .fixtures import write_panx_dir


def _names(model, group) -> set[str]:
    ids = {id(parameter) for parameter in group["params"]}
    return {name for name, parameter in model.named_parameters() if id(parameter) in ids}


def test_parameter_groups_split_backbone_and_head():
    model = DLFAForTokenClassification(tiny_dlfa_config(fusion_layer=1, fusion_init="identity", num_labels=3))
    model.get_input_embeddings().weight.requires_grad_(False)
    groups = parameter_groups(model, learning_rate=2e-5, head_learning_rate=1e-3, weight_decay=0.01)
    by_rate = {}
    for group in groups:
        by_rate.setdefault(group["lr"], set()).update(_names(model, group))
    assert all(not name.startswith("dlfa.backbone.") for name in by_rate[1e-3])
    assert all(name.startswith("dlfa.backbone.") for name in by_rate[2e-5])
    assert {
        "classifier.weight",
        "dlfa.fusion.scale",
        "dlfa.fusion.aif.local_context.reduce.weight",
    } <= by_rate[1e-3]
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    assert by_rate[1e-3] | by_rate[2e-5] == trainable  # frozen embeddings left out, nothing twice
    assert sum(len(group["params"]) for group in groups) == len(trainable)
    decayed = {name for group in groups if group["weight_decay"] for name in _names(model, group)}
    assert "classifier.weight" in decayed and "classifier.bias" not in decayed


@pytest.mark.parametrize("head_learning_rate", [None, 1e-2])
def test_the_trainer_uses_the_head_learning_rate(tmp_path, head_learning_rate):
    model = DLFAForTokenClassification(tiny_dlfa_config(fusion_layer=1, num_labels=3))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, report_to=[])
    args.head_learning_rate = head_learning_rate
    trainer = OrderedEvaluationTrainer(model=model, args=args)
    optimizer = trainer.create_optimizer()
    rates = {}
    for group in optimizer.param_groups:
        for name in _names(model, group):
            rates[name] = group["lr"]
    expected_head = 1e-4 if head_learning_rate is None else head_learning_rate
    assert rates["classifier.weight"] == expected_head
    assert rates["dlfa.fusion.aif.global_context.expand.weight"] == expected_head
    assert rates["dlfa.backbone.encoder.layer.0.attention.self.query.weight"] == 1e-4


def test_run_glue_x_gives_the_new_parts_their_own_rate_by_default():
    from transformers import HfArgumentParser

    from modeling_dlfa.arguments import GlueXTrainingArguments

    parser = HfArgumentParser(GlueXTrainingArguments)
    (default,) = parser.parse_args_into_dataclasses(["--output_dir", "x", "--learning_rate", "5e-5"])
    assert default.head_learning_rate == 1e-3
    (one_rate,) = parser.parse_args_into_dataclasses(["--output_dir", "x", "--head_learning_rate", "5e-5"])
    assert one_rate.head_learning_rate == one_rate.learning_rate == 5e-5


def test_head_learning_rate_flag_reaches_training(tmp_path, tiny_bert_dir):
    """Through run_glue_x.py: the flag is recorded, and the head moves further from its start than at the
    backbone's rate."""
    data = write_panx_dir(tmp_path / "data")
    moved = {}
    for rate in ("1e-5", "1e-1"):
        output = tmp_path / f"run-{rate}"
        code = main(
            ["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
             "--data_dir", str(data), "--output_dir", str(output), "--num_train_epochs", "1",
             "--per_device_train_batch_size", "8", "--learning_rate", "1e-5", "--head_learning_rate", rate,
             "--seed", "3", "--fusion_init", "identity"]
        )  # fmt: skip
        assert code == 0
        results = json.loads((output / "results.json").read_text())
        assert results["training"]["head_learning_rate"] == float(rate)
        assert results["fusion_init"] == "identity"
        trained = DLFAForTokenClassification.from_pretrained(output)
        moved[rate] = trained.dlfa.fusion.scale.abs().max().item()
    assert moved["1e-1"] > 100 * moved["1e-5"] > 0
    with pytest.raises(SystemExit):
        main(
            [
                "--task_name",
                "panx",
                "--model_name_or_path",
                "x",
                "--output_dir",
                "y",
                "--head_learning_rate",
                "fast",
            ]
        )
