"""Shared fixtures: tiny randomly initialised encoders and a tiny WordPiece tokenizer, all built offline."""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

# Hub access is never needed by the tests; make an accidental fetch fail fast instead of hanging. Set before
# anything imports huggingface_hub, which reads it once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import AutoConfig, AutoModel, BertTokenizerFast  # noqa: E402

from modeling_dlfa import DLFAConfig  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Tokenized features of test runs go to a throwaway cache, not the user's.
os.environ.setdefault("DLFA_FEATURES_CACHE", tempfile.mkdtemp(prefix="dlfa-features-"))
# Tiny models gain nothing from a second thread, and lose a lot when the cores are shared.
torch.set_num_threads(1)

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_VOCAB += list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase]
TINY_VOCAB += list(string.digits) + list(".,!?'-:;()\"")
TINY_VOCAB += ["the", "a", "is", "not", "cat", "dog", "house", "red", "blue", "big"]


def tiny_backbone_config(model_type: str = "bert", num_layers: int = 3, dropout: float = 0.1, **overrides):
    """A hidden-32 encoder config of the given type (bert, xlm-roberta, distilbert, deberta-v2)."""
    vocab = 128
    if model_type == "distilbert":
        fields = dict(
            dim=32,
            n_layers=num_layers,
            n_heads=2,
            hidden_dim=64,
            vocab_size=vocab,
            max_position_embeddings=64,
            dropout=dropout,
            attention_dropout=dropout,
        )
    else:
        fields = dict(
            hidden_size=32,
            num_hidden_layers=num_layers,
            num_attention_heads=2,
            intermediate_size=64,
            vocab_size=vocab,
            max_position_embeddings=64,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
        )
    if model_type == "xlm-roberta":
        fields.update(pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=80)
    if model_type == "deberta-v2":
        # mDeBERTa-v3's attention layout: relative positions, no absolute position embeddings.
        fields.update(
            relative_attention=True,
            position_biased_input=False,
            pos_att_type=["p2c", "c2p"],
            max_relative_positions=-1,
            position_buckets=16,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            type_vocab_size=0,
        )
    fields.update(overrides)
    return AutoConfig.for_model(model_type, **fields)


def tiny_dlfa_config(model_type: str = "bert", fusion_layer: int | None = 1, num_labels: int = 3, **kwargs):
    backbone_kwargs = {k: kwargs.pop(k) for k in ("num_layers", "dropout") if k in kwargs}
    return DLFAConfig(
        backbone_config=tiny_backbone_config(model_type, **backbone_kwargs),
        fusion_layer=fusion_layer,
        num_labels=num_labels,
        **kwargs,
    )


def random_batch(
    batch_size: int = 3, length: int = 12, pad_rows: dict[int, int] | None = None, seed: int = 0
):
    """input_ids and attention_mask; pad_rows maps row -> number of real tokens."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 128, (batch_size, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row, real in (pad_rows or {}).items():
        input_ids[row, real:] = 0
        attention_mask[row, real:] = 0
    return input_ids, attention_mask


def save_tiny_tokenizer(directory: Path) -> BertTokenizerFast:
    directory.mkdir(parents=True, exist_ok=True)
    # transformers 5 builds the fast tokenizer from `vocab` (a vocab_file argument is ignored).
    tokenizer = BertTokenizerFast(
        vocab={token: index for index, token in enumerate(TINY_VOCAB)},
        do_lower_case=True,
        model_max_length=64,
    )
    assert tokenizer.tokenize("the cat") == ["the", "cat"]
    tokenizer.save_pretrained(directory)
    return tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_tokenizer")
    save_tiny_tokenizer(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A plain 'pretrained' BERT folder (weights + tokenizer), like a downloaded mBERT, but tiny and random."""
    directory = tmp_path_factory.mktemp("tiny_bert")
    torch.manual_seed(0)
    AutoModel.from_config(tiny_backbone_config("bert", num_layers=3)).save_pretrained(directory)
    save_tiny_tokenizer(directory)
    return directory
