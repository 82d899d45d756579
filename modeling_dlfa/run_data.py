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
from .task_kinds import Task
from .tasks import check_languages

logger = logging.getLogger(__name__)


# Data subsets (--max_*_samples) are drawn with a fixed seed, so runs with different model seeds compare
# on the same examples.
SUBSET_SEED = 0


@dataclass
class SplitData:
    """One evaluated split: every language's examples, where each came from, the languages left out (why)."""

    split: str
    evaluation: dict[str, datasets.Dataset] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    origins: dict[str, DataOrigin] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class TaskData:
    """Raw datasets in the internal format, and where each came from.

    Every dataset carries `row`, its examples' positions in the file (or Hub split) they were read from,
    which subsets keep; the features leave it out, so it never reaches the model.
    """

    train: datasets.Dataset | None = None
    dev: datasets.Dataset | None = None
    # The evaluated splits, the headline one (what results.json reports in full) first.
    splits: dict[str, SplitData] = field(default_factory=dict)
    # train, dev and the headline split's languages.
    sources: dict[str, str] = field(default_factory=dict)
    # The same, structured: what the model card reads to credit the data.
    origins: dict[str, DataOrigin] = field(default_factory=dict)
    # With --dev_holdout: the rows held out of the training file, as recorded in results.json.
    heldout: dict | None = None

    @property
    def headline(self) -> SplitData:
        return next(iter(self.splits.values()))

    @property
    def evaluation(self) -> dict[str, datasets.Dataset]:
        return self.headline.evaluation

    @property
    def skipped(self) -> dict[str, str]:
        return self.headline.skipped


ROW_COLUMN = "row"


def _numbered(dataset: datasets.Dataset) -> datasets.Dataset:
    return dataset.add_column(ROW_COLUMN, list(range(len(dataset))))


def _subset(dataset: datasets.Dataset, limit: int | None) -> datasets.Dataset:
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.shuffle(seed=SUBSET_SEED).select(range(limit))


def _read(task: Task, path: str | os.PathLike) -> datasets.Dataset:
    return _numbered(read_file(task, path))


XTREME_SPLIT = {"train": "train", "validation": "dev", "test": "test"}


def _files_origin(data_args: DataArguments) -> str:
    return (
        f"the data folder {data_args.data_dir}" if data_args.data_dir else f"task file {data_args.task_file}"
    )


def _missing(
    origin: str, task: Task, split: str, files: dict[str, dict[str, Path]], language: str
) -> DataError:
    """What a data folder (XTREME file names) or a task file (any names) lacks, and what it has."""
    xtreme_split = XTREME_SPLIT[split]
    if origin.startswith("the data folder"):
        found = [f"{name}-{code}.tsv" for name, codes in files.items() for code in sorted(codes)]
        return DataError(
            f"{origin} has no {xtreme_split}-{language or '<lang>'}.tsv for {task.name}; it has: "
            f"{', '.join(found) or 'no files'}"
        )
    found = [f"{name} {code}" for name, codes in files.items() for code in sorted(codes)]
    return DataError(
        f"{origin} names no {xtreme_split} file{f' for {language}' if language else ''}; it names: "
        f"{', '.join(found)} (add the file under files: {xtreme_split}:, or evaluate another split)"
    )


def _file_origin(path: str | os.PathLike) -> DataOrigin:
    return DataOrigin(source="file", path=str(path))


def _hub_or_file(
    task: Task,
    language: str,
    split: str,
    files: dict[str, dict[str, Path]],
    token=None,
    files_origin: str = "",
):
    """(dataset, source, origin) for one language's split from the data folder when it has it, else the Hub."""
    path = files.get(XTREME_SPLIT[split], {}).get(language)
    if path is not None:
        return _read(task, path), str(path), _file_origin(path)
    if files:
        raise _missing(files_origin, task, split, files, language)
    dataset = load_hub_split(task, language, split, token=token)
    column = task.hub_language_column
    config = f"{column}={language}" if column else task.hub_config(language)
    origin = DataOrigin(
        source="hub",
        repo=task.hub_repo,
        config=None if column else config,
        split=split,
        language_column=column or None,
        language=language,
    )
    return _numbered(dataset), f"{task.hub_repo} ({config}, {split})", origin


def _available_eval_languages(task: Task, split: str, files, eval_files) -> list[str]:
    if files:
        return sorted(set(files.get(XTREME_SPLIT[split], {})) | set(eval_files))
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


def _precedence(data_args: DataArguments) -> None:
    """Files named by flags win over the data folder's files of the same role: say so."""
    folder, language = data_args.data_dir, data_args.train_language
    if data_args.train_file:
        logger.warning(
            "--train_file %s is trained on, not %s's train-%s.tsv", data_args.train_file, folder, language
        )
    if data_args.validation_file:
        logger.warning(
            "--validation_file %s selects checkpoints, not %s's dev-%s.tsv",
            data_args.validation_file,
            folder,
            language,
        )
    if data_args.eval_files:
        logger.warning(
            "--eval_files %s are scored instead of %s's files of those languages",
            data_args.eval_files,
            folder,
        )


def load_task_data(
    task: Task,
    data_args: DataArguments,
    *,
    training: bool,
    token: str | None = None,
    splits: tuple[str, ...] | None = None,
) -> TaskData:
    """Every dataset the run needs, read and checked before anything is written. `splits`: the evaluated
    splits, the headline one first (default: --eval_split)."""
    splits = splits or (data_args.eval_split,)
    # A data folder, else the files a task file names, else the Hub.
    files = find_xtreme_files(task, data_args.data_dir) if data_args.data_dir else task.data_files()
    origin = _files_origin(data_args)
    eval_files = parse_eval_files(data_args.eval_files) if data_args.eval_files else {}
    if eval_files and len(splits) > 1:
        raise ValueError(
            "--eval_files give one file per language, for one split: score either the validation split "
            "(--do_eval) or the test split (--do_predict) with them"
        )
    if data_args.data_dir:
        _precedence(data_args)
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
                task, language, data_args.train_split, files, token, origin
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
            task, language, "validation", files, token, origin
        )
    if data.train is not None:
        # Drawn from the rows left for training: never from the held-out ones.
        data.train = _subset(data.train, data_args.max_train_samples)
    if data.dev is not None:
        data.dev = _subset(data.dev, data_args.max_eval_samples)

    trained_on_dev = bool(data_args.dev_holdout) and data_args.train_split == "validation"
    if data.heldout is not None:
        # Every other language's dev file holds translations of the rows trained on: only the held-out
        # rows (the very ones the training language is scored on) are zero-shot.
        parallel = trained_on_dev and task.parallel and splits[0] == "validation"
        data.heldout.update(parallel=parallel, evaluated_rows=sorted(data.dev[ROW_COLUMN]))
    for split in splits:
        data.splits[split] = _evaluation_split(
            task, data_args, data, split, files, eval_files, token, origin, trained_on_dev
        )
    data.sources.update(data.headline.sources)
    data.origins.update(data.headline.origins)
    for name, dataset in [("train", data.train), ("dev", data.dev)]:
        if dataset is not None and len(dataset) == 0:
            raise DataError(f"{data.sources[name]}: no examples")
    return data


def _evaluation_split(
    task: Task,
    data_args: DataArguments,
    data: TaskData,
    split: str,
    files,
    eval_files,
    token,
    origin,
    trained_on_dev,
) -> SplitData:
    """Every evaluated language's examples of one split."""
    language = data_args.train_language
    same_rows = trained_on_dev and task.parallel and split == "validation"
    limit = data_args.max_eval_samples
    if split == "test" and data_args.max_predict_samples is not None:
        limit = data_args.max_predict_samples
    available = _available_eval_languages(task, split, files, eval_files)
    if files and not available:
        raise _missing(origin, task, split, files, "")
    if trained_on_dev:
        # The rest of this dev file was trained on: the held-out part is the training language's test bed.
        available = sorted(set(available) | {language})
    wanted = data_args.eval_languages or ",".join(available)
    scored = SplitData(split)
    for code in check_languages(task, wanted, available=available):
        if code == language and trained_on_dev:
            scored.evaluation[code], scored.sources[code] = data.dev, data.sources["dev"]
            scored.origins[code] = data.origins["dev"]
            continue
        if code in eval_files:
            scored.evaluation[code], scored.sources[code] = (
                _read(task, eval_files[code]),
                str(eval_files[code]),
            )
            scored.origins[code] = _file_origin(eval_files[code])
        elif not files and split not in task.hub_splits_of(code):
            scored.skipped[code] = f"no {split} split on {task.hub_repo}"
            continue
        else:
            scored.evaluation[code], scored.sources[code], scored.origins[code] = _hub_or_file(
                task, code, split, files, token, origin
            )
        if same_rows:
            scored.evaluation[code] = _same_rows(task, scored.evaluation[code], scored.sources[code], data)
            scored.origins[code] = dataclasses.replace(scored.origins[code], heldout=data.heldout["count"])
        scored.evaluation[code] = _subset(scored.evaluation[code], limit)
    if scored.skipped:
        logger.warning(
            "Not evaluated on the %s split: %s",
            split,
            "; ".join(f"{code} ({why})" for code, why in scored.skipped.items()),
        )
    if not scored.evaluation:
        raise DataError(f"no language left to evaluate: {', '.join(scored.skipped)} skipped ({split} split)")
    for code, dataset in scored.evaluation.items():
        if len(dataset) == 0:
            raise DataError(f"{scored.sources[code]}: no examples")
    return scored
