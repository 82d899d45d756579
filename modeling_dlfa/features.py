"""Tokenization of the internal data format into model features, done once and cached on disk.

Sentence tasks: `input_ids`, `attention_mask` (and `token_type_ids` where the tokenizer makes them), `labels`.
Tagging tasks: the same with one label per sub-token: the word's tag on its first sub-token, -100 on the rest
and on special tokens (XTREME's recipe), plus `word_ids` (-1 for none) to map predictions back to words.
Every example also carries `length` (for length-sorted evaluation) and `truncated`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import datasets

from .atomic import atomic_path
from .tasks import SEQUENCE, Task

logger = logging.getLogger(__name__)

# Part of every cache key: bump when the features change meaning.
FEATURES_VERSION = 1
IGNORE_INDEX = -100
MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def default_cache_dir() -> Path:
    return Path(os.environ.get("DLFA_FEATURES_CACHE", Path.home() / ".cache" / "modeling_dlfa" / "features"))


def _encode_pairs(batch: dict, tokenizer, max_length: int, padding: bool | str) -> dict:
    encoded = tokenizer(
        batch["text_a"], batch["text_b"], truncation=True, max_length=max_length, padding=padding
    )
    encoded["labels"] = batch["label"]
    return encoded


def _encode_words(batch: dict, tokenizer, max_length: int, padding: bool | str) -> dict:
    encoded = tokenizer(
        batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length, padding=padding
    )
    encoded["labels"], encoded["word_ids"] = [], []
    for row, tags in enumerate(batch["tags"]):
        word_ids = encoded.word_ids(row)
        labels, previous = [], None
        for word in word_ids:
            first_sub_token = word is not None and word != previous
            labels.append(tags[word] if first_sub_token else IGNORE_INDEX)
            previous = word
        encoded["labels"].append(labels)
        encoded["word_ids"].append([-1 if word is None else word for word in word_ids])
    return encoded


def _encode(batch: dict, task: Task, tokenizer, max_length: int, padding: bool | str) -> dict:
    encode = _encode_pairs if task.kind == SEQUENCE else _encode_words
    encoded = encode(batch, tokenizer, max_length, padding)
    # Fast tokenizers keep what truncation cut off in `overflowing`.
    encoded["truncated"] = [bool(encoding.overflowing) for encoding in encoded.encodings]
    encoded["length"] = [sum(mask) for mask in encoded["attention_mask"]]
    return dict(encoded)


def cache_key(
    task: Task, dataset: datasets.Dataset, tokenizer, max_length: int, pad_to_max_length: bool
) -> str:
    identity = {
        "version": FEATURES_VERSION,
        "task": task.name,
        "labels": task.labels,
        "data": dataset._fingerprint,
        "tokenizer": [type(tokenizer).__name__, tokenizer.name_or_path, len(tokenizer)],
        "tokenizer_hash": hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest(),
        "max_length": max_length,
        "pad_to_max_length": pad_to_max_length,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


def tokenize(
    task: Task,
    dataset: datasets.Dataset,
    tokenizer,
    *,
    max_length: int,
    pad_to_max_length: bool = False,
    cache_dir: str | os.PathLike | None = None,
    overwrite_cache: bool = False,
    description: str = "",
) -> datasets.Dataset:
    """Features for `dataset`, from the on-disk cache when the same data was tokenized the same way before."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{tokenizer.name_or_path}: a fast (Rust) tokenizer is needed for word alignment")
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(task, dataset, tokenizer, max_length, pad_to_max_length)
    path = cache_dir / key
    if path.is_dir() and not overwrite_cache:
        features = datasets.load_from_disk(str(path))
    else:
        padding = "max_length" if pad_to_max_length else False
        features = dataset.map(
            _encode,
            batched=True,
            fn_kwargs={"task": task, "tokenizer": tokenizer, "max_length": max_length, "padding": padding},
            remove_columns=dataset.column_names,
            # Our key already identifies the result; datasets would otherwise pickle the tokenizer to hash it.
            new_fingerprint=key,
            desc=f"Tokenizing {description}".strip(),
        )
        try:
            with atomic_path(path) as tmp:
                features.save_to_disk(str(tmp))
        except OSError:
            # Another process wrote the same key meanwhile: the cache holds equal features already.
            if not path.is_dir():
                raise
    truncated = sum(features["truncated"])
    if truncated:
        logger.warning(
            "%s: %d of %d examples are longer than max_seq_length=%d and were truncated",
            description or "data",
            truncated,
            len(features),
            max_length,
        )
    return features
