"""run_glue_x.py predict: raw text in, JSON lines out, through the pipeline, from a run folder offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from run_glue_x import main

from .fixtures import FAST, write_panx_dir, write_xnli_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("predict")
    folders = {}
    for task, writer in (("xnli", write_xnli_dir), ("panx", write_panx_dir)):
        folders[task] = root / task
        code = main(
            ["--task_name", task, "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
             "--data_dir", str(writer(root / f"{task}-data")), "--output_dir", str(folders[task]), *FAST]
        )  # fmt: skip
        assert code == 0
    return folders


def _predict(run: Path, tmp_path: Path, lines: list[str]) -> list[dict]:
    source, target = tmp_path / "input.txt", tmp_path / "out.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["predict", str(run), "--input", str(source), "--output", str(target)]) == 0
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def test_sentence_pairs_and_single_sentences(runs, tmp_path):
    records = _predict(runs["xnli"], tmp_path, ["the cat is red\tthe cat is not red", "", "a big dog"])
    assert [record["text"] for record in records] == ["the cat is red", "a big dog"]
    assert records[0]["text_pair"] == "the cat is not red" and "text_pair" not in records[1]
    labels = {"entailment", "neutral", "contradiction"}
    assert all(record["label"] in labels and 0 < record["score"] <= 1 for record in records)


def test_tagging_gives_the_models_tag_for_every_word(runs, tmp_path):
    sentences = ["the big dog is red", "a cat"]
    records = _predict(runs["panx"], tmp_path, sentences)
    assert [record["tokens"] for record in records] == [sentence.split() for sentence in sentences]
    # The same words through the model directly: the tag of each word's first sub-token.
    model = AutoModelForTokenClassification.from_pretrained(runs["panx"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(runs["panx"])
    for record in records:
        encoded = tokenizer(record["tokens"], is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            predicted = np.argmax(model(**encoded).logits[0].numpy(), axis=-1)
        word_ids, expected, seen = encoded.word_ids(), [], set()
        for position, word in enumerate(word_ids):
            if word is not None and word not in seen:
                seen.add(word)
                expected.append(model.config.id2label[int(predicted[position])])
        # The pipeline groups neighbouring words of one type; BIO prefixes are restored from the groups.
        assert [tag.split("-")[-1] for tag in record["tags"]] == [tag.split("-")[-1] for tag in expected]


def test_a_single_sentence_file(runs, tmp_path):
    (record,) = _predict(runs["panx"], tmp_path, ["the cat"])
    assert record["tokens"] == ["the", "cat"] and len(record["tags"]) == 2


def test_bad_input_names_the_problem(runs, tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nothing"), "--input", "x.txt"]) == 2
    assert "no such model folder" in capsys.readouterr().err
    source = tmp_path / "bad.txt"
    source.write_text("a\tb\tc\n", encoding="utf-8")
    assert main(["predict", str(runs["xnli"]), "--input", str(source)]) == 2
    assert f"{source}:1: 3 tab-separated fields" in capsys.readouterr().err
