"""The readers on the real XTREME and UD files beside the project (skipped where they are absent)."""

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from modeling_dlfa.data import find_xtreme_files, read_conllu, read_xtreme_tsv
from modeling_dlfa.tasks import TASKS, check_languages

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not (DATA / "xtreme").is_dir():
    pytest.skip(f"real data not found at {DATA}", allow_module_level=True)

XTREME = DATA / "xtreme"
FILES = {task: find_xtreme_files(task, XTREME) for task in TASKS}


def dev_files(task):
    return [pytest.param(path, id=f"{task}-{lang}") for lang, path in FILES[task]["dev"].items()]


def token_count(dataset):
    # Arrow-side sum: converting 300,000 token lists back to Python would dominate the runtime.
    return pc.sum(pc.list_value_length(dataset.data.column("tokens"))).as_py()


def count_tagged(path):
    """(sentences, tokens) by a plain line scan, independent of the reader."""
    sentences = tokens = 0
    previous_blank = True
    for line in path.read_text(encoding="utf-8").split("\n"):
        blank = not line.strip()
        tokens += not blank
        sentences += previous_blank and not blank
        previous_blank = blank
    return sentences, tokens


def test_sentence_tasks_cover_their_xtreme_languages():
    assert sorted(FILES["xnli"]["dev"]) == sorted(TASKS["xnli"].languages)
    assert sorted(FILES["pawsx"]["dev"]) == sorted(TASKS["pawsx"].languages)


def test_tagging_files_differ_from_the_xtreme_lists():
    # The folder follows XTREME-R for the extra languages and has no dev data for a few XTREME ones
    # (no PAN-X Thai; UD 2.5 has only test sets for kk, th, tl, yo).
    for task, extra, missing in (
        ("panx", {"az", "gu", "lt", "pa", "pl", "qu", "ro", "uk"}, {"th"}),
        ("udpos", {"lt", "pl", "ro", "uk", "wo"}, {"kk", "th", "tl", "yo"}),
    ):
        found, listed = set(FILES[task]["dev"]), set(TASKS[task].languages)
        assert (found - listed, listed - found) == (extra, missing)
        assert check_languages(task, sorted(extra), available=found) == sorted(extra)


@pytest.mark.parametrize("path", dev_files("xnli"))
def test_xnli_dev(path):
    dataset = read_xtreme_tsv("xnli", path)
    assert len(dataset) == 2490
    assert Counter(dataset["label"]) == {0: 830, 1: 830, 2: 830}


@pytest.mark.parametrize("path", dev_files("pawsx"))
def test_pawsx_dev(path):
    dataset = read_xtreme_tsv("pawsx", path)
    assert len(dataset) == 2000
    assert set(dataset["label"]) == {0, 1}


def test_panx_train_en():
    dataset = read_xtreme_tsv("panx", FILES["panx"]["train"]["en"])
    assert len(dataset) == 20_000
    assert token_count(dataset) == count_tagged(FILES["panx"]["train"]["en"])[1]


def test_udpos_train_en():
    # 21,253 sentences, as in the XTREME paper's table; the file has 21,252 blank separator lines.
    dataset = read_xtreme_tsv("udpos", FILES["udpos"]["train"]["en"])
    assert len(dataset) == 21_253
    assert token_count(dataset) == count_tagged(FILES["udpos"]["train"]["en"])[1]


@pytest.mark.parametrize("path", dev_files("panx") + dev_files("udpos"))
def test_tagging_dev(path):
    task = path.parent.name
    dataset = read_xtreme_tsv(task, path)
    assert len(dataset) > 0
    assert (len(dataset), token_count(dataset)) == count_tagged(path)


def count_conllu(path):
    """(sentences, words): words are lines whose ID is a plain integer; a sentence has at least one."""
    sentences = words = 0
    in_sentence = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            in_sentence = False
        elif line.split("\t")[0].isdigit():
            words += 1
            sentences += not in_sentence
            in_sentence = True
    return sentences, words


@pytest.mark.parametrize("path", sorted((DATA / "ud").glob("*.conllu")), ids=lambda path: path.stem)
def test_conllu(path):
    dataset = read_conllu("udpos", path)
    assert (len(dataset), token_count(dataset)) == count_conllu(path)
