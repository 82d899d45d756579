"""Tasks defined only by a task file (JSON or YAML), run end to end through run_glue_x.py."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from modeling_dlfa.data import load_hub_split
from modeling_dlfa.task_files import TaskFileError, load_task_file
from modeling_dlfa.task_kinds import SequenceTask, TokenTask
from modeling_dlfa.tasks import get_task
from run_glue_x import main

from .fixtures import FAST, WORDS


def write_sentiment(path: Path, count: int, seed: int) -> Path:
    """One text per line: positive unless it holds "not" (learnable from one word)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 8))]
        lines.append(
            json.dumps({"text": " ".join(words), "label": "negative" if "not" in words else "positive"})
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sentiment_file(tmp_path) -> Path:
    data = tmp_path / "my-sentiment"
    data.mkdir()
    write_sentiment(data / "train-en.jsonl", 40, seed=1)
    for seed, language in enumerate(("en", "de", "fr"), start=2):
        write_sentiment(data / f"dev-{language}.jsonl", 12, seed=seed)
    task_file = data / "task.yaml"
    task_file.write_text(
        "name: my-sentiment\n"
        "kind: sequence\n"
        "pair: false\n"
        "labels: [negative, positive]\n"
        "languages: [en, de, fr]\n"
        "metric: accuracy\n"
        "groups: {germanic: [en, de]}\n"
        "rest_group: romance\n"
        "files:\n"
        "  train: {en: train-en.jsonl}\n"
        "  dev: {en: dev-en.jsonl, de: dev-de.jsonl, fr: dev-fr.jsonl}\n",
        encoding="utf-8",
    )
    return task_file


def test_a_task_defined_only_by_a_file_runs_end_to_end(tmp_path, tiny_bert_dir, sentiment_file):
    output = tmp_path / "run"
    code = main(
        [
            "--task_file", str(sentiment_file), "--model_name_or_path", str(tiny_bert_dir),
            "--fusion_layer", "1", "--output_dir", str(output), *FAST,
        ]
    )  # fmt: skip
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    assert results["task"] == "my-sentiment" and results["metric"] == "accuracy"
    assert set(results["languages"]) == {"en", "de", "fr"}
    assert results["group_members"] == {"germanic": ["de", "en"], "romance": ["fr"]}
    assert results["num_examples"] == {"en": 12, "de": 12, "fr": 12}
    assert results["data_sources"]["train"].endswith("train-en.jsonl")
    # One text per example: the tokenizer saw no second segment.
    predictions = [
        json.loads(line) for line in (output / "predictions" / "de.jsonl").read_text().splitlines()
    ]
    assert len(predictions) == 12 and {record["text_b"] for record in predictions} == {""}
    card = (output / "README.md").read_text()
    assert "my-sentiment" in card
    # One text per example: the usage snippet gives the pipeline plain strings, and the card says so.
    assert "print(classifier('The new phone works very well.'))" in card
    assert "text_pair" not in card and "Each input is one text, as a string" in card
    # results.json keeps the definition: a later process that never read the task file writes the card too.
    assert (
        results["task_definition"]["name"] == "my-sentiment" and results["task_definition"]["pair"] is False
    )
    (output / "README.md").unlink()
    rewritten = subprocess.run(
        [sys.executable, "-m", "modeling_dlfa.hub", "card", str(output)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert rewritten.returncode == 0, rewritten.stderr[-2000:]
    assert "my-sentiment" in (output / "README.md").read_text()


def test_single_text_tsv_and_pair_task_files(tmp_path):
    (tmp_path / "train.tsv").write_text("the cat is red\tpositive\nnot a dog\tnegative\n")
    definition = {
        "name": "tsv-sentiment", "kind": "sequence", "pair": False, "labels": ["negative", "positive"],
        "languages": ["en"], "metric": "accuracy", "files": {"train": {"en": "train.tsv"}},
    }  # fmt: skip
    path = tmp_path / "task.json"
    path.write_text(json.dumps(definition))
    task = load_task_file(path)
    assert isinstance(task, SequenceTask) and get_task("tsv-sentiment") is task
    dataset = task.read_tsv(Path(task.data_files()["train"]["en"]))
    assert dataset["text_a"] == ["the cat is red", "not a dog"] and dataset["label"] == [1, 0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "pair"}, r"field 'kind' is 'pair'; allowed: sequence, token"),
        ({"colour": "red"}, r"unknown field\(s\) colour; allowed for a token task: name, labels"),
        ({"metric": "accuracy"}, r"metric 'accuracy' does not apply to a token task; allowed: span_f1"),
        ({"files": {"valid": {"en": "x.tsv"}}}, r"unknown split\(s\) valid; allowed: train, dev, test"),
        ({"files": {"train": {"en": "missing.tsv"}}}, r"train en: .*missing.tsv does not exist"),
        ({"name": "xnli"}, r"would hide the built-in task"),
        ({"labels": None}, r"missing field\(s\) labels"),
    ],
)
def test_bad_task_files_name_file_and_field(tmp_path, change, message):
    definition = {"name": "my-ner", "kind": "token", "labels": ["O", "B-PER", "I-PER"], "languages": ["en"],
                  "metric": "span_f1", **change}  # fmt: skip
    definition = {key: value for key, value in definition.items() if value is not None}
    path = tmp_path / "task.json"
    path.write_text(json.dumps(definition))
    with pytest.raises(TaskFileError, match=message) as raised:
        load_task_file(path)
    assert str(path) in str(raised.value)


def test_hub_dataset_with_a_language_column(tmp_path, monkeypatch):
    """A Hub dataset with one config for all languages and a column naming each row's language."""
    path = tmp_path / "task.yaml"
    path.write_text(
        "name: hub-ner\nkind: token\nlabels: [O, B-PER, I-PER]\nlanguages: [en, de]\nmetric: span_f1\n"
        "hub_repo: someone/multi-ner\nhub_text_columns: [words]\nhub_label_column: ner\n"
        "hub_language_column: lang\n"
    )
    task = load_task_file(path)
    assert isinstance(task, TokenTask)
    rows = {"words": [["the", "cat"], ["der", "hund"], ["a", "dog"]], "ner": [[0, 1], [1, 2], [0, 0]],
            "lang": ["en", "de", "en"]}  # fmt: skip
    calls = []

    def hub(repo, config=None, split=None, cache_dir=None):
        calls.append((repo, config, split))
        return datasets.Dataset.from_dict(rows)

    monkeypatch.setattr(datasets, "load_dataset", hub)
    german = load_hub_split(task, "de", "validation")
    assert calls == [("someone/multi-ner", None, "validation")]
    assert german["tokens"] == [["der", "hund"]] and german["tags"] == [[1, 2]]
    with pytest.raises(ValueError, match="rows with lang = fr: none"):
        load_hub_split(task, "fr", "validation")


def test_task_name_or_task_file_not_both(tmp_path, tiny_bert_dir, sentiment_file):
    args = [
        "--model_name_or_path",
        str(tiny_bert_dir),
        "--fusion_layer",
        "1",
        "--output_dir",
        str(tmp_path / "x"),
    ]
    assert main([*args, "--task_name", "xnli", "--task_file", str(sentiment_file)]) == 2
    assert main(args) == 2


def test_language_codes_are_lower_case_and_list_fields_must_be_lists(tmp_path):
    (tmp_path / "dev-pt.tsv").write_text("the cat\tpositive\n")
    definition = {"name": "pt-sentiment", "kind": "sequence", "pair": False, "labels": ["negative", "positive"],
                  "languages": ["en", "pt-BR"], "metric": "accuracy", "files": {"dev": {"pt-BR": "dev-pt.tsv"}}}  # fmt: skip
    path = tmp_path / "task.json"
    path.write_text(json.dumps(definition))
    task = load_task_file(path)
    assert task.languages == ("en", "pt-br") and set(task.data_files()["dev"]) == {"pt-br"}
    path.write_text(json.dumps({**definition, "name": "other", "hub_text_columns": "text"}))
    with pytest.raises(TaskFileError, match=r"field 'hub_text_columns' must be a list, e\.g\. \[text\]"):
        load_task_file(path)
    path.write_text(json.dumps({**definition, "name": "third", "extra_metrics": ["span_precision"]}))
    with pytest.raises(TaskFileError, match=r"extra metric\(s\) span_precision"):
        load_task_file(path)


def test_dataset_flags_are_refused_when_the_data_comes_from_files(
    tmp_path, tiny_bert_dir, sentiment_file, capsys
):
    code = main(
        [
            "--task_file", str(sentiment_file), "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
            "--dataset_name", "someone/else", "--output_dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    assert code == 2 and "--dataset_name choose what is read from the Hub" in capsys.readouterr().err
