"""Bad input to run_glue_x.py, as a table: every case is refused with exit code 2, a message that names what is
wrong and where (file and line, the allowed values), and no output left behind.

Then the odd-but-valid input that must be handled, not refused: blank lines anywhere, CRLF line endings,
sentences far longer than --max_seq_length, empty strings in a pair column.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from modeling_dlfa import DLFAForSequenceClassification
from modeling_dlfa.metrics import compute_score
from modeling_dlfa.tasks import get_task
from run_glue_x import main

from .conftest import tiny_backbone_config
from .fixtures import NER_TAGS, WORDS, write_conllu, write_pairs, write_tagged

QUICK = [
    "--max_steps", "1", "--per_device_train_batch_size", "8", "--eval_strategy", "no",
    "--save_strategy", "no", "--load_best_model_at_end", "false", "--report_to", "none",
    "--disable_tqdm", "true", "--seed", "1",
]  # fmt: skip
OUTPUTS = ("results.json", "model.safetensors", "predictions", "README.md", "results.md")


@dataclass
class Setup:
    tmp: Path
    backbone: Path  # a plain 3-layer BERT
    checkpoint: Path  # a DLFA xnli checkpoint (fusion layer 1), never trained
    out: Path

    def xnli(self, **files: str | bytes) -> dict[str, Path]:
        """train.tsv (8 pairs), dev.tsv (4) and de.tsv (4), any of them replaced by the given content."""
        paths = {}
        for name, count in (("train", 8), ("dev", 4), ("de", 4)):
            path = self.tmp / f"{name}.tsv"
            if name in files:
                content = files[name]
                path.write_bytes(content if isinstance(content, bytes) else content.encode())
            else:
                write_pairs(path, count, seed=len(name))
            paths[name] = path
        return paths

    def xnli_args(self, paths: dict[str, Path], *extra: str, model: Path | str | None = None) -> list[str]:
        return [
            "--task_name", "xnli", "--model_name_or_path", str(model or self.backbone), "--fusion_layer", "1",
            "--train_file", str(paths["train"]), "--validation_file", str(paths["dev"]),
            "--eval_files", f"de={paths['de']}", "--output_dir", str(self.out), *QUICK, *extra,
        ]  # fmt: skip

    def eval_args(self, model: Path, task: str = "xnli", *extra: str) -> list[str]:
        data = self.tmp / "data"
        if task == "pawsx":
            data.mkdir(exist_ok=True)
            (data / "dev-en.tsv").write_text("a cat\ta dog\t0\nthe cat\tthe cat\t1\n")
        else:
            write_pairs(data / "dev-en.tsv", 4)
        return [
            "--task_name", task, "--model_name_or_path", str(model), "--data_dir", str(data), "--do_eval",
            "--output_dir", str(self.out), *extra,
        ]  # fmt: skip


def pairs_text(count: int, seed: int = 0) -> list[str]:
    """Lines of a valid XNLI TSV (with their newlines)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        premise, hypothesis = " ".join(rng.choices(WORDS, k=4)), " ".join(rng.choices(WORDS, k=3))
        lines.append(f"{premise}\t{hypothesis}\t{rng.choice(['neutral', 'entailment'])}\n")
    return lines


def with_line(lines: list[str], number: int, text: str) -> str:
    """The lines with line `number` (1-based) replaced by `text`."""
    lines = list(lines)
    lines[number - 1] = text
    return "".join(lines)


# Each case: build(setup) -> (argv, substrings the error message must hold).
Build = Callable[[Setup], tuple[list[str], list[str]]]


def tsv_extra_column(s: Setup):
    p = s.xnli(train=with_line(pairs_text(8), 3, "the cat\ta dog\tneutral\tsurplus\n"))
    return s.xnli_args(p), [
        f"{p['train']}:3:",
        "expected 3 tab-separated columns (text_a, text_b, label), found 4",
    ]


def xnli_row_with_two_columns(s: Setup):
    p = s.xnli(dev=with_line(pairs_text(4), 2, "the cat is big\tentailment\n"))
    return s.xnli_args(p), [f"{p['dev']}:2:", "expected 3 tab-separated columns", "found 2"]


def non_utf8_bytes(s: Setup):
    lines = [line.encode() for line in pairs_text(6)]
    lines[4] = b"caf\xe9 au lait\tthe cat\tneutral\n"  # Latin-1, not UTF-8
    p = s.xnli(de=b"".join(lines))
    return s.xnli_args(p), [f"{p['de']}:5:", "byte 0xe9 (byte 4 of the line) is not UTF-8"]


def label_outside_the_set(s: Setup):
    p = s.xnli(train=with_line(pairs_text(8), 4, "the cat\ta dog\tmaybe\n"))
    return s.xnli_args(p), [
        f"{p['train']}:4:",
        "label 'maybe' is not a xnli label; allowed: entailment, neutral, contradiction",
    ]


def conllu_line_missing_columns(s: Setup):
    train = write_conllu(s.tmp / "en_train.conllu", 4, seed=1)
    dev = write_conllu(s.tmp / "en_dev.conllu", 3, seed=2)
    lines = dev.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("3\t"))
    dev.write_text(with_line(lines, number, "3\tcat\tcat\tNOUN\n"))
    argv = [
        "--task_name", "udpos", "--model_name_or_path", str(s.backbone), "--fusion_layer", "1",
        "--train_file", str(train), "--validation_file", str(dev), "--output_dir", str(s.out), *QUICK,
    ]  # fmt: skip
    return argv, [f"{dev}:{number}:", "expected 10 tab-separated columns (ID, FORM, LEMMA, UPOS", "found 4"]


def unknown_task(s: Setup):
    argv = s.xnli_args(s.xnli())
    argv[argv.index("xnli")] = "xnly"
    return argv, ["unknown task 'xnly'", "allowed: xnli, pawsx, panx, udpos"]


def unknown_eval_language(s: Setup):
    p = s.xnli()
    return s.xnli_args(p, "--eval_languages", "de,xx"), [
        "unknown language code(s) xx",
        "allowed: de",  # the languages --eval_files provides
    ]


def missing_file(s: Setup):
    p = s.xnli()
    p["dev"] = s.tmp / "no-such-dev.tsv"
    return s.xnli_args(p), [f"{p['dev']}: no such file"]


def empty_file(s: Setup):
    p = s.xnli(de="")
    return s.xnli_args(p), [f"{p['de']}: no examples found (the file is empty)"]


def blank_only_file(s: Setup):
    p = s.xnli(dev="\n\r\n  \n")
    return s.xnli_args(p), [f"{p['dev']}: no examples found"]


def fusion_layer_out_of_range(s: Setup):
    argv = s.xnli_args(s.xnli())
    argv[argv.index("--fusion_layer") + 1] = "3"
    return argv, ["--fusion_layer 3 is out of range for a 3-layer backbone", "an int in 0..2"]


def checkpoint_with_other_num_labels(s: Setup):
    return s.eval_args(s.checkpoint, "pawsx"), [
        str(s.checkpoint),
        "trained with num_labels=3 (entailment, neutral, contradiction)",
        "task pawsx has 2 labels (0, 1)",
    ]


def truncated_safetensors(s: Setup):
    model = s.tmp / "truncated-checkpoint"
    shutil.copytree(s.checkpoint, model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return s.eval_args(model), [str(weights)]


def pickle_only_checkpoint(s: Setup):
    model = s.tmp / "pickle-checkpoint"
    shutil.copytree(s.checkpoint, model)
    torch.save(load_file(model / "model.safetensors"), model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    return s.eval_args(model), [str(model), "model.safetensors", "use_safetensors"]


def pickle_only_checkpoint_names_the_flag(s: Setup):
    argv, _ = pickle_only_checkpoint(s)
    return argv, ["--use_safetensors false"]


def json_args_with_unknown_keys(s: Setup):
    args = {"task_name": "xnli", "model_name_or_path": str(s.backbone), "fusion_layer": "1",
            "output_dir": str(s.out), "learning_rat": 1e-3, "epochs": 2}  # fmt: skip
    path = s.tmp / "args.json"
    path.write_text(json.dumps(args))
    return [str(path)], [f"{path}: unknown argument(s) epochs, learning_rat"]


def malformed_json_args(s: Setup):
    path = s.tmp / "args.json"
    path.write_text('{"task_name": "xnli",\n "fusion_layer": 1,,}')
    return [str(path)], [f"{path}: cannot read the argument file", "line 2"]


def malformed_eval_files(s: Setup):
    p = s.xnli()
    argv = s.xnli_args(p)
    argv[argv.index("--eval_files") + 1] = f"de:{p['de']}"
    return argv, ["is not LANG=PATH", "expected LANG=PATH[,LANG=PATH...]"]


def dev_holdout_larger_than_the_data(s: Setup):
    p = s.xnli()
    argv = s.xnli_args(p, "--dev_holdout", "8")
    return argv, ["--dev_holdout 8 leaves nothing to train on", f"{p['train']} has 8 examples"]


def output_dir_holding_results(s: Setup):
    s.out.mkdir()
    (s.out / "results.json").write_text('{"task": "xnli", "languages": {"de": 50.0}}\n')
    (s.out / "model.safetensors").write_bytes(b"old weights")
    return s.xnli_args(s.xnli()), [f"{s.out} already holds results (results.json)", "--overwrite_output_dir"]


def unsupported_suffix(s: Setup):
    p = s.xnli()
    p["train"] = write_pairs(s.tmp / "train.csv", 8)
    return s.xnli_args(p), [
        f"{p['train']}: unsupported suffix '.csv' for task xnli; allowed: .json, .jsonl, .tsv, .txt"
    ]


def udpos_file_of_another_kind(s: Setup):
    train = write_pairs(s.tmp / "train.csv", 8)
    argv = [
        "--task_name", "udpos", "--model_name_or_path", str(s.backbone), "--fusion_layer", "1",
        "--train_file", str(train), "--output_dir", str(s.out), *QUICK,
    ]  # fmt: skip
    return argv, [
        f"{train}: unsupported suffix '.csv' for task udpos; allowed: .conllu, .json, .jsonl, .tsv, .txt"
    ]


def conllu_for_panx(s: Setup):
    train = write_conllu(s.tmp / "train.conllu", 4)
    argv = [
        "--task_name", "panx", "--model_name_or_path", str(s.backbone), "--fusion_layer", "1",
        "--train_file", str(train), "--output_dir", str(s.out), *QUICK,
    ]  # fmt: skip
    return argv, [f"{train}: unsupported suffix '.conllu' for task panx; allowed: .json, .jsonl, .tsv, .txt"]


def unknown_tag(s: Setup):
    train = write_tagged(s.tmp / "train.tsv", 4, seed=1)
    lines = train.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if i > 3 and line.strip())
    token = lines[number - 1].split("\t")[0]
    train.write_text(with_line(lines, number, f"{token}\tB-DATE\n"))
    argv = [
        "--task_name", "panx", "--model_name_or_path", str(s.backbone), "--fusion_layer", "1",
        "--train_file", str(train), "--output_dir", str(s.out), *QUICK,
    ]  # fmt: skip
    return argv, [f"{train}:{number}:", "tag 'B-DATE' is not a panx label", "allowed: O, B-PER, I-PER"]


def invalid_choice(s: Setup):
    return s.xnli_args(s.xnli(), "--fusion_gate", "maybe"), [
        "--fusion_gate",
        "invalid choice: 'maybe'",
        "paper",
        "sigmoid",
    ]


def unknown_flag(s: Setup):
    return s.xnli_args(s.xnli(), "--learnin_rate", "1e-3"), ["--learnin_rate"]


def bad_jsonl_line(s: Setup):
    p = s.xnli()
    p["de"] = s.tmp / "de.jsonl"
    p["de"].write_text('{"premise": "a cat", "hypothesis": "a dog", "label": "neutral"}\n{"premise": "a\n')
    return s.xnli_args(p), [f"{p['de']}:2: not valid JSON"]


def conllu_for_a_sequence_task(s: Setup):
    p = s.xnli()
    p["train"] = write_conllu(s.tmp / "train.conllu", 4)
    return s.xnli_args(p), [
        f"{p['train']}: unsupported suffix '.conllu' for task xnli; allowed: .json, .jsonl"
    ]


def row_of_tabs_only(s: Setup):
    # Three empty columns (no label) is a broken row, not a blank line.
    p = s.xnli(train=with_line(pairs_text(8), 3, "\t\t\n"))
    return s.xnli_args(p), [f"{p['train']}:3:"]


def model_path_that_is_no_folder(s: Setup):
    # Two slashes or more cannot be a Hub repository: without this, huggingface_hub's repo-id rules.
    model = s.tmp / "runs" / "x" / "fusion_8"
    return s.xnli_args(s.xnli(), model=model), [f"--model_name_or_path {model}: no such folder"]


def config_name_for_a_dlfa_checkpoint(s: Setup):
    return s.eval_args(s.checkpoint, "xnli", "--config_name", str(s.backbone)), [
        f"--config_name replaces a plain backbone's config, but {s.checkpoint} is a DLFA checkpoint",
        "leave --config_name out",
    ]


def config_name_of_another_model_type(s: Setup):
    config = s.tmp / "xlmr-config"
    tiny_backbone_config("xlm-roberta").save_pretrained(config)
    return s.xnli_args(s.xnli(), "--config_name", str(config)), [
        f"--config_name {config} is a xlm-roberta config, but {s.backbone} is a bert model",
    ]


def label_all_tokens_for_a_sentence_task(s: Setup):
    return s.xnli_args(s.xnli(), "--label_all_tokens"), [
        "--label_all_tokens labels every sub-token of a word, for tagging tasks only",
        "task xnli has one label per example",
    ]


CASES = [
    pytest.param(tsv_extra_column, id="tsv-extra-column"),
    pytest.param(xnli_row_with_two_columns, id="xnli-row-with-2-columns"),
    pytest.param(non_utf8_bytes, id="non-utf8-bytes"),
    pytest.param(label_outside_the_set, id="label-outside-the-set"),
    pytest.param(conllu_line_missing_columns, id="conllu-line-missing-columns"),
    pytest.param(unknown_task, id="unknown-task"),
    pytest.param(unknown_eval_language, id="unknown-eval-language"),
    pytest.param(missing_file, id="missing-file"),
    pytest.param(empty_file, id="empty-file"),
    pytest.param(blank_only_file, id="blank-lines-only-file"),
    pytest.param(fusion_layer_out_of_range, id="fusion-layer-out-of-range"),
    pytest.param(checkpoint_with_other_num_labels, id="checkpoint-num-labels-disagree"),
    pytest.param(truncated_safetensors, id="truncated-safetensors"),
    pytest.param(pickle_only_checkpoint, id="pickle-only-checkpoint"),
    pytest.param(pickle_only_checkpoint_names_the_flag, id="pickle-only-checkpoint-names-cli-flag"),
    pytest.param(json_args_with_unknown_keys, id="json-args-unknown-keys"),
    pytest.param(malformed_json_args, id="json-args-malformed"),
    pytest.param(malformed_eval_files, id="malformed-eval-files"),
    pytest.param(dev_holdout_larger_than_the_data, id="dev-holdout-larger-than-data"),
    pytest.param(output_dir_holding_results, id="output-dir-holds-results"),
    pytest.param(unsupported_suffix, id="unsupported-suffix"),
    pytest.param(udpos_file_of_another_kind, id="udpos-unsupported-suffix"),
    pytest.param(conllu_for_panx, id="conllu-for-panx"),
    pytest.param(unknown_tag, id="unknown-tag"),
    pytest.param(invalid_choice, id="invalid-choice"),
    pytest.param(unknown_flag, id="unknown-flag"),
    pytest.param(bad_jsonl_line, id="bad-jsonl-line"),
    pytest.param(conllu_for_a_sequence_task, id="conllu-for-xnli"),
    pytest.param(row_of_tabs_only, id="row-of-tabs-only"),
    pytest.param(model_path_that_is_no_folder, id="model-path-no-folder"),
    pytest.param(config_name_for_a_dlfa_checkpoint, id="config-name-for-dlfa-checkpoint"),
    pytest.param(config_name_of_another_model_type, id="config-name-other-model-type"),
    pytest.param(label_all_tokens_for_a_sentence_task, id="label-all-tokens-for-xnli"),
]


@pytest.fixture(scope="module")
def dlfa_checkpoint(tmp_path_factory, tiny_bert_dir) -> Path:
    """A DLFA xnli checkpoint as run_glue_x.py saves one (weights, config, tokenizer); never trained."""
    folder = tmp_path_factory.mktemp("dlfa_checkpoint")
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_backbone(
        str(tiny_bert_dir), fusion_layer=1, id2label=get_task("xnli").id2label
    )
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(folder)
    return folder


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse refuses flags itself (exit status 2)
        return exit.code


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("build", CASES)
def test_bad_input_is_refused(build: Build, tmp_path, tiny_bert_dir, dlfa_checkpoint, capsys):
    setup = Setup(tmp=tmp_path, backbone=tiny_bert_dir, checkpoint=dlfa_checkpoint, out=tmp_path / "out")
    argv, expected = build(setup)
    before = snapshot(setup.out) if setup.out.exists() else None
    code = run_cli(argv)
    error = capsys.readouterr().err
    assert code == 2, f"exit code {code}; stderr:\n{error[-3000:]}"
    missing = [text for text in expected if text not in error]
    assert not missing, f"the message lacks {missing}:\n{error[-3000:]}"
    if before is not None:  # a folder that held a run: left exactly as it was
        assert snapshot(setup.out) == before
    else:  # nothing written: no results or model files, and in fact not even the output folder
        assert not setup.out.exists() or not [name for name in OUTPUTS if (setup.out / name).exists()]
        assert not setup.out.exists(), f"left behind: {sorted(p.name for p in setup.out.iterdir())}"


def test_the_table_covers_enough_kinds():
    assert len(CASES) >= 15


HUB_OFFLINE = "no local folder of that name, and the Hub: We couldn't connect to 'https://huggingface.co'"


@pytest.mark.parametrize(
    ("flag", "name", "expected"),
    [
        ("--model_name_or_path", "runs/x/fusion_8", "no such folder"),
        ("--model_name_or_path", "nothere", HUB_OFFLINE),
        ("--model_name_or_path", "someone/nothere", HUB_OFFLINE),
        ("--config_name", "~/configs/bert", "no such folder"),
        ("--config_name", "nothere", HUB_OFFLINE),
        ("--tokenizer_name", "./tokenizer", "no such folder"),
        ("--tokenizer_name", "nothere", HUB_OFFLINE),
    ],
)
def test_a_name_that_is_no_folder_says_so(flag, name, expected, tmp_path, tiny_bert_dir, monkeypatch, capsys):
    """A relative path that does not exist here, or a name that is no local folder and (offline) not in the
    Hub cache: one line naming the flag, not huggingface_hub's repo-id rules or its connection advice."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    setup = Setup(tmp=tmp_path, backbone=tiny_bert_dir, checkpoint=tmp_path, out=tmp_path / "out")
    paths = setup.xnli()
    argv = (
        setup.xnli_args(paths, model=name)
        if flag == "--model_name_or_path"
        else setup.xnli_args(paths, flag, name)
    )
    code = run_cli(argv)
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith(f"error: {flag} {name}: {expected}"), error
    assert len(error.strip().splitlines()) == 1, error
    assert not setup.out.exists()


# --- odd but valid input: handled, not refused -------------------------------------------------------------


def read_results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def records(folder: Path, language: str) -> list[dict]:
    lines = (folder / "predictions" / f"{language}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def tagged_sentences(count: int, seed: int, low: int = 3, high: int = 9) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    return [
        [(rng.choice(WORDS), rng.choice(NER_TAGS)) for _ in range(rng.randint(low, high))]
        for _ in range(count)
    ]


def oddly_spaced(sentences: list[list[tuple[str, str]]], newline: str = "\n") -> str:
    """Blank lines before the first sentence, 1 to 4 between sentences (some holding spaces), 3 at the end."""
    separators = ["", "  ", "\t", ""]
    parts = [newline * 2]
    for index, sentence in enumerate(sentences):
        parts.append("".join(f"{word}\t{tag}{newline}" for word, tag in sentence))
        blank = separators[: 1 + index % 4]
        parts.append("".join(f"{spaces}{newline}" for spaces in blank))
    parts.append(newline * 3)
    return "".join(parts)


def test_blank_lines_crlf_and_overlong_sentences_are_handled(tmp_path, tiny_bert_dir):
    """panx: odd blank lines and CRLF give the right sentence counts; 60-word sentences with
    --max_seq_length 16 are split into windows, counted, and every word of them is predicted and scored."""
    train = tmp_path / "train.tsv"
    train.write_bytes(oddly_spaced(tagged_sentences(12, seed=1), "\r\n").encode())
    dev = write_tagged(tmp_path / "dev.tsv", 5, seed=2)
    fr = tmp_path / "fr.tsv"
    fr.write_text(oddly_spaced(tagged_sentences(7, seed=3)), encoding="utf-8")
    long = tagged_sentences(4, seed=4, low=60, high=60)
    de = tmp_path / "de.tsv"
    de.write_bytes(oddly_spaced(long, "\r\n").encode())
    output = tmp_path / "out"
    code = main([
        "--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
        "--train_file", str(train), "--validation_file", str(dev), "--eval_files", f"de={de},fr={fr},en={dev}",
        "--max_seq_length", "16", "--output_dir", str(output), *QUICK,
    ])  # fmt: skip
    assert code == 0
    results = read_results(output)
    assert results["num_train_examples"] == 12
    assert results["num_examples"] == {"de": 4, "fr": 7, "en": 5}
    # Every word is one token of the tiny vocabulary: 60 words + [CLS] + [SEP] > 16, 3..9 words are not.
    assert results["num_split_sentences"] == {"de": 4, "fr": 0, "en": 0}
    assert results["num_unpredicted_words"] == {"de": 0, "fr": 0, "en": 0}
    assert results["num_truncated"] == {"de": 0, "fr": 0, "en": 0}
    task = get_task("panx")
    for language, sentences in (("de", long), ("fr", tagged_sentences(7, seed=3))):
        found = records(output, language)
        assert [r["tokens"] for r in found] == [[word for word, _ in s] for s in sentences]
        assert [r["labels"] for r in found] == [[tag for _, tag in s] for s in sentences]
        assert all(len(r["predictions"]) == len(r["tokens"]) for r in found)
        predictions, references = [r["predictions"] for r in found], [r["labels"] for r in found]
        assert results["languages"][language] == compute_score(task, predictions, references)


def test_empty_strings_in_a_pair_column_are_handled(tmp_path, tiny_bert_dir):
    """An empty premise or hypothesis is kept (real PAWS-X/XNLI files have a few) and scored, like a pair
    that is far over --max_seq_length is kept, truncated and counted."""
    train = tmp_path / "train.tsv"
    rows = pairs_text(8, seed=1)
    rows[2] = "\tthe cat is red\tneutral\n"
    rows[5] = "a dog\t\tentailment\n"
    train.write_bytes(("\r\n".join(row.rstrip("\n") for row in rows) + "\r\n\r\n").encode())
    long_premise = " ".join(random.Random(5).choices(WORDS, k=40))
    de = tmp_path / "de.tsv"
    de.write_text(
        "\n"
        + "the cat\t\tneutral\n"
        + "\tthe dog\tcontradiction\n\n\n"
        + f"{long_premise}\ta cat\tentailment\n"
        + "".join(pairs_text(3, seed=6))
        + "\n\n",
        encoding="utf-8",
    )
    dev = write_pairs(tmp_path / "dev.tsv", 4, seed=2)
    output = tmp_path / "out"
    code = main([
        "--task_name", "xnli", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1",
        "--train_file", str(train), "--validation_file", str(dev), "--eval_files", f"de={de}",
        "--max_seq_length", "16", "--output_dir", str(output), *QUICK,
    ])  # fmt: skip
    assert code == 0
    results = read_results(output)
    assert results["num_train_examples"] == 8
    assert results["num_examples"] == {"de": 6}
    assert results["num_truncated"] == {"de": 1}
    found = records(output, "de")
    assert [(r["text_a"], r["text_b"]) for r in found[:2]] == [("the cat", ""), ("", "the dog")]
    assert all(r["prediction"] in get_task("xnli").labels for r in found)
