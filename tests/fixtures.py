"""Small task files in the real formats, written by the tests (the words are in the tiny tokenizer's vocab)."""

from __future__ import annotations

import random
from pathlib import Path

# Flags for a short run_glue_x.py training on the tiny backbone.
FAST = [
    "--num_train_epochs",
    "1",
    "--per_device_train_batch_size",
    "8",
    "--learning_rate",
    "1e-3",
    "--seed",
    "7",
]
WORDS = ["the", "cat", "dog", "house", "is", "red", "blue", "big", "not", "a"]
NLI_LABELS = ("entailment", "neutral", "contradiction")
NER_TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
POS_TAGS = ("DET", "NOUN", "VERB", "ADJ", "PART")


def _sentence(rng: random.Random, low: int = 3, high: int = 9) -> list[str]:
    return [rng.choice(WORDS) for _ in range(rng.randint(low, high))]


def write_pairs(path: Path, count: int, seed: int = 0) -> Path:
    """XNLI-style TSV; the label follows a learnable rule (does the hypothesis contain "not"?)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        premise, hypothesis = _sentence(rng), _sentence(rng)
        label = "contradiction" if "not" in hypothesis else rng.choice(NLI_LABELS[:2])
        rows.append(f"{' '.join(premise)}\t{' '.join(hypothesis)}\t{label}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(rows), encoding="utf-8")
    return path


def write_tagged(path: Path, count: int, seed: int = 0, tags=NER_TAGS) -> Path:
    """XTREME token TSV: token<TAB>tag, blank line between sentences."""
    rng = random.Random(seed)
    blocks = []
    for _ in range(count):
        words = _sentence(rng)
        blocks.append("".join(f"{word}\t{rng.choice(tags)}\n" for word in words))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def write_conllu(path: Path, count: int, seed: int = 0) -> Path:
    """CoNLL-U with the parts real treebanks have: comments, a multi-word token range and an empty node."""
    rng = random.Random(seed)
    sentences = []
    for number in range(count):
        words = _sentence(rng)
        lines = [f"# sent_id = s{number}", f"# text = {' '.join(words)}"]
        for index, word in enumerate(words, start=1):
            if index == 2:
                lines.append(f"2-3\t{word}{word}\t_\t_\t_\t_\t_\t_\t_\t_")
            lines.append(f"{index}\t{word}\t{word}\t{rng.choice(POS_TAGS)}\t_\t_\t0\tdep\t_\t_")
            if index == 1:
                lines.append(f"1.1\t{word}\t{word}\tNOUN\t_\t_\t_\t_\t0:dep\t_")
        sentences.append("\n".join(lines) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    return path


def write_xnli_dir(directory: Path, languages=("de", "fr"), train: int = 32, dev: int = 12) -> Path:
    write_pairs(directory / "train-en.tsv", train, seed=1)
    write_pairs(directory / "dev-en.tsv", dev, seed=2)
    for offset, language in enumerate(languages):
        write_pairs(directory / f"dev-{language}.tsv", dev, seed=10 + offset)
    return directory


def write_panx_dir(directory: Path, languages=("de", "fr"), train: int = 24, dev: int = 10) -> Path:
    write_tagged(directory / "train-en.tsv", train, seed=1)
    write_tagged(directory / "dev-en.tsv", dev, seed=2)
    for offset, language in enumerate(languages):
        write_tagged(directory / f"dev-{language}.tsv", dev, seed=10 + offset)
    return directory
