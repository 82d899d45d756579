"""Zero-shot cross-lingual transfer runs: train on one language, select on its dev set, evaluate every language.

`run` is what run_glue_x.py calls: one fusion setting, or a sweep over several settings and seeds, each
(setting, seed) a full run in its own folder (`run_trial`, run by a backend of modeling_dlfa/sweep.py). The
data never crosses languages: the training language's train split is the only thing trained on and its dev
split the only thing checkpoints are selected on.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from safetensors import SafetensorError
from torch.utils.data import SequentialSampler
from transformers import (
    AutoConfig,
    AutoTokenizer,
    EvalPrediction,
    Trainer,
    default_data_collator,
    set_seed,
)
from transformers.trainer_utils import IntervalStrategy

from . import __version__, report
from .arguments import DataArguments, GlueXTrainingArguments, ModelArguments, SweepArguments
from .atomic import atomic_path, write_json, write_text
from .configuration_dlfa import DLFAConfig
from .data import DataError, find_xtreme_files, load_hub_split, parse_eval_files, read_file
from .features import MODEL_COLUMNS, num_split_examples, num_truncated_examples, tokenize
from .metrics import compute_metrics, macro_average
from .optimization import parameter_groups
from .tasks import Task, check_languages, get_task, language_groups

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
SWEEP_FILE = "sweep.json"
RUN_CONFIG_FILE = "run_config.json"
# Data subsets (--max_*_samples) are drawn with a fixed seed, so runs with different model seeds compare
# on the same examples.
SUBSET_SEED = 0


# --- the data --------------------------------------------------------------------------------------------


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


def _hub_or_file(task: Task, language: str, split: str, files: dict[str, dict[str, Path]]):
    """(dataset, source) for one language's split from the data folder when it has it, else the Hub."""
    xtreme_split = {"train": "train", "validation": "dev", "test": "test"}[split]
    path = files.get(xtreme_split, {}).get(language)
    if path is not None:
        return _read(task, path), str(path)
    if files:
        raise DataError(
            f"the data folder has no {xtreme_split}-{language}.tsv for {task.name}; it has "
            f"{', '.join(f'{xtreme_split}-{code}.tsv' for code in sorted(files.get(xtreme_split, {}))) or 'none'}"
        )
    dataset = load_hub_split(task, language, split)
    return _numbered(dataset), f"{task.hub_repo} ({task.hub_config(language)}, {split})"


def _available_eval_languages(task: Task, data_args: DataArguments, files, eval_files) -> list[str]:
    if data_args.data_dir:
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


def load_task_data(task: Task, data_args: DataArguments, *, training: bool) -> TaskData:
    """Every dataset the run needs, read and checked before anything is written."""
    files = find_xtreme_files(task, data_args.data_dir) if data_args.data_dir else {}
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
        else:
            data.train, data.sources["train"] = _hub_or_file(task, language, data_args.train_split, files)
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
        data.heldout = {
            "count": data_args.dev_holdout,
            "seed": SUBSET_SEED,
            "file_rows": file_rows,
            "rows": sorted(data.dev[ROW_COLUMN]),
        }
    elif data_args.validation_file:
        data.dev, data.sources["dev"] = _read(task, data_args.validation_file), data_args.validation_file
    elif files.get("dev", {}).get(language) or not (files or data_args.train_file):
        # The Hub's dev set only goes with the Hub's training set, never beside a user's own train file.
        data.dev, data.sources["dev"] = _hub_or_file(task, language, "validation", files)
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
            continue
        if code in eval_files:
            data.evaluation[code], data.sources[code] = _read(task, eval_files[code]), str(eval_files[code])
        elif not files and data_args.eval_split not in task.hub_splits_of(code):
            data.skipped[code] = f"no {data_args.eval_split} split on {task.hub_repo}"
            continue
        else:
            data.evaluation[code], data.sources[code] = _hub_or_file(task, code, data_args.eval_split, files)
        if same_rows:
            data.evaluation[code] = _same_rows(task, data.evaluation[code], data.sources[code], data)
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


# --- the model -------------------------------------------------------------------------------------------


def parse_fusion_layers(spec: str | None, num_layers: int) -> list[int | None]:
    """'6' -> [6]; 'none' -> [None]; 'none,1,6' -> [None, 1, 6]; 'all' -> [None, 0, ..., N-1]."""
    allowed = f"an int in 0..{num_layers - 1}, 'none' (baseline), a comma list of those, or 'all'"
    if spec is None or not spec.strip():
        raise ValueError(f"--fusion_layer is required for a plain backbone: {allowed}")
    if spec.strip().lower() == "all":
        return [None, *range(num_layers)]
    layers: list[int | None] = []
    for item in spec.split(","):
        item = item.strip().lower()
        if item in ("none", "baseline"):
            layer = None
        elif item.lstrip("-").isdigit():
            layer = int(item)
            if not 0 <= layer < num_layers:
                raise ValueError(
                    f"--fusion_layer {layer} is out of range for a {num_layers}-layer backbone: use {allowed}"
                )
        else:
            raise ValueError(f"--fusion_layer {item!r} is not understood: use {allowed}")
        if layer in layers:
            raise ValueError(f"--fusion_layer lists {item} twice")
        layers.append(layer)
    return layers


def load_model_config(model_args: ModelArguments):
    return AutoConfig.from_pretrained(
        model_args.model_name_or_path, revision=model_args.model_revision, cache_dir=model_args.cache_dir
    )


def _check_checkpoint_labels(task: Task, config: DLFAConfig, name: str) -> None:
    labels = [config.id2label[index] for index in sorted(config.id2label)]
    if labels != list(task.labels):
        raise ValueError(
            f"{name} was trained with num_labels={len(labels)} ({', '.join(map(str, labels))}), "
            f"but task {task.name} has {task.num_labels} labels ({', '.join(task.labels)})"
        )


def build_model(task: Task, model_args: ModelArguments, fusion_layer: int | None, model_config):
    hub_kwargs = {
        "revision": model_args.model_revision,
        "cache_dir": model_args.cache_dir,
        "use_safetensors": model_args.use_safetensors,
    }
    model_class = task.head_class
    try:
        if isinstance(model_config, DLFAConfig):
            _check_checkpoint_labels(task, model_config, model_args.model_name_or_path)
            model = model_class.from_pretrained(model_args.model_name_or_path, **hub_kwargs)
        else:
            model = model_class.from_backbone(
                model_args.model_name_or_path,
                fusion_layer=fusion_layer,
                fusion_gate=model_args.fusion_gate,
                fusion_init=model_args.fusion_init,
                aif_global_norm=model_args.aif_global_norm,
                aif_reduction=model_args.aif_reduction,
                classifier_dropout=model_args.classifier_dropout,
                id2label=task.id2label,
                **hub_kwargs,
            )
    except SafetensorError as error:
        weights = Path(model_args.model_name_or_path) / "model.safetensors"
        raise OSError(f"{weights}: the safetensors weights are corrupt or truncated ({error})") from error
    except OSError as error:
        if "use_safetensors=False" in str(error):
            raise OSError(
                f"{model_args.model_name_or_path} has no model.safetensors, only pickle weights, refused by "
                "default; if you trust them, opt in with --use_safetensors false"
            ) from error
        raise
    if model_args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model


# --- training and evaluation -----------------------------------------------------------------------------


class OrderedEvaluationTrainer(Trainer):
    """A Trainer whose evaluation keeps dataset order. With --train_sampling_strategy group_by_length the stock
    one length-groups evaluation too, and predictions would no longer line up with their examples (evaluation
    here is already sorted by length)."""

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or self.args.world_size > 1:
            return None  # accelerate shards a sequential order and gathers it back in order
        return SequentialSampler(eval_dataset)

    def create_optimizer(self, model=None):
        # --head_learning_rate: the fusion module and the classifier get their own learning rate.
        head_learning_rate = getattr(self.args, "head_learning_rate", None)
        if self.optimizer is None and head_learning_rate is not None:
            model = self.model if model is None else model
            optimizer_class, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            groups = parameter_groups(
                model,
                learning_rate=self.args.learning_rate,
                head_learning_rate=head_learning_rate,
                weight_decay=self.args.weight_decay,
                decay_parameter_names=self.get_decay_parameter_names(model),
            )
            self.optimizer_cls_and_kwargs = (optimizer_class, {**optimizer_kwargs, "params": groups})
        return super().create_optimizer(model)


def data_collator(task: Task, tokenizer, pad_to_max_length: bool):
    return default_data_collator if pad_to_max_length else task.data_collator(tokenizer)


def _model_inputs(features: datasets.Dataset) -> datasets.Dataset:
    return features.select_columns([column for column in MODEL_COLUMNS if column in features.column_names])


def score_predictions(task: Task, raw: datasets.Dataset, features: datasets.Dataset, predicted):
    """(every metric of the task, one prediction per example, words left unpredicted): the one scorer of
    checkpoint selection and evaluation. `predicted` holds the argmax of every feature row, in feature order."""
    guesses, unpredicted = task.decode(raw, features, predicted)
    return compute_metrics(task, guesses, task.references(raw)), guesses, unpredicted


def _dev_metric(task: Task, raw: datasets.Dataset, features: datasets.Dataset):
    """compute_metrics for the Trainer: the task's score on the training language's dev set."""

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        predicted = np.argmax(prediction.predictions, axis=-1)
        return {"score": score_predictions(task, raw, features, predicted)[0][task.metric]}

    return compute


def predict_language(trainer: Trainer, task: Task, raw: datasets.Dataset, features: datasets.Dataset):
    """(every metric of the task, prediction records, unpredicted words) for one language. Feature rows run
    sorted by length, so batches pad little."""
    order = np.argsort(np.asarray(features["length"]), kind="stable")
    # Without labels: the score is computed here, over words; the Trainer's compute_metrics is the dev set's.
    inputs = _model_inputs(features.select(order)).remove_columns("labels")
    output = trainer.predict(inputs, metric_key_prefix="predict")
    predicted_sorted = np.argmax(output.predictions, axis=-1)
    predicted = [None] * len(order)
    for sorted_position, original in enumerate(order):
        predicted[original] = predicted_sorted[sorted_position]
    metrics, guesses, unpredicted = score_predictions(task, raw, features, predicted)
    return metrics, task.prediction_records(raw, guesses), unpredicted


def _write_predictions(output_dir: Path, language: str, records: list[dict]) -> None:
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    write_text(output_dir / "predictions" / f"{language}.jsonl", lines)


def _save_model(model, tokenizer, output_dir: Path) -> None:
    """save_pretrained into a temporary folder, then rename file by file: no half-written weights."""
    staging = Path(tempfile.mkdtemp(prefix=".model.", suffix=".tmp", dir=output_dir))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        for path in staging.iterdir():
            os.replace(path, output_dir / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _updated(training_args, **changes):
    """A copy with some fields changed (dataclasses.replace would run TrainingArguments' set-up again)."""
    updated = copy.copy(training_args)
    for name, value in changes.items():
        setattr(updated, name, value)
    return updated


# --- one run ---------------------------------------------------------------------------------------------


def _run_identity(task, model_args, data_args, training_args, fusion_layer) -> dict:
    """What must match for an interrupted run's checkpoints to be resumed."""
    return {
        "task": task.name,
        "model_name_or_path": model_args.model_name_or_path,
        "model_revision": model_args.model_revision,
        "fusion_layer": fusion_layer,
        "fusion_gate": model_args.fusion_gate,
        "fusion_init": model_args.fusion_init,
        "aif_global_norm": model_args.aif_global_norm,
        "aif_reduction": model_args.aif_reduction,
        "freeze_embeddings": model_args.freeze_embeddings,
        "data": {
            key: value for key, value in dataclasses.asdict(data_args).items() if key not in _NOT_IDENTITY
        },
        "seed": training_args.seed,
        "training": _training_summary(training_args),
    }


_NOT_IDENTITY = (
    "overwrite_output_dir",
    "overwrite_cache",
    "features_cache_dir",
    "save_model",
    "eval_languages",
)


def _training_summary(training_args) -> dict:
    keys = (
        "learning_rate",
        "head_learning_rate",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "weight_decay",
        "warmup_steps",
        "lr_scheduler_type",
        "max_grad_norm",
        "optim",
    )
    summary = {key: getattr(training_args, key) for key in keys}
    summary["world_size"] = training_args.world_size
    return json.loads(json.dumps(summary, default=str))


def checkpoint_problems(checkpoint: Path, training_args) -> list[str]:
    """What a checkpoint lacks to resume exactly: a kill can land while one is written or rotated away."""
    needed = ["trainer_state.json"]
    if not training_args.save_only_model:
        needed += ["optimizer.pt", "scheduler.pt"]
        world_size = training_args.world_size
        needed += (
            ["rng_state.pth"] if world_size <= 1 else [f"rng_state_{rank}.pth" for rank in range(world_size)]
        )
    problems = [name for name in needed if not (checkpoint / name).is_file()]
    if not any(checkpoint.glob("*.safetensors")):
        problems.append("model.safetensors")
    if "trainer_state.json" not in problems:
        try:
            json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problems.append("trainer_state.json (unreadable)")
    return problems


def _resume_checkpoint(output_dir: Path, identity: dict, training_args) -> str | None:
    if training_args.resume_from_checkpoint:
        checkpoint = Path(training_args.resume_from_checkpoint)
        problems = checkpoint_problems(checkpoint, training_args)
        if problems:
            raise ValueError(f"--resume_from_checkpoint {checkpoint} is incomplete: no {', '.join(problems)}")
        return str(checkpoint)
    checkpoints = sorted(
        (path for path in output_dir.glob("checkpoint-*") if path.name.split("-")[-1].isdigit()),
        key=lambda path: int(path.name.split("-")[-1]),
    )
    if not checkpoints:
        return None
    previous = output_dir / RUN_CONFIG_FILE
    if not (previous.is_file() and json.loads(previous.read_text(encoding="utf-8")) == identity):
        raise ValueError(
            f"{output_dir} holds checkpoints of a different run configuration ({previous.name} differs): "
            "use another --output_dir, or --overwrite_output_dir to start over"
        )
    for checkpoint in reversed(checkpoints):
        problems = checkpoint_problems(checkpoint, training_args)
        if not problems:
            logger.info("Resuming the interrupted run from %s", checkpoint)
            return str(checkpoint)
        logger.warning("Not resuming from %s, it is incomplete (no %s)", checkpoint, ", ".join(problems))
    return None


def _versions() -> dict[str, str]:
    return {
        "modeling_dlfa": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
    }


@dataclass
class Prepared:
    """What every setting of a run shares: the task, data, tokenizer and features."""

    task: Task
    data: TaskData
    tokenizer: object
    model_config: object
    train_features: datasets.Dataset | None
    dev_features: datasets.Dataset | None
    eval_features: dict[str, datasets.Dataset]


def prepare(model_args: ModelArguments, data_args: DataArguments, training: bool) -> Prepared:
    task = get_task(data_args.task_name)
    model_config = load_model_config(model_args)
    data = load_task_data(task, data_args, training=training)
    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path, revision=model_args.model_revision, cache_dir=model_args.cache_dir
    )

    def features(dataset, description):
        if dataset is None:
            return None
        return tokenize(
            task,
            dataset,
            tokenizer,
            max_length=data_args.max_seq_length,
            pad_to_max_length=data_args.pad_to_max_length,
            cache_dir=data_args.features_cache_dir,
            overwrite_cache=data_args.overwrite_cache,
            description=description,
            label_piece=data_args.label_piece,
        )

    language = data_args.train_language
    return Prepared(
        task=task,
        data=data,
        tokenizer=tokenizer,
        model_config=model_config,
        train_features=features(data.train, f"train ({language})"),
        dev_features=features(data.dev, f"dev ({language})"),
        eval_features={code: features(dataset, code) for code, dataset in data.evaluation.items()},
    )


def run_setting(
    prepared: Prepared,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
    fusion_layer: int | None,
) -> dict:
    """Train (unless evaluating a trained DLFA checkpoint), evaluate every language, write every output."""
    task, output_dir = prepared.task, Path(training_args.output_dir)
    identity = _run_identity(task, model_args, data_args, training_args, fusion_layer)
    resume = _resume_checkpoint(output_dir, identity, training_args) if training_args.do_train else None
    if prepared.dev_features is None and training_args.eval_strategy != "no":
        logger.warning("No dev set for the training language: no checkpoint selection, the last one is kept")
        training_args = _updated(
            training_args, eval_strategy=IntervalStrategy.NO, load_best_model_at_end=False
        )

    set_seed(training_args.seed)
    model = build_model(task, model_args, fusion_layer, prepared.model_config)
    if training_args.should_save:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(output_dir / RUN_CONFIG_FILE, identity)
    trainer = OrderedEvaluationTrainer(
        model=model,
        args=training_args,
        train_dataset=_model_inputs(prepared.train_features) if training_args.do_train else None,
        eval_dataset=_model_inputs(prepared.dev_features) if prepared.dev_features is not None else None,
        processing_class=prepared.tokenizer,
        data_collator=data_collator(task, prepared.tokenizer, data_args.pad_to_max_length),
        compute_metrics=(
            _dev_metric(task, prepared.data.dev, prepared.dev_features)
            if prepared.dev_features is not None
            else None
        ),
    )
    started = time.perf_counter()
    split_metrics = {}
    if training_args.do_train:
        split_metrics["train"] = trainer.train(resume_from_checkpoint=resume).metrics
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    dev_score = None
    if prepared.dev_features is not None:
        split_metrics["eval"] = trainer.evaluate()
        dev_score = split_metrics["eval"]["eval_score"]
    scores, metrics, counts = {}, {}, {"num_examples": {}, "num_unpredicted_words": {}}
    for language, features in prepared.eval_features.items():
        raw = prepared.data.evaluation[language]
        logger.info("Evaluating %s (%d examples, %d rows)", language, len(raw), len(features))
        metrics[language], records, counts["num_unpredicted_words"][language] = predict_language(
            trainer, task, raw, features
        )
        scores[language] = metrics[language][task.metric]
        counts["num_examples"][language] = len(raw)
        if training_args.should_save:
            _write_predictions(output_dir, language, records)
    eval_seconds = time.perf_counter() - started

    results = _results(prepared, model_args, data_args, training_args, model, scores, counts)
    results["metrics"] = metrics
    results.update(
        train_dev_score=dev_score,
        runtime={"train_seconds": round(train_seconds, 1), "eval_seconds": round(eval_seconds, 1)},
    )
    # As run_glue.py names them, so --report_to trackers get every language, not only the dev score.
    split = "predict" if data_args.eval_split == "test" else "eval"
    language_metrics = {
        f"{split}_{code}_{name}": value for code, values in metrics.items() for name, value in values.items()
    }
    split_metrics.setdefault(split, {}).update(language_metrics)
    trainer.log(language_metrics)
    _write_outputs(trainer, prepared, data_args, training_args, results, split_metrics)
    return results


def _results(prepared, model_args, data_args, training_args, model, scores, counts) -> dict:
    task, config = prepared.task, model.config
    language = data_args.train_language
    groups = language_groups(scores)
    others = {code: score for code, score in scores.items() if code != language}
    return {
        "task": task.name,
        "model_name_or_path": model_args.model_name_or_path,
        "backbone_type": config.backbone_config.model_type,
        "fusion_layer": config.fusion_layer,
        "fusion_gate": config.fusion_gate,
        "fusion_init": config.fusion_init,
        "aif_global_norm": config.aif_global_norm,
        "train_language": language,
        "metric": task.metric,
        "metric_display": task.metric_display,
        "eval_split": data_args.eval_split,
        "languages": scores,
        "skipped_languages": prepared.data.skipped,
        "average": macro_average(scores),
        "average_without_train_language": macro_average(others) if others else None,
        "groups": {
            group: macro_average({code: scores[code] for code in codes}) for group, codes in groups.items()
        },
        "group_members": groups,
        "num_examples": counts["num_examples"],
        "num_truncated": {code: num_truncated_examples(f) for code, f in prepared.eval_features.items()},
        # Token tasks: sentences longer than max_seq_length, split into windows; words no window predicted.
        "num_split_sentences": {code: num_split_examples(f) for code, f in prepared.eval_features.items()},
        "num_unpredicted_words": counts["num_unpredicted_words"],
        "num_train_examples": len(prepared.data.train) if training_args.do_train else 0,
        "data_sources": prepared.data.sources,
        "heldout": prepared.data.heldout,
        "seed": training_args.seed,
        "training": {
            **_training_summary(training_args),
            "max_seq_length": data_args.max_seq_length,
            "label_piece": data_args.label_piece,
        },
        "versions": _versions(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _write_trainer_outputs(trainer, output_dir: Path, split_metrics: dict[str, dict]) -> None:
    """What run_glue.py / run_ner.py leave: <split>_results.json, all_results.json and trainer_state.json
    (the loss history, which would otherwise go with the removed checkpoints)."""
    for split, metrics in split_metrics.items():
        write_json(output_dir / f"{split}_results.json", metrics)
    write_json(
        output_dir / "all_results.json",
        {k: v for metrics in split_metrics.values() for k, v in metrics.items()},
    )
    with atomic_path(output_dir / "trainer_state.json") as tmp:
        trainer.state.save_to_json(str(tmp))


def _write_outputs(trainer, prepared, data_args, training_args, results, split_metrics) -> None:
    """Model, reports and card first; results.json last, so its presence means the run is complete."""
    from .hub import write_model_card

    output_dir = Path(training_args.output_dir)
    if not training_args.should_save:  # only the main process writes
        return
    _write_trainer_outputs(trainer, output_dir, split_metrics)
    if data_args.save_model:
        _save_model(trainer.model, prepared.tokenizer, output_dir)
    report.write_run_report(results, output_dir)
    if data_args.save_model:
        write_model_card(output_dir, results)
    write_json(output_dir / RESULTS_FILE, results)
    # Checkpoints only serve to resume an unfinished run; removed once results.json marks the run finished.
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)


# --- the whole job ---------------------------------------------------------------------------------------


def check_output_dir(output_dir: Path, overwrite: bool) -> None:
    finished = [name for name in (RESULTS_FILE, SWEEP_FILE) if (output_dir / name).exists()]
    if finished and not overwrite:
        raise ValueError(
            f"{output_dir} already holds results ({', '.join(finished)}): "
            "use --overwrite_output_dir to replace them, or another --output_dir"
        )
    if overwrite and output_dir.is_dir():
        # Old results would describe the new weights if this run failed half-way, and stale checkpoints
        # would be resumed as if they were this run's.
        for folder in [output_dir, *output_dir.glob("fusion_*"), *output_dir.glob("fusion_*/seed_*")]:
            for checkpoint in folder.glob("checkpoint-*"):
                shutil.rmtree(checkpoint, ignore_errors=True)
            for name in (RESULTS_FILE, SWEEP_FILE, RUN_CONFIG_FILE):
                (folder / name).unlink(missing_ok=True)


def finished_results(output_dir: Path, identity: dict) -> dict | None:
    """The results in `output_dir` when it holds a finished run of this configuration, else None."""
    done, config = output_dir / RESULTS_FILE, output_dir / RUN_CONFIG_FILE
    if done.is_file() and config.is_file() and json.loads(config.read_text(encoding="utf-8")) == identity:
        return json.loads(done.read_text(encoding="utf-8"))
    return None


def run_trial(
    prepared: Prepared,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
    fusion_layer: int | None,
    seed: int,
    output_dir: Path,
) -> dict:
    """One (fusion setting, seed) of a sweep, in its own folder: what every sweep backend runs.

    A folder that already holds the finished run of the same configuration is reused as it is, so a sweep
    that was interrupted goes on where it stopped (and an unfinished run resumes from its last checkpoint).
    """
    training_args = _updated(training_args, output_dir=str(output_dir), seed=seed)
    identity = _run_identity(prepared.task, model_args, data_args, training_args, fusion_layer)
    results = finished_results(output_dir, identity)
    if results is not None:
        logger.info("%s is already complete: reusing its results", output_dir)
        return results
    return run_setting(prepared, model_args, data_args, training_args, fusion_layer)


def setting_dir(fusion_layer: int | None) -> str:
    return f"fusion_{'none' if fusion_layer is None else fusion_layer}"


def publish(run_dir: Path, training_args: GlueXTrainingArguments) -> None:
    """--push_to_hub: one commit of the finished run folder (not the Trainer's own per-save pushes)."""
    from .hub import push_to_hub

    if not training_args.should_save:
        return
    commit = push_to_hub(
        run_dir,
        training_args.hub_model_id,
        private=bool(training_args.hub_private_repo),
        revision=training_args.hub_revision,
        token=training_args.hub_token,
    )
    logger.info("Pushed %s to %s", run_dir, getattr(commit, "commit_url", training_args.hub_model_id))


def run(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
    sweep_args: SweepArguments | None = None,
) -> dict:
    """The run_glue_x.py job. Returns the results (a sweep's summary for several fusion layers or seeds)."""
    from . import sweep as sweeps

    sweep_args = sweep_args or SweepArguments()
    seeds = sweeps.parse_seeds(sweep_args.seeds, training_args.seed)
    sweeps.check_backend(sweep_args, training_args)  # before any work: e.g. a missing extra is named at once
    push = training_args.push_to_hub
    if push and not training_args.hub_model_id:
        raise ValueError("--push_to_hub needs --hub_model_id (e.g. your-name/mbert-xnli-dlfa)")
    # The Trainer would create the repository and push every checkpoint; the finished folder is pushed instead.
    training_args = _updated(training_args, push_to_hub=False)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and training_args.world_size == 1:
        raise ValueError(
            f"launched as {os.environ['WORLD_SIZE']} processes, but they did not form one distributed job: "
            "each would train on all the data and write the same output_dir. On CPU add --use_cpu true "
            "(accelerate launch --multi_gpu --num_processes N ... run_glue_x.py ... --use_cpu true)"
        )
    output_dir = Path(training_args.output_dir)
    check_output_dir(output_dir, data_args.overwrite_output_dir)
    model_config = load_model_config(model_args)
    if not training_args.do_train and not isinstance(model_config, DLFAConfig):
        # A plain encoder has no task head to evaluate: it is always fine-tuned first.
        training_args = _updated(training_args, do_train=True)
    if isinstance(model_config, DLFAConfig):
        settings = [model_config.fusion_layer]
        if (
            model_args.fusion_layer is not None
            and parse_fusion_layers(model_args.fusion_layer, model_config.num_hidden_layers) != settings
        ):
            raise ValueError(
                f"{model_args.model_name_or_path} is a DLFA checkpoint with fusion_layer={settings[0]}; "
                f"--fusion_layer {model_args.fusion_layer} disagrees (leave it out)"
            )
    else:
        settings = parse_fusion_layers(model_args.fusion_layer, model_config.num_hidden_layers)
    trials = sweeps.plan(settings, seeds)
    # The main process tokenizes first and fills the cache; the others (and Ray trials) then read it.
    with training_args.main_process_first(desc="tokenization"):
        prepared = prepare(model_args, data_args, training=training_args.do_train)
    if sweep_args.sweep_backend == "ray":
        trial_results = sweeps.run_ray(trials, model_args, data_args, training_args, sweep_args)
    else:
        trial_results = sweeps.run_local(trials, prepared, model_args, data_args, training_args)

    if len(trials) == 1:
        results = trial_results[0]
        print(report.terminal_summary(results))
        if push:
            publish(output_dir, training_args)
        return results

    entries = [
        report.sweep_setting(
            fusion_layer,
            setting_dir(fusion_layer),
            [
                {"seed": trial.seed, "dir": trial.dir, "results": results}
                for trial, results in zip(trials, trial_results, strict=True)
                if trial.fusion_layer == fusion_layer
            ],
        )
        for fusion_layer in settings
    ]
    selected = report.select_setting(entries)
    sweep = {
        "task": prepared.task.name,
        "model_name_or_path": model_args.model_name_or_path,
        "metric": prepared.task.metric,
        "metric_display": prepared.task.metric_display,
        "train_language": data_args.train_language,
        "seeds": seeds,
        "settings": report.summarize_sweep(entries),
        "selected_fusion_layer": selected["fusion_layer"],
        "selection": report.SELECTION,
    }
    if training_args.should_save:
        report.write_sweep_report(sweep, output_dir)
        write_json(output_dir / SWEEP_FILE, sweep)
    print(report.sweep_markdown(sweep))
    if push:
        # The setting chosen on the training language's dev set is the model worth sharing; of its seeds,
        # the one best on that dev set too.
        best = max(selected["runs"], key=lambda run: run["results"]["train_dev_score"])
        publish(output_dir / best["dir"], training_args)
    return sweep
