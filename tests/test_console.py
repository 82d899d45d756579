"""What a run prints: one line per model build for the weights it creates, the full report for anything else;
and what the quick commands (--help, compare) import."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import BertModel

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.arguments import ModelArguments
from modeling_dlfa.model_builder import build_model, load_model_config
from modeling_dlfa.sweep_results import SweepResults
from modeling_dlfa.tasks import get_task
from run_glue_x import main

from .conftest import REPO_ROOT
from .fixtures import FAST, write_xnli_dir
from .test_report import make_results, write_run

# Seconds of imports each, and none needed to print help or compare finished runs.
HEAVY_MODULES = {"datasets", "matplotlib", "ray", "evaluate", "seqeval"}


def _build(path) -> DLFAForTokenClassification:
    model_args = ModelArguments(model_name_or_path=str(path), fusion_layer="1")
    return build_model(get_task("panx"), model_args, 1, load_model_config(model_args))


def _messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_expected_new_weights_are_one_line_not_a_load_report(tiny_bert_dir, caplog):
    caplog.set_level(logging.INFO, logger="modeling_dlfa")
    model = _build(tiny_bert_dir)
    assert not any("LOAD REPORT" in message for message in _messages(caplog)), _messages(caplog)
    built = [message for message in _messages(caplog) if "new weights:" in message]
    assert built == [f"DLFAForTokenClassification from {tiny_bert_dir}: new weights: fusion, classifier"]
    assert isinstance(model, DLFAForTokenClassification)


def test_unexpected_weights_still_get_the_full_report(tmp_path, tiny_bert_dir, caplog):
    """A checkpoint with a weight nothing in the model takes: transformers' table is shown as it is."""
    BertModel.from_pretrained(tiny_bert_dir).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    weights["encoder.extra_adapter.weight"] = torch.zeros(2, 2)
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    caplog.set_level(logging.INFO, logger="modeling_dlfa")
    _build(tmp_path)
    reports = [message for message in _messages(caplog) if "LOAD REPORT" in message]
    assert len(reports) == 1 and "UNEXPECTED" in reports[0] and "extra_adapter" in reports[0]
    assert not any("new weights:" in message for message in _messages(caplog))


def _imported(*argv: str) -> tuple[set[str], str]:
    """(top-level packages run_glue_x.py imports for `argv` in a fresh interpreter, what it prints)."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", str(REPO_ROOT / "run_glue_x.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines}, completed.stdout


@pytest.mark.parametrize(
    ("argv", "flag"), [(["--help"], "--fusion_layer"), (["compare", "--help"], "--labels")]
)
def test_help_imports_no_heavy_module(argv, flag):
    imported, printed = _imported(*argv)
    assert flag in printed
    assert not imported & HEAVY_MODULES, sorted(imported & HEAVY_MODULES)


def test_compare_imports_only_what_its_report_needs(tmp_path):
    runs = [
        write_run(tmp_path / name, make_results(fusion_layer=layer))
        for name, layer in (("a", 6), ("b", None))
    ]
    imported, printed = _imported("compare", *map(str, runs), "--output_dir", str(tmp_path / "compare"))
    assert "baseline" in printed and (tmp_path / "compare" / "compare.md").is_file()
    # matplotlib draws compare.png; reading and tabulating results needs nothing else heavy.
    assert not imported & (HEAVY_MODULES - {"matplotlib"}), sorted(imported & HEAVY_MODULES)


def _run(*argv) -> tuple[int, str, str]:
    """run_glue_x.py's (exit code, stdout, stderr); tqdm writes to the stderr of the moment its bar opens."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def xnli_printed(tmp_path_factory, tiny_bert_dir) -> tuple[Path, str, str]:
    """A tiny XNLI run (de and fr zero-shot) with progress bars on: (output_dir, stdout, stderr)."""
    data = write_xnli_dir(tmp_path_factory.mktemp("xnli"))
    output = tmp_path_factory.mktemp("runs") / "xnli"
    code, out, err = _run(
        "--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "1",
        "--data_dir", data, "--output_dir", output, "--disable_tqdm", "false", "--report_to", "none", *FAST,
    )  # fmt: skip
    assert code == 0, err[-2000:]
    return output, out, err


def test_progress_bars_say_what_they_count(xnli_printed):
    _, _, err = xnli_printed
    # Each bar's description leads its lines: training, the per-epoch and final selection, then each language.
    for name in ("training", "dev (en)", "evaluating de", "evaluating fr"):
        assert f"{name}: 100%" in err, err[-3000:]
    # Named from the first time each bar draws itself (at 0%), not only once it has moved: no bar line starts
    # with a bare percentage.
    renders = [line for line in re.split(r"[\r\n]", err) if re.search(r"\d+%\|", line)]
    unnamed = [line for line in renders if re.match(r"\s*\d+%\|", line)]
    assert renders and not unnamed, unnamed[:3]


def test_the_summary_ends_with_where_the_files_are(xnli_printed):
    output, out, _ = xnli_printed
    after_table = out.split("-" * 100)[-1].splitlines()
    assert [line.split()[0] for line in after_table if line.strip()][-4:] == [
        "results", "report", "predictions", "model"
    ]  # fmt: skip
    assert f"results      {output / 'results.json'}" in out
    assert f"report       {output / 'results.md'}" in out
    assert f"predictions  {output / 'predictions'}{os.sep}" in out
    assert f"model        {output}{os.sep} (" in out
    assert (output / "results.md").is_file() and (output / "predictions" / "de.jsonl").is_file()


def test_a_sweep_summary_names_its_files_and_the_selected_setting(tmp_path, tiny_bert_dir):
    data = write_xnli_dir(tmp_path / "xnli")
    output = tmp_path / "sweep"
    code, out, err = _run(
        "--task_name", "xnli", "--model_name_or_path", tiny_bert_dir, "--fusion_layer", "none,1",
        "--data_dir", data, "--output_dir", output, "--save_model", "false", "--disable_tqdm", "true",
        "--report_to", "none", *FAST,
    )  # fmt: skip
    assert code == 0, err[-2000:]
    selected = SweepResults.read(output).selected
    assert f"sweep        {output / 'sweep.json'}" in out
    assert f"report       {output / 'sweep.md'}" in out
    assert f"selected     {output / selected.dir}{os.sep} ({selected.label}, best on the en dev set)" in out
    assert (output / selected.dir / "results.json").is_file()
