"""Zero-shot cross-lingual transfer runs: train on one language, select on its dev set, evaluate every language.

`run` is what run_glue_x.py calls: one fusion setting, or a sweep over several settings and seeds, each
(setting, seed) a full run in its own folder (`run_trial`, run by a backend of modeling_dlfa/sweep.py).
A run reads its data (run_data), builds its model (model_builder), trains with the Trainer (training),
scores every language (scoring) and writes what it found (outputs); resume.py decides what is reused.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import datasets
from transformers import set_seed
from transformers.trainer_utils import IntervalStrategy

from .arguments import DataArguments, GlueXTrainingArguments, ModelArguments, SweepArguments
from .atomic import write_json
from .configuration_dlfa import DLFAConfig
from .features import tokenize
from .model_builder import build_model, load_model_config, load_tokenizer, parse_fusion_layers
from .outputs import output_paths, run_results, split_summary, write_outputs, write_predictions
from .results import RUN_CONFIG_FILE, RunResults
from .resume import check_output_dir, finished_results, resume_checkpoint, run_identity
from .run_data import TaskData, load_task_data
from .run_report import terminal_summary
from .scoring import dev_metric, predict_language
from .sweep_report import sweep_markdown, sweep_paths, write_sweep_report
from .sweep_results import SeedRun, SweepResults
from .task_files import load_task_file, with_dataset_flags
from .task_kinds import Task
from .tasks import get_task
from .training import OrderedEvaluationTrainer, data_collator, model_inputs

logger = logging.getLogger(__name__)


def with_changes(training_args, **changes):
    """A copy with some fields changed (dataclasses.replace would run TrainingArguments' set-up again)."""
    updated = copy.copy(training_args)
    for name, value in changes.items():
        setattr(updated, name, value)
    return updated


@dataclass
class RunInputs:
    """What every setting of a run shares: the task, data, tokenizer and features."""

    task: Task
    data: TaskData
    tokenizer: object
    model_config: object
    train_features: datasets.Dataset | None
    dev_features: datasets.Dataset | None
    # Per evaluated split (the headline one first), per language.
    split_features: dict[str, dict[str, datasets.Dataset]]

    @property
    def eval_features(self) -> dict[str, datasets.Dataset]:
        """The headline split's features."""
        return next(iter(self.split_features.values()))


def resolve_job(
    training_args: GlueXTrainingArguments, data_args: DataArguments, model_args: ModelArguments, model_config
):
    """--do_train / --do_eval / --do_predict as run_glue.py reads them, or the default job when none is given:
    train a plain encoder (a DLFA checkpoint is evaluated as it is) and score --eval_split. Refuses a job that
    cannot do what its flags say."""
    checkpoint = isinstance(model_config, DLFAConfig)
    if training_args.default_job:
        return with_changes(
            training_args,
            do_train=not checkpoint,
            do_eval=data_args.eval_split == "validation",
            do_predict=data_args.eval_split == "test",
        )
    # --eval_split test is run_glue_x.py's older name for --do_predict.
    do_predict = training_args.do_predict or data_args.eval_split == "test"
    if not training_args.do_train and not checkpoint:
        raise ValueError(
            f"{model_args.model_name_or_path} is a plain encoder: it has no trained task head to evaluate. Add "
            "--do_train, or give a checkpoint that run_glue_x.py trained"
        )
    if not (training_args.do_eval or do_predict):
        raise ValueError(
            "--do_train alone would train a model that nothing scores: add --do_eval (every language's "
            "validation split) and/or --do_predict (every language's test split)"
        )
    return with_changes(training_args, do_predict=do_predict)


def resolve_task(data_args: DataArguments) -> Task:
    """The task named by --task_name, or defined by --task_file (one of them, not both)."""
    if bool(data_args.task_name) == bool(data_args.task_file):
        raise ValueError(
            "give the task with --task_name (xnli, pawsx, panx, udpos) or with --task_file (your own task "
            "defined in a JSON or YAML file), one of the two"
        )
    task = load_task_file(data_args.task_file) if data_args.task_file else get_task(data_args.task_name)
    if data_args.return_entity_level_metrics and not task.has_entity_spans:
        raise ValueError(
            f"--return_entity_level_metrics scores entity spans: task {task.name}'s labels "
            f"({', '.join(task.labels[:5])}, ...) are not O plus B-/I-/E-/S- tags"
        )
    if data_args.label_all_tokens and not task.labels_words:
        raise ValueError(
            f"--label_all_tokens labels every sub-token of a word, for tagging tasks only: task {task.name} "
            "has one label per example"
        )
    hub_flags = [
        f"--{name}"
        for name in ("dataset_name", "dataset_config_name", "text_column_name", "label_column_name")
        if getattr(data_args, name)
    ]
    if hub_flags and (data_args.data_dir or task.files):
        raise ValueError(
            f"{', '.join(hub_flags)} choose what is read from the Hub, but this run reads files "
            f"({'--data_dir' if data_args.data_dir else 'the task file names them'}): leave them out"
        )
    return with_dataset_flags(
        task,
        dataset_name=data_args.dataset_name,
        dataset_config_name=data_args.dataset_config_name,
        text_column_name=data_args.text_column_name,
        label_column_name=data_args.label_column_name,
    )


def prepare_inputs(
    model_args: ModelArguments, data_args: DataArguments, training_args: GlueXTrainingArguments, model_config
) -> RunInputs:
    """Everything a run reads, tokenized; `model_config` is load_model_config's (the caller has it already)."""
    task = resolve_task(data_args)
    tokenizer = load_tokenizer(model_args)
    data = load_task_data(
        task,
        data_args,
        training=training_args.do_train,
        token=model_args.token,
        splits=training_args.scored_splits,
    )

    def features(dataset, description, label_all_tokens=False):
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
            label_all_tokens=label_all_tokens,
            num_proc=data_args.preprocessing_num_workers,
        )

    language = data_args.train_language
    return RunInputs(
        task=task,
        data=data,
        tokenizer=tokenizer,
        model_config=model_config,
        # --label_all_tokens is for training only: selection and scores read the one label piece per word.
        train_features=features(data.train, f"train ({language})", data_args.label_all_tokens),
        dev_features=features(data.dev, f"dev ({language})"),
        split_features={
            split: {
                code: features(dataset, f"{code} ({split})") for code, dataset in scored.evaluation.items()
            }
            for split, scored in data.splits.items()
        },
    )


def run_setting(
    inputs: RunInputs,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
    fusion_layer: int | None,
) -> RunResults:
    """Train (unless evaluating a trained DLFA checkpoint), evaluate every language, write every output."""
    task, output_dir = inputs.task, Path(training_args.output_dir)
    identity = run_identity(task, model_args, data_args, training_args, fusion_layer)
    resume = resume_checkpoint(output_dir, identity, training_args) if training_args.do_train else None
    if inputs.dev_features is None and training_args.eval_strategy != "no":
        logger.warning("No dev set for the training language: no checkpoint selection, the last one is kept")
        training_args = with_changes(
            training_args, eval_strategy=IntervalStrategy.NO, load_best_model_at_end=False
        )

    set_seed(training_args.seed)
    model = build_model(task, model_args, fusion_layer, inputs.model_config)
    if training_args.should_save:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(output_dir / RUN_CONFIG_FILE, identity)
    trainer = OrderedEvaluationTrainer(
        model=model,
        args=training_args,
        train_dataset=model_inputs(inputs.train_features) if training_args.do_train else None,
        eval_dataset=model_inputs(inputs.dev_features) if inputs.dev_features is not None else None,
        processing_class=inputs.tokenizer,
        data_collator=data_collator(task, inputs.tokenizer, data_args.pad_to_max_length),
        compute_metrics=(
            dev_metric(task, inputs.data.dev, inputs.dev_features)
            if inputs.dev_features is not None
            else None
        ),
        dev_name=f"dev ({data_args.train_language})",
    )
    started = time.perf_counter()
    split_metrics = {}
    if training_args.do_train:
        split_metrics["train"] = trainer.train(resume_from_checkpoint=resume).metrics
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    dev_score = None
    if inputs.dev_features is not None:
        split_metrics["eval"] = trainer.evaluate()
        dev_score = split_metrics["eval"]["eval_score"]
    headline, *others = inputs.split_features
    evaluated = {
        split: _score_split(trainer, task, inputs, split, data_args, training_args, write=split == headline)
        for split in inputs.split_features
    }
    eval_seconds = time.perf_counter() - started

    scores, metrics, counts = evaluated[headline]
    results = run_results(
        inputs,
        model_args,
        data_args,
        training_args,
        model,
        scores,
        counts,
        metrics=metrics,
        train_dev_score=dev_score,
        runtime={"train_seconds": round(train_seconds, 1), "eval_seconds": round(eval_seconds, 1)},
        eval_split=headline,
        other_splits={split: split_summary(inputs, split, *evaluated[split]) for split in others} or None,
    )
    for split, (_, split_language_metrics, _) in evaluated.items():
        # As run_glue.py names them, so --report_to trackers get every language, not only the dev score.
        prefix = "predict" if split == "test" else "eval"
        language_metrics = {
            f"{prefix}_{code}_{name}": value
            for code, values in split_language_metrics.items()
            for name, value in values.items()
        }
        split_metrics.setdefault(prefix, {}).update(language_metrics)
        trainer.log(language_metrics)
    write_outputs(trainer, inputs, data_args, training_args, results, split_metrics)
    return results


def _score_split(trainer, task, inputs: RunInputs, split: str, data_args, training_args, write: bool):
    """Every language of one split: (scores, metrics, counts); `write`: its predictions too (the headline
    split's, as run_glue.py writes the predictions of --do_predict)."""
    raw_split = inputs.data.splits[split].evaluation
    scores, metrics, counts = {}, {}, {"num_examples": {}, "num_unpredicted_words": {}}
    for language, features in inputs.split_features[split].items():
        raw = raw_split[language]
        logger.info("Evaluating %s on %s (%d examples, %d rows)", language, split, len(raw), len(features))
        metrics[language], records, counts["num_unpredicted_words"][language] = predict_language(
            trainer, task, raw, features, data_args.return_entity_level_metrics, language
        )
        scores[language] = metrics[language][task.metric]
        counts["num_examples"][language] = len(raw)
        if write and training_args.should_save:
            write_predictions(Path(training_args.output_dir), language, records)
    return scores, metrics, counts


def run_trial(
    inputs: RunInputs,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
    fusion_layer: int | None,
    seed: int,
    output_dir: Path,
) -> RunResults:
    """One (fusion setting, seed) of a sweep, in its own folder: what every sweep backend runs.

    A folder that already holds the finished run of the same configuration is reused as it is, so a sweep
    that was interrupted goes on where it stopped (and an unfinished run resumes from its last checkpoint).
    """
    training_args = with_changes(training_args, output_dir=str(output_dir), seed=seed)
    identity = run_identity(inputs.task, model_args, data_args, training_args, fusion_layer)
    results = finished_results(output_dir, identity)
    if results is not None:
        logger.info("%s is already complete: reusing its results", output_dir)
        return results
    return run_setting(inputs, model_args, data_args, training_args, fusion_layer)


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
) -> RunResults | SweepResults:
    """The run_glue_x.py job. Returns the results (a sweep's summary for several fusion layers or seeds)."""
    from . import sweep as sweeps

    sweep_args = sweep_args or SweepArguments()
    seeds = sweeps.parse_seeds(sweep_args.seeds, training_args.seed)
    sweeps.check_backend(sweep_args, training_args)  # before any work: e.g. a missing extra is named at once
    push = training_args.push_to_hub
    if push and not training_args.hub_model_id:
        raise ValueError("--push_to_hub needs --hub_model_id (e.g. your-name/mbert-xnli-dlfa)")
    # The Trainer would create the repository and push every checkpoint; the finished folder is pushed instead.
    training_args = with_changes(training_args, push_to_hub=False)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and training_args.world_size == 1:
        raise ValueError(
            f"launched as {os.environ['WORLD_SIZE']} processes, but they did not form one distributed job: "
            "each would train on all the data and write the same output_dir. On CPU add --use_cpu true "
            "(accelerate launch --multi_gpu --num_processes N ... run_glue_x.py ... --use_cpu true)"
        )
    output_dir = Path(training_args.output_dir)
    check_output_dir(output_dir, data_args.overwrite_output_dir)
    model_config = load_model_config(model_args)
    training_args = resolve_job(training_args, data_args, model_args, model_config)
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
        inputs = prepare_inputs(model_args, data_args, training_args, model_config)
    if sweep_args.sweep_backend == "ray":
        trial_results = sweeps.run_ray(trials, model_args, data_args, training_args, sweep_args)
    else:
        trial_results = sweeps.run_local(trials, inputs, model_args, data_args, training_args)

    if len(trials) == 1:
        results = trial_results[0]
        print(terminal_summary(results))
        print(output_paths(output_dir, data_args.save_model))
        if push:
            publish(output_dir, training_args)
        return results

    sweep = SweepResults.from_runs(
        task=inputs.task.name,
        model_name_or_path=model_args.model_name_or_path,
        metric=inputs.task.metric,
        metric_display=inputs.task.metric_display,
        train_language=data_args.train_language,
        seeds=seeds,
        settings=[
            (
                fusion_layer,
                setting_dir(fusion_layer),
                [
                    SeedRun(trial.seed, trial.dir, results)
                    for trial, results in zip(trials, trial_results, strict=True)
                    if trial.fusion_layer == fusion_layer
                ],
            )
            for fusion_layer in settings
        ],
    )
    if training_args.should_save:
        write_sweep_report(sweep, output_dir)
        sweep.write(output_dir)
    print(sweep_markdown(sweep))
    print(sweep_paths(sweep, output_dir))
    if push:
        # The setting chosen on the training language's dev set is the model worth sharing; of its seeds,
        # the one best on that dev set too.
        best = max(sweep.selected.runs, key=lambda run: run.results.train_dev_score)
        publish(output_dir / best.dir, training_args)
    return sweep
