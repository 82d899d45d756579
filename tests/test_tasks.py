import dataclasses

import pytest

from modeling_dlfa.task_kinds import LANGUAGE_GROUPS, Task, language_groups
from modeling_dlfa.tasks import TASKS, UPOS_TAGS, check_languages, get_task


def test_the_four_tasks():
    assert list(TASKS) == ["xnli", "pawsx", "panx", "udpos"]
    assert {name: task.kind for name, task in TASKS.items()} == {
        "xnli": "sequence",
        "pawsx": "sequence",
        "panx": "token",
        "udpos": "token",
    }
    assert {name: task.metric for name, task in TASKS.items()} == {
        "xnli": "accuracy",
        "pawsx": "accuracy",
        "panx": "span_f1",
        "udpos": "span_f1",
    }
    assert all(task.metric_display for task in TASKS.values())


def test_parallel_tasks():
    # XNLI and PAWS-X dev/test files are line-aligned translations; PAN-X and UD are independent corpora.
    assert {name: task.parallel for name, task in TASKS.items()} == {
        "xnli": True,
        "pawsx": True,
        "panx": False,
        "udpos": False,
    }


def test_hub_splits_per_language():
    udpos = TASKS["udpos"]
    assert udpos.hub_splits_of("en") == ("train", "validation", "test")
    assert udpos.hub_splits_of("kk") == ("train", "test")
    assert [code for code in udpos.languages if "validation" not in udpos.hub_splits_of(code)] == [
        "kk",
        "th",
        "tl",
        "yo",
    ]
    assert all(set(udpos.hub_splits_of(code)) <= set(udpos.hub_splits) for code in udpos.languages)
    assert TASKS["xnli"].hub_splits_of("sw") == ("train", "validation", "test")


def test_labels_in_hub_id_order():
    assert TASKS["xnli"].labels == ("entailment", "neutral", "contradiction")
    assert TASKS["pawsx"].labels == ("0", "1")
    assert TASKS["panx"].labels == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    assert TASKS["udpos"].labels == UPOS_TAGS
    assert UPOS_TAGS[:3] == ("ADJ", "ADP", "ADV") and UPOS_TAGS[-1] == "X" and len(UPOS_TAGS) == 17


@pytest.mark.parametrize("task", TASKS.values(), ids=list(TASKS))
def test_label_maps_are_inverse(task):
    assert task.num_labels == len(task.labels)
    assert list(task.label2id) == list(task.labels)
    assert {task.label2id[label]: label for label in task.labels} == task.id2label


def test_xtreme_language_lists():
    sizes = {name: len(task.languages) for name, task in TASKS.items()}
    assert sizes == {"xnli": 15, "pawsx": 7, "panx": 40, "udpos": 33}
    for task in TASKS.values():
        assert {"en", "de"} <= set(task.languages)
        assert len(set(task.languages)) == len(task.languages)
    assert "th" in TASKS["panx"].languages and "wo" not in TASKS["udpos"].languages


def test_hub_sources():
    assert TASKS["xnli"].hub_repo == "facebook/xnli"
    assert TASKS["pawsx"].hub_repo == "google-research-datasets/paws-x"
    assert TASKS["panx"].hub_repo == "unimelb-nlp/wikiann"
    assert TASKS["udpos"].hub_repo == "google/xtreme"
    assert TASKS["xnli"].hub_config("de") == "de"
    assert TASKS["panx"].hub_config("yo") == "yo"
    udpos = TASKS["udpos"]
    assert [udpos.hub_config(code) for code in ("en", "de", "zh", "fa", "eu", "tl")] == [
        "udpos.English",
        "udpos.German",
        "udpos.Chinese",
        "udpos.Persian",
        "udpos.Basque",
        "udpos.Tagalog",
    ]
    assert {udpos.hub_config(code) for code in udpos.languages} == {config for _, config in udpos.hub_configs}


def test_hub_config_unknown_language():
    with pytest.raises(ValueError, match=r"google/xtreme has no config for language 'wo'.*allowed: af, ar"):
        TASKS["udpos"].hub_config("wo")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("XNLI", "xnli"), ("PAWS-X", "pawsx"), ("pan-x", "panx"), ("WikiANN", "panx"), (" udpos ", "udpos")],
)
def test_get_task_spellings(name, expected):
    assert get_task(name) is TASKS[expected]


def test_get_task_passes_a_task_through():
    assert get_task(TASKS["panx"]) is TASKS["panx"]


def test_get_task_unknown():
    with pytest.raises(ValueError, match=r"unknown task 'mnli'; allowed: xnli, pawsx, panx, udpos, wikiann"):
        get_task("mnli")


def test_task_rejects_bad_kind_and_metric():
    task = TASKS["xnli"]
    with pytest.raises(ValueError, match="kind 'pair'"):
        dataclasses.replace(task, kind="pair")
    with pytest.raises(ValueError, match="metric 'f1'"):
        dataclasses.replace(task, metric="f1")


def test_task_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASKS["xnli"].name = "other"
    assert isinstance(hash(TASKS["udpos"]), int) and isinstance(TASKS["udpos"], Task)


def test_language_groups():
    assert LANGUAGE_GROUPS == {"enf": ("en", "de")}
    assert language_groups(["fr", "en", "zh", "de"]) == {"enf": ["en", "de"], "noenf": ["fr", "zh"]}
    assert language_groups(["fr", "sw"]) == {"noenf": ["fr", "sw"]}
    assert language_groups(iter(["en"])) == {"enf": ["en"]}
    assert language_groups([]) == {}


def test_check_languages():
    assert check_languages("xnli", ["de", "sw"]) == ["de", "sw"]
    assert check_languages("pawsx", " DE, ja ,de,") == ["de", "ja"]


def test_check_languages_unknown_code():
    with pytest.raises(
        ValueError, match=r"unknown language code\(s\) xx, yy; allowed: de, en, es, fr, ja, ko, zh"
    ):
        check_languages("pawsx", ["en", "xx", "yy"])


def test_check_languages_empty():
    with pytest.raises(ValueError, match="no language codes given; allowed: de, en"):
        check_languages("pawsx", "")


def test_check_languages_against_available_files():
    # A data folder may hold languages beyond XTREME's list (udpos 'wo'), and lack some of it.
    assert check_languages("udpos", ["wo", "en"], available=["en", "wo"]) == ["wo", "en"]
    with pytest.raises(ValueError, match="unknown language code.* kk; allowed: en, wo"):
        check_languages("udpos", ["kk"], available=["wo", "en"])
