"""The check that the built folder is multilingual: translations of one sentence embed closer to each
other than to unrelated sentences."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from .errors import OfflineBackboneError
from .locations import default_backbone_dir

# The first XNLI test premise and its translations, against unrelated sentences in the same languages,
# so that a high score cannot come from sharing a language.
VERIFY_TRANSLATIONS = {
    "en": "And he said, Mama, I'm home.",
    "de": "Und er sagte: Mama, ich bin zu Hause.",
    "zh": "他说，妈妈，我回来了。",
}
VERIFY_UNRELATED = {
    "en": "The stock market fell sharply after the announcement.",
    "de": "Der Zug nach Berlin hat heute zwei Stunden Verspätung.",
    "zh": "这本书讲述了一个关于海洋的故事。",
}
E5_PREFIX = "query: "


@dataclass(frozen=True)
class VerifyReport:
    translation: dict[str, float]
    unrelated: dict[str, float]

    @property
    def min_translation(self) -> float:
        return min(self.translation.values())

    @property
    def max_unrelated(self) -> float:
        return max(self.unrelated.values())

    @property
    def passed(self) -> bool:
        return self.min_translation > self.max_unrelated

    def summary(self) -> str:
        lines = [f"  {pair}: {score:.4f}" for pair, score in {**self.translation, **self.unrelated}.items()]
        lines.append(
            f"  min translation {self.min_translation:.4f} vs max unrelated {self.max_unrelated:.4f}"
            f" (margin {self.min_translation - self.max_unrelated:+.4f})"
        )
        return "\n".join(lines)


def mean_pooled_embeddings(dir: str | os.PathLike, texts: list[str]) -> np.ndarray:
    """L2-normalised mean-pooled last hidden states (e5's sentence embedding), one row per text."""
    tokenizer = AutoTokenizer.from_pretrained(dir, local_files_only=True)
    model = AutoModel.from_pretrained(dir, add_pooling_layer=False, local_files_only=True).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def verify_backbone(dir: str | os.PathLike | None = None) -> VerifyReport:
    """Check that translations of one sentence embed closer to each other than to unrelated sentences.

    Raises `OfflineBackboneError` with the scores when they do not.
    """
    folder = Path(dir).expanduser() if dir is not None else default_backbone_dir()
    languages = list(VERIFY_TRANSLATIONS)
    texts = [E5_PREFIX + VERIFY_TRANSLATIONS[lang] for lang in languages]
    texts += [E5_PREFIX + VERIFY_UNRELATED[lang] for lang in languages]
    embeddings = mean_pooled_embeddings(folder, texts)
    similarity = embeddings @ embeddings.T
    n = len(languages)
    report = VerifyReport(
        translation={
            f"{languages[i]} vs {languages[j]}": float(similarity[i, j])
            for i in range(n)
            for j in range(i + 1, n)
        },
        unrelated={
            f"{languages[i]} vs unrelated {languages[j]}": float(similarity[i, n + j])
            for i in range(n)
            for j in range(n)
        },
    )
    if not report.passed:
        raise OfflineBackboneError(
            f"{folder} failed verification: translations are not closer to each other than to unrelated "
            f"sentences\n{report.summary()}"
        )
    return report
