"""DLFA's starting point and its pairing with the baseline: the identity init, batches of one, shared head draws."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, set_seed

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification, DLFAForTokenClassification, DLFAModel
from modeling_dlfa.modeling_dlfa import DLFAMaskedBatchNorm1d

from .conftest import random_batch, tiny_backbone_config, tiny_dlfa_config

HEADS = [DLFAForSequenceClassification, DLFAForTokenClassification]


def _fused_and_last(model: DLFAModel, training: bool):
    model.train(training)
    input_ids, attention_mask = random_batch(4, 12, pad_rows={1: 5, 3: 9})
    torch.manual_seed(0)  # the same dropout masks in both forwards
    outputs = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    return outputs.last_hidden_state, outputs.hidden_states[-1]


@pytest.mark.parametrize("gate", ["paper", "sigmoid"])
@pytest.mark.parametrize("training", [False, True])
def test_identity_init_starts_exactly_at_the_last_layer(gate, training):
    model = DLFAModel(tiny_dlfa_config(fusion_layer=1, fusion_gate=gate, fusion_init="identity"))
    L, L2 = _fused_and_last(model, training)
    assert (L - L2).norm() / L2.norm() < 1e-4
    # The paper init does not: the point of the identity init.
    paper = DLFAModel(tiny_dlfa_config(fusion_layer=1, fusion_gate=gate, fusion_init="paper"))
    L, L2 = _fused_and_last(paper, training)
    assert (L - L2).norm() / L2.norm() > 1e-3


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("gate", ["paper", "sigmoid"])
def test_identity_init_can_leave_the_baseline(head, gate):
    model = head(
        tiny_dlfa_config(fusion_layer=1, fusion_gate=gate, fusion_init="identity", num_labels=3)
    ).train()
    input_ids, attention_mask = random_batch(4, 12, pad_rows={2: 6})
    shape = (4,) if head is DLFAForSequenceClassification else (4, 12)
    labels = torch.randint(0, 3, shape, generator=torch.Generator().manual_seed(1))
    model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
    fusion_gradient = model.dlfa.fusion.scale.grad
    assert fusion_gradient is not None and fusion_gradient.abs().max() > 0
    # One optimiser step moves the scale, and the fused L is no longer the last layer.
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    assert model.dlfa.fusion.scale.abs().max() > 0
    L, L2 = _fused_and_last(model.dlfa, training=False)
    assert (L - L2).abs().max() > 0


def test_paper_checkpoints_without_the_field_load_as_paper(tmp_path):
    config = tiny_dlfa_config(fusion_layer=1)
    saved = config.to_dict()
    saved.pop("fusion_init")
    assert DLFAConfig.from_dict(saved).fusion_init == "paper"
    assert "dlfa.fusion.scale" not in DLFAForSequenceClassification(config).state_dict()
    with pytest.raises(ValueError, match="fusion_init='zero' is not supported: use one of"):
        tiny_dlfa_config(fusion_init="zero")


def test_a_step_with_one_value_per_channel_leaves_the_running_statistics_as_they_were():
    norm = DLFAMaskedBatchNorm1d(4).train()
    hidden = torch.randn(8, 4, 1)
    norm(hidden, torch.ones(8, 1, 1))
    before = norm.running_mean.clone(), norm.running_var.clone(), norm.num_batches_tracked.clone()
    single = torch.randn(1, 4, 1, requires_grad=True)
    output = norm(single, torch.ones(1, 1, 1))
    assert torch.equal(norm.running_mean, before[0])
    assert torch.equal(norm.running_var, before[1])
    assert torch.equal(norm.num_batches_tracked, before[2])
    # It is normalised with the running statistics, so the input still reaches the output and gets a gradient.
    expected = (single - before[0][None, :, None]) / torch.sqrt(before[1][None, :, None] + norm.eps)
    torch.testing.assert_close(output, expected)
    output.sum().backward()
    assert single.grad.abs().min() > 0


def _train_global_branch(
    batch_size: int, accumulation: int, steps: int = 30
) -> DLFAForSequenceClassification:
    set_seed(0)
    model = DLFAForSequenceClassification(tiny_dlfa_config(fusion_layer=1, num_labels=2, dropout=0.0)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(steps):
        input_ids, attention_mask = random_batch(8, 10, pad_rows={3: 4, 6: 7}, seed=step)
        labels = (input_ids[:, 1] % 2).long()
        for start in range(0, 8, batch_size):
            rows = slice(start, start + batch_size)
            loss = model(
                input_ids=input_ids[rows], attention_mask=attention_mask[rows], labels=labels[rows]
            ).loss
            (loss / accumulation).backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


def test_one_example_per_device_trains_the_global_branch_like_a_batch():
    """Per-device batch 1 x 8 accumulation vs batch 8: the global branch keeps sane statistics and its gates do
    not saturate at evaluation (before the fix its running variance decayed towards 0 and the gates hit 0/1)."""
    for batch_size in (8, 1):
        model = _train_global_branch(batch_size, accumulation=8 // batch_size)
        aif = model.dlfa.fusion.aif
        assert aif.global_context.expand_norm.running_var.min() > 1e-3, batch_size
        captured = {}
        hooks = [
            aif.global_context.register_forward_hook(
                lambda module, args, out, c=captured: c.update(W_global=out)
            ),
            aif.local_context.register_forward_hook(
                lambda module, args, out, c=captured: c.update(W_local=out)
            ),
        ]
        input_ids, attention_mask = random_batch(16, 10, pad_rows={3: 4}, seed=99)
        with torch.no_grad():
            model(input_ids=input_ids, attention_mask=attention_mask)
        for hook in hooks:
            hook.remove()
        gate = torch.sigmoid(captured["W_global"] + captured["W_local"])
        saturated = float(((gate < 1e-3) | (gate > 1 - 1e-3)).float().mean())
        assert captured["W_global"].abs().median() < 10, batch_size
        assert saturated == 0.0, (batch_size, saturated)


@pytest.mark.parametrize("head", HEADS)
def test_dlfa_heads_start_from_the_baselines_draw(head):
    """For one seed the classifier (and pooler) of every fusion setting start from the same weights."""
    weights = {}
    for layer, fusion_init in [(None, "paper"), (1, "paper"), (2, "identity")]:
        set_seed(7)
        model = head(tiny_dlfa_config(fusion_layer=layer, fusion_init=fusion_init, num_labels=3))
        weights[layer] = {name: value for name, value in model.state_dict().items() if "fusion" not in name}
    for layer in (1, 2):
        for name, value in weights[None].items():
            assert torch.equal(value, weights[layer][name]), (layer, name)
    # ... and the draw after the model (dropout masks, data order) is the same too.
    draws = []
    for layer in (None, 1):
        set_seed(7)
        head(tiny_dlfa_config(fusion_layer=layer, num_labels=3))
        draws.append(torch.rand(3))
    assert torch.equal(*draws)


def test_from_backbone_heads_start_from_the_baselines_draw(tmp_path):
    set_seed(0)
    AutoModel.from_config(tiny_backbone_config("bert")).save_pretrained(tmp_path)
    classifiers = []
    for layer in (None, 1):
        set_seed(3)
        model = DLFAForSequenceClassification.from_backbone(str(tmp_path), fusion_layer=layer, num_labels=2)
        classifiers.append((model.classifier.weight.clone(), model.pooler.dense.weight.clone()))
    assert torch.equal(classifiers[0][0], classifiers[1][0])
    assert torch.equal(classifiers[0][1], classifiers[1][1])


def test_a_shut_fusion_reproduces_the_baselines_run(tmp_path, tiny_bert_dir, monkeypatch):
    """Paired runs: with the fusion held shut (identity init, scale frozen at 0), a DLFA run of one seed
    trains and scores exactly as the baseline of that seed: same head draw, data order and dropout masks.
    Tolerance: 1e-9 on every score (float summation order is the same, so they agree to the last bit)."""
    from modeling_dlfa import transfer
    from run_glue_x import main

    from .fixtures import write_xnli_dir

    build_model = transfer.build_model

    def build_shut(*args, **kwargs):
        model = build_model(*args, **kwargs)
        if model.dlfa.fusion is not None:
            model.dlfa.fusion.scale.requires_grad_(False)
        return model

    monkeypatch.setattr(transfer, "build_model", build_shut)
    data = write_xnli_dir(tmp_path / "data", train=48)
    scores, weights = {}, {}
    for layer in ("none", "1"):
        output = tmp_path / f"run-{layer}"
        code = main(
            ["--task_name", "xnli", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", layer,
             "--fusion_init", "identity", "--data_dir", str(data), "--output_dir", str(output),
             "--num_train_epochs", "2", "--per_device_train_batch_size", "8", "--learning_rate", "1e-3",
             "--head_learning_rate", "1e-2", "--seed", "5"]
        )  # fmt: skip
        assert code == 0
        results = json.loads((output / "results.json").read_text())
        scores[layer] = [results["train_dev_score"], *results["languages"].values()]
        weights[layer] = load_file(output / "model.safetensors")
    assert scores["1"] == pytest.approx(scores["none"], abs=1e-9)
    # The trained weights agree too, which the coarse scores of a tiny set could not show alone.
    shared = [name for name in weights["none"] if "fusion" not in name]
    assert shared and set(shared) <= set(weights["1"])
    for name in shared:
        torch.testing.assert_close(weights["1"][name], weights["none"][name], rtol=0, atol=1e-6, msg=name)


def test_layer_global_norm_makes_the_global_branch_independent_of_the_batch():
    """aif_global_norm='layer': in training, an example's global context is the same alone as in a batch
    (with 'batch' it is not: BatchNorm over the batch's pooled vectors)."""
    captured = {}
    for global_norm in ("layer", "batch"):
        model = DLFAModel(tiny_dlfa_config(fusion_layer=1, aif_global_norm=global_norm, dropout=0.0)).train()
        aif = model.fusion.aif
        hook = aif.global_context.register_forward_hook(lambda m, a, out: captured.update(W_global=out))
        input_ids, attention_mask = random_batch(6, 10, pad_rows={2: 4})
        model(input_ids=input_ids, attention_mask=attention_mask)
        together = captured["W_global"][:1].clone()
        model(input_ids=input_ids[:1], attention_mask=attention_mask[:1])
        alone = captured["W_global"].clone()
        hook.remove()
        if global_norm == "layer":
            torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)
            assert not any(isinstance(m, DLFAMaskedBatchNorm1d) for m in aif.global_context.modules())
        else:
            assert not torch.allclose(alone, together, atol=1e-3)
    with pytest.raises(ValueError, match="aif_global_norm='group' is not supported: use one of"):
        tiny_dlfa_config(aif_global_norm="group")
