"""Tasks defined as data: a JSON or YAML task file gives what the built-in tasks give in tasks.py.

    name: my-sentiment                  # how results, cards and get_task name it
    kind: sequence                      # sequence (one label per text or text pair) or token (one per word)
    pair: false                         # sequence tasks: one text per example (default: a pair)
    labels: [negative, positive]
    languages: [en, de, fr, ja]
    metric: accuracy                    # sequence: accuracy; token: span_f1 or token_accuracy
    groups: {european: [en, de, fr]}    # reported beside each language; the rest fall in rest_group
    files:                              # per split and language, relative to this file ...
      train: {en: train-en.jsonl}
      dev: {en: dev-en.jsonl, de: dev-de.jsonl}
    hub_repo: user/dataset              # ... or a Hub dataset: one config per language (hub_configs maps a
    hub_language_column: lang           # language to its config) or one config with a language column

Every other field of `task_kinds.Task` may be given too (hub_text_columns, hub_label_column, hub_splits,
extra_metrics, parallel, metric_display, rest_group; token tasks: conllu, to read CoNLL-U files' UPOS column).
Mappings become the tuples the frozen Task holds. Files are .jsonl or .tsv (.conllu with conllu: true).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .task_kinds import KINDS, Task, make_task
from .tasks import TASKS, get_task, register_task

FILE_SPLITS = ("train", "dev", "test")
_LIST_FIELDS = ("labels", "languages", "aliases", "hub_text_columns", "hub_splits", "extra_metrics")


class TaskFileError(ValueError):
    """A task file that cannot define a task: the message names the file, the field and what is allowed."""


def _fields_of(kind: str) -> dict[str, dataclasses.Field]:
    return {field.name: field for field in dataclasses.fields(KINDS[kind]) if field.init}


def _read(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            definition = yaml.safe_load(text)
        else:
            definition = json.loads(text)
    except (ValueError, ImportError) as error:  # json.JSONDecodeError and yaml.YAMLError are ValueErrors
        raise TaskFileError(f"{path}: not a valid task file ({error})") from None
    if not isinstance(definition, dict):
        raise TaskFileError(
            f"{path}: a task file holds one mapping of fields, found {type(definition).__name__}"
        )
    return definition


def _files(path: Path, value: object) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(langs, dict) for langs in value.values()):
        raise TaskFileError(f"{path}: field 'files' must map a split to {{language: file}}")
    unknown = [split for split in value if split not in FILE_SPLITS]
    if unknown:
        raise TaskFileError(
            f"{path}: files: unknown split(s) {', '.join(unknown)}; allowed: {', '.join(FILE_SPLITS)}"
        )
    entries = []
    for split, by_language in value.items():
        for language, file in by_language.items():
            resolved = (path.parent / str(file)).resolve()
            if not resolved.is_file():
                raise TaskFileError(f"{path}: files: {split} {language}: {resolved} does not exist")
            entries.append((split, str(language).lower(), str(resolved)))
    return tuple(entries)


def _as_field_value(path: Path, name: str, value: object) -> object:
    """JSON/YAML lists and mappings as the tuples a frozen (hashable) Task holds."""
    if name == "files":
        return _files(path, value)
    if name in ("groups", "hub_configs", "hub_language_splits"):
        if not isinstance(value, dict):
            raise TaskFileError(f"{path}: field {name!r} must be a mapping")
        return tuple(
            (str(key), tuple(item) if isinstance(item, list) else item) for key, item in value.items()
        )
    if name in _LIST_FIELDS:
        if not isinstance(value, list):
            raise TaskFileError(f"{path}: field {name!r} must be a list, e.g. [{value}]")
        items = tuple(str(item) for item in value)
        # Language codes are compared lower-case everywhere (flags, file names).
        return tuple(item.lower() for item in items) if name == "languages" else items
    return value


def load_task_file(path: str | Path) -> Task:
    """The task a JSON or YAML file defines, made known to `get_task` under its name."""
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(f"{path}: no such task file")
    definition = _read(path)
    kind = definition.pop("kind", None)
    if kind not in KINDS:
        raise TaskFileError(f"{path}: field 'kind' is {kind!r}; allowed: {', '.join(KINDS)}")
    allowed = _fields_of(kind)
    unknown = [name for name in definition if name not in allowed or name == "kind"]
    if unknown:
        raise TaskFileError(
            f"{path}: unknown field(s) {', '.join(unknown)}; allowed for a {kind} task: "
            f"{', '.join(name for name in allowed if name != 'kind')}"
        )
    missing = [name for name in ("name", "labels", "languages", "metric") if name not in definition]
    if missing:
        raise TaskFileError(f"{path}: missing field(s) {', '.join(missing)}")
    values = {name: _as_field_value(path, name, value) for name, value in definition.items()}
    values.setdefault("metric_display", values["metric"])
    try:
        return register_task(make_task(kind, **values))
    except (TypeError, ValueError) as error:
        raise TaskFileError(f"{path}: {error}") from None


def with_dataset_flags(
    task: Task,
    *,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    text_column_name: str | None = None,
    label_column_name: str | None = None,
) -> Task:
    """`task` read from another Hub dataset, as run_ner.py's --dataset_name, --dataset_config_name,
    --text_column_name and --label_column_name say."""
    changes: dict = {}
    if dataset_name:
        changes["hub_repo"] = dataset_name
    if dataset_config_name:
        if "{language}" not in dataset_config_name:
            raise ValueError(
                f"--dataset_config_name {dataset_config_name!r} names one config, but every language needs its "
                "own: write {language} where the language code goes, e.g. '{language}' or 'ner.{language}'"
            )
        configs = {code: dataset_config_name.format(language=code) for code in task.languages}
        changes.update(hub_configs=tuple(configs.items()), hub_language_column="")
    if text_column_name:
        columns = tuple(column.strip() for column in text_column_name.split(","))
        expected = len(task.hub_text_columns) or (2 if getattr(task, "pair", False) else 1)
        if len(columns) != expected:
            raise ValueError(
                f"--text_column_name {text_column_name!r}: task {task.name} reads {expected} text column(s) "
                f"({', '.join(task.hub_text_columns) or 'none set'}); give them comma-separated"
            )
        changes["hub_text_columns"] = columns
    if label_column_name:
        changes["hub_label_column"] = label_column_name
    return dataclasses.replace(task, **changes) if changes else task


def task_definition(task: Task) -> dict | None:
    """A task that is not built in, as JSON (what results.json keeps so its card can be written later, in a
    process that never read the task file); None for the built-in tasks, which every version knows."""
    if TASKS.get(task.name) == task:
        return None
    return {
        "kind": task.kind,
        **{name: _as_json(value) for name, value in dataclasses.asdict(task).items() if name != "kind"},
    }


def task_from_definition(definition: dict) -> Task:
    """The task a results.json's `task_definition` holds (tuples restored)."""
    values = {name: _as_tuples(value) for name, value in definition.items() if name != "kind"}
    return make_task(definition["kind"], **values)


def results_task(results) -> Task:
    """The task a run's results were made with: its stored definition, else the built-in task of that name."""
    if results.task_definition:
        return task_from_definition(results.task_definition)
    return get_task(results.task)


def _as_json(value: object) -> object:
    return [_as_json(item) for item in value] if isinstance(value, tuple | list) else value


def _as_tuples(value: object) -> object:
    return tuple(_as_tuples(item) for item in value) if isinstance(value, list) else value
