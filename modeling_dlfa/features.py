"""Tokenization of the internal data format into model features, done once and cached on disk.

Sentence tasks: `input_ids`, `attention_mask` (and `token_type_ids` where the tokenizer makes them), `labels`.
Tagging tasks: the same with one label per sub-token: the word's tag on one sub-token (its label piece, see
LABEL_PIECES), -100 on the rest and on special tokens, plus `word_ids` (-1 for none) to map predictions back to
words; with `label_all_tokens` (training features only) a word's other pieces carry its tag too, B-X as I-X.
A sentence longer than max_seq_length is split at word boundaries into windows that fit, one row each; only a
single word longer than a whole window is cut (and that row counted as `truncated`).
Every row carries `example_id` (its example's index), `length` (for length-sorted evaluation) and `truncated`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_path

if TYPE_CHECKING:
    import datasets

    from .task_kinds import Task

logger = logging.getLogger(__name__)

# Part of every cache key: bump when the features change meaning.
FEATURES_VERSION = 2
IGNORE_INDEX = -100
MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels")
# Which sub-token of a word carries its label (and its prediction). "first" is XTREME's rule. Sentencepiece
# vocabularies (XLM-R, e5) often split a pre-split CJK word into a bare "▁" and its characters; the bare
# piece is the same token for every word, so "first_with_text" skips it when the word has more pieces.
LABEL_PIECES = ("first_with_text", "first")
SENTENCEPIECE_MARKER = "\u2581"


def default_cache_dir() -> Path:
    return Path(os.environ.get("DLFA_FEATURES_CACHE", Path.home() / ".cache" / "modeling_dlfa" / "features"))


def encode_pairs(
    batch: dict, indices: list[int], tokenizer, max_length: int, padding, pair: bool = True
) -> dict:
    second = batch["text_b"] if pair else None
    encoded = tokenizer(batch["text_a"], second, truncation=True, max_length=max_length, padding=padding)
    encoded["labels"] = batch["label"]
    encoded["example_id"] = list(indices)
    # Fast tokenizers keep what truncation cut off in `overflowing`.
    encoded["truncated"] = [bool(encoding.overflowing) for encoding in encoded.encodings]
    return dict(encoded)


def _windows(word_ids: list[int | None], num_words: int, budget: int) -> list[tuple[int, int]]:
    """(first word, end word) of each window: whole words packed greedily into at most `budget` pieces."""
    pieces = [0] * num_words
    for word in word_ids:
        if word is not None:
            pieces[word] += 1
    windows, start, used = [], 0, 0
    for word, count in enumerate(pieces):
        if used + count > budget and word > start:
            windows.append((start, word))
            start, used = word, 0
        used += count
    windows.append((start, num_words))
    return windows


def _label_positions(tokens: list[str], word_ids: list[int | None], label_piece: str) -> dict[int, int]:
    """word -> the position of its label piece in one encoded row."""
    positions: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            positions.setdefault(word, []).append(position)
    chosen = {}
    for word, at in positions.items():
        first = at[0]
        if label_piece == "first_with_text" and len(at) > 1 and tokens[first] == SENTENCEPIECE_MARKER:
            first = at[1]
        chosen[word] = first
    return chosen


def inside_tags(labels: Sequence[str]) -> list[int]:
    """Per tag id, the tag of a word's pieces other than its label piece under label_all_tokens: as run_ner.py,
    B-X becomes I-X where the tag set has I-X; any other tag stays."""
    return [
        labels.index(f"I-{label[2:]}") if label.startswith("B-") and f"I-{label[2:]}" in labels else tag
        for tag, label in enumerate(labels)
    ]


def encode_words(
    batch: dict,
    indices: list[int],
    tokenizer,
    max_length: int,
    padding,
    label_piece,
    other_piece_tags: Sequence[int] | None = None,
) -> dict:
    # other_piece_tags (see inside_tags): also label a word's other pieces, with other_piece_tags[its tag].
    # Pieces per word first (is_split_into_words tokenizes every word on its own, so a word's pieces do not
    # depend on its neighbours), then each window of whole words encoded with its special tokens.
    budget = max(1, max_length - tokenizer.num_special_tokens_to_add(pair=False))
    whole = tokenizer(batch["tokens"], is_split_into_words=True, add_special_tokens=False, verbose=False)
    words, tags, example_ids, offsets = [], [], [], []
    for row, tokens in enumerate(batch["tokens"]):
        for start, end in _windows(whole.word_ids(row), len(tokens), budget):
            words.append(tokens[start:end])
            tags.append(batch["tags"][row][start:end])
            example_ids.append(indices[row])
            offsets.append(start)
    encoded = tokenizer(
        words, is_split_into_words=True, truncation=True, max_length=max_length, padding=padding
    )
    encoded["labels"], encoded["word_ids"] = [], []
    for row, offset in enumerate(offsets):
        word_ids = encoded.word_ids(row)
        label_positions = set(_label_positions(encoded.tokens(row), word_ids, label_piece).values())
        labels = []
        for position, word in enumerate(word_ids):
            if position in label_positions:
                labels.append(tags[row][word])
            elif word is not None and other_piece_tags is not None:
                labels.append(other_piece_tags[tags[row][word]])
            else:
                labels.append(IGNORE_INDEX)
        encoded["labels"].append(labels)
        # Global word indices: predictions map back to the whole sentence.
        encoded["word_ids"].append([-1 if word is None else word + offset for word in word_ids])
    encoded["example_id"] = example_ids
    # Only a word longer than a whole window on its own is cut.
    encoded["truncated"] = [bool(encoding.overflowing) for encoding in encoded.encodings]
    return dict(encoded)


def _encode(
    batch: dict,
    indices: list[int],
    task: Task,
    tokenizer,
    max_length: int,
    padding,
    label_piece,
    label_all_tokens: bool,
) -> dict:
    encoded = task.encode(batch, indices, tokenizer, max_length, padding, label_piece, label_all_tokens)
    encoded["length"] = [sum(mask) for mask in encoded["attention_mask"]]
    return encoded


def cache_key(
    task: Task,
    dataset: datasets.Dataset,
    tokenizer,
    max_length: int,
    pad_to_max_length: bool,
    label_piece: str = LABEL_PIECES[0],
    label_all_tokens: bool = False,
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
        "label_piece": label_piece,
        # Only when set: the keys of features cached before the flag existed still hold.
        **({"label_all_tokens": True} if label_all_tokens else {}),
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
    label_piece: str = LABEL_PIECES[0],
    label_all_tokens: bool = False,
    num_proc: int | None = None,
) -> datasets.Dataset:
    """Features for `dataset`, from the on-disk cache when the same data was tokenized the same way before.
    `label_all_tokens` is for training features only: scoring reads each word at its one labelled piece."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{tokenizer.name_or_path}: a fast (Rust) tokenizer is needed for word alignment")
    if label_piece not in LABEL_PIECES:
        raise ValueError(f"label_piece {label_piece!r} is not one of {', '.join(LABEL_PIECES)}")
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(task, dataset, tokenizer, max_length, pad_to_max_length, label_piece, label_all_tokens)
    path = cache_dir / key
    if path.is_dir() and not overwrite_cache:
        # Imported here: run_glue_x.py --help reads LABEL_PIECES from this module and needs no datasets.
        import datasets

        features = datasets.load_from_disk(str(path))
    else:
        padding = "max_length" if pad_to_max_length else False
        features = dataset.map(
            _encode,
            batched=True,
            with_indices=True,
            fn_kwargs={
                "task": task,
                "tokenizer": tokenizer,
                "max_length": max_length,
                "padding": padding,
                "label_piece": label_piece,
                "label_all_tokens": label_all_tokens,
            },
            remove_columns=dataset.column_names,
            num_proc=num_proc,
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
    split, truncated = num_split_examples(features), num_truncated_examples(features)
    if split:
        logger.info(
            "%s: %d of %d examples are longer than max_seq_length=%d and were split into windows",
            description or "data",
            split,
            len(dataset),
            max_length,
        )
    if truncated:
        logger.warning(
            "%s: %d of %d examples are longer than max_seq_length=%d and were truncated",
            description or "data",
            truncated,
            len(dataset),
            max_length,
        )
    return features


def num_split_examples(features: datasets.Dataset) -> int:
    """Examples spread over more than one row (the windows of a long sentence)."""
    rows = np.bincount(np.asarray(features["example_id"], dtype=np.int64))
    return int((rows > 1).sum())


def num_truncated_examples(features: datasets.Dataset) -> int:
    """Examples with a row cut at max_seq_length (a pair too long; a word longer than a whole window)."""
    example_ids = np.asarray(features["example_id"], dtype=np.int64)
    return len(set(example_ids[np.asarray(features["truncated"], dtype=bool)].tolist()))
