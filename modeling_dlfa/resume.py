"""Resuming: what identifies a run, which checkpoints can resume it, and which finished folders are reused."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from .results import RESULTS_FILE, RUN_CONFIG_FILE, SWEEP_FILE, RunResults
from .task_files import task_definition

logger = logging.getLogger(__name__)


def run_identity(task, model_args, data_args, training_args, fusion_layer) -> dict:
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
            key: value
            for key, value in dataclasses.asdict(data_args).items()
            if key not in _NOT_IDENTITY and not (key in _ADDED_LATER and value is None)
        },
        "seed": training_args.seed,
        "training": training_summary(training_args),
        # Only where they apply, so built-in runs keep the identity earlier versions wrote.
        **({"tokenizer_name": model_args.tokenizer_name} if model_args.tokenizer_name else {}),
        **({"splits": list(splits)} if (splits := training_args.scored_splits) != ("validation",) else {}),
        **({"config_name": model_args.config_name} if model_args.config_name else {}),
        **({"label_all_tokens": True} if data_args.label_all_tokens else {}),
        **({"task_definition": definition} if (definition := task_definition(task)) else {}),
    }


# Options newer than the first results: left out when unset, so earlier runs keep their identity.
_ADDED_LATER = ("max_predict_samples",)
_NOT_IDENTITY = (
    "overwrite_output_dir",
    "overwrite_cache",
    "features_cache_dir",
    "save_model",
    "eval_languages",
    "preprocessing_num_workers",
    "label_all_tokens",  # in the identity only where set (above)
)


def training_summary(training_args) -> dict:
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


def resume_checkpoint(output_dir: Path, identity: dict, training_args) -> str | None:
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


def finished_results(output_dir: Path, identity: dict) -> RunResults | None:
    """The results in `output_dir` when it holds a finished run of this configuration, else None."""
    done, config = output_dir / RESULTS_FILE, output_dir / RUN_CONFIG_FILE
    if done.is_file() and config.is_file() and json.loads(config.read_text(encoding="utf-8")) == identity:
        return RunResults.read(output_dir)
    return None
