import json
import re

import datasets
import pytest

from modeling_dlfa import data
from modeling_dlfa.data import (
    DataError,
    find_xtreme_files,
    load_hub_split,
    parse_eval_files,
    read_conllu,
    read_file,
    read_jsonl,
    read_xtreme_tsv,
)
from modeling_dlfa.tasks import TASKS, UPOS_TAGS

XNLI_ALLOWED = "allowed: entailment, neutral, contradiction"
PANX_ALLOWED = "allowed: O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC"


def write(folder, name, content):
    path = folder / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def raises_at(path, line, *fragments):
    """pytest.raises for a DataError naming `path:line` and every fragment."""
    where = f"{path}:{line}" if line else str(path)
    pattern = re.escape(where) + ".*" + ".*".join(re.escape(fragment) for fragment in fragments)
    return pytest.raises(DataError, match=pattern)


FIXTURE_SUFFIXES = {".tsv", ".txt", ".conllu", ".jsonl", ".json", ".csv"}


@pytest.fixture
def folder(tmp_path):
    """A scratch folder that must hold only the fixtures afterwards: readers write nothing."""
    yield tmp_path
    for path in tmp_path.iterdir():
        assert path.is_file() and path.suffix.lower() in FIXTURE_SUFFIXES, path


# --- XTREME tsv, sentence pairs ---


def test_pairs_tsv(folder):
    path = write(folder, "dev-en.tsv", 'a: one\tb\tneutral\r\nx\t"y" \x1c z\tcontradiction\r\n\n\n')
    dataset = read_xtreme_tsv("xnli", path)
    assert dataset.column_names == ["text_a", "text_b", "label"]
    assert dataset.features == TASKS["xnli"].dataset_features()
    assert dataset.to_dict() == {
        "text_a": ["a: one", "x"],
        "text_b": ["b", '"y" \x1c z'],  # quotes and U+001C kept verbatim, as XTREME reads them
        "label": [1, 2],
    }


def test_pairs_tsv_leading_bom_dropped(folder):
    path = write(folder, "dev.tsv", "\ufeffp\th\t1\n")
    assert read_xtreme_tsv("pawsx", path)[0] == {"text_a": "p", "text_b": "h", "label": 1}


def test_pairs_tsv_wrong_column_count(folder):
    path = write(folder, "dev.tsv", "p\th\tneutral\np\th\n")
    with raises_at(path, 2, "expected 3 tab-separated columns (text_a, text_b, label), found 2"):
        read_xtreme_tsv("xnli", path)


def test_pairs_tsv_unknown_label(folder):
    path = write(folder, "dev.tsv", "p\th\tneutral\n\np\th\tcontradictory\n")
    with raises_at(path, 3, "label 'contradictory'", XNLI_ALLOWED):
        read_xtreme_tsv("xnli", path)


def test_pairs_tsv_label_ids_are_not_names(folder):
    path = write(folder, "dev.tsv", "p\th\t0\n")
    with raises_at(path, 1, "label '0'", XNLI_ALLOWED):
        read_xtreme_tsv("xnli", path)


def test_pairs_tsv_bad_utf8(folder):
    path = write(folder, "dev.tsv", b"p\th\t0\np\th\t1\np\xff\th\t1\n")
    with raises_at(path, 3, "byte 0xff (byte 2 of the line) is not UTF-8"):
        read_xtreme_tsv("pawsx", path)


@pytest.mark.parametrize("content", ["", "\n\n \n"])
def test_pairs_tsv_empty(folder, content):
    path = write(folder, "dev.tsv", content)
    with raises_at(path, None, "no examples found"):
        read_xtreme_tsv("pawsx", path)


def test_missing_file(folder):
    with raises_at(folder / "nope.tsv", None, "no such file"):
        read_xtreme_tsv("pawsx", folder / "nope.tsv")


# --- XTREME tsv, tagged tokens ---


def test_tagged_tsv(folder):
    text = "en:Paris\tB-LOC\r\nis\tO\r\n\r\n\n\nBob\tB-PER\nSmith\tI-PER\n\n\n"
    dataset = read_xtreme_tsv("panx", write(folder, "dev-en.tsv", text))
    assert dataset.features == TASKS["panx"].dataset_features()
    assert dataset.features["tags"].feature.names == list(TASKS["panx"].labels)
    assert dataset.to_dict() == {"tokens": [["en:Paris", "is"], ["Bob", "Smith"]], "tags": [[5, 0], [1, 2]]}


def test_tagged_tsv_wrong_column_count(folder):
    path = write(folder, "dev.tsv", "Paris\tB-LOC\n\nBob B-PER\n")
    with raises_at(path, 3, "expected 2 tab-separated columns (token, tag), found 1"):
        read_xtreme_tsv("panx", path)


def test_tagged_tsv_unknown_tag(folder):
    path = write(folder, "dev.tsv", "Paris\tB-LOC\nMay\tB-DATE\n")
    with raises_at(path, 2, "tag 'B-DATE'", PANX_ALLOWED):
        read_xtreme_tsv("panx", path)


def test_tagged_tsv_empty_token(folder):
    path = write(folder, "dev.tsv", "Paris\tB-LOC\n\tO\n")
    with raises_at(path, 2, "token is empty"):
        read_xtreme_tsv("panx", path)


def test_tagged_tsv_bad_utf8(folder):
    path = write(folder, "dev.tsv", b"Paris\tB-LOC\n\nM\xc3\tO\n")
    with raises_at(path, 3, "is not UTF-8"):
        read_xtreme_tsv("panx", path)


# --- CoNLL-U ---

CONLLU = """\
# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\t_\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
3.1\tgone\tgo\tVERB\t_\t_\t_\t_\t0:root\t_
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = 2
1\t100 000\t100 000\tNUM\t_\t_\t0\troot\t_\t_


"""


def test_conllu(folder):
    dataset = read_conllu("udpos", write(folder, "x.conllu", CONLLU.replace("\n", "\r\n")))
    upos = list(UPOS_TAGS)
    assert dataset.features == TASKS["udpos"].dataset_features()
    assert dataset["tokens"] == [["Do", "n't", "go", "."], ["100 000"]]
    assert dataset["tags"] == [
        [upos.index(tag) for tag in ("AUX", "PART", "VERB", "PUNCT")],
        [upos.index("NUM")],
    ]


def test_conllu_wrong_column_count(folder):
    path = write(folder, "x.conllu", CONLLU.replace("4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_", "4\t.\t.\tPUNCT"))
    with raises_at(path, 8, "expected 10 tab-separated columns (ID, FORM, LEMMA, UPOS", "found 4"):
        read_conllu("udpos", path)


def test_conllu_bad_id(folder):
    path = write(folder, "x.conllu", CONLLU.replace("\n2\tn't", "\nii\tn't"))
    with raises_at(path, 5, "ID 'ii' is not a word index"):
        read_conllu("udpos", path)


def test_conllu_unknown_upos(folder):
    path = write(folder, "x.conllu", CONLLU.replace("\tPART\t", "\t_\t"))
    with raises_at(path, 5, "UPOS '_'", "allowed: ADJ, ADP, ADV"):
        read_conllu("udpos", path)


def test_conllu_only_for_udpos(folder):
    path = write(folder, "x.conllu", CONLLU)
    with raises_at(path, None, "which task panx does not read; it reads .json, .jsonl, .tsv, .txt"):
        read_conllu("panx", path)


def test_conllu_without_words(folder):
    path = write(folder, "x.conllu", "# newdoc\n# sent_id = 1\n\n")
    with raises_at(path, None, "no examples found"):
        read_conllu("udpos", path)


# --- JSON lines ---


def jsonl(*records):
    return "".join(json.dumps(record) + "\n" for record in records)


def test_jsonl_pairs(folder):
    path = write(
        folder,
        "x.jsonl",
        jsonl(
            {"premise": "p", "hypothesis": "h", "label": "contradiction"},
            {"sentence1": "s1", "sentence2": "s2", "label": 0, "id": 7},
        )
        + "\n"
        + jsonl({"text_a": "a", "text_b": "b", "label": 1}),
    )
    assert read_jsonl("xnli", path).to_dict() == {
        "text_a": ["p", "s1", "a"],
        "text_b": ["h", "s2", "b"],
        "label": [2, 0, 1],
    }


def test_jsonl_tagged(folder):
    path = write(
        folder,
        "x.json",
        jsonl(
            {"tokens": ["Bob", "runs"], "ner_tags": ["B-PER", "O"]},
            {"tokens": ["Oslo"], "tags": [5]},
            {"tokens": ["Acme"], "pos_tags": ["B-ORG"]},
        ),
    )
    assert read_jsonl("wikiann", path).to_dict() == {
        "tokens": [["Bob", "runs"], ["Oslo"], ["Acme"]],
        "tags": [[1, 0], [5], [3]],
    }


def test_jsonl_bad_json(folder):
    path = write(folder, "x.jsonl", jsonl({"tokens": ["a"], "tags": ["O"]}) + '{"tokens": [\n')
    with raises_at(path, 2, "not valid JSON"):
        read_jsonl("panx", path)


def test_jsonl_not_an_object(folder):
    path = write(folder, "x.jsonl", '["a", "b", 1]\n')
    with raises_at(path, 1, "expected one JSON object per line, found list"):
        read_jsonl("xnli", path)


def test_jsonl_missing_text_keys(folder):
    path = write(folder, "x.jsonl", jsonl({"premise": "p", "label": 0}))
    with raises_at(path, 1, "expected keys premise/hypothesis, sentence1/sentence2, text_a/text_b"):
        read_jsonl("xnli", path)


def test_jsonl_missing_label(folder):
    path = write(folder, "x.jsonl", jsonl({"premise": "p", "hypothesis": "h"}))
    with raises_at(path, 1, "missing key 'label'", XNLI_ALLOWED):
        read_jsonl("xnli", path)


def test_jsonl_non_string_text(folder):
    path = write(folder, "x.jsonl", jsonl({"premise": "p", "hypothesis": 3, "label": 0}))
    with raises_at(path, 1, "must be strings"):
        read_jsonl("xnli", path)


@pytest.mark.parametrize("label", [3, -1, True, "2", None])
def test_jsonl_bad_label(folder, label):
    path = write(folder, "x.jsonl", jsonl({"premise": "p", "hypothesis": "h", "label": label}))
    with raises_at(path, 1, f"label {label!r}", XNLI_ALLOWED):
        read_jsonl("xnli", path)


def test_jsonl_tagged_missing_tags(folder):
    path = write(folder, "x.jsonl", jsonl({"tokens": ["a"], "labels": ["O"]}))
    with raises_at(path, 1, "expected keys 'tokens' and one of tags, ner_tags, pos_tags"):
        read_jsonl("panx", path)


def test_jsonl_tagged_length_mismatch(folder):
    path = write(folder, "x.jsonl", jsonl({"tokens": ["a", "b"], "tags": ["O"]}))
    with raises_at(path, 1, "'tags' must be a list as long as 'tokens' (2)"):
        read_jsonl("panx", path)


def test_jsonl_tagged_bad_tokens(folder):
    path = write(folder, "x.jsonl", jsonl({"tokens": "a b", "tags": ["O", "O"]}))
    with raises_at(path, 1, "'tokens' must be a list of strings"):
        read_jsonl("panx", path)


def test_jsonl_tagged_bad_tag(folder):
    path = write(folder, "x.jsonl", jsonl({"tokens": ["a"], "tags": ["B-MISC"]}))
    with raises_at(path, 1, "tag 'B-MISC'", PANX_ALLOWED):
        read_jsonl("panx", path)


def test_jsonl_empty(folder):
    path = write(folder, "x.jsonl", "\n")
    with raises_at(path, None, "no examples found"):
        read_jsonl("panx", path)


# --- read_file ---


def test_read_file_dispatches_on_suffix(folder):
    pairs = "p\th\t1\n"
    assert read_file("pawsx", write(folder, "a.tsv", pairs))["label"] == [1]
    assert read_file("pawsx", write(folder, "a.TXT", pairs))["label"] == [1]
    assert read_file("udpos", write(folder, "a.conllu", CONLLU))["tokens"][1] == ["100 000"]
    record = jsonl({"sentence1": "a", "sentence2": "b", "label": "1"})
    assert read_file("pawsx", write(folder, "a.jsonl", record))["label"] == [1]
    assert read_file("pawsx", write(folder, "a.json", record))["label"] == [1]


def test_read_file_unknown_suffix(folder):
    path = write(folder, "a.csv", "p,h,1\n")
    with raises_at(
        path, None, "unsupported suffix '.csv' for task pawsx; allowed: .json, .jsonl, .tsv, .txt"
    ):
        read_file("pawsx", path)


@pytest.mark.parametrize(
    ("task", "suffix", "allowed"),
    [
        ("panx", ".conllu", ".json, .jsonl, .tsv, .txt"),
        ("udpos", ".csv", ".conllu, .json, .jsonl, .tsv, .txt"),
    ],
)
def test_read_file_names_the_suffixes_the_task_reads(folder, task, suffix, allowed):
    """Only the UD POS task reads CoNLL-U (its UPOS column); the message lists what this task reads."""
    path = write(folder, f"a{suffix}", CONLLU)
    with raises_at(path, None, f"unsupported suffix '{suffix}' for task {task}; allowed: {allowed}"):
        read_file(task, path)


def test_read_file_missing(folder):
    with raises_at(folder / "gone.conllu", None, "no such file"):
        read_file("udpos", folder / "gone.conllu")


# --- find_xtreme_files ---


def test_find_xtreme_files(tmp_path):
    for name in ("train-en.tsv", "dev-en.tsv", "dev-wo.tsv", "test-de.tsv", "notes.txt", "dev-en.tsv.gz"):
        write(tmp_path, name, "a\tNOUN\n")
    (tmp_path / "dev-xx.tsv").mkdir()
    found = find_xtreme_files("udpos", tmp_path)
    assert found == {
        "train": {"en": tmp_path / "train-en.tsv"},
        "dev": {"en": tmp_path / "dev-en.tsv", "wo": tmp_path / "dev-wo.tsv"},
        "test": {"de": tmp_path / "test-de.tsv"},
    }


def test_find_xtreme_files_in_task_subfolder(tmp_path):
    (tmp_path / "pawsx").mkdir()
    write(tmp_path / "pawsx", "dev-ko.tsv", "a\tb\t0\n")
    assert find_xtreme_files("paws-x", tmp_path) == {
        "train": {},
        "dev": {"ko": tmp_path / "pawsx" / "dev-ko.tsv"},
        "test": {},
    }


def test_find_xtreme_files_missing_folder(tmp_path):
    with raises_at(tmp_path / "nothing", None, "no such data folder"):
        find_xtreme_files("xnli", tmp_path / "nothing")


def test_find_xtreme_files_no_files(tmp_path):
    write(tmp_path, "readme.md", "hi")
    with raises_at(tmp_path, None, "no xnli files named <train|dev|test>-<lang>.tsv"):
        find_xtreme_files("xnli", tmp_path)


# --- parse_eval_files ---


def test_parse_eval_files():
    assert parse_eval_files("de=a.tsv, FR = dir/b.conllu") == {
        "de": data.Path("a.tsv"),
        "fr": data.Path("dir/b.conllu"),
    }


@pytest.mark.parametrize("spec", ["", "de", "de=", "=a.tsv", "de=a.tsv,", "de=a.tsv,de=b.tsv"])
def test_parse_eval_files_malformed(spec):
    with pytest.raises(ValueError, match=re.escape("expected LANG=PATH[,LANG=PATH...]")):
        parse_eval_files(spec)


# --- load_hub_split, with a fake load_dataset (the Hub is unreachable from the tests) ---


class FakeHub:
    def __init__(self, dataset):
        self.dataset = dataset
        self.calls = []

    def __call__(self, path, name=None, split=None, cache_dir=None):
        self.calls.append((path, name, split, cache_dir))
        return self.dataset


def fake_hub(monkeypatch, columns, features):
    hub = FakeHub(datasets.Dataset.from_dict(columns, features=datasets.Features(features)))
    monkeypatch.setattr(datasets, "load_dataset", hub)
    return hub


def label(*names):
    return datasets.ClassLabel(names=list(names))


STRING = datasets.Value("string")
STRINGS = datasets.List(STRING)


def test_hub_xnli(monkeypatch):
    hub = fake_hub(
        monkeypatch,
        {"premise": ["p1", "p2"], "hypothesis": ["h1", "h2"], "label": [2, 0]},
        {"premise": STRING, "hypothesis": STRING, "label": label("entailment", "neutral", "contradiction")},
    )
    dataset = load_hub_split("xnli", "de", "validation", cache_dir="/tmp/cache")
    assert hub.calls == [("facebook/xnli", "de", "validation", "/tmp/cache")]
    assert dataset.features == TASKS["xnli"].dataset_features()
    assert dataset.to_dict() == {"text_a": ["p1", "p2"], "text_b": ["h1", "h2"], "label": [2, 0]}


def test_hub_pawsx_dev_alias(monkeypatch):
    hub = fake_hub(
        monkeypatch,
        {"id": [1], "sentence1": ["a"], "sentence2": ["b"], "label": [1]},
        {"id": datasets.Value("int32"), "sentence1": STRING, "sentence2": STRING, "label": label("0", "1")},
    )
    dataset = load_hub_split("pawsx", "ja", "dev")
    assert hub.calls == [("google-research-datasets/paws-x", "ja", "validation", None)]
    assert dataset.column_names == ["text_a", "text_b", "label"] and dataset["label"] == [1]


def test_hub_wikiann(monkeypatch):
    wikiann_tags = label("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    hub = fake_hub(
        monkeypatch,
        {
            "tokens": [["Bob", "in", "Oslo"]],
            "ner_tags": [[1, 0, 5]],
            "langs": [["en"] * 3],
            "spans": [["PER: Bob"]],
        },
        {"tokens": STRINGS, "ner_tags": datasets.List(wikiann_tags), "langs": STRINGS, "spans": STRINGS},
    )
    dataset = load_hub_split("wikiann", "yo", "test")
    assert hub.calls == [("unimelb-nlp/wikiann", "yo", "test", None)]
    assert dataset.features == TASKS["panx"].dataset_features()
    assert dataset.to_dict() == {"tokens": [["Bob", "in", "Oslo"]], "tags": [[1, 0, 5]]}


def test_hub_udpos(monkeypatch):
    hub = fake_hub(
        monkeypatch,
        {"tokens": [["Der", "Hund"]], "pos_tags": [[5, 7]]},
        {"tokens": STRINGS, "pos_tags": datasets.List(label(*UPOS_TAGS))},
    )
    dataset = load_hub_split("udpos", "de", "train")
    assert hub.calls == [("google/xtreme", "udpos.German", "train", None)]
    assert [[UPOS_TAGS[tag] for tag in tags] for tags in dataset["tags"]] == [["DET", "NOUN"]]


def test_hub_ids_are_mapped_by_name(monkeypatch):
    fake_hub(
        monkeypatch,
        {"premise": ["p"], "hypothesis": ["h"], "label": [0]},
        {"premise": STRING, "hypothesis": STRING, "label": label("contradiction", "entailment", "neutral")},
    )
    assert load_hub_split("xnli", "en", "test")["label"] == [2]


def test_hub_plain_string_labels(monkeypatch):
    fake_hub(
        monkeypatch,
        {"sentence1": ["a"], "sentence2": ["b"], "label": ["1"]},
        {"sentence1": STRING, "sentence2": STRING, "label": STRING},
    )
    assert load_hub_split("pawsx", "en", "train")["label"] == [1]


def test_hub_unlabelled_row(monkeypatch):
    fake_hub(
        monkeypatch,
        {"premise": ["p", "q"], "hypothesis": ["h", "i"], "label": [0, -1]},
        {"premise": STRING, "hypothesis": STRING, "label": datasets.Value("int64")},
    )
    with pytest.raises(
        DataError, match=f"facebook/xnli config fr split test row 1: label -1.*{XNLI_ALLOWED}"
    ):
        load_hub_split("xnli", "fr", "test")


def test_hub_missing_column(monkeypatch):
    fake_hub(
        monkeypatch,
        {"tokens": [["a"]], "upos": [[0]]},
        {"tokens": STRINGS, "upos": datasets.List(label("X"))},
    )
    with pytest.raises(
        DataError, match="udpos.English split test: missing column.*pos_tags; found tokens, upos"
    ):
        load_hub_split("udpos", "en", "test")


def test_hub_bad_split_or_language_fail_before_loading(monkeypatch):
    hub = FakeHub(None)
    monkeypatch.setattr(datasets, "load_dataset", hub)
    with pytest.raises(ValueError, match="split 'eval' is not one of train, validation, test"):
        load_hub_split("xnli", "en", "eval")
    with pytest.raises(ValueError, match="no config for language 'wo'"):
        load_hub_split("udpos", "wo", "test")
    assert hub.calls == []


def test_hub_language_without_the_split_fails_before_loading(monkeypatch):
    # google/xtreme has no UD dev set for Kazakh (train and test only) nor for Thai (test only).
    hub = FakeHub(None)
    monkeypatch.setattr(datasets, "load_dataset", hub)
    with pytest.raises(
        DataError, match="google/xtreme config udpos.Kazakh has no validation split; it has train, test"
    ):
        load_hub_split("udpos", "kk", "dev")
    with pytest.raises(DataError, match="udpos.Thai has no train split; it has test"):
        load_hub_split("udpos", "th", "train")
    assert hub.calls == []


class UnreachableHub:
    """load_dataset without a network: datasets raises ConnectionError (OfflineModeIsEnabled is one too)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, path, name=None, split=None, cache_dir=None):
        self.calls += 1
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)")


@pytest.mark.parametrize(
    ("offline", "problem"),
    [(True, "HF_HUB_OFFLINE=1 is set and it is not in the datasets cache"), (False, "cannot be reached")],
)
def test_hub_unreachable_names_the_offline_way(monkeypatch, offline, problem):
    hub = UnreachableHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", offline)
    with pytest.raises(DataError) as caught:
        load_hub_split("xnli", "de", "validation")
    message = str(caught.value)
    assert "cannot load facebook/xnli config de split validation" in message and problem in message
    assert "--data_dir" in message and "--train_file" in message
    assert hub.calls == 1
