"""load_task_data: which rows each language is scored on, and which Hub splits each language has."""

from __future__ import annotations

import logging

import datasets
import pytest
from transformers import AutoTokenizer

from modeling_dlfa.arguments import DataArguments
from modeling_dlfa.data import DataError, find_xtreme_files, read_xtreme_tsv
from modeling_dlfa.features import MODEL_COLUMNS, cache_key, tokenize
from modeling_dlfa.run_data import load_task_data
from modeling_dlfa.tasks import UPOS_TAGS, get_task
from modeling_dlfa.training import model_inputs

from .conftest import SHARED_DATA
from .fixtures import write_pairs


def load(task_name: str, training: bool = True, **arguments):
    return load_task_data(
        get_task(task_name), DataArguments(task_name=task_name, **arguments), training=training
    )


def rows(dataset: datasets.Dataset) -> list[int]:
    return dataset["row"]


# --- parallel files: every language is scored on the held-out rows only -----------------------------------


def check_zero_shot(data, holdout: int, max_eval_samples: int | None = None):
    trained = set(rows(data.train))
    evaluated = rows(data.evaluation["en"])
    assert len(evaluated) == min(holdout, max_eval_samples or holdout)
    assert len(data.evaluation) > 1
    for code, dataset in data.evaluation.items():
        # The same item in every language (row i of every file), and none of them trained on.
        assert rows(dataset) == evaluated, code
        assert not trained & set(rows(dataset)), code
    assert set(evaluated) <= set(data.heldout["rows"])
    assert data.heldout["evaluated_rows"] == sorted(evaluated)
    assert len(data.heldout["rows"]) == data.heldout["count"] == holdout
    assert data.heldout["parallel"] is True
    assert len(trained) + holdout == data.heldout["file_rows"]


def test_parallel_files_are_scored_on_the_held_out_rows(tmp_path):
    for language in ("en", "de", "fr"):
        write_pairs(tmp_path / f"dev-{language}.tsv", 40, seed=len(language) + ord(language[0]))
    for max_eval_samples in (None, 3, 25):
        data = load(
            "xnli",
            data_dir=str(tmp_path),
            train_split="validation",
            dev_holdout=10,
            max_eval_samples=max_eval_samples,
        )
        check_zero_shot(data, 10, max_eval_samples)
        texts = {code: dataset["text_a"] for code, dataset in data.evaluation.items()}
        lines = (tmp_path / "dev-de.tsv").read_text().splitlines()
        assert texts["de"] == [lines[row].split("\t")[0] for row in rows(data.evaluation["en"])]


def test_max_train_samples_is_drawn_from_the_training_rows(tmp_path):
    write_pairs(tmp_path / "dev-en.tsv", 40)
    write_pairs(tmp_path / "dev-de.tsv", 40, seed=3)
    data = load(
        "xnli", data_dir=str(tmp_path), train_split="validation", dev_holdout=10, max_train_samples=25
    )
    assert len(data.train) == 25 and not set(rows(data.train)) & set(data.heldout["rows"])


def test_parallel_file_of_another_length_is_refused(tmp_path):
    write_pairs(tmp_path / "dev-en.tsv", 40)
    write_pairs(tmp_path / "dev-de.tsv", 39, seed=3)
    expected = f"{tmp_path / 'dev-de.tsv'} has 39 examples but {tmp_path / 'dev-en.tsv'} has 40"
    with pytest.raises(DataError, match=expected):
        load("xnli", data_dir=str(tmp_path), train_split="validation", dev_holdout=10)


def test_other_tasks_and_splits_keep_whole_files(tmp_path):
    # PAN-X dev files are not translations of one another; a test split is not the dev file trained on.
    write_pairs(tmp_path / "dev-en.tsv", 40)
    write_pairs(tmp_path / "dev-de.tsv", 30, seed=3)
    write_pairs(tmp_path / "test-de.tsv", 20, seed=4)
    data = load("xnli", data_dir=str(tmp_path), train_split="validation", dev_holdout=10, eval_split="test")
    assert len(data.evaluation["de"]) == 20 and data.heldout["parallel"] is False
    data = load("xnli", data_dir=str(tmp_path), train_file=str(tmp_path / "dev-en.tsv"))
    assert data.heldout is None and len(data.evaluation["de"]) == 30


def test_row_ids_stay_out_of_the_model_and_change_the_cache_key(tmp_path, tiny_tokenizer_dir):
    for language in ("en", "de"):
        write_pairs(tmp_path / f"dev-{language}.tsv", 40, seed=len(language))
    task, tokenizer = get_task("xnli"), AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    arguments = {"data_dir": str(tmp_path), "train_split": "validation", "dev_holdout": 10}
    german = load("xnli", **arguments).evaluation["de"]
    features = tokenize(task, german, tokenizer, max_length=32, cache_dir=tmp_path / "cache")
    assert "row" not in features.column_names
    assert set(model_inputs(features).column_names) <= set(MODEL_COLUMNS)

    def key(dataset):
        return cache_key(task, dataset, tokenizer, 32, False)

    # The same selection again: the same features; other rows of the same file: other features.
    assert key(load("xnli", **arguments).evaluation["de"]) == key(german)
    assert key(load("xnli", **arguments, max_eval_samples=4).evaluation["de"]) != key(german)
    assert key(
        load("xnli", data_dir=str(tmp_path), train_file=str(tmp_path / "dev-en.tsv")).evaluation["de"]
    ) != (key(german))


XTREME = SHARED_DATA / "xtreme"


@pytest.mark.skipif(not (XTREME / "xnli").is_dir(), reason=f"real data not found at {XTREME}")
@pytest.mark.parametrize(
    ("task_name", "holdout", "max_eval_samples"),
    [
        ("xnli", 500, None),  # the README's command
        ("xnli", 500, 200),
        ("xnli", 500, 800),
        ("pawsx", 200, None),
        ("pawsx", 200, 50),
        ("pawsx", 200, 300),
    ],
)
def test_real_parallel_files_score_no_translation_of_a_training_row(task_name, holdout, max_eval_samples):
    data = load(
        task_name,
        data_dir=str(XTREME / task_name),
        train_split="validation",
        dev_holdout=holdout,
        max_eval_samples=max_eval_samples,
    )
    assert sorted(data.evaluation) == sorted(get_task(task_name).languages)
    check_zero_shot(data, holdout, max_eval_samples)
    # Row i of the English file is row i of the German one: the labels agree row by row (PAWS-X's
    # translators relabelled 32 of its 2000 pairs; unaligned rows would agree on about half).
    german = read_xtreme_tsv(task_name, find_xtreme_files(task_name, XTREME)["dev"]["de"])
    pairs = zip(
        data.evaluation["en"]["label"], german.select(rows(data.evaluation["en"]))["label"], strict=True
    )
    agree = [english == translated for english, translated in pairs]
    assert sum(agree) >= 0.95 * len(agree)


# --- Hub splits per language --------------------------------------------------------------------------------


class XtremeHub:
    """A fake google/xtreme that has, like the real one, no validation split for some UD languages."""

    def __init__(self, missing: dict[str, tuple[str, ...]]):
        self.missing = missing
        self.calls = []

    def __call__(self, path, name=None, split=None, cache_dir=None):
        self.calls.append((name, split))
        if split in self.missing.get(name, ()):
            raise ValueError(f"Unknown split \"{split}\". Should be one of ['test'].")
        tags = datasets.List(datasets.ClassLabel(names=list(UPOS_TAGS)))
        features = datasets.Features({"tokens": datasets.List(datasets.Value("string")), "pos_tags": tags})
        return datasets.Dataset.from_dict(
            {"tokens": [["Hund", "."]], "pos_tags": [[7, 12]]}, features=features
        )


WITHOUT_VALIDATION = ["kk", "th", "tl", "yo"]


def test_udpos_hub_languages_without_the_split_are_skipped(monkeypatch, caplog):
    names = {"kk": "Kazakh", "th": "Thai", "tl": "Tagalog", "yo": "Yoruba"}
    hub = XtremeHub({f"udpos.{name}": ("validation", "train") for name in names.values()})
    monkeypatch.setattr(datasets, "load_dataset", hub)
    with caplog.at_level(logging.WARNING, logger="modeling_dlfa.transfer"):
        data = load("udpos")
    assert data.skipped == dict.fromkeys(WITHOUT_VALIDATION, "no validation split on google/xtreme")
    assert sorted(data.evaluation) == sorted(set(get_task("udpos").languages) - set(WITHOUT_VALIDATION))
    assert not any(split in hub.missing.get(name, ()) for name, split in hub.calls)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and all(code in warnings[0] for code in WITHOUT_VALIDATION)
    # Their test splits are there.
    assert sorted(load("udpos", eval_languages="en,kk,th", eval_split="test").evaluation) == [
        "en",
        "kk",
        "th",
    ]


def test_only_skipped_languages_left_is_an_error(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", XtremeHub({}))
    with pytest.raises(DataError, match="no language left to evaluate: th, yo skipped"):
        load("udpos", eval_languages="th,yo")


def test_no_network_fails_at_the_first_hub_call(monkeypatch):
    calls = []

    def unreachable(path, name=None, split=None, cache_dir=None):
        calls.append(name)
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(
        DataError, match="cannot load google/xtreme config udpos.English split train.*--data_dir"
    ):
        load("udpos")
    assert calls == ["udpos.English"]
