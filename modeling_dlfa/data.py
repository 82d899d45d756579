"""Readers for task data, all producing one internal `datasets.Dataset` format (the task's
`dataset_features`): sentence tasks `text_a`, `text_b` (str) and `label` (class id); token tasks `tokens`
(list of str) and `tags` (list of class ids). Which reader a file's format calls for is the task's choice.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import datasets

if TYPE_CHECKING:
    from .task_kinds import Task

XTREME_SPLITS = ("train", "dev", "test")
_SPLIT_ALIASES = {"dev": "validation"}
_XTREME_NAME = re.compile(r"(train|dev|test)-(.+)\.tsv")
_CONLLU_RANGE = re.compile(r"\d+-\d+")
_CONLLU_EMPTY_NODE = re.compile(r"\d+\.\d+")
_CONLLU_WORD = re.compile(r"[1-9]\d*")
_JSON_PAIR_KEYS = (("premise", "hypothesis"), ("sentence1", "sentence2"), ("text_a", "text_b"))
_JSON_TEXT_KEYS = ("text", "sentence", "text_a")
_JSON_TAG_KEYS = ("tags", "ner_tags", "pos_tags")

Line = tuple[int, str]


class DataError(ValueError):
    """Bad task data: the message names the file (and line), the field, its value and what is allowed."""


def _task(task: str | Task) -> Task:
    """The task a reader was given, or the one its name names."""
    # Imported when called: tasks.py builds its tasks from task_kinds.py, which reads files through here.
    from .tasks import get_task

    return get_task(task)


def _lines(path: Path) -> Iterator[Line]:
    """(line number, text without its line ending); decoded line by line so a bad byte names its line."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, "rb") as handle:
        # Split on b"\n" only: real data holds U+001C, which str.splitlines would break on.
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}:{number}: byte {raw[err.start]:#04x} (byte {err.start + 1} of the line) "
                    "is not UTF-8; files must be UTF-8"
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield number, text.rstrip("\r\n")


def _is_blank_row(text: str) -> bool:
    # In a file of one example per line, a line of tabs is a row with empty fields (and no label), not a gap.
    return not text.strip() and "\t" not in text


def _blocks(path: Path) -> Iterator[list[Line]]:
    """Runs of non-blank lines (sentences), however many blank (or whitespace-only) lines separate them."""
    block: list[Line] = []
    for number, text in _lines(path):
        if text.strip():
            block.append((number, text))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _fields(path: Path, number: int, text: str, names: tuple[str, ...]) -> list[str]:
    fields = text.split("\t")
    if len(fields) != len(names):
        raise DataError(
            f"{path}:{number}: expected {len(names)} tab-separated columns ({', '.join(names)}), "
            f"found {len(fields)}"
        )
    return fields


def _label_id(task: Task, value: object, where: str, field: str, label2id: dict[str, int]) -> int:
    """A class id from a label name, or from an int id (JSON, Hub) within range."""
    if isinstance(value, str) and value in label2id:
        return label2id[value]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(task.labels):
        return value
    raise DataError(
        f"{where}: {field} {value!r} is not a {task.name} label; allowed: {', '.join(task.labels)}"
    )


def _build(task: Task, columns: dict[str, list], path: Path) -> datasets.Dataset:
    if not next(iter(columns.values())):
        raise DataError(f"{path}: no examples found (the file is empty)")
    return datasets.Dataset.from_dict(columns, features=task.dataset_features())


def read_pairs_tsv(task: Task, path: Path) -> datasets.Dataset:
    label2id = task.label2id
    columns: dict[str, list] = {"text_a": [], "text_b": [], "label": []}
    for number, text in _lines(path):
        if _is_blank_row(text):
            continue
        if task.pair:
            text_a, text_b, label = _fields(path, number, text, ("text_a", "text_b", "label"))
        else:
            (text_a, label), text_b = _fields(path, number, text, ("text", "label")), ""
        columns["text_a"].append(text_a)
        columns["text_b"].append(text_b)
        columns["label"].append(_label_id(task, label, f"{path}:{number}", "label", label2id))
    return _build(task, columns, path)


def read_tagged_tsv(task: Task, path: Path) -> datasets.Dataset:
    label2id = task.label2id
    columns: dict[str, list] = {"tokens": [], "tags": []}
    for block in _blocks(path):
        tokens, tags = [], []
        for number, text in block:
            token, tag = _fields(path, number, text, ("token", "tag"))
            if not token:
                raise DataError(f"{path}:{number}: token is empty; every line needs token<TAB>tag")
            tokens.append(token)
            tags.append(_label_id(task, tag, f"{path}:{number}", "tag", label2id))
        columns["tokens"].append(tokens)
        columns["tags"].append(tags)
    return _build(task, columns, path)


def read_xtreme_tsv(task: str | Task, path: str | os.PathLike) -> datasets.Dataset:
    """XTREME tsv: `a<TAB>b<TAB>label` lines, or `token<TAB>tag` lines, blank lines between sentences."""
    return _task(task).read_tsv(Path(path))


def read_conllu(task: str | Task, path: str | os.PathLike) -> datasets.Dataset:
    """Words and UPOS tags of a CoNLL-U file; multi-word token ranges and empty nodes are skipped."""
    task, path = _task(task), Path(path)
    if ".conllu" not in task.file_suffixes:
        raise DataError(
            f"{path}: CoNLL-U files hold UPOS tags, which task {task.name} does not read; it reads "
            f"{', '.join(task.file_suffixes)}"
        )
    label2id = task.label2id
    columns: dict[str, list] = {"tokens": [], "tags": []}
    names = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
    for block in _blocks(path):
        tokens, tags = [], []
        for number, text in block:
            if text.startswith("#"):
                continue
            fields = _fields(path, number, text, names)
            word_id = fields[0]
            if _CONLLU_RANGE.fullmatch(word_id) or _CONLLU_EMPTY_NODE.fullmatch(word_id):
                continue
            if not _CONLLU_WORD.fullmatch(word_id):
                raise DataError(
                    f"{path}:{number}: ID {word_id!r} is not a word index (1, 2, ...), "
                    "a multi-word range (1-2) or an empty node (8.1)"
                )
            tokens.append(fields[1])
            tags.append(_label_id(task, fields[3], f"{path}:{number}", "UPOS", label2id))
        if tokens:
            columns["tokens"].append(tokens)
            columns["tags"].append(tags)
    return _build(task, columns, path)


def _json_objects(path: Path) -> Iterator[tuple[int, dict]]:
    for number, text in _lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path}:{number}: expected one JSON object per line, found {type(record).__name__}"
            )
        yield number, record


def _json_text(path: Path, number: int, record: dict) -> tuple[str, str]:
    key = next((key for key in _JSON_TEXT_KEYS if key in record), None)
    if key is None or not isinstance(record[key], str):
        raise DataError(
            f"{path}:{number}: no text found; expected a string under one of {', '.join(_JSON_TEXT_KEYS)}, "
            f"found {', '.join(record)}"
        )
    return record[key], ""


def _json_pair(path: Path, number: int, record: dict) -> tuple[str, str]:
    for key_a, key_b in _JSON_PAIR_KEYS:
        if key_a in record and key_b in record:
            text_a, text_b = record[key_a], record[key_b]
            if not (isinstance(text_a, str) and isinstance(text_b, str)):
                raise DataError(f"{path}:{number}: fields {key_a!r} and {key_b!r} must be strings")
            return text_a, text_b
    allowed = ", ".join(f"{a}/{b}" for a, b in _JSON_PAIR_KEYS)
    raise DataError(
        f"{path}:{number}: no text pair found; expected keys {allowed}, found {', '.join(record)}"
    )


def _json_tagged(path: Path, number: int, record: dict) -> tuple[list[str], list]:
    tag_key = next((key for key in _JSON_TAG_KEYS if key in record), None)
    if "tokens" not in record or tag_key is None:
        raise DataError(
            f"{path}:{number}: expected keys 'tokens' and one of {', '.join(_JSON_TAG_KEYS)}, "
            f"found {', '.join(record)}"
        )
    tokens, tags = record["tokens"], record[tag_key]
    if not (isinstance(tokens, list) and all(isinstance(token, str) for token in tokens)):
        raise DataError(f"{path}:{number}: 'tokens' must be a list of strings")
    if not isinstance(tags, list) or len(tags) != len(tokens):
        raise DataError(f"{path}:{number}: {tag_key!r} must be a list as long as 'tokens' ({len(tokens)})")
    return tokens, tags


def read_jsonl(task: str | Task, path: str | os.PathLike) -> datasets.Dataset:
    """JSON Lines: premise/hypothesis, sentence1/sentence2 or text_a/text_b plus label; or tokens plus
    tags/ner_tags/pos_tags. Labels are names or class ids."""
    return _task(task).read_jsonl(Path(path))


def read_pairs_jsonl(task: Task, path: Path) -> datasets.Dataset:
    label2id = task.label2id
    columns: dict[str, list] = {"text_a": [], "text_b": [], "label": []}
    for number, record in _json_objects(path):
        text_a, text_b = (_json_pair if task.pair else _json_text)(path, number, record)
        if "label" not in record:
            raise DataError(f"{path}:{number}: missing key 'label'; allowed: {', '.join(task.labels)}")
        columns["text_a"].append(text_a)
        columns["text_b"].append(text_b)
        columns["label"].append(_label_id(task, record["label"], f"{path}:{number}", "label", label2id))
    return _build(task, columns, path)


def read_tagged_jsonl(task: Task, path: Path) -> datasets.Dataset:
    label2id = task.label2id
    columns: dict[str, list] = {"tokens": [], "tags": []}
    for number, record in _json_objects(path):
        tokens, tags = _json_tagged(path, number, record)
        columns["tokens"].append(tokens)
        columns["tags"].append([_label_id(task, tag, f"{path}:{number}", "tag", label2id) for tag in tags])
    return _build(task, columns, path)


_READERS: dict[str, Callable[[str | Task, str | os.PathLike], datasets.Dataset]] = {
    ".conllu": read_conllu,
    ".json": read_jsonl,
    ".jsonl": read_jsonl,
    ".tsv": read_xtreme_tsv,
    ".txt": read_xtreme_tsv,
}


def read_file(task: str | Task, path: str | os.PathLike) -> datasets.Dataset:
    """Read `path` with the reader its suffix calls for, if the task reads files of that kind."""
    task, path = _task(task), Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in task.file_suffixes:
        raise DataError(
            f"{path}: unsupported suffix {path.suffix!r} for task {task.name}; allowed: "
            f"{', '.join(task.file_suffixes)}"
        )
    return _READERS[suffix](task, path)


def find_xtreme_files(task: str | Task, data_dir: str | os.PathLike) -> dict[str, dict[str, Path]]:
    """{split: {language: path}} for the `<split>-<lang>.tsv` files in `data_dir` or `data_dir/<task>`."""
    task, data_dir = _task(task), Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such data folder")
    folder = data_dir / task.name if (data_dir / task.name).is_dir() else data_dir
    found: dict[str, dict[str, Path]] = {split: {} for split in XTREME_SPLITS}
    for path in sorted(folder.iterdir()):
        match = _XTREME_NAME.fullmatch(path.name)
        if match and path.is_file():
            found[match.group(1)][match.group(2)] = path
    if not any(found.values()):
        raise DataError(f"{folder}: no {task.name} files named <train|dev|test>-<lang>.tsv")
    return found


def _hub_label_names(feature: object) -> list[str] | None:
    """Names of a ClassLabel: Hub ids are mapped by name, not trusted by position."""
    feature = getattr(feature, "feature", feature)
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def _from_hub(task: Task, raw: datasets.Dataset, source: str) -> datasets.Dataset:
    needed = [*task.hub_text_columns, task.hub_label_column]
    missing = [column for column in needed if column not in raw.column_names]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; found {', '.join(raw.column_names)}"
        )
    hub_names = _hub_label_names(raw.features[task.hub_label_column])
    label2id = task.label2id

    def to_id(value: object, row: int) -> int:
        if hub_names is not None and isinstance(value, int) and 0 <= value < len(hub_names):
            value = hub_names[value]
        return _label_id(task, value, f"{source} row {row}", task.hub_label_column, label2id)

    return raw.map(
        task.from_hub_batch,
        batched=True,
        with_indices=True,
        fn_kwargs={"to_id": to_id},
        remove_columns=raw.column_names,
        features=task.dataset_features(),
    )


def load_hub_split(
    task: str | Task,
    language: str,
    split: str,
    cache_dir: str | os.PathLike | None = None,
    token: str | None = None,
) -> datasets.Dataset:
    """One language's split of the task's Hub dataset in the internal format (needs the Hub or its cache)."""
    task = _task(task)
    hub_split = _SPLIT_ALIASES.get(split, split)
    if hub_split not in task.hub_splits:
        raise ValueError(f"split {split!r} is not one of {', '.join(task.hub_splits)} (or dev)")
    # One config for all languages, a column naming each row's language; else one config per language.
    column = task.hub_language_column
    config = None if column else task.hub_config(language)
    available = task.hub_splits_of(language)
    if hub_split not in available:
        raise DataError(
            f"{task.hub_repo} config {config} has no {hub_split} split; it has {', '.join(available)}"
        )
    try:
        # Only when given: datasets then falls back to HF_TOKEN or the stored login, as it does by itself.
        auth = {"token": token} if token else {}
        raw = datasets.load_dataset(task.hub_repo, config, split=hub_split, cache_dir=cache_dir, **auth)
    except ConnectionError as error:  # also huggingface_hub's OfflineModeIsEnabled
        raise DataError(_offline_message(task, config, hub_split)) from error
    source = f"{task.hub_repo} config {config} split {hub_split}"
    if column:
        if column not in raw.column_names:
            raise DataError(f"{source}: no language column {column!r}; found {', '.join(raw.column_names)}")
        raw = raw.filter(lambda value: value == language, input_columns=[column])
        source = f"{task.hub_repo} split {hub_split}, rows with {column} = {language}"
        if len(raw) == 0:
            raise DataError(f"{source}: none")
    return _from_hub(task, raw, source)


def _offline_message(task: Task, config: str, split: str) -> str:
    if datasets.config.HF_HUB_OFFLINE:
        problem = "HF_HUB_OFFLINE=1 is set and it is not in the datasets cache"
    else:
        # datasets has retried by now; HF_HUB_OFFLINE=1 fails at the first try.
        problem = "the Hugging Face Hub cannot be reached (no network?; HF_HUB_OFFLINE=1 fails at once)"
    return (
        f"cannot load {task.hub_repo} config {config} split {split}: {problem}. Offline, give the data as files: "
        "--data_dir with <split>-<lang>.tsv files (XTREME layout), or --train_file, --validation_file "
        "and --eval_files"
    )


def parse_eval_files(spec: str) -> dict[str, Path]:
    """ "de=a.tsv,fr=b.conllu" -> {"de": Path("a.tsv"), "fr": Path("b.conllu")}."""
    form = "LANG=PATH[,LANG=PATH...], e.g. de=dev-de.tsv,fr=fr_gsd-ud-dev.conllu"
    files: dict[str, Path] = {}
    for item in spec.split(","):
        language, sep, path = (part.strip() for part in item.partition("="))
        if not (sep and language and path):
            raise ValueError(f"eval files {spec!r}: item {item.strip()!r} is not LANG=PATH; expected {form}")
        if language.lower() in files:
            raise ValueError(f"eval files {spec!r}: language {language!r} given twice; expected {form}")
        files[language.lower()] = Path(path)
    return files
