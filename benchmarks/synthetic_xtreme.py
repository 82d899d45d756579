"""Tiny XTREME-layout data for the benchmarks' --quick modes (no real data needed)."""

from __future__ import annotations

import random
from pathlib import Path

# Words in the tests' tiny tokenizer's vocabulary.
_WORDS = ["the", "cat", "dog", "house", "is", "red", "blue", "big", "not", "a"]
_TAGS = {
    "panx": ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
    "udpos": ("DET", "NOUN", "VERB", "ADJ", "PART"),
}
_PAIR_LABELS = {"xnli": ("entailment", "neutral", "contradiction"), "pawsx": ("0", "1")}


def write_synthetic_xtreme(root: Path, tasks: list[str], languages: list[str], count: int) -> Path:
    """Tiny XTREME-layout files (train-en, dev-<lang>) whose words are in the test tokenizer's vocabulary."""
    for task in tasks:
        folder = root / task
        folder.mkdir(parents=True, exist_ok=True)
        for split, codes in (("train", ["en"]), ("dev", languages)):
            for offset, code in enumerate(codes):
                rng = random.Random(f"{task}-{split}-{code}-{offset}")
                rows = []
                for _ in range(count):
                    words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 9))]
                    if task in _PAIR_LABELS:
                        other = [rng.choice(_WORDS) for _ in range(rng.randint(3, 9))]
                        rows.append(
                            f"{' '.join(words)}\t{' '.join(other)}\t{rng.choice(_PAIR_LABELS[task])}\n"
                        )
                    else:
                        rows.append("".join(f"{word}\t{rng.choice(_TAGS[task])}\n" for word in words) + "\n")
                (folder / f"{split}-{code}.tsv").write_text("".join(rows), encoding="utf-8")
    return root
