"""run_glue_x.py end to end on a tiny random backbone and small files the tests write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import seqeval.metrics
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from modeling_dlfa.metrics import macro_average
from run_glue_x import main

from .conftest import REPO_ROOT
from .fixtures import FAST, write_conllu, write_pairs, write_tagged, write_xnli_dir
from .test_report import seeded_runs


def run_cli(*args: str) -> int:
    return main([str(arg) for arg in args])


@pytest.fixture(scope="module")
def xnli_dir(tmp_path_factory) -> Path:
    return write_xnli_dir(tmp_path_factory.mktemp("xnli"))


@pytest.fixture(scope="module")
def xnli_run(tmp_path_factory, tiny_bert_dir, xnli_dir) -> Path:
    output = tmp_path_factory.mktemp("runs") / "xnli-d1"
    code = run_cli(
        "--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
        "--data_dir", xnli_dir, "--output_dir", output, *FAST,
    )  # fmt: skip
    assert code == 0
    return output


def read_results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def test_run_writes_what_run_glue_writes(xnli_run):
    """train/eval/all_results.json and trainer_state.json, as run_glue.py leaves them; the per-language scores
    go through Trainer.log (so --report_to trackers get them), named by split, language and metric."""
    results = read_results(xnli_run)
    train = json.loads((xnli_run / "train_results.json").read_text())
    evaluation = json.loads((xnli_run / "eval_results.json").read_text())
    every = json.loads((xnli_run / "all_results.json").read_text())
    assert train["train_loss"] > 0 and "train_runtime" in train
    assert evaluation["eval_score"] == results["train_dev_score"]
    for code, score in results["languages"].items():
        assert evaluation[f"eval_{code}_accuracy"] == score
    assert every == {**train, **evaluation}
    # The dev set (en) is logged with its most predicted class's share: a collapse onto one class shows.
    dev = [
        json.loads(line)["prediction"]
        for line in (xnli_run / "predictions" / "en.jsonl").read_text().splitlines()
    ]
    assert evaluation["eval_top_label_share"] == pytest.approx(100 * max(map(dev.count, set(dev))) / len(dev))
    assert not (xnli_run / "predict_results.json").exists()  # the validation split was scored, not test
    state = json.loads((xnli_run / "trainer_state.json").read_text())
    assert any("train_loss" in entry for entry in state["log_history"])
    assert any("eval_top_label_share" in entry for entry in state["log_history"])
    assert any(entry.get("eval_fr_accuracy") == results["languages"]["fr"] for entry in state["log_history"])


def test_sequence_run_writes_every_output(xnli_run, tiny_bert_dir):
    results = read_results(xnli_run)
    # No --fusion_gate: new runs take the gate the experiment favours (benchmarks/RESULTS.md).
    assert results["task"] == "xnli" and results["fusion_layer"] == 1 and results["fusion_gate"] == "sigmoid"
    assert results["backbone_type"] == "bert" and results["train_language"] == "en"
    assert results["metric"] == "accuracy" and results["eval_split"] == "validation"
    assert sorted(results["languages"]) == ["de", "en", "fr"]
    assert results["num_examples"] == {"de": 12, "en": 12, "fr": 12}
    assert results["num_train_examples"] == 32
    assert results["average"] == macro_average(results["languages"])
    assert results["average_without_train_language"] == macro_average(
        {k: v for k, v in results["languages"].items() if k != "en"}
    )
    assert results["group_members"] == {"enf": ["de", "en"], "noenf": ["fr"]}
    assert results["groups"]["noenf"] == results["languages"]["fr"]
    assert results["seed"] == 7 and results["train_dev_score"] is not None
    assert {"transformers", "torch", "modeling_dlfa"} <= set(results["versions"])
    for name in ["results.md", "per_language.png", "README.md", "model.safetensors", "config.json",
                 "configuration_dlfa.py", "modeling_dlfa.py", "tokenizer.json"]:  # fmt: skip
        assert (xnli_run / name).is_file(), name
    assert not list(xnli_run.glob("checkpoint-*"))
    assert not list(xnli_run.glob(".*tmp*"))

    # The predictions file of a language agrees with its score, and the saved model reproduces them.
    records = [json.loads(line) for line in (xnli_run / "predictions" / "fr.jsonl").read_text().splitlines()]
    assert len(records) == 12
    accuracy = 100 * sum(r["label"] == r["prediction"] for r in records) / len(records)
    assert accuracy == pytest.approx(results["languages"]["fr"]) == results["metrics"]["fr"]["accuracy"]
    assert results["heldout"] is None and results["skipped_languages"] == {}
    model = AutoModelForSequenceClassification.from_pretrained(xnli_run).eval()
    tokenizer = AutoTokenizer.from_pretrained(xnli_run)
    with torch.no_grad():
        batch = tokenizer(
            [r["text_a"] for r in records], [r["text_b"] for r in records], padding=True, return_tensors="pt"
        )
        predicted = model(**batch).logits.argmax(-1)
    assert [model.config.id2label[int(i)] for i in predicted] == [r["prediction"] for r in records]


def test_card_metadata_matches_results(xnli_run):
    from huggingface_hub import ModelCard

    card = ModelCard.load(xnli_run / "README.md")
    results = read_results(xnli_run)
    assert set(card.data.language) >= set(results["languages"])
    assert "dlfa" in card.data.tags and "custom_code" in card.data.tags


def test_refuses_an_output_dir_that_holds_results(xnli_run, tiny_bert_dir, xnli_dir, capsys):
    before = (xnli_run / "results.json").read_text()
    code = run_cli("--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
                   "--data_dir", xnli_dir, "--output_dir", xnli_run, *FAST)  # fmt: skip
    assert code == 2
    assert "already holds results (results.json)" in capsys.readouterr().err
    assert "--overwrite_output_dir" in capsys.readouterr().err or True
    assert (xnli_run / "results.json").read_text() == before


def test_same_seed_same_results(tmp_path, tiny_bert_dir, xnli_dir, xnli_run):
    output = tmp_path / "again"
    assert run_cli("--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
                   "--data_dir", xnli_dir, "--output_dir", output, *FAST) == 0  # fmt: skip
    first, second = read_results(xnli_run), read_results(output)
    assert first["languages"] == second["languages"]
    assert first["train_dev_score"] == second["train_dev_score"]


def test_evaluate_a_trained_dlfa_checkpoint(tmp_path, xnli_run, xnli_dir):
    output = tmp_path / "eval-only"
    assert run_cli("--task_name", "xnli", "--model_name_or_path", xnli_run, "--data_dir", xnli_dir,
                   "--do_eval", "--output_dir", output) == 0  # fmt: skip
    assert read_results(output)["languages"] == read_results(xnli_run)["languages"]
    assert read_results(output)["fusion_layer"] == 1


def test_checkpoint_with_other_labels_is_refused(tmp_path, xnli_run, capsys):
    pawsx = tmp_path / "pawsx"
    write_pairs(pawsx / "dev-en.tsv", 4)
    (pawsx / "dev-en.tsv").write_text("a\tb\t0\nc\td\t1\n")
    code = run_cli("--task_name", "pawsx", "--model_name_or_path", xnli_run, "--data_dir", pawsx,
                   "--do_eval", "--output_dir", tmp_path / "out")  # fmt: skip
    assert code == 2
    assert "trained with num_labels=3 (entailment, neutral, contradiction)" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


def test_token_task_from_files_one_by_one(tmp_path, tiny_bert_dir):
    train = write_tagged(tmp_path / "en-train.tsv", 20, seed=1)
    dev = write_tagged(tmp_path / "en-dev.tsv", 6, seed=2)
    de = write_tagged(tmp_path / "de.tsv", 7, seed=3)
    output = tmp_path / "ner"
    assert run_cli("--task_name", "wikiann", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "2",
                   "--train_file", train, "--validation_file", dev, "--eval_files", f"de={de},en={dev}",
                   "--output_dir", output, *FAST) == 0  # fmt: skip
    results = read_results(output)
    assert results["task"] == "panx" and results["metric"] == "span_f1"
    assert results["num_examples"] == {"de": 7, "en": 6}
    records = [json.loads(line) for line in (output / "predictions" / "de.jsonl").read_text().splitlines()]
    assert all(len(r["tokens"]) == len(r["labels"]) == len(r["predictions"]) for r in records)
    # Precision and recall per language beside F1, as seqeval computes them from the predictions.
    gold, guessed = [r["labels"] for r in records], [r["predictions"] for r in records]
    assert results["metrics"]["de"] == pytest.approx(
        {
            "span_f1": 100 * seqeval.metrics.f1_score(gold, guessed),
            "span_precision": 100 * seqeval.metrics.precision_score(gold, guessed),
            "span_recall": 100 * seqeval.metrics.recall_score(gold, guessed),
        }
    )
    assert results["metrics"]["de"]["span_f1"] == results["languages"]["de"]
    assert "| precision | recall |" in (output / "results.md").read_text()


@pytest.mark.filterwarnings("ignore:.*seems not to be NE tag")
def test_udpos_from_conllu(tmp_path, tiny_bert_dir):
    train = write_conllu(tmp_path / "en_train.conllu", 16, seed=1)
    dev = write_conllu(tmp_path / "en_dev.conllu", 5, seed=2)
    fr = write_conllu(tmp_path / "fr_dev.conllu", 5, seed=3)
    output = tmp_path / "pos"
    assert run_cli("--task_name", "udpos", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "none",
                   "--train_file", train, "--validation_file", dev, "--eval_files", f"fr={fr}",
                   "--output_dir", output, *FAST) == 0  # fmt: skip
    results = read_results(output)
    assert results["fusion_layer"] is None and results["metric"] == "span_f1"
    # POS F1 as XTREME and the paper score it, token accuracy beside it, per language.
    assert set(results["metrics"]["fr"]) == {"span_f1", "token_accuracy"}
    assert results["metrics"]["fr"]["span_f1"] == results["languages"]["fr"]
    assert "token accuracy" in (output / "results.md").read_text()
    records = [json.loads(line) for line in (output / "predictions" / "fr.jsonl").read_text().splitlines()]
    gold, guessed = [r["labels"] for r in records], [r["predictions"] for r in records]
    correct = sum(
        g == p
        for tags, guesses in zip(gold, guessed, strict=True)
        for g, p in zip(tags, guesses, strict=True)
    )
    assert results["metrics"]["fr"] == pytest.approx(
        {
            "span_f1": 100 * seqeval.metrics.f1_score(gold, guessed),
            "token_accuracy": 100 * correct / sum(map(len, gold)),
        }
    )
    assert results["languages"]["fr"] == results["metrics"]["fr"]["span_f1"]
    # Words come from the integer-ID lines only: the range 2-3 and the empty node 1.1 are not words.
    gold_words = sum(
        1
        for line in fr.read_text().splitlines()
        if line and not line.startswith("#") and line.split("\t")[0].isdigit()
    )
    assert sum(len(r["tokens"]) for r in records) == gold_words


def test_sweep_selects_on_the_dev_set_and_compare_reports(tmp_path, tiny_bert_dir, xnli_dir, xnli_run):
    output = tmp_path / "sweep"
    assert run_cli("--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "none,2",
                   "--data_dir", xnli_dir, "--output_dir", output, *FAST) == 0  # fmt: skip
    sweep = json.loads((output / "sweep.json").read_text())
    assert [s["fusion_layer"] for s in sweep["settings"]] == [None, 2]
    dev_scores = {s["fusion_layer"]: s["results"]["train_dev_score"] for s in sweep["settings"]}
    best = max(dev_scores.values())
    assert sweep["selected_fusion_layer"] == next(k for k, v in dev_scores.items() if v == best)
    for name in ("sweep.md", "sweep.png", "fusion_none/results.json", "fusion_2/results.json"):
        assert (output / name).is_file()

    report = tmp_path / "report"
    assert run_cli("compare", xnli_run, output / "fusion_none", "--output_dir", report) == 0
    comparison = json.loads((report / "compare.json").read_text())
    fr = comparison["languages"]["fr"]
    d1, baseline = (
        read_results(xnli_run)["languages"]["fr"],
        read_results(output / "fusion_none")["languages"]["fr"],
    )
    assert list(fr["scores"].values()) == [d1, baseline]
    assert round(baseline - d1, 2) in [round(d, 2) for d in fr["differences"].values() if d is not None]
    assert (report / "compare.md").is_file() and (report / "compare.png").is_file()


def test_compare_refuses_runs_of_different_tasks(tmp_path, xnli_run, capsys):
    other = tmp_path / "other"
    other.mkdir()
    results = read_results(xnli_run) | {"task": "pawsx"}
    (other / "results.json").write_text(json.dumps(results))
    assert run_cli("compare", xnli_run, other, "--output_dir", tmp_path / "report") == 2
    error = capsys.readouterr().err
    assert "different tasks" in error and "xnli" in error and "pawsx" in error
    assert not (tmp_path / "report").exists()


def test_compare_refuses_runs_scored_on_other_examples_unless_forced(tmp_path, xnli_run, capsys):
    other = tmp_path / "other"
    other.mkdir()
    results = read_results(xnli_run)
    results["num_examples"] = {**results["num_examples"], "de": 5}
    (other / "results.json").write_text(json.dumps(results))
    report = tmp_path / "report"
    assert run_cli("compare", xnli_run, other, "--output_dir", report) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: cannot compare runs with different evaluation")
    assert f"examples for de: {xnli_run} (12 examples), {other} (5 examples) (--force" in error
    assert not report.exists()
    assert run_cli("compare", xnli_run, other, "--output_dir", report, "--force") == 0
    assert "⚠ not comparable: de examples differ (12 vs 5)." in capsys.readouterr().out
    assert (report / "compare.md").read_text().count("⚠ not comparable: de examples differ (12 vs 5).") == 3
    (mismatch,) = json.loads((report / "compare.json").read_text())["mismatches"]
    assert mismatch["kind"] == "num_examples" and mismatch["values"] == {str(xnli_run): 12, str(other): 5}


def test_compare_aggregates_seeds_under_one_label_per_setting(tmp_path, capsys):
    folders, scores = seeded_runs(tmp_path, {None: [1, 2, 3], 6: [1, 2, 3]})
    report = tmp_path / "report"
    assert run_cli("compare", *folders, "--output_dir", report, "--labels", "base,dlfa") == 0
    comparison = json.loads((report / "compare.json").read_text())
    assert [(run["label"], run["seeds"]) for run in comparison["runs"]] == [
        ("base", [1, 2, 3]),
        ("dlfa", [1, 2, 3]),
    ]
    zh = comparison["languages"]["zh"]["difference"]["dlfa"]
    assert zh["mean"] == pytest.approx(sum(scores[6][s]["zh"] - scores[None][s]["zh"] for s in (1, 2, 3)) / 3)
    assert "| zh |" in capsys.readouterr().out
    assert run_cli("compare", *folders, "--output_dir", report, "--labels", "a,b,c,d,e,f") == 2
    assert "6 labels for 2 columns" in capsys.readouterr().err


def test_dev_holdout_trains_on_part_of_a_dev_file(tmp_path, tiny_bert_dir):
    data = tmp_path / "data"
    write_pairs(data / "dev-en.tsv", 30, seed=1)
    write_pairs(data / "dev-de.tsv", 30, seed=2)
    output = tmp_path / "holdout"
    assert run_cli("--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
                   "--data_dir", data, "--train_split", "validation", "--dev_holdout", "10",
                   "--output_dir", output, *FAST) == 0  # fmt: skip
    results = read_results(output)
    assert results["num_train_examples"] == 20
    assert results["num_examples"] == {"de": 10, "en": 10}
    heldout = results["heldout"]
    assert heldout["count"] == 10 and heldout["seed"] == 0 and heldout["parallel"] is True
    assert len(heldout["rows"]) == 10 and heldout["evaluated_rows"] == heldout["rows"]
    english, german = str(data / "dev-en.tsv"), str(data / "dev-de.tsv")
    assert results["data_origins"] == {
        "train": {"source": "file", "path": english},
        "dev": {"source": "file", "path": english, "heldout": 10},
        "en": {"source": "file", "path": english, "heldout": 10},
        "de": {"source": "file", "path": german, "heldout": 10},
    }
    # XNLI files are translations row by row: German is scored on the held-out rows only.
    for language in ("en", "de"):
        lines = (data / f"dev-{language}.tsv").read_text().splitlines()
        expected = sorted(lines[row].rsplit("\t", 1)[0] for row in heldout["rows"])
        records = map(json.loads, (output / f"predictions/{language}.jsonl").read_text().splitlines())
        assert sorted(f"{r['text_a']}\t{r['text_b']}" for r in records) == expected, language
    assert "every language is scored on those rows" in (output / "results.md").read_text()


def test_dev_holdout_refuses_a_parallel_file_of_another_length(tmp_path, tiny_bert_dir, capsys):
    data = tmp_path / "data"
    write_pairs(data / "dev-en.tsv", 30, seed=1)
    write_pairs(data / "dev-de.tsv", 29, seed=2)
    code = run_cli("--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
                   "--data_dir", data, "--train_split", "validation", "--dev_holdout", "10",
                   "--output_dir", tmp_path / "out", *FAST)  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err
    assert f"{data / 'dev-de.tsv'} has 29 examples but {data / 'dev-en.tsv'} has 30" in error
    assert not (tmp_path / "out" / "results.json").exists()


def test_json_argument_file(tmp_path, tiny_bert_dir, xnli_dir, capsys):
    args = {"task_name": "xnli", "model_name_or_path": str(tiny_bert_dir), "fusion_layer": "1",
            "data_dir": str(xnli_dir), "output_dir": str(tmp_path / "json-run"), "num_train_epochs": 1,
            "max_train_samples": 8, "max_eval_samples": 4}  # fmt: skip
    path = tmp_path / "args.json"
    path.write_text(json.dumps(args))
    assert run_cli(path) == 0
    assert read_results(tmp_path / "json-run")["num_examples"] == {"de": 4, "en": 4, "fr": 4}
    path.write_text(json.dumps(args | {"learning_rat": 1e-3, "output_dir": str(tmp_path / "x")}))
    assert run_cli(path) == 2
    assert "unknown argument(s) learning_rat" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_command_line_in_a_subprocess(tmp_path, tiny_bert_dir, xnli_dir):
    output = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "run_glue_x.py"), "--task_name", "xnli", "--model_name_or_path",
         str(tiny_bert_dir), "--fusion_layer", "1", "--data_dir", str(xnli_dir), "--output_dir", str(output),
         "--max_train_samples", "8", "--max_eval_samples", "4", *FAST],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # The one-screen summary at the end names every language.
    assert all(f"{language} " in result.stdout for language in ("de", "en", "fr"))


def test_push_to_hub_sends_the_finished_folder_in_one_commit(tmp_path, tiny_bert_dir, xnli_dir, monkeypatch):
    import modeling_dlfa.hub as hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id))

        def revision_exists(self, *args, **kwargs):
            return True

        def create_commit(self, repo_id, operations, **kwargs):
            calls.append(("create_commit", repo_id, sorted(op.path_in_repo for op in operations)))

    monkeypatch.setattr(hub, "HfApi", FakeApi)
    output = tmp_path / "pushed"
    assert run_cli("--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
                   "--data_dir", xnli_dir, "--output_dir", output, "--max_train_samples", "8",
                   "--push_to_hub", "--hub_model_id", "someone/xnli-dlfa", "--hub_token", "t", *FAST) == 0  # fmt: skip
    commits = [call for call in calls if call[0] == "create_commit"]
    assert len(commits) == 1 and commits[0][1] == "someone/xnli-dlfa"
    uploaded = commits[0][2]
    assert {"model.safetensors", "config.json", "configuration_dlfa.py", "modeling_dlfa.py", "README.md",
            "results.json", "tokenizer.json"} <= set(uploaded)  # fmt: skip
    assert not any(name.startswith(("checkpoint-", "predictions", "run_config")) for name in uploaded)
    assert "someone/xnli-dlfa" in (output / "README.md").read_text()


@pytest.mark.parametrize(
    "trainer_class", ["ordered", pytest.param("stock", marks=pytest.mark.xfail(strict=True))]
)
def test_predictions_stay_in_example_order_with_length_grouping(tmp_path, tiny_bert_dir, trainer_class):
    """group_by_length makes the stock Trainer length-group evaluation too (the "stock" case shows the test
    catches it); the predictions must line up with their examples."""
    from transformers import DataCollatorForTokenClassification, Trainer

    from modeling_dlfa import DLFAForTokenClassification
    from modeling_dlfa.arguments import GlueXTrainingArguments
    from modeling_dlfa.data import read_file
    from modeling_dlfa.features import tokenize
    from modeling_dlfa.scoring import predict_language
    from modeling_dlfa.tasks import get_task
    from modeling_dlfa.training import OrderedEvaluationTrainer

    task = get_task("panx")
    raw = read_file(task, write_tagged(tmp_path / "dev.tsv", 24, seed=5))
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    features = tokenize(task, raw, tokenizer, max_length=64, cache_dir=tmp_path / "cache")
    torch.manual_seed(0)
    model = DLFAForTokenClassification.from_backbone(tiny_bert_dir, fusion_layer=1, id2label=task.id2label)
    torch.nn.init.normal_(model.classifier.weight, std=3.0)  # predictions that differ between words
    model.eval()
    args = GlueXTrainingArguments(
        output_dir=str(tmp_path / "out"),
        train_sampling_strategy="group_by_length",
        per_device_eval_batch_size=4,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
    )
    trainer_type = OrderedEvaluationTrainer if trainer_class == "ordered" else Trainer
    trainer = trainer_type(
        model=model,
        args=args,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
    )
    _, records, _ = predict_language(trainer, task, raw, features)
    expected = []
    with torch.no_grad():
        for tokens in raw["tokens"]:
            encoded = tokenizer(tokens, is_split_into_words=True, return_tensors="pt")
            predicted = model(**encoded).logits[0].argmax(-1)
            first = {
                word: position
                for position, word in reversed(list(enumerate(encoded.word_ids())))
                if word is not None
            }
            expected.append([task.labels[int(predicted[first[word]])] for word in range(len(tokens))])
    assert len({tag for row in expected for tag in row}) > 1
    assert [record["predictions"] for record in records] == expected


def test_hub_languages_without_the_split_are_listed_in_the_results(tmp_path, tiny_bert_dir, monkeypatch):
    import datasets

    from .test_task_data import XtremeHub

    monkeypatch.setattr(datasets, "load_dataset", XtremeHub({"udpos.Thai": ("train", "validation")}))
    output = tmp_path / "pos-hub"
    assert run_cli("--task_name", "udpos", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "none",
                   "--eval_languages", "en,th,de", "--output_dir", output, *FAST) == 0  # fmt: skip
    results = read_results(output)
    assert list(results["languages"]) == ["en", "de"]
    assert results["skipped_languages"] == {"th": "no validation split on google/xtreme"}
    assert "Not evaluated: th (no validation split on google/xtreme)" in (output / "results.md").read_text()


def test_continued_training_on_a_target_language_records_its_lineage(tmp_path, tiny_bert_dir, xnli_run):
    """Few-shot: a DLFA checkpoint trained on English, trained further on German data; results.json and the
    card say what it started from and on what that was trained."""
    german = tmp_path / "de"
    german.mkdir()
    write_pairs(german / "train-de.tsv", 16, seed=5)
    write_pairs(german / "dev-de.tsv", 8, seed=6)
    output = tmp_path / "continued"
    code = run_cli(
        "--task_name", "xnli", "--model_name_or_path", xnli_run, "--do_train", "--do_eval", "--data_dir", german,
        "--train_language", "de",
        "--output_dir", output, *FAST,
    )  # fmt: skip
    assert code == 0
    results = read_results(output)
    first = read_results(xnli_run)
    assert results["lineage"] == [
        {
            "model_name_or_path": str(xnli_run),
            "started_from": first["model_name_or_path"],
            "task": "xnli",
            "train_language": "en",
            "num_train_examples": first["num_train_examples"],
            "train_data": first["data_sources"]["train"],
            "seed": first["seed"],
        }
    ]
    assert results["train_language"] == "de" and results["fusion_layer"] == first["fusion_layer"]
    card = (output / "README.md").read_text()
    assert (
        f"Continued from | `{xnli_run}`, trained on xnli, en, {first['num_train_examples']:,} examples"
        in card
    )
    # A run from a plain backbone has no lineage.
    assert "lineage" not in first and "task_definition" not in first
