"""What a run prints: one line per model build for the weights it creates, the full report for anything else;
and what the quick commands (--help, compare) import."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import BertModel

from modeling_dlfa import DLFAForTokenClassification
from modeling_dlfa.arguments import ModelArguments
from modeling_dlfa.model_builder import build_model, load_model_config
from modeling_dlfa.tasks import get_task

from .conftest import REPO_ROOT
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
