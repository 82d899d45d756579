"""Behaviour of the DLFA modules: the fusion equations, padding independence, heads and baselines."""

import pytest
import torch
from transformers import AutoModel, BertForSequenceClassification, BertForTokenClassification

from modeling_dlfa import DLFAForSequenceClassification, DLFAForTokenClassification, DLFAModel
from modeling_dlfa.modeling_dlfa import DLFAMaskedBatchNorm1d

from .conftest import random_batch, tiny_dlfa_config

BACKBONES = ["bert", "xlm-roberta", "distilbert", "deberta-v2"]
HEADS = [DLFAForSequenceClassification, DLFAForTokenClassification]


def make(head, model_type="bert", seed=0, **kwargs):
    torch.manual_seed(seed)
    return head(tiny_dlfa_config(model_type, **kwargs))


@pytest.mark.parametrize("model_type", BACKBONES)
@pytest.mark.parametrize("head", HEADS)
def test_forward_shapes_and_hidden_states(model_type, head):
    model = make(head, model_type, fusion_layer=2).eval()
    input_ids, attention_mask = random_batch(pad_rows={1: 5})
    output = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    expected = (3, 3) if head is DLFAForSequenceClassification else (3, 12, 3)
    assert output.logits.shape == expected
    assert len(output.hidden_states) == 4  # embeddings + 3 layers, as the backbone returns them
    assert torch.isfinite(output.logits).all()


@pytest.mark.parametrize("model_type", BACKBONES)
@pytest.mark.parametrize("gate", ["paper", "sigmoid"])
@pytest.mark.parametrize("head", HEADS)
def test_padding_never_changes_an_example_output(model_type, gate, head):
    model = make(head, model_type, fusion_layer=1, fusion_gate=gate)
    # Train a few steps first so the BatchNorm running statistics are not the trivial initial ones.
    model.train()
    for step in range(3):
        input_ids, attention_mask = random_batch(4, 20, pad_rows={0: 7, 2: 11}, seed=step)
        model(input_ids=input_ids, attention_mask=attention_mask).logits.sum().backward()
    model.eval()
    short_ids, _ = random_batch(1, 6, seed=10)
    long_ids, _ = random_batch(1, 40, seed=11)
    batch_ids = torch.cat([torch.cat([short_ids, torch.zeros(1, 34, dtype=torch.long)], dim=1), long_ids])
    batch_mask = (torch.arange(40)[None, :] < torch.tensor([[6], [40]])).long()
    with torch.no_grad():
        alone = model(input_ids=short_ids, output_hidden_states=True)
        batched = model(input_ids=batch_ids, attention_mask=batch_mask)
        # The fused L is O(1) while tiny random heads give logits near 0: compare both.
        fused_alone = model.dlfa(input_ids=short_ids).last_hidden_state
        fused_batched = model.dlfa(input_ids=batch_ids, attention_mask=batch_mask).last_hidden_state[:1, :6]
    batched_logits = batched.logits[:1]
    if head is DLFAForTokenClassification:
        batched_logits = batched_logits[:, :6]
    torch.testing.assert_close(batched_logits, alone.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(fused_batched, fused_alone, atol=1e-5, rtol=0)


def test_train_mode_batch_norm_statistics_count_real_tokens_only():
    model = make(DLFAModel, fusion_layer=1).train()
    captured = {}
    local = model.fusion.aif.local_context
    local.reduce.register_forward_hook(lambda module, args, output: captured.update(conv=output.detach()))
    input_ids, attention_mask = random_batch(3, 16, pad_rows={0: 4, 2: 9})
    model(input_ids=input_ids, attention_mask=attention_mask)
    conv = captured["conv"]  # B x C x T, the input of the first local BatchNorm
    real = conv.transpose(1, 2)[attention_mask.bool()]  # (real tokens) x C
    norm = local.reduce_norm
    torch.testing.assert_close(norm.running_mean, 0.1 * real.mean(0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(norm.running_var, 0.9 + 0.1 * real.var(0, unbiased=True), atol=1e-6, rtol=1e-5)
    mean, variance, count = norm.batch_statistics(conv, attention_mask[:, None, :].float())
    assert count.item() == attention_mask.sum().item()
    torch.testing.assert_close(variance, real.var(0, unbiased=False), atol=1e-6, rtol=1e-5)


def test_masked_batch_norm_matches_torch_batch_norm_without_padding():
    torch.manual_seed(0)
    ours, reference = DLFAMaskedBatchNorm1d(8), torch.nn.BatchNorm1d(8)
    hidden = torch.randn(4, 8, 5) * 3 + 1
    torch.testing.assert_close(ours(hidden, torch.ones(4, 1, 5)), reference(hidden), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.running_var, reference.running_var)
    ours.eval(), reference.eval()
    torch.testing.assert_close(ours(hidden, torch.ones(4, 1, 5)), reference(hidden), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("batch", ["single", "unpadded"])
def test_training_with_batch_of_one_and_without_padding(head, batch):
    model = make(head, fusion_layer=1).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    size = 1 if batch == "single" else 4
    input_ids, attention_mask = random_batch(size, 10)
    labels = (
        torch.zeros(size, dtype=torch.long)
        if head is DLFAForSequenceClassification
        else torch.zeros_like(input_ids)
    )
    for _ in range(2):
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert torch.isfinite(loss)
    for module in model.modules():
        if isinstance(module, DLFAMaskedBatchNorm1d):
            assert torch.isfinite(module.running_var).all() and torch.isfinite(module.running_mean).all()


def test_fusion_equations_line_by_line():
    """Eq. 2 on top of Eq. 1, recomputed here from the module's own sub-blocks."""
    model = make(DLFAModel, fusion_layer=1).eval()
    input_ids, attention_mask = random_batch(2, 9, pad_rows={1: 4})
    with torch.no_grad():
        output = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        L1, L2 = output.hidden_states[1], output.hidden_states[-1]
        W = (L1 + L2) / 2
        aif = model.fusion.aif
        mask = attention_mask[:, None, :].float()
        pooled = (W.transpose(1, 2) * mask).sum(2, keepdim=True) / mask.sum(2, keepdim=True)
        W_global = aif.global_context(pooled, torch.ones(2, 1, 1))
        W_local = aif.local_context(W.transpose(1, 2), mask)
        AIF = W * torch.sigmoid(W_global + W_local).transpose(1, 2)
        expected = L1 * AIF + L2 * (1 - AIF)
    torch.testing.assert_close(output.last_hidden_state, expected)


def test_sigmoid_gate_is_bounded_and_paper_gate_is_not():
    torch.manual_seed(0)
    W = torch.randn(2, 5, 32) * 10
    mask = torch.ones(2, 5)
    for gate, bounded in (("sigmoid", True), ("paper", False)):
        model = make(DLFAModel, fusion_layer=1, fusion_gate=gate).eval()
        weight = model.fusion.aif(W, mask)
        assert bool(((weight >= 0) & (weight <= 1)).all()) is bounded


def test_baseline_has_no_fusion_module():
    model = make(DLFAForSequenceClassification, fusion_layer=None)
    assert model.dlfa.fusion is None
    assert not any("fusion" in name for name, _ in model.named_parameters())


@pytest.mark.parametrize(
    ("bert_class", "dlfa_class"),
    [
        (BertForSequenceClassification, DLFAForSequenceClassification),
        (BertForTokenClassification, DLFAForTokenClassification),
    ],
)
def test_baseline_equals_the_plain_bert_head(tmp_path, bert_class, dlfa_class):
    torch.manual_seed(0)
    config = tiny_dlfa_config("bert", fusion_layer=None).backbone_config
    config.num_labels = 3
    bert = bert_class(config).eval()
    bert.save_pretrained(tmp_path)
    dlfa, info = dlfa_class.from_backbone(tmp_path, fusion_layer=None, num_labels=3, output_loading_info=True)
    assert info["missing_keys"] == set() or not info["missing_keys"]
    dlfa.eval()
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = dlfa(input_ids=input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(actual, expected, atol=0, rtol=0)


@pytest.mark.parametrize("model_type", BACKBONES)
def test_hidden_states_and_attentions_are_the_backbone_outputs(model_type):
    model = make(DLFAForSequenceClassification, model_type, fusion_layer=1, attn_implementation="eager")
    model.config._attn_implementation = "eager"
    model.eval()
    backbone = model.dlfa.backbone
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    with torch.no_grad():
        ours = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=True,
            output_attentions=True,
        )
        theirs = backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=True,
            output_attentions=True,
        )
        plain = model(input_ids=input_ids, attention_mask=attention_mask)
    assert len(ours.hidden_states) == len(theirs.hidden_states)
    for a, b in zip(ours.hidden_states, theirs.hidden_states, strict=True):
        torch.testing.assert_close(a, b)
    assert len(ours.attentions) == len(theirs.attentions) == 3
    for a, b in zip(ours.attentions, theirs.attentions, strict=True):
        torch.testing.assert_close(a, b)
    assert plain.hidden_states is None and plain.attentions is None


@pytest.mark.parametrize("model_type", BACKBONES)
@pytest.mark.parametrize(
    ("fusion_layer", "selection", "kept"),
    [(1, [0, 2, -1], {0, 2, 3}), (2, [1], {1}), (None, [-2, 0], {0, 2}), (1, 3, {3}), (1, [], set())],
)
def test_output_hidden_states_selects_layers_by_index(model_type, fusion_layer, selection, kept):
    # As transformers 5 models do: all hidden states' slots, None where not selected; the fused layer is
    # computed for the fusion either way but returned only when asked for.
    model = make(DLFAForTokenClassification, model_type, fusion_layer=fusion_layer).eval()
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    with torch.no_grad():
        everything = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        selected = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=selection)
    torch.testing.assert_close(selected.logits, everything.logits, atol=0, rtol=0)
    if not kept:
        assert selected.hidden_states is None
        return
    assert len(selected.hidden_states) == len(everything.hidden_states) == 4
    for index, (state, full) in enumerate(zip(selected.hidden_states, everything.hidden_states, strict=True)):
        if index in kept:
            torch.testing.assert_close(state, full, atol=0, rtol=0)
        else:
            assert state is None, f"hidden_states[{index}] was not selected by {selection}"


def test_sequence_problem_types():
    model = make(DLFAForSequenceClassification, fusion_layer=1, num_labels=3).train()
    input_ids, attention_mask = random_batch()
    single = model(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 1, 2]))
    assert model.config.problem_type == "single_label_classification" and single.loss.ndim == 0
    model.config.problem_type = None
    multi = model(input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([[1.0, 0, 1]] * 3))
    assert model.config.problem_type == "multi_label_classification" and torch.isfinite(multi.loss)
    regression = make(DLFAForSequenceClassification, fusion_layer=1, num_labels=1).train()
    output = regression(
        input_ids=input_ids, attention_mask=attention_mask, labels=torch.tensor([0.5, 1.0, -1.0])
    )
    assert regression.config.problem_type == "regression" and output.logits.shape == (3, 1)


def test_token_loss_ignores_minus_100():
    model = make(DLFAForTokenClassification, fusion_layer=1, dropout=0.0).eval()
    input_ids, attention_mask = random_batch(1, 8)
    labels = torch.full_like(input_ids, -100)
    labels[0, 2] = 1
    output = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    expected = torch.nn.functional.cross_entropy(output.logits[0, 2:3], torch.tensor([1]))
    torch.testing.assert_close(output.loss, expected)


def test_backbone_is_built_without_its_own_pooler():
    model = make(DLFAModel, "bert", fusion_layer=1)
    assert getattr(model.backbone, "pooler", None) is None
    assert isinstance(model.backbone, type(AutoModel.from_config(model.config.backbone_config)))


def test_inputs_the_backbone_does_not_take_are_refused():
    model = make(DLFAForSequenceClassification, "distilbert", fusion_layer=1)
    input_ids, attention_mask = random_batch()
    with pytest.raises(ValueError, match="DistilBertModel does not take token_type_ids"):
        model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids))
