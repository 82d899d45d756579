"""The flags a run_ner.py / run_glue.py user reaches for, end to end through run_glue_x.py (the Hub faked)."""

from __future__ import annotations

import json
import random

import datasets
import pytest
import seqeval.metrics
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoTokenizer, PreTrainedConfig

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.features import IGNORE_INDEX, tokenize
from modeling_dlfa.metrics import compute_score
from modeling_dlfa.tasks import get_task
from run_glue_x import main

from .fixtures import FAST, NER_TAGS, WORDS, write_panx_dir

# One optimizer step, no checkpoints: for what a run writes, not for what it learns.
QUICK = [
    "--max_steps", "1", "--per_device_train_batch_size", "8", "--eval_strategy", "no",
    "--save_strategy", "no", "--load_best_model_at_end", "false", "--report_to", "none",
    "--disable_tqdm", "true", "--seed", "1",
]  # fmt: skip


def _ner_rows(count: int, seed: int) -> dict[str, list]:
    rng = random.Random(seed)
    panx = get_task("panx").labels
    rows = {"words": [], "ner": []}
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 7))]
        rows["words"].append(words)
        rows["ner"].append([panx.index(rng.choice(NER_TAGS)) for _ in words])
    return rows


def test_dataset_and_column_flags_read_another_hub_dataset(
    tmp_path, tiny_bert_dir, tiny_tokenizer_dir, monkeypatch
):
    calls = []

    def load_dataset(repo, config=None, split=None, cache_dir=None, **kwargs):
        calls.append((repo, config, split, kwargs.get("token")))
        return datasets.Dataset.from_dict(_ner_rows(24 if split == "train" else 8, seed=len(calls)))

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    output = tmp_path / "run"
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--dataset_name", "someone/my-ner", "--dataset_config_name", "ner.{language}",
            "--text_column_name", "words", "--label_column_name", "ner", "--token", "hf_secret",
            "--tokenizer_name", str(tiny_tokenizer_dir), "--preprocessing_num_workers", "2",
            "--eval_languages", "en,de", "--output_dir", str(output), *FAST,
        ]
    )  # fmt: skip
    assert code == 0
    assert ("someone/my-ner", "ner.en", "train", "hf_secret") in calls
    assert ("someone/my-ner", "ner.de", "validation", "hf_secret") in calls
    results = json.loads((output / "results.json").read_text())
    assert results["data_sources"]["de"] == "someone/my-ner (ner.de, validation)"
    assert results["num_examples"] == {"de": 8, "en": 8}
    # The card credits the dataset the run read, not the task's default one.
    assert results["task_definition"]["hub_repo"] == "someone/my-ner"
    card = (output / "README.md").read_text()
    assert "someone/my-ner" in card and "unimelb-nlp/wikiann" not in card


def test_a_dataset_config_without_the_language_is_refused(tmp_path, tiny_bert_dir, capsys):
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--dataset_config_name", "en", "--output_dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    assert code == 2
    assert "write {language} where the language code goes" in capsys.readouterr().err


def test_pair_tasks_take_two_text_columns(tmp_path, tiny_bert_dir, capsys):
    code = main(
        [
            "--task_name", "xnli", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--text_column_name", "premise", "--output_dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    assert code == 2
    assert "task xnli reads 2 text column(s) (premise, hypothesis)" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [None, 2])
def test_parallel_tokenization_gives_the_same_features(tmp_path, tiny_tokenizer_dir, workers):
    from transformers import AutoTokenizer

    task = get_task("panx")
    rows = _ner_rows(40, seed=0)
    dataset = datasets.Dataset.from_dict(
        {"tokens": rows["words"], "tags": rows["ner"]}, features=task.dataset_features()
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    alone = tokenize(task, dataset, tokenizer, max_length=16, cache_dir=tmp_path / "one")
    parallel = tokenize(task, dataset, tokenizer, max_length=16, cache_dir=tmp_path / "two", num_proc=workers)
    assert alone.to_dict() == parallel.to_dict()


def test_entity_level_metrics_per_language(tmp_path, tiny_bert_dir):
    data = write_panx_dir(tmp_path / "panx")
    output = tmp_path / "run"
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--data_dir", str(data), "--return_entity_level_metrics", "--output_dir", str(output), *FAST,
        ]
    )  # fmt: skip
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    predictions = [
        json.loads(line) for line in (output / "predictions" / "de.jsonl").read_text().splitlines()
    ]
    gold = [record["labels"] for record in predictions]
    guessed = [record["predictions"] for record in predictions]
    expected = seqeval.metrics.classification_report(gold, guessed, output_dict=True)
    german = results["metrics"]["de"]
    for entity in ("PER", "LOC", "ORG"):
        assert german[f"{entity}_number"] == expected[entity]["support"]
        assert german[f"{entity}_f1"] == pytest.approx(100 * expected[entity]["f1-score"])
    evaluation = json.loads((output / "eval_results.json").read_text())
    assert evaluation["eval_de_PER_f1"] == german["PER_f1"]


def test_entity_level_metrics_are_refused_for_sentence_tasks(tmp_path, tiny_bert_dir, capsys):
    code = main(
        [
            "--task_name", "xnli", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--return_entity_level_metrics", "--output_dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    assert code == 2 and "task xnli's labels" in capsys.readouterr().err


def test_entity_level_metrics_need_entity_tags(tmp_path, tiny_bert_dir, capsys):
    """UD POS tags are not B-/I- spans: seqeval would read NOUN as an 'OUN' entity."""
    code = main(
        [
            "--task_name", "udpos", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--return_entity_level_metrics", "--output_dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    assert code == 2 and "are not O plus B-/I-/E-/S- tags" in capsys.readouterr().err


# Words of 1 to 4 pieces in the tiny WordPiece vocabulary ("bcd" is b ##c ##d).
MULTI_PIECE_WORDS = ["bcd", "xyzw", "ab", "cat", "the", "house"]


def write_multi_piece_tagged(path, count: int, seed: int):
    rng = random.Random(seed)
    sentences = [
        "".join(
            f"{rng.choice(MULTI_PIECE_WORDS)}\t{rng.choice(NER_TAGS)}\n" for _ in range(rng.randint(3, 7))
        )
        for _ in range(count)
    ]
    path.write_text("\n".join(sentences), encoding="utf-8")
    return path


def labels_more_than_one_piece_of_a_word(features: datasets.Dataset) -> bool:
    return any(
        labels[p] != IGNORE_INDEX and labels[p + 1] != IGNORE_INDEX and word_ids[p] == word_ids[p + 1] >= 0
        for labels, word_ids in zip(features["labels"], features["word_ids"], strict=True)
        for p in range(len(labels) - 1)
    )


def test_label_all_tokens_trains_on_every_piece_and_scores_words(tmp_path, tiny_bert_dir):
    """Only the training features label every piece; dev and evaluation read each word at its label piece,
    so the scores are over words, exactly as without the flag."""
    train = write_multi_piece_tagged(tmp_path / "train.tsv", 16, seed=1)
    dev = write_multi_piece_tagged(tmp_path / "dev.tsv", 6, seed=2)
    de = write_multi_piece_tagged(tmp_path / "de.tsv", 5, seed=3)
    cache, output = tmp_path / "features", tmp_path / "run"
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--train_file", str(train), "--validation_file", str(dev), "--eval_files", f"de={de},en={dev}",
            "--label_all_tokens", "--features_cache_dir", str(cache), "--output_dir", str(output), *QUICK,
        ]
    )  # fmt: skip
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    assert results["num_train_examples"] == 16
    assert results["num_examples"] == {"de": 5, "en": 6}
    assert results["num_unpredicted_words"] == {"de": 0, "en": 0}
    assert results["training"]["label_all_tokens"] is True
    assert json.loads((output / "run_config.json").read_text())["label_all_tokens"] is True
    cached = [datasets.load_from_disk(str(path)) for path in cache.iterdir()]
    assert [labels_more_than_one_piece_of_a_word(features) for features in cached].count(True) == 1
    assert len(cached) >= 2
    # Each word's prediction is the model's at its label piece (the first), and the score is over words.
    task = get_task("panx")
    model = DLFAForTokenClassification.from_pretrained(output).eval()
    tokenizer = AutoTokenizer.from_pretrained(output)
    records = [json.loads(line) for line in (output / "predictions" / "de.jsonl").read_text().splitlines()]
    for record in records:
        encoded = tokenizer(record["tokens"], is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            guesses = model(**encoded).logits[0].argmax(-1).tolist()
        first = {}
        for position, word in enumerate(encoded.word_ids()):
            if word is not None:
                first.setdefault(word, position)
        assert record["predictions"] == [task.labels[guesses[first[w]]] for w in range(len(record["tokens"]))]
    predictions, references = [r["predictions"] for r in records], [r["labels"] for r in records]
    assert results["languages"]["de"] == compute_score(task, predictions, references)


def test_config_name_replaces_the_backbone_config(tmp_path, tiny_bert_dir):
    """A backbone config with other dropout: the model is built from it, with --model_name_or_path's weights."""
    config = AutoConfig.from_pretrained(tiny_bert_dir)
    assert config.hidden_dropout_prob == 0.1
    config.hidden_dropout_prob = 0.3
    config.save_pretrained(tmp_path / "config")
    data, output = write_panx_dir(tmp_path / "panx", languages=("de",), train=8, dev=4), tmp_path / "run"
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--config_name", str(tmp_path / "config"), "--freeze_embeddings", "--data_dir", str(data),
            "--output_dir", str(output), *QUICK,
        ]
    )  # fmt: skip
    assert code == 0
    saved = json.loads((output / "config.json").read_text())
    assert saved["backbone_config"]["hidden_dropout_prob"] == 0.3
    # The frozen embeddings are the backbone checkpoint's own: its weights were loaded.
    embeddings = "embeddings.word_embeddings.weight"
    original = load_file(tiny_bert_dir / "model.safetensors")[embeddings]
    assert torch.equal(load_file(output / "model.safetensors")[f"dlfa.backbone.{embeddings}"], original)
    assert json.loads((output / "run_config.json").read_text())["config_name"] == str(tmp_path / "config")
    assert json.loads((output / "results.json").read_text())["training"]["config_name"] == str(
        tmp_path / "config"
    )


def record_loads(monkeypatch) -> list[tuple[str, str, object]]:
    """(loader, name, trust_remote_code) of every AutoConfig / AutoTokenizer.from_pretrained call."""
    calls = []
    for auto_class in (AutoConfig, AutoTokenizer):

        def record(name, *args, _real=auto_class.from_pretrained, _loader=auto_class.__name__, **kwargs):
            calls.append((_loader, str(name), kwargs.get("trust_remote_code")))
            return _real(name, *args, **kwargs)

        monkeypatch.setattr(auto_class, "from_pretrained", record)
    return calls


@pytest.mark.parametrize("trust", [False, True])
def test_trust_remote_code_reaches_the_config_and_tokenizer_loaders(
    tmp_path, tiny_bert_dir, tiny_tokenizer_dir, monkeypatch, trust
):
    calls = record_loads(monkeypatch)
    data = write_panx_dir(tmp_path / "panx", languages=("de",), train=8, dev=4)
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--config_name", str(tiny_bert_dir), "--tokenizer_name", str(tiny_tokenizer_dir),
            "--data_dir", str(data), "--output_dir", str(tmp_path / "run"), *QUICK,
            *(["--trust_remote_code"] if trust else []),
        ]
    )  # fmt: skip
    assert code == 0
    loaded = {(loader, name) for loader, name, _ in calls}
    assert {("AutoConfig", str(tiny_bert_dir)), ("AutoTokenizer", str(tiny_tokenizer_dir))} <= loaded
    if trust:
        assert all(trusted is True for _, _, trusted in calls), calls
    else:
        assert not any(trusted for _, _, trusted in calls), calls


def test_a_remote_code_backbone_is_refused_in_one_line(tmp_path, tiny_bert_dir, monkeypatch, capsys):
    class RemoteEncoderConfig(PreTrainedConfig):
        model_type = "my-remote-encoder"

    real = AutoConfig.from_pretrained

    def from_pretrained(name, *args, **kwargs):
        # What AutoConfig returns for a repository whose config.json maps AutoConfig to its own code.
        return RemoteEncoderConfig() if kwargs.get("trust_remote_code") else real(name, *args, **kwargs)

    monkeypatch.setattr(AutoConfig, "from_pretrained", from_pretrained)
    data = write_panx_dir(tmp_path / "panx", languages=("de",), train=8, dev=4)
    code = main(
        [
            "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--trust_remote_code", "--data_dir", str(data), "--output_dir", str(tmp_path / "run"), *QUICK,
        ]
    )  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith(f"error: {tiny_bert_dir}: its model_type 'my-remote-encoder' is remote code")
    assert "DLFA wraps only encoders that transformers implements (with an AutoModel class" in error
    assert len(error.strip().splitlines()) == 1
