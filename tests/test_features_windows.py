"""Tagged sentences longer than max_seq_length: split into windows of whole words, predictions stitched back;
and the label piece of a word (XTREME's first piece, or the first one that carries text)."""

from __future__ import annotations

import random
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForTokenClassification

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.arguments import GlueXTrainingArguments
from modeling_dlfa.data import read_file
from modeling_dlfa.features import IGNORE_INDEX, inside_tags, num_split_examples, tokenize
from modeling_dlfa.offline import backbone_is_built, default_backbone_dir
from modeling_dlfa.scoring import dev_metric, predict_language, score_predictions
from modeling_dlfa.tasks import get_task
from modeling_dlfa.training import OrderedEvaluationTrainer, model_inputs

from .conftest import SHARED_DATA
from .fixtures import NER_TAGS, WORDS

MAX_LENGTH = 16
# Words of 1 to 4 pieces in the tiny WordPiece vocabulary ("bcd" is b ##c ##d), so packing whole words matters.
LONG_WORDS = [*WORDS, "bcd", "xyzw", "ab"]


def panx_dataset(sentences: list[list[str]], seed: int = 0) -> datasets.Dataset:
    rng = random.Random(seed)
    task = get_task("panx")
    rows = [
        {"tokens": words, "tags": [task.labels.index(rng.choice(NER_TAGS)) for _ in words]}
        for words in sentences
    ]
    return datasets.Dataset.from_list(rows)


def pieces(tokenizer, word: str) -> int:
    return len(tokenizer(word, add_special_tokens=False)["input_ids"])


def check_windows(features, raw, tokenizer, max_length: int) -> None:
    """Rows fit; each example's rows cover its words in order, whole, each word once; packing is greedy."""
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    rows: dict[int, list[list[int]]] = {}
    for example, word_ids in zip(features["example_id"], features["word_ids"], strict=True):
        assert len(word_ids) <= max_length
        rows.setdefault(example, []).append(sorted({word for word in word_ids if word >= 0}))
    assert sorted(rows) == list(range(len(raw)))
    for example, windows in rows.items():
        tokens = raw[example]["tokens"]
        assert [word for window in windows for word in window] == list(range(len(tokens)))
        for window, following in zip(windows, windows[1:], strict=False):
            used = sum(pieces(tokenizer, tokens[word]) for word in window)
            assert used + pieces(tokenizer, tokens[following[0]]) > budget  # the next word did not fit


@pytest.fixture
def long_sentences():
    rng = random.Random(3)
    lengths = [40, 5, 23, 14, 60, 9]
    return [[rng.choice(LONG_WORDS) for _ in range(length)] for length in lengths]


def test_long_sentences_are_split_at_word_boundaries(tmp_path, tiny_tokenizer_dir, long_sentences):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    raw = panx_dataset(long_sentences)
    features = tokenize(get_task("panx"), raw, tokenizer, max_length=MAX_LENGTH, cache_dir=tmp_path)
    check_windows(features, raw, tokenizer, MAX_LENGTH)
    assert num_split_examples(features) == sum(
        sum(pieces(tokenizer, word) for word in words) > MAX_LENGTH - 2 for words in long_sentences
    )
    assert not any(features["truncated"])
    # Every window keeps the labels of its own words, on their first pieces.
    for labels, word_ids, example in zip(
        features["labels"], features["word_ids"], features["example_id"], strict=True
    ):
        starts = [p for p, word in enumerate(word_ids) if word >= 0 and (p == 0 or word_ids[p - 1] != word)]
        assert [p for p, label in enumerate(labels) if label != IGNORE_INDEX] == starts
        assert [labels[p] for p in starts] == [raw[example]["tags"][word_ids[p]] for p in starts]


def test_a_word_longer_than_a_window_is_cut_but_predicted(tmp_path, tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    raw = panx_dataset([["the", "cat", "abcdefghijklmnopqrst", "dog"]])
    features = tokenize(get_task("panx"), raw, tokenizer, max_length=8, cache_dir=tmp_path)
    assert features["truncated"] == [False, True, False]
    assert [sorted(set(w) - {-1}) for w in features["word_ids"]] == [[0, 1], [2], [3]]
    predicted = [np.asarray(labels).clip(0) for labels in features["labels"]]
    _, _, unpredicted = score_predictions(get_task("panx"), raw, features, predicted)
    assert unpredicted == 0


def test_stitched_predictions_are_the_model_on_each_window(tmp_path, tiny_bert_dir, long_sentences):
    """Fails on the old code: there, the words past max_seq_length got the first label, not a prediction."""
    task = get_task("panx")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    raw = panx_dataset(long_sentences)
    features = tokenize(task, raw, tokenizer, max_length=MAX_LENGTH, cache_dir=tmp_path / "cache")
    torch.manual_seed(0)
    model = DLFAForTokenClassification.from_backbone(tiny_bert_dir, fusion_layer=1, id2label=task.id2label)
    torch.nn.init.normal_(model.classifier.weight, std=3.0)  # predictions that differ between words
    model.eval()
    args = GlueXTrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_eval_batch_size=3,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        report_to="none",
    )
    trainer = OrderedEvaluationTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX),
        compute_metrics=dev_metric(task, raw, features),
    )
    metrics, records, unpredicted = predict_language(trainer, task, raw, features)

    # The model run on each row's words on its own, read at each word's first piece.
    expected = [[None] * len(words) for words in long_sentences]
    with torch.no_grad():
        for example, word_ids in zip(features["example_id"], features["word_ids"], strict=True):
            words = sorted({word for word in word_ids if word >= 0})
            encoded = tokenizer(
                [long_sentences[example][word] for word in words],
                is_split_into_words=True,
                return_tensors="pt",
            )
            predicted = model(**encoded).logits[0].argmax(-1)
            for position, word in reversed(list(enumerate(encoded.word_ids()))):
                if word is not None:
                    expected[example][words[word]] = task.labels[int(predicted[position])]
    assert unpredicted == 0
    assert [record["predictions"] for record in records] == expected
    assert len(set(expected[0][MAX_LENGTH:])) > 1  # past the old cut: predicted
    # Checkpoint selection scores the dev set the same way as the final evaluation.
    evaluation = trainer.evaluate(eval_dataset=model_inputs(features))
    assert evaluation["eval_score"] == pytest.approx(metrics[task.metric])
    # ... and counts every word's prediction for the most predicted label's share.
    words = [tag for row in expected for tag in row]
    assert evaluation["eval_top_label_share"] == pytest.approx(
        100 * max(map(words.count, set(words))) / len(words)
    )


# ------------------------------------------------------------------------------ the real files and tokenizer

REAL_FILES = [
    (task, language, SHARED_DATA / "xtreme" / task / f"dev-{language}.tsv")
    for task in ("panx", "udpos")
    for language in ("ja", "zh")
]
needs_backbone = pytest.mark.skipif(
    not backbone_is_built(default_backbone_dir()), reason="run `python -m modeling_dlfa.offline build` first"
)


@pytest.fixture(scope="module")
def real_tokenizer():
    return AutoTokenizer.from_pretrained(default_backbone_dir())


@pytest.mark.real_backbone
@needs_backbone
@pytest.mark.parametrize(
    "task_name, path", [pytest.param(task, path, id=f"{task}-{lang}") for task, lang, path in REAL_FILES]
)
def test_every_real_cjk_word_is_predicted(tmp_path, real_tokenizer, task_name, path: Path):
    """PAN-X ja at 128 pieces lost 24% of its words to truncation: now gold read back at the label pieces
    gives back every gold tag, so every word sits in exactly one window. The only words left unpredicted
    are those the tokenizer erases (PAN-X zh has two zero-width spaces as words)."""
    if not path.is_file():
        pytest.skip(f"{path} not found")
    task = get_task(task_name)
    raw = read_file(task, path)
    features = tokenize(task, raw, real_tokenizer, max_length=128, cache_dir=tmp_path)
    assert max(features["length"]) <= 128
    assert not any(features["truncated"])  # no CJK word is longer than a window
    if task_name == "panx":
        assert num_split_examples(features) > 0
    predicted = [np.asarray(labels).clip(0) for labels in features["labels"]]
    _, predictions, unpredicted = score_predictions(task, raw, features, predicted)
    vocabulary = sorted({word for words in raw["tokens"] for word in words})
    encoded = real_tokenizer(
        [[word] for word in vocabulary], is_split_into_words=True, add_special_tokens=False
    )
    erased = {word for word, ids in zip(vocabulary, encoded["input_ids"], strict=True) if not ids}
    assert unpredicted == sum(word in erased for words in raw["tokens"] for word in words)
    for words, tags, guesses in zip(raw["tokens"], raw["tags"], predictions, strict=True):
        assert [guess for word, guess in zip(words, guesses, strict=True) if word not in erased] == [
            task.labels[tag] for word, tag in zip(words, tags, strict=True) if word not in erased
        ]


@pytest.mark.real_backbone
@needs_backbone
def test_label_piece_skips_a_bare_sentencepiece_marker(tmp_path, real_tokenizer):
    task = get_task("panx")
    raw = panx_dataset([["北京大学", "是", "Hello"]])
    assert real_tokenizer(raw[0]["tokens"], is_split_into_words=True).tokens() == [
        "<s>", "▁", "北京", "大学", "▁", "是", "▁Hello", "</s>"
    ]  # fmt: skip
    tags = raw[0]["tags"]
    for label_piece, positions in (("first", [1, 4, 6]), ("first_with_text", [2, 5, 6])):
        features = tokenize(
            task, raw, real_tokenizer, max_length=32, cache_dir=tmp_path, label_piece=label_piece
        )
        labels = features[0]["labels"]
        assert [p for p, label in enumerate(labels) if label != IGNORE_INDEX] == positions
        assert [labels[p] for p in positions] == tags


def test_label_all_tokens_labels_every_piece_b_as_i(tmp_path, tiny_tokenizer_dir):
    """run_ner.py's --label_all_tokens: a word's other pieces carry its tag, B-X as I-X; without the flag only
    the label piece does. Both tokenized into one cache folder: the flag is part of the cache key."""
    task = get_task("panx")
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    tags = ["B-PER", "I-PER", "O", "B-LOC"]
    raw = datasets.Dataset.from_list(
        [{"tokens": ["bcd", "ab", "cat", "xyzw"], "tags": [task.labels.index(tag) for tag in tags]}]
    )
    assert tokenizer(raw[0]["tokens"], is_split_into_words=True).tokens() == [
        "[CLS]", "b", "##c", "##d", "a", "##b", "cat", "x", "##y", "##z", "##w", "[SEP]"
    ]  # fmt: skip
    expected = {
        False: [None, "B-PER", None, None, "I-PER", None, "O", "B-LOC", None, None, None, None],
        True: [None, "B-PER", "I-PER", "I-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC", "I-LOC", None],
    }  # fmt: skip
    for label_all_tokens in (True, False):
        features = tokenize(
            task, raw, tokenizer, max_length=32, cache_dir=tmp_path, label_all_tokens=label_all_tokens
        )
        labels = [None if label == IGNORE_INDEX else task.labels[label] for label in features[0]["labels"]]
        assert labels == expected[label_all_tokens]
    assert len(list(tmp_path.iterdir())) == 2


def test_inside_tags_turn_b_into_i_only_where_the_tag_set_has_it():
    assert inside_tags(["O", "B-X", "I-X", "B-Y", "S-Z"]) == [0, 2, 2, 3, 4]
    assert inside_tags(get_task("udpos").labels) == list(range(len(get_task("udpos").labels)))
