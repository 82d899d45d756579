"""What a task is: labels, languages, metric and Hub source as data (`Task`), and what varies by kind as a
subclass.

A task kind (`SequenceTask`: one label per sentence or sentence pair; `TokenTask`: one label per word) owns
everything that differs between kinds: the internal data format, tokenization and label alignment, the
collator, the model head, decoding predictions back to examples or words, and the pipeline tag. Nothing
else in the package branches on the kind: it asks the task. The tasks themselves: tasks.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import datasets
from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

from . import data, features
from .modeling_dlfa import DLFAForSequenceClassification, DLFAForTokenClassification

SEQUENCE = "sequence"
TOKEN = "token"
METRICS = ("accuracy", "span_f1", "token_accuracy")
EXTRA_METRICS = ("span_precision", "span_recall", "token_accuracy")
HUB_SPLITS = ("train", "validation", "test")
# What every task reads from files (XTREME TSV, JSON Lines); CoNLL-U only where a token task asks for it.
FILE_SUFFIXES = (".json", ".jsonl", ".tsv", ".txt")
# The paper's groups: English and its family (enf), every other language (noenf).
LANGUAGE_GROUPS = {"enf": ("en", "de")}


@dataclass(frozen=True)
class Task:
    """What every task has. Build one of the kinds below (`SequenceTask`, `TokenTask`), or `make_task`."""

    name: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    metric: str
    metric_display: str
    aliases: tuple[str, ...] = ()
    hub_repo: str = ""
    # Sequence tasks: the two text columns; token tasks: the tokens column.
    hub_text_columns: tuple[str, ...] = ()
    hub_label_column: str = ""
    # (language, config) pairs where the Hub config is not the language code itself.
    hub_configs: tuple[tuple[str, str], ...] = ()
    hub_splits: tuple[str, ...] = HUB_SPLITS
    # Reported beside the headline metric, per language.
    extra_metrics: tuple[str, ...] = ()
    # (language, its Hub splits) for the languages that lack some of `hub_splits`.
    hub_language_splits: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Row i of every language's dev (and test) file is the same item, translated: training on part of
    # one language's dev file puts the same rows of every other language off limits.
    parallel: bool = False
    # Named language groups reported beside each language (the paper's enf: English and its family); every
    # other language falls in `rest_group`.
    groups: tuple[tuple[str, tuple[str, ...]], ...] = tuple(LANGUAGE_GROUPS.items())
    rest_group: str = "noenf"
    # A Hub dataset with one config for all languages and a column naming each row's language.
    hub_language_column: str = ""
    # (split, language, path) of local files, for tasks defined in a task file: split is train, dev or test.
    files: tuple[tuple[str, str, str], ...] = ()
    kind: str = ""

    # Set by each kind.
    metrics_allowed: ClassVar[tuple[str, ...]] = ()
    pipeline_tag: ClassVar[str] = ""
    auto_class: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if KINDS.get(self.kind) is not type(self):
            raise ValueError(
                f"task {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)} "
                f"(build tasks with make_task or one of {', '.join(kind.__name__ for kind in KINDS.values())})"
            )
        if self.metric not in METRICS:
            raise ValueError(f"task {self.name}: metric {self.metric!r} is not one of {', '.join(METRICS)}")
        if self.metric not in self.metrics_allowed:
            raise ValueError(
                f"task {self.name}: metric {self.metric!r} does not apply to a {self.kind} task; allowed: "
                f"{', '.join(self.metrics_allowed)}"
            )
        unknown = [
            metric
            for metric in self.extra_metrics
            if metric not in EXTRA_METRICS or metric not in self.metrics_allowed
        ]
        if unknown:
            raise ValueError(
                f"task {self.name}: extra metric(s) {', '.join(unknown)} not among {', '.join(EXTRA_METRICS)}"
            )

    @property
    def label2id(self) -> dict[str, int]:
        return {label: index for index, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def hub_config(self, language: str) -> str:
        """The `load_dataset` config name holding `language`."""
        if not self.hub_configs:
            return language
        configs = dict(self.hub_configs)
        if language not in configs:
            raise ValueError(
                f"task {self.name}: {self.hub_repo} has no config for language {language!r}; "
                f"allowed: {', '.join(sorted(configs))}"
            )
        return configs[language]

    def hub_splits_of(self, language: str) -> tuple[str, ...]:
        """The splits the task's Hub dataset has for `language`."""
        return dict(self.hub_language_splits).get(language, self.hub_splits)

    def language_groups(self, languages: Iterable[str]) -> dict[str, list[str]]:
        """`languages` by group (the named groups, then `rest_group`); empty groups left out."""
        return _grouped(languages, dict(self.groups), self.rest_group)

    # Per-entity-type scores apply to NER-style tag sets only (see TokenTask).
    has_entity_spans: ClassVar[bool] = False
    # Labels words, which a tokenizer may split into several pieces (--label_all_tokens).
    labels_words: ClassVar[bool] = False

    @property
    def file_suffixes(self) -> tuple[str, ...]:
        """The file suffixes this task reads (data.read_file picks the reader)."""
        return FILE_SUFFIXES

    def data_files(self) -> dict[str, dict[str, Path]]:
        """{split: {language: path}} of the task's own files (the layout `find_xtreme_files` returns)."""
        found: dict[str, dict[str, Path]] = {}
        for split, language, path in self.files:
            found.setdefault(split, {})[language] = Path(path)
        return found


@dataclass(frozen=True)
class SequenceTask(Task):
    """One label per sentence or sentence pair: columns `text_a`, `text_b`, `label` (class id)."""

    # False: one text per example (sentiment, topic); `text_b` is then empty and not given to the tokenizer.
    pair: bool = True
    kind: str = SEQUENCE
    metrics_allowed: ClassVar[tuple[str, ...]] = ("accuracy",)
    pipeline_tag: ClassVar[str] = "text-classification"
    # What the model card says of this kind: how its pipeline is built and used, and what the head reads.
    card_pipeline: ClassVar[str] = (
        f'classifier = pipeline("{pipeline_tag}", model=model, tokenizer=tokenizer)'
    )
    card_pipeline_call: ClassVar[str] = "classifier"
    card_output_note: ClassVar[str] = ""
    card_head: ClassVar[str] = (
        "The first token of L goes through a dense + tanh pooler, dropout and a linear classifier, as BERT's "
        "sequence classifier does with the last layer."
    )
    auto_class: ClassVar[str] = "AutoModelForSequenceClassification"
    head_class: ClassVar[type] = DLFAForSequenceClassification

    def dataset_features(self) -> datasets.Features:
        label = datasets.ClassLabel(names=list(self.labels))
        return datasets.Features(
            {"text_a": datasets.Value("string"), "text_b": datasets.Value("string"), "label": label}
        )

    def read_tsv(self, path) -> datasets.Dataset:
        return data.read_pairs_tsv(self, path)

    def read_jsonl(self, path) -> datasets.Dataset:
        return data.read_pairs_jsonl(self, path)

    def from_hub_batch(self, batch: dict[str, list], rows: list[int], to_id) -> dict[str, list]:
        """A batch of Hub rows in the internal format; `to_id(value, row)` checks and maps one label."""
        labels = [to_id(value, row) for value, row in zip(batch[self.hub_label_column], rows, strict=True)]
        texts = [batch[column] for column in self.hub_text_columns]
        text_b = texts[1] if self.pair else [""] * len(labels)
        return {"text_a": texts[0], "text_b": text_b, "label": labels}

    def encode(
        self,
        batch: dict,
        indices: list[int],
        tokenizer,
        max_length: int,
        padding,
        label_piece,
        label_all_tokens,
    ) -> dict:
        return features.encode_pairs(batch, indices, tokenizer, max_length, padding, self.pair)

    def data_collator(self, tokenizer):
        return DataCollatorWithPadding(tokenizer)

    def decode(self, raw: datasets.Dataset, rows: datasets.Dataset, predicted) -> tuple[list[int], int]:
        """(one class id per example, 0): each example is one feature row."""
        guesses = [None] * len(raw)
        for example, row in zip(rows["example_id"], predicted, strict=True):
            guesses[example] = int(row)
        return guesses, 0

    def references(self, raw: datasets.Dataset) -> list[int]:
        return raw["label"]

    def predicted_labels(self, guesses: list[int]) -> list[str]:
        """Every predicted label name, one per example."""
        return [self.labels[guess] for guess in guesses]

    def prediction_records(self, raw: datasets.Dataset, guesses: list[int]) -> list[dict]:
        return [
            {"text_a": a, "text_b": b, "label": self.labels[gold], "prediction": self.labels[guess]}
            for a, b, gold, guess in zip(raw["text_a"], raw["text_b"], raw["label"], guesses, strict=True)
        ]

    def pipeline_inputs(self, examples: Sequence[tuple[str, ...]]) -> list:
        """What the text-classification pipeline takes for (text, second text) examples: the pair as a dict,
        or for one-text tasks the text alone (the model card's usage snippet)."""
        return [{"text": text, "text_pair": second} if self.pair else text for text, second in examples]

    @property
    def pipeline_input_form(self) -> str:
        if self.pair:
            return 'Each input is a sentence pair, `{"text": ..., "text_pair": ...}`'
        return "Each input is one text, as a string"


@dataclass(frozen=True)
class TokenTask(Task):
    """One label per word: columns `tokens` (words) and `tags` (class ids)."""

    # Also reads CoNLL-U files: their words and UPOS column (UD POS).
    conllu: bool = False
    kind: str = TOKEN
    metrics_allowed: ClassVar[tuple[str, ...]] = (
        "span_f1",
        "span_precision",
        "span_recall",
        "token_accuracy",
    )
    labels_words: ClassVar[bool] = True
    pipeline_tag: ClassVar[str] = "token-classification"
    card_pipeline: ClassVar[str] = (
        '# "first": each word takes the label predicted for its first sub-token, as in training.\n'
        f'tagger = pipeline("{pipeline_tag}", model=model, tokenizer=tokenizer, aggregation_strategy="first")'
    )
    card_pipeline_call: ClassVar[str] = "tagger"
    card_output_note: ClassVar[str] = (
        ' With `aggregation_strategy="first"` the pipeline also merges neighbouring words that carry the same '
        'label into one span; use `aggregation_strategy="none"` for sub-token predictions.'
    )
    card_head: ClassVar[str] = (
        "Every token of L goes through dropout and a linear classifier; a word split into several sub-tokens "
        "takes the label of its first sub-token (the others are left out of the loss)."
    )
    auto_class: ClassVar[str] = "AutoModelForTokenClassification"
    head_class: ClassVar[type] = DLFAForTokenClassification

    def dataset_features(self) -> datasets.Features:
        label = datasets.ClassLabel(names=list(self.labels))
        return datasets.Features(
            {"tokens": datasets.List(datasets.Value("string")), "tags": datasets.List(label)}
        )

    @property
    def file_suffixes(self) -> tuple[str, ...]:
        return tuple(sorted((*FILE_SUFFIXES, ".conllu"))) if self.conllu else FILE_SUFFIXES

    @property
    def has_entity_spans(self) -> bool:
        """Labels are O plus B-/I-/E-/S- tags (NER-style), so per-entity-type scores are meaningful."""
        return all(label == "O" or label[:2] in ("B-", "I-", "E-", "S-") for label in self.labels)

    def read_tsv(self, path) -> datasets.Dataset:
        return data.read_tagged_tsv(self, path)

    def read_jsonl(self, path) -> datasets.Dataset:
        return data.read_tagged_jsonl(self, path)

    def from_hub_batch(self, batch: dict[str, list], rows: list[int], to_id) -> dict[str, list]:
        (tokens,) = self.hub_text_columns
        tags = [
            [to_id(value, row) for value in values]
            for values, row in zip(batch[self.hub_label_column], rows, strict=True)
        ]
        return {"tokens": batch[tokens], "tags": tags}

    def encode(
        self,
        batch: dict,
        indices: list[int],
        tokenizer,
        max_length: int,
        padding,
        label_piece,
        label_all_tokens,
    ) -> dict:
        other_piece_tags = features.inside_tags(self.labels) if label_all_tokens else None
        return features.encode_words(
            batch, indices, tokenizer, max_length, padding, label_piece, other_piece_tags
        )

    def data_collator(self, tokenizer):
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=features.IGNORE_INDEX)

    def decode(self, raw: datasets.Dataset, rows: datasets.Dataset, predicted) -> tuple[list[list[str]], int]:
        """(tag names per word, words left unpredicted). A long sentence's windows are stitched back: each
        word is read at its label piece, held by exactly one window. Words that left no piece (characters the
        tokenizer drops) get the task's first label, so every gold word is scored."""
        tags = [[None] * len(row) for row in raw["tags"]]
        for example, word_ids, labels, row in zip(
            rows["example_id"], rows["word_ids"], rows["labels"], predicted, strict=True
        ):
            for position, label in enumerate(labels):
                if label != features.IGNORE_INDEX:
                    tags[example][word_ids[position]] = self.labels[int(row[position])]
        unpredicted = sum(tag is None for row in tags for tag in row)
        return [[self.labels[0] if tag is None else tag for tag in row] for row in tags], unpredicted

    def references(self, raw: datasets.Dataset) -> list[list[str]]:
        return [[self.labels[tag] for tag in row] for row in raw["tags"]]

    def predicted_labels(self, guesses: list[list[str]]) -> list[str]:
        """Every predicted label name, one per word."""
        return [tag for row in guesses for tag in row]

    def prediction_records(self, raw: datasets.Dataset, guesses: list[list[str]]) -> list[dict]:
        return [
            {"tokens": tokens, "labels": gold, "predictions": guess}
            for tokens, gold, guess in zip(raw["tokens"], self.references(raw), guesses, strict=True)
        ]

    def pipeline_inputs(self, examples: Sequence[tuple[str, ...]]) -> list[str]:
        """What the token-classification pipeline takes for these examples: the sentence (the first text)."""
        return [text for text, *_ in examples]

    pipeline_input_form: ClassVar[str] = "Each input is one sentence, as a string"


KINDS: dict[str, type[Task]] = {SEQUENCE: SequenceTask, TOKEN: TokenTask}


def make_task(kind: str, **fields) -> Task:
    """A task of `kind` ('sequence' or 'token') from its fields, e.g. as read from a task file."""
    if kind not in KINDS:
        raise ValueError(f"task {fields.get('name', '?')}: kind {kind!r} is not one of {', '.join(KINDS)}")
    return KINDS[kind](**fields)


def _grouped(
    languages: Iterable[str], named: dict[str, tuple[str, ...]], rest_group: str
) -> dict[str, list[str]]:
    languages = list(languages)
    grouped = {group: [code for code in languages if code in members] for group, members in named.items()}
    listed = {code for members in named.values() for code in members}
    grouped[rest_group] = [code for code in languages if code not in listed]
    return {group: codes for group, codes in grouped.items() if codes}


def language_groups(languages: Iterable[str]) -> dict[str, list[str]]:
    """Split `languages` into the paper's enf (English family) and noenf groups; empty groups left out."""
    return _grouped(languages, LANGUAGE_GROUPS, "noenf")
