"""Which examples a run trains, selects and evaluates on, read and checked before anything is written.

The data never crosses languages: the training language's train split is the only thing trained on and its
dev split the only thing checkpoints are selected on. Parallel tasks (XNLI, PAWS-X) are scored on the rows
held out of training only, in every language.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from .arguments import DataArguments
from .data import DataError, find_xtreme_files, load_hub_split, parse_eval_files, read_file
from .results import DataOrigin
from .tasks import Task, check_languages

logger = logging.getLogger(__name__)


# Data subsets (--max_*_samples) are drawn with a fixed seed, so runs with different model seeds compare
# on the same examples.
SUBSET_SEED = 0


@dataclass
class TaskData:
    """Raw datasets in the internal format, and where each came from.

    Every dataset carries `row`, its examples' positions in the file (or Hub split) they were read from,
    which subsets keep; the features leave it out, so it never reaches the model.
    """

    train: datasets.Dataset | None = None
    dev: datasets.Dataset | None = None
    evaluation: dict[str, datasets.Dataset] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    # The same, structured: what the model card reads to credit the data.
    origins: dict[str, DataOrigin] = field(default_factory=dict)
    # With --dev_holdout: the rows held out of the training file, as recorded in results.json.
    heldout: dict | None = None
    # Languages left out of the evaluation, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)


ROW_COLUMN = "row"


def _numbered(dataset: datasets.Dataset) -> datasets.Dataset:
    return dataset.add_column(ROW_COLUMN, list(range(len(dataset))))


def _subset(dataset: datasets.Dataset, limit: int | None) -> datasets.Dataset:
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.shuffle(seed=SUBSET_SEED).select(range(limit))


def _read(task: Task, path: str | os.PathLike) -> datasets.Dataset:
    return _numbered(read_file(task, path))


def _file_origin(path: str | os.PathLike) -> DataOrigin:
    return DataOrigin(kind="file", path=str(path))


def _hub_or_file(task: Task, language: str, split: str, files: dict[str, dict[str, Path]], token=None):
    """(dataset, source, origin) for one language's split from the data folder when it has it, else the Hub."""
    xtreme_split = {"train": "train", "validation": "dev", "test": "test"}[split]
    path = files.get(xtreme_split, {}).get(language)
    if path is not None:
        return _read(task, path), str(path), _file_origin(path)
    if files:
        raise DataError(
            f"the data folder has no {xtreme_split}-{language}.tsv for {task.name}; it has "
            f"{', '.join(f'{xtreme_split}-{code}.tsv' for code in sorted(files.get(xtreme_split, {}))) or 'none'}"
        )
    dataset = load_hub_split(task, language, split, token=token)
    column = task.hub_language_column
    config = f"{column}={language}" if column else task.hub_config(language)
    origin = DataOrigin(
        kind="hub",
        repo=task.hub_repo,
        config=None if column else config,
        split=split,
        language_column=column or None,
        language=language,
    )
    return _numbered(dataset), f"{task.hub_repo} ({config}, {split})", origin


def _available_eval_languages(task: Task, data_args: DataArguments, files, eval_files) -> list[str]:
    if files:
        split = {"validation": "dev", "test": "test"}[data_args.eval_split]
        return sorted(set(files.get(split, {})) | set(eval_files))
    if eval_files:
        return list(eval_files)
    return list(task.languages)


def _same_rows(task: Task, dataset: datasets.Dataset, source: str, data: TaskData) -> datasets.Dataset:
    """The rows of a parallel file that were held out of the training file (its translations)."""
    expected = data.heldout["file_rows"]
    if len(dataset) != expected:
        raise DataError(
            f"{source} has {len(dataset)} examples but {data.sources['train']} has {expected}: {task.name} "
            "files are line-aligned translations (row i of each is the same item), so only a file of the same "
            "length can be scored on the held-out rows"
        )
    return dataset.select(data.dev[ROW_COLUMN])


def load_task_data(
    task: Task, data_args: DataArguments, *, training: bool, token: str | None = None
) -> TaskData:
    """Every dataset the run needs, read and checked before anything is written."""
    # A data folder, else the files a task file names, else the Hub.
    files = find_xtreme_files(task, data_args.data_dir) if data_args.data_dir else task.data_files()
    eval_files = parse_eval_files(data_args.eval_files) if data_args.eval_files else {}
    language = data_args.train_language
    data = TaskData()
    if data_args.train_split == "validation" and not data_args.dev_holdout:
        raise ValueError(
            "--train_split validation trains on the dev set: add --dev_holdout N to keep N examples apart for "
            "selection and the training language's score"
        )

    if training:
        if data_args.train_file:
            data.train, data.sources["train"] = _read(task, data_args.train_file), data_args.train_file
            data.origins["train"] = _file_origin(data_args.train_file)
        else:
            data.train, data.sources["train"], data.origins["train"] = _hub_or_file(
                task, language, data_args.train_split, files, token
            )
    if data_args.dev_holdout:
        if data.train is None:
            raise ValueError("--dev_holdout splits the training data: it needs --do_train")
        if data_args.dev_holdout >= len(data.train):
            raise ValueError(
                f"--dev_holdout {data_args.dev_holdout} leaves nothing to train on: "
                f"{data.sources['train']} has {len(data.train)} examples"
            )
        file_rows = len(data.train)
        split = data.train.train_test_split(test_size=data_args.dev_holdout, seed=SUBSET_SEED)
        data.train, data.dev = split["train"], split["test"]
        data.sources["dev"] = f"{data_args.dev_holdout} examples held out of {data.sources['train']}"
        data.origins["dev"] = dataclasses.replace(data.origins["train"], heldout=data_args.dev_holdout)
        data.heldout = {
            "count": data_args.dev_holdout,
            "seed": SUBSET_SEED,
            "file_rows": file_rows,
            "rows": sorted(data.dev[ROW_COLUMN]),
        }
    elif data_args.validation_file:
        data.dev, data.sources["dev"] = _read(task, data_args.validation_file), data_args.validation_file
        data.origins["dev"] = _file_origin(data_args.validation_file)
    elif files.get("dev", {}).get(language) or not (files or data_args.train_file):
        # The Hub's dev set only goes with the Hub's training set, never beside a user's own train file.
        data.dev, data.sources["dev"], data.origins["dev"] = _hub_or_file(
            task, language, "validation", files, token
        )
    if data.train is not None:
        # Drawn from the rows left for training: never from the held-out ones.
        data.train = _subset(data.train, data_args.max_train_samples)
    if data.dev is not None:
        data.dev = _subset(data.dev, data_args.max_eval_samples)

    trained_on_dev = data_args.dev_holdout and data_args.train_split == "validation"
    # Every other language's dev file holds translations of the rows trained on: only the held-out
    # rows (the very ones the training language is scored on) are zero-shot.
    same_rows = trained_on_dev and task.parallel and data_args.eval_split == "validation"
    if data.heldout is not None:
        data.heldout.update(parallel=bool(same_rows), evaluated_rows=sorted(data.dev[ROW_COLUMN]))
    available = _available_eval_languages(task, data_args, files, eval_files)
    if trained_on_dev:
        # The rest of this dev file was trained on: the held-out part is the training language's test bed.
        available = sorted(set(available) | {language})
    wanted = data_args.eval_languages or ",".join(available)
    for code in check_languages(task, wanted, available=available):
        if code == language and trained_on_dev:
            data.evaluation[code], data.sources[code] = data.dev, data.sources["dev"]
            data.origins[code] = data.origins["dev"]
            continue
        if code in eval_files:
            data.evaluation[code], data.sources[code] = _read(task, eval_files[code]), str(eval_files[code])
            data.origins[code] = _file_origin(eval_files[code])
        elif not files and data_args.eval_split not in task.hub_splits_of(code):
            data.skipped[code] = f"no {data_args.eval_split} split on {task.hub_repo}"
            continue
        else:
            data.evaluation[code], data.sources[code], data.origins[code] = _hub_or_file(
                task, code, data_args.eval_split, files, token
            )
        if same_rows:
            data.evaluation[code] = _same_rows(task, data.evaluation[code], data.sources[code], data)
            data.origins[code] = dataclasses.replace(data.origins[code], heldout=data.heldout["count"])
        data.evaluation[code] = _subset(data.evaluation[code], data_args.max_eval_samples)
    if data.skipped:
        logger.warning(
            "Not evaluated: %s", "; ".join(f"{code} ({reason})" for code, reason in data.skipped.items())
        )
    if not data.evaluation:
        raise DataError(f"no language left to evaluate: {', '.join(data.skipped)} skipped")
    for name, dataset in [("train", data.train), ("dev", data.dev), *data.evaluation.items()]:
        if dataset is not None and len(dataset) == 0:
            raise DataError(f"{data.sources[name]}: no examples")
    return data
