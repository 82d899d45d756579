"""--do_train / --do_eval / --do_predict as run_glue.py means them, and the data each split is scored on."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from run_glue_x import main

from .fixtures import FAST, write_panx_dir, write_tagged

TINY_RUN = [*FAST, "--fusion_layer", "1"]


def read(folder: Path, name: str = "results.json") -> dict:
    return json.loads((folder / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def panx_with_test(tmp_path_factory) -> Path:
    data = write_panx_dir(tmp_path_factory.mktemp("panx"))
    for seed, language in enumerate(("en", "de", "fr"), start=30):
        write_tagged(data / f"test-{language}.tsv", 7, seed=seed)
    return data


@pytest.fixture(scope="module")
def both_splits(tmp_path_factory, tiny_bert_dir, panx_with_test) -> Path:
    output = tmp_path_factory.mktemp("runs") / "both"
    code = main(["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(panx_with_test),
                 "--do_train", "--do_eval", "--do_predict", "--output_dir", str(output), *TINY_RUN])  # fmt: skip
    assert code == 0
    return output


def test_do_eval_and_do_predict_score_both_splits_in_one_invocation(both_splits, panx_with_test):
    results = read(both_splits)
    # The test split is the headline, reported in full; the validation split beside it.
    assert results["eval_split"] == "test"
    assert results["num_examples"] == {"de": 7, "en": 7, "fr": 7}
    assert results["data_sources"]["de"] == str(panx_with_test / "test-de.tsv")
    validation = results["other_splits"]["validation"]
    assert validation["num_examples"] == {"de": 10, "en": 10, "fr": 10}
    assert validation["data_sources"]["fr"] == str(panx_with_test / "dev-fr.tsv")
    assert validation["average"] == pytest.approx(sum(validation["languages"].values()) / 3)
    # run_glue.py's files: each split's per-language metrics under its own prefix.
    predict, evaluation = read(both_splits, "predict_results.json"), read(both_splits, "eval_results.json")
    assert predict["predict_de_span_f1"] == results["languages"]["de"]
    assert evaluation["eval_de_span_f1"] == validation["languages"]["de"]
    assert not any(key.startswith("eval_") for key in predict)
    all_results = read(both_splits, "all_results.json")
    assert {"predict_fr_span_f1", "eval_fr_span_f1", "train_loss"} <= set(all_results)
    # Predictions are written for the test split (what --do_predict writes).
    lines = (both_splits / "predictions" / "de.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7
    assert "## The validation split" in (both_splits / "results.md").read_text(encoding="utf-8")


def test_evaluation_only_of_a_checkpoint_is_labelled_as_such(tmp_path, both_splits, panx_with_test):
    output = tmp_path / "evaluated"
    assert main(["--task_name", "panx", "--model_name_or_path", str(both_splits), "--data_dir", str(panx_with_test),
                 "--do_predict", "--output_dir", str(output), "--report_to", "none"]) == 0  # fmt: skip
    results = read(output)
    # The same model on the same split: the checkpoint's own test scores.
    assert results["languages"] == read(both_splits)["languages"]
    assert results["num_train_examples"] == 0 and "other_splits" not in results
    assert results["lineage"][-1]["model_name_or_path"] == str(both_splits)
    assert not (output / "train_results.json").exists()
    card = (output / "README.md").read_text(encoding="utf-8")
    assert "An **evaluation** of the DLFA checkpoint" in card and "run trained nothing" in card
    assert "fine-tuned on" not in card and "| Epochs |" not in card
    assert f"| Evaluated checkpoint | `{both_splits}`, trained on panx, en, 24 examples" in card


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--do_eval"], "is a plain encoder: it has no trained task head to evaluate. Add --do_train"),
        (["--do_predict"], "is a plain encoder: it has no trained task head to evaluate"),
        (["--do_train"], "--do_train alone would train a model that nothing scores: add --do_eval"),
    ],
)
def test_steps_that_cannot_do_what_they_say_are_refused(
    tmp_path, tiny_bert_dir, panx_with_test, flags, message, capsys
):
    output = tmp_path / "out"
    code = main(["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(panx_with_test),
                 *flags, "--output_dir", str(output), *TINY_RUN])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_a_split_the_data_folder_lacks_is_named_with_what_it_has(tmp_path, tiny_bert_dir, capsys):
    data = write_panx_dir(tmp_path / "panx")
    for flags in (["--eval_split", "test"], ["--do_train", "--do_predict"]):
        code = main(["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data),
                     *flags, "--output_dir", str(tmp_path / "out"), *TINY_RUN])  # fmt: skip
        assert code == 2
        assert (
            f"the data folder {data} has no test-<lang>.tsv for panx; it has: train-en.tsv, dev-de.tsv, "
            "dev-en.tsv, dev-fr.tsv"
        ) in capsys.readouterr().err


def test_max_predict_samples_limits_the_test_split_only(tmp_path, tiny_bert_dir, panx_with_test):
    output = tmp_path / "limited"
    assert main(["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(panx_with_test),
                 "--do_train", "--do_eval", "--do_predict", "--max_predict_samples", "3", "--max_eval_samples", "5",
                 "--output_dir", str(output), *TINY_RUN]) == 0  # fmt: skip
    results = read(output)
    assert results["num_examples"] == {"de": 3, "en": 3, "fr": 3}
    assert results["other_splits"]["validation"]["num_examples"] == {"de": 5, "en": 5, "fr": 5}


def test_flags_that_override_the_data_folder_say_so(tmp_path, tiny_bert_dir, panx_with_test, caplog):
    train = write_tagged(tmp_path / "my-train.tsv", 16, seed=9)
    with caplog.at_level(logging.WARNING, logger="modeling_dlfa.run_data"):
        assert main(["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(panx_with_test),
                     "--train_file", str(train), "--output_dir", str(tmp_path / "out"), *TINY_RUN]) == 0  # fmt: skip
    assert f"--train_file {train} is trained on, not {panx_with_test}'s train-en.tsv" in caplog.text
    assert read(tmp_path / "out")["data_sources"]["train"] == str(train)


def test_a_task_file_missing_a_split_file_is_named_as_a_task_file(tmp_path, tiny_bert_dir, capsys):
    data = tmp_path / "mine"
    write_panx_dir(data)
    task_file = data / "task.yaml"
    task_file.write_text(
        "name: my-ner\nkind: token\nlabels: [O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC]\n"
        "languages: [en, de]\nmetric: span_f1\n"
        "files:\n  train: {en: train-en.tsv}\n  dev: {de: dev-de.tsv}\n",
        encoding="utf-8",
    )
    code = main(["--task_file", str(task_file), "--model_name_or_path", str(tiny_bert_dir), "--do_train",
                 "--do_predict", "--output_dir", str(tmp_path / "out"), *TINY_RUN])  # fmt: skip
    assert code == 2
    assert (
        f"task file {task_file} names no test file; it names: train en, dev de (add the file under files: test:, "
        "or evaluate another split)"
    ) in capsys.readouterr().err


def test_a_run_loads_the_model_config_once(tmp_path, tiny_bert_dir, panx_with_test, monkeypatch):
    from transformers import AutoConfig

    from modeling_dlfa import model_builder

    loads = []
    original = model_builder._load

    def counting(auto_class, flag, name, model_args):
        loads.append(auto_class)
        return original(auto_class, flag, name, model_args)

    monkeypatch.setattr(model_builder, "_load", counting)
    assert main(["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(panx_with_test),
                 "--output_dir", str(tmp_path / "run"), *TINY_RUN]) == 0  # fmt: skip
    assert loads.count(AutoConfig) == 1
