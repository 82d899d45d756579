"""The Hugging Face machinery around the DLFA heads: Trainer (with activation checkpointing), attention
implementations, torch.compile, save/load of the BatchNorm statistics, output flags and tuples, the refusal of
pickle checkpoints and token-embedding resizing."""

import copy
import functools
import random
from dataclasses import dataclass

import pytest
import torch
import transformers.modeling_utils as modeling_utils
from datasets import Dataset
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertTokenizerFast,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification, DLFAForTokenClassification
from modeling_dlfa.modeling_dlfa import DLFAMaskedBatchNorm1d

from .conftest import TINY_VOCAB, random_batch, tiny_backbone_config, tiny_dlfa_config

HEADS = [DLFAForSequenceClassification, DLFAForTokenClassification]
BERT_HEADS = {
    DLFAForSequenceClassification: BertForSequenceClassification,
    DLFAForTokenClassification: BertForTokenClassification,
}
TRAINER_LAYERS = 2
TRAINER_STEPS = 8
FILLER_WORDS = ["the", "a", "is", "not", "dog", "house", "red", "blue", "big"]


@pytest.fixture(autouse=True)
def one_thread():
    # These models are tiny: a second intra-op thread buys nothing, and when other jobs share the two cores its
    # spin-waiting makes every step some 40x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def batch_norms(model):
    norms = {
        name: module for name, module in model.named_modules() if isinstance(module, DLFAMaskedBatchNorm1d)
    }
    assert len(norms) == 4  # reduce/expand norms of the global and the local branch
    return norms


def labels_for(head, input_ids):
    generator = torch.Generator().manual_seed(1)
    if head is DLFAForSequenceClassification:
        return torch.randint(0, 3, input_ids.shape[:1], generator=generator)
    return torch.randint(0, 3, input_ids.shape, generator=generator)


def with_aligned_storage(model):
    """`model` with every parameter and buffer copied into fresh (64-byte aligned) memory.

    from_pretrained leaves tensors at the offsets they have in the memory-mapped file; CPU kernels may then take
    another vectorised path and round the last bit differently (seen: 2e-7 on the fused layer). Bitwise
    comparisons with the original model are only meaningful on equally aligned storage."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.data = parameter.data.clone()
        for module in model.modules():
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    module._buffers[name] = buffer.clone()
    return model


def train_a_few_steps(model, steps=3):
    """Plain AdamW steps on padded batches, so that the BatchNorm running statistics are not the initial 0/1."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps):
        input_ids, attention_mask = random_batch(4, 14, pad_rows={0: 6, 2: 10}, seed=step)
        labels = labels_for(type(model), input_ids)
        model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


# --------------------------------------------------------------------------------------------------------------
# Trainer


@pytest.fixture(scope="module")
def tokenizer():
    # Not conftest's save_tiny_tokenizer: under transformers 5.x `BertTokenizerFast(vocab_file=...)` ignores the
    # file (the v5 argument is `vocab=`), so that tokenizer maps every word to [UNK] and nothing is learnable.
    tokenizer = BertTokenizerFast(
        vocab={token: index for index, token in enumerate(TINY_VOCAB)},
        do_lower_case=True,
        model_max_length=64,
    )
    assert tokenizer.tokenize("the cat") == ["the", "cat"]
    return tokenizer


def toy_dataset(head, tokenizer, size=8):
    """Sentences of 3-9 filler words, every second one with two "cat"s: the label says which (sequence), or which
    tokens are cats (token). The raw `text` column stays in: the Trainer must drop it by reading `forward`."""
    rng = random.Random(0)
    texts = []
    for index in range(size):
        words = [rng.choice(FILLER_WORDS) for _ in range(rng.randint(3, 9))]
        if index % 2:
            for position in rng.sample(range(len(words)), 2):
                words[position] = "cat"
        texts.append(" ".join(words))
    encoded = tokenizer(texts)
    if head is DLFAForSequenceClassification:
        labels = [int("cat" in text.split()) for text in texts]
    else:
        cat, special = tokenizer.convert_tokens_to_ids("cat"), set(tokenizer.all_special_ids)
        labels = [[-100 if i in special else int(i == cat) for i in ids] for ids in encoded["input_ids"]]
    return Dataset.from_dict({"text": texts, **encoded, "labels": labels})


def trainer_model(head):
    torch.manual_seed(0)
    # initializer_range 0.2 instead of BERT's 0.02: from 0.02 a random encoder's [CLS] needs tens of steps before it
    # tells sentences apart; with 0.2 the toy task shows within the few steps a unit test can afford.
    backbone = tiny_backbone_config(num_layers=TRAINER_LAYERS, dropout=0.0, initializer_range=0.2)
    return head(DLFAConfig(backbone_config=backbone, fusion_layer=1, num_labels=2, classifier_dropout=0.0))


@dataclass
class TrainerRun:
    model: torch.nn.Module
    initial_state: dict
    losses: list
    eval_loss_before: float
    eval_loss_after: float


def run_trainer(head, tokenizer, output_dir, **arguments) -> TrainerRun:
    model = trainer_model(head)
    initial_state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    dataset = toy_dataset(head, tokenizer)
    collator = (
        DataCollatorWithPadding(tokenizer)
        if head is DLFAForSequenceClassification
        else DataCollatorForTokenClassification(tokenizer)
    )
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=TRAINER_STEPS,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=8,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        **arguments,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=collator, processing_class=tokenizer
    )
    before = trainer.evaluate(dataset)["eval_loss"]
    trainer.train()
    after = trainer.evaluate(dataset)["eval_loss"]
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return TrainerRun(model, initial_state, losses, before, after)


@pytest.fixture(scope="module")
def plain_trainer_run(tokenizer, tmp_path_factory):
    """One Trainer run per head without activation checkpointing, shared by the tests that compare against it."""
    runs = {}

    def get(head):
        if head not in runs:
            runs[head] = run_trainer(head, tokenizer, tmp_path_factory.mktemp("trainer"))
        return runs[head]

    return get


@pytest.mark.parametrize("head", HEADS)
def test_trainer_learns_the_toy_task(head, plain_trainer_run):
    run = plain_trainer_run(head)
    assert len(run.losses) == TRAINER_STEPS
    assert all(torch.isfinite(torch.tensor(run.losses)))
    # Loss over the whole (training) set, eval mode, before and after: it must go down clearly.
    assert run.eval_loss_after < 0.75 * run.eval_loss_before, (run.eval_loss_before, run.eval_loss_after)
    # Every parameter tensor moved: backbone, fusion module, pooler and classifier alike.
    unchanged = [
        name
        for name, parameter in run.model.named_parameters()
        if torch.equal(parameter.detach(), run.initial_state[name])
    ]
    assert unchanged == []
    # The BatchNorm running statistics moved once per training step, and never in evaluation.
    for name, norm in batch_norms(run.model).items():
        assert norm.num_batches_tracked.item() == TRAINER_STEPS, name
        assert not torch.equal(norm.running_mean, run.initial_state[f"{name}.running_mean"]), name
        assert not torch.equal(norm.running_var, run.initial_state[f"{name}.running_var"]), name
        assert norm.running_mean.abs().sum() > 0, name


@pytest.mark.parametrize("argument", ["activation_checkpointing", "gradient_checkpointing"])
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")
def test_trainer_activation_checkpointing_reaches_the_encoder_layers(
    head, argument, plain_trainer_run, tokenizer, tmp_path, monkeypatch
):
    # `gradient_checkpointing` is the 5.x deprecated alias of `activation_checkpointing`; both must work.
    calls = []
    original = modeling_utils.checkpoint

    def counting_checkpoint(function, *args, **kwargs):
        # GradientCheckpointingLayer checkpoints `partial(forward, layer, **kwargs)`.
        is_partial = isinstance(function, functools.partial) and function.args
        calls.append(function.args[0] if is_partial else getattr(function, "__self__", function))
        return original(function, *args, **kwargs)

    # activation_checkpointing_enable binds `transformers.modeling_utils.checkpoint` when the Trainer calls it.
    monkeypatch.setattr(modeling_utils, "checkpoint", counting_checkpoint)
    run = run_trainer(head, tokenizer, tmp_path, **{argument: True})
    model = run.model
    assert model.is_activation_checkpointing
    layers = list(model.dlfa.backbone.encoder.layer)
    assert len(layers) == TRAINER_LAYERS
    assert all(layer.gradient_checkpointing for layer in layers)
    # Really checkpointed: each encoder layer went through torch.utils.checkpoint once per training step.
    assert len(calls) == TRAINER_STEPS * TRAINER_LAYERS
    assert {id(module) for module in calls} == {id(layer) for layer in layers}
    # Same maths as without checkpointing (dropout is 0): same loss at step 1 and after it.
    plain = plain_trainer_run(head)
    assert run.losses[0] == pytest.approx(plain.losses[0], abs=1e-6)
    assert run.losses == pytest.approx(plain.losses, abs=1e-5)
    # The backward recomputation must not update the BatchNorm statistics a second time.
    for name, norm in batch_norms(model).items():
        assert norm.num_batches_tracked.item() == TRAINER_STEPS, name


# --------------------------------------------------------------------------------------------------------------
# Attention implementations


@pytest.fixture
def requested_attention(monkeypatch):
    """Records which attention implementation the backbone's layers ask for at run time."""
    seen = []
    get_interface = ALL_ATTENTION_FUNCTIONS.get_interface

    def recording(attn_implementation, default):
        seen.append(attn_implementation)
        return get_interface(attn_implementation, default)

    monkeypatch.setattr(ALL_ATTENTION_FUNCTIONS, "get_interface", recording)
    return seen


def logits_and_fused(model, input_ids, attention_mask):
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        # Tiny random heads give logits near 0: the O(1) fused layer is compared too.
        fused = model.dlfa(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return logits, fused


@pytest.mark.parametrize("head", HEADS)
def test_eager_and_sdpa_attention_agree(head, tiny_bert_dir, tmp_path, requested_attention):
    input_ids, attention_mask = random_batch(3, 12, pad_rows={0: 5, 2: 8}, seed=3)
    results = {}
    reference_state = None
    for implementation in ("eager", "sdpa"):
        torch.manual_seed(0)
        model = head.from_backbone(
            tiny_bert_dir, fusion_layer=1, num_labels=3, attn_implementation=implementation
        )
        if reference_state is None:
            reference_state = model.state_dict()
        model.load_state_dict(reference_state)  # same fusion and classifier weights in both
        model.eval()
        assert model.config._attn_implementation == implementation
        assert model.dlfa.backbone.config._attn_implementation == implementation
        requested_attention.clear()
        results[implementation] = logits_and_fused(model, input_ids, attention_mask)
        assert set(requested_attention) == {implementation}
        if implementation == "eager":
            model.save_pretrained(tmp_path)
    for eager, sdpa in zip(results["eager"], results["sdpa"], strict=True):
        torch.testing.assert_close(sdpa, eager, atol=1e-5, rtol=0)

    # The same through from_pretrained of the saved DLFA folder.
    for implementation in ("eager", "sdpa"):
        loaded = head.from_pretrained(tmp_path, attn_implementation=implementation).eval()
        assert loaded.config._attn_implementation == implementation
        assert loaded.dlfa.backbone.config._attn_implementation == implementation
        requested_attention.clear()
        logits, fused = logits_and_fused(loaded, input_ids, attention_mask)
        assert set(requested_attention) == {implementation}
        torch.testing.assert_close(logits, results["eager"][0], atol=1e-5, rtol=0)
        torch.testing.assert_close(fused, results["eager"][1], atol=1e-5, rtol=0)


# --------------------------------------------------------------------------------------------------------------
# torch.compile


@pytest.mark.slow
def test_torch_compile_matches_eager_in_eval_and_in_a_train_step():
    # backend="aot_eager": dynamo tracing plus AOTAutograd (functionalised buffer updates, compiled backward),
    # without inductor's C++ code generation, which takes about two minutes for this model on two CPU cores.
    # This test takes some 10-20 s.
    torch._dynamo.reset()
    graphs = []
    aot_eager = torch._dynamo.lookup_backend("aot_eager")

    def counting_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return aot_eager(graph_module, example_inputs)

    torch.manual_seed(0)
    model = DLFAForSequenceClassification(
        tiny_dlfa_config(num_layers=2, fusion_layer=1, dropout=0.0, classifier_dropout=0.0)
    )
    reference = copy.deepcopy(model)
    compiled = torch.compile(model, backend=counting_backend)
    input_ids, attention_mask = random_batch(4, 10, pad_rows={1: 4, 3: 7}, seed=5)
    labels = torch.tensor([0, 1, 2, 1])

    def eval_logits():
        compiled.eval(), reference.eval()
        with torch.no_grad():
            actual = compiled(input_ids=input_ids, attention_mask=attention_mask).logits
            expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)

    try:
        eval_logits()
        assert graphs, "torch.compile compiled nothing"

        # One optimiser step in train mode, compiled and eager side by side.
        optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, reference)]
        compiled.train(), reference.train()
        actual = compiled(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        expected = reference(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        torch.testing.assert_close(actual.logits, expected.logits, atol=1e-4, rtol=0)
        torch.testing.assert_close(actual.loss, expected.loss, atol=1e-4, rtol=0)
        actual.loss.backward(), expected.loss.backward()
        reference_parameters = dict(reference.named_parameters())
        for name, parameter in model.named_parameters():
            assert parameter.grad is not None, name
            torch.testing.assert_close(parameter.grad, reference_parameters[name].grad, atol=1e-4, rtol=0)
        for optimizer in optimizers:
            optimizer.step()
        # The in-place BatchNorm updates happened inside the compiled graph too.
        reference_buffers = dict(reference.named_buffers())
        for name, buffer in model.named_buffers():
            torch.testing.assert_close(buffer, reference_buffers[name], atol=1e-5, rtol=0, msg=name)
        assert batch_norms(model)["dlfa.fusion.aif.local_context.reduce_norm"].num_batches_tracked.item() == 1

        # Eval again: the compiled graph must read the updated weights and running statistics.
        eval_logits()
    finally:
        torch._dynamo.reset()


# --------------------------------------------------------------------------------------------------------------
# save_pretrained / from_pretrained


@pytest.mark.parametrize("head", HEADS)
def test_save_and_load_keeps_outputs_and_batch_norm_statistics(head, tmp_path):
    torch.manual_seed(0)
    model = train_a_few_steps(head(tiny_dlfa_config(num_layers=2, fusion_layer=1)), steps=3)
    norms = batch_norms(model)
    for name, norm in norms.items():
        assert norm.running_mean.abs().sum() > 0, name
        assert not torch.equal(norm.running_var, torch.ones_like(norm.running_var)), name
    model.save_pretrained(tmp_path)
    files = {path.name for path in tmp_path.iterdir()}
    assert "model.safetensors" in files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files), files
    saved = load_file(tmp_path / "model.safetensors")
    for name, norm in norms.items():
        assert torch.equal(saved[f"{name}.running_mean"], norm.running_mean), name
        assert torch.equal(saved[f"{name}.running_var"], norm.running_var), name

    loaded = head.from_pretrained(tmp_path)
    assert not loaded.training  # inference uses the running statistics
    loaded_state = loaded.state_dict()
    assert set(loaded_state) == set(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded_state[name], tensor), name
    for name, norm in batch_norms(loaded).items():
        assert torch.equal(norm.running_mean, norms[name].running_mean), name
        assert torch.equal(norm.running_var, norms[name].running_var), name
        assert norm.num_batches_tracked.item() == 3, name

    input_ids, attention_mask = random_batch(3, 11, pad_rows={1: 4}, seed=7)
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits
        as_loaded = loaded(input_ids=input_ids, attention_mask=attention_mask).logits
        actual = with_aligned_storage(loaded)(input_ids=input_ids, attention_mask=attention_mask).logits
    torch.testing.assert_close(as_loaded, expected, atol=1e-6, rtol=0)
    assert torch.equal(actual, expected)


# --------------------------------------------------------------------------------------------------------------
# Output flags and tuples


def eager_model(head):
    torch.manual_seed(0)
    return head(tiny_dlfa_config(num_layers=3, fusion_layer=1, attn_implementation="eager")).eval()


@pytest.mark.parametrize("head", HEADS)
def test_output_flags_as_forward_arguments(head):
    model = eager_model(head)
    assert model.dlfa.backbone.config._attn_implementation == "eager"
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    with torch.no_grad():
        plain = model(input_ids=input_ids, attention_mask=attention_mask)
        both = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=True,
            output_attentions=True,
        )
        hidden_only = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    assert plain.hidden_states is None and plain.attentions is None
    assert len(both.hidden_states) == 4 and len(both.attentions) == 3
    assert both.attentions[0].shape == (3, 2, 12, 12)
    assert len(hidden_only.hidden_states) == 4 and hidden_only.attentions is None
    torch.testing.assert_close(both.logits, plain.logits)


@pytest.mark.parametrize("head", HEADS)
def test_output_hidden_states_from_the_config(head):
    model = eager_model(head)
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    model.config.output_hidden_states = True
    with torch.no_grad():
        from_config = model(input_ids=input_ids, attention_mask=attention_mask)
        overridden = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=False)
    assert from_config.hidden_states is not None and len(from_config.hidden_states) == 4
    assert overridden.hidden_states is None  # the forward argument wins over the config


@pytest.mark.parametrize("head", HEADS)
def test_output_attentions_from_the_config(head):
    model = eager_model(head)
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    model.config.output_attentions = True
    with torch.no_grad():
        from_config = model(input_ids=input_ids, attention_mask=attention_mask)
        overridden = model(input_ids=input_ids, attention_mask=attention_mask, output_attentions=False)
    # As BertFor...: `config.output_attentions = True` returns the attentions without a forward argument.
    assert from_config.attentions is not None and len(from_config.attentions) == 3
    assert overridden.attentions is None


def tuple_layout(output):
    return [
        tuple(item.shape) if isinstance(item, torch.Tensor) else (type(item).__name__, len(item))
        for item in output
    ]


@pytest.mark.parametrize("head", HEADS)
def test_return_dict_false_gives_the_tuple_a_bert_head_gives(head):
    model = eager_model(head)
    backbone_config = copy.deepcopy(model.config.backbone_config)
    backbone_config.num_labels = 3
    bert = BERT_HEADS[head](backbone_config).eval()
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    labels = labels_for(head, input_ids)
    cases = [
        {},
        {"labels": labels},
        {"labels": labels, "output_hidden_states": True},
        {"labels": labels, "output_hidden_states": True, "output_attentions": True},
    ]
    for case in cases:
        with torch.no_grad():
            ours = model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False, **case)
            theirs = bert(input_ids=input_ids, attention_mask=attention_mask, return_dict=False, **case)
            as_dict = model(input_ids=input_ids, attention_mask=attention_mask, **case)
        assert isinstance(ours, tuple), case
        assert tuple_layout(ours) == tuple_layout(theirs), case
        if "labels" in case:
            assert ours[0].ndim == 0  # the loss comes first
            torch.testing.assert_close(ours[0], as_dict.loss)
            torch.testing.assert_close(ours[1], as_dict.logits)
        else:
            torch.testing.assert_close(ours[0], as_dict.logits)


@pytest.mark.parametrize("head", HEADS)
def test_return_dict_false_from_the_config(head):
    model = eager_model(head)
    input_ids, attention_mask = random_batch(pad_rows={0: 6})
    labels = labels_for(head, input_ids)
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        model.config.return_dict = False
        output = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    assert isinstance(output, tuple) and len(output) == 2
    torch.testing.assert_close(output[0], expected.loss)
    torch.testing.assert_close(output[1], expected.logits)


# --------------------------------------------------------------------------------------------------------------
# Pickle checkpoints


@pytest.mark.parametrize("loader", [DLFAForSequenceClassification, AutoModelForSequenceClassification])
def test_pickle_only_checkpoint_is_refused_unless_opted_in(loader, tmp_path):
    torch.manual_seed(0)
    model = train_a_few_steps(DLFAForSequenceClassification(tiny_dlfa_config(num_layers=2, fusion_layer=1)))
    # transformers 5.x's save_pretrained no longer writes pickle (it ignores safe_serialization=False), so the
    # legacy layout is written by hand: config.json plus a torch.save'd state dict.
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    assert not list(tmp_path.glob("*.safetensors"))

    with pytest.raises(OSError, match="use_safetensors=False"):
        loader.from_pretrained(tmp_path)

    loaded = with_aligned_storage(loader.from_pretrained(tmp_path, use_safetensors=False))
    assert isinstance(loaded, DLFAForSequenceClassification)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    input_ids, attention_mask = random_batch(pad_rows={2: 5})
    with torch.no_grad():
        assert torch.equal(
            loaded.eval()(input_ids=input_ids, attention_mask=attention_mask).logits,
            model(input_ids=input_ids, attention_mask=attention_mask).logits,
        )


# --------------------------------------------------------------------------------------------------------------
# Token embeddings


@pytest.mark.parametrize("head", HEADS)
def test_input_embeddings_are_the_backbone_word_embeddings(head):
    model = eager_model(head)
    word_embeddings = model.dlfa.backbone.embeddings.word_embeddings
    assert model.get_input_embeddings() is word_embeddings
    assert model.dlfa.get_input_embeddings() is word_embeddings
    replacement = torch.nn.Embedding(128, 32)
    model.set_input_embeddings(replacement)
    assert model.dlfa.backbone.embeddings.word_embeddings is replacement
    assert model.get_input_embeddings() is replacement


@pytest.mark.parametrize("head", HEADS)
def test_resize_token_embeddings(head, tmp_path):
    model = eager_model(head)
    old = model.get_input_embeddings().weight.detach().clone()
    resized = model.resize_token_embeddings(140)
    assert resized is model.get_input_embeddings() is model.dlfa.backbone.embeddings.word_embeddings
    assert resized.weight.shape == (140, 32)
    assert torch.equal(resized.weight[:128].detach(), old)
    input_ids, attention_mask = random_batch(2, 8)
    input_ids[0, 3] = 139  # one of the new tokens
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits
    assert torch.isfinite(expected).all()
    # The vocabulary size belongs to the backbone's config: it is what a reload builds the embeddings from.
    assert model.config.backbone_config.vocab_size == 140
    model.save_pretrained(tmp_path)
    # The attention implementation is not saved: ask for the one the model was built with.
    loaded = with_aligned_storage(head.from_pretrained(tmp_path, attn_implementation="eager"))
    assert loaded.get_input_embeddings().weight.shape == (140, 32)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=input_ids, attention_mask=attention_mask).logits, expected)
