"""The grid of a sweep and the backends that run it: `local`, one trial after another in this process, and
`ray`, each trial a Ray Tune trial, as many at once as the cluster's resources allow.

A trial is one (fusion setting, seed). Either backend runs it with `transfer.run_trial`, the code path of a
single run, into the same folder, so both give the same results.json. A trial whose folder already holds the
finished run of the same configuration returns it at once: a sweep that was killed resumes when run again.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .arguments import DataArguments, GlueXTrainingArguments, ModelArguments, SweepArguments
from .model_builder import load_model_config
from .results import RESULTS_FILE, RunResults, label_for_setting
from .transfer import RunInputs, prepare_inputs, run_trial, setting_dir

logger = logging.getLogger(__name__)

RAY_EXTRA = 'pip install "modeling-dlfa[ray]"'
# Ray Tune's own records of each sweep (trial logs, experiment state), beside the run folders.
TUNE_FOLDER = "ray_tune"


class SweepError(RuntimeError):
    """The sweep cannot run, or some of its trials failed."""


@dataclass(frozen=True)
class Trial:
    fusion_layer: int | None
    seed: int
    dir: str  # relative to the output_dir

    @property
    def name(self) -> str:
        return f"{label_for_setting(self.fusion_layer)} seed {self.seed}"


def parse_seeds(spec: str | None, default: int) -> list[int]:
    """'1,2,3' -> [1, 2, 3]; no --seeds: [--seed]."""
    if spec is None:
        return [default]
    allowed = "a comma list of distinct integers, e.g. --seeds 1,2,3"
    seeds: list[int] = []
    for item in spec.split(","):
        item = item.strip()
        if not item.lstrip("-").isdigit():
            raise ValueError(f"--seeds {item!r} is not an integer: use {allowed}")
        if int(item) in seeds:
            raise ValueError(f"--seeds lists {item} twice: use {allowed}")
        seeds.append(int(item))
    return seeds


def plan(settings: list[int | None], seeds: list[int]) -> list[Trial]:
    """Every (setting, seed), setting by setting. Folders: the output_dir itself for a single run,
    fusion_<x> for one seed per setting, fusion_<x>/seed_<s> for several seeds."""
    trials = []
    for fusion_layer in settings:
        for seed in seeds:
            if len(settings) == 1 and len(seeds) == 1:
                folder = "."
            elif len(seeds) == 1:
                folder = setting_dir(fusion_layer)
            else:
                folder = f"{setting_dir(fusion_layer)}/seed_{seed}"
            trials.append(Trial(fusion_layer, seed, folder))
    return trials


def run_local(
    trials: list[Trial],
    inputs: RunInputs,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
) -> list[RunResults]:
    """The trials one after another in this process (and, under accelerate launch, data-parallel)."""
    output_dir = Path(training_args.output_dir)
    return [
        run_trial(
            inputs,
            model_args,
            data_args,
            training_args,
            trial.fusion_layer,
            trial.seed,
            output_dir / trial.dir,
        )
        for trial in trials
    ]


# --- Ray Tune --------------------------------------------------------------------------------------------


def import_ray():
    """(ray, ray.tune), or a SweepError that names the extra to install."""
    try:
        import ray
        from ray import tune
    except ImportError as error:
        raise SweepError(
            f"--sweep_backend ray needs Ray Tune, which is not installed: {RAY_EXTRA}"
        ) from error
    return ray, tune


def check_backend(sweep_args: SweepArguments, training_args: GlueXTrainingArguments) -> None:
    """Refuse what cannot work before any data is read."""
    if sweep_args.sweep_backend != "ray":
        return
    import_ray()
    if training_args.world_size > 1:
        raise ValueError(
            "--sweep_backend ray starts each trial as one process of its own: launch run_glue_x.py with python, "
            "not accelerate launch (give each trial more GPUs with --trial_gpus)"
        )


def _training_values(training_args: GlueXTrainingArguments) -> dict:
    """The training arguments as the values they were made from. A trial builds its own from them, so that
    its device is the one Ray gave it, not the driver's."""
    return {
        item.name: getattr(training_args, item.name)
        for item in dataclasses.fields(training_args)
        if item.init
    }


def _ray_trial(config: dict, job: dict) -> None:
    """One Ray Tune trial, in a Ray worker process: prepare (the driver already filled the features cache),
    run the trial, report its scores to Tune."""
    from ray import tune

    if Path(job["cwd"]).is_dir():
        os.chdir(job["cwd"])  # Tune starts each trial in a folder of its own; relative paths are the user's
    trial = job["trials"][(config["fusion_layer"], config["seed"])]
    model_args, data_args = job["model_args"], job["data_args"]
    training_args = GlueXTrainingArguments(**job["training_values"])
    inputs = prepare_inputs(model_args, data_args, training_args, load_model_config(model_args))
    output_dir = Path(training_args.output_dir) / trial.dir
    results = run_trial(
        inputs, model_args, data_args, training_args, trial.fusion_layer, trial.seed, output_dir
    )
    scores = {"average": results.average, "train_dev_score": results.train_dev_score}
    tune.report({name: score for name, score in scores.items() if score is not None})


def _trial_dirname(trial) -> str:
    return f"{setting_dir(trial.config['fusion_layer'])}_seed_{trial.config['seed']}"


def _check_resources(resources: dict, cpus: float, gpus: float) -> None:
    for name, wanted, flag in (("CPU", cpus, "--trial_cpus"), ("GPU", gpus, "--trial_gpus")):
        available = resources.get(name, 0)
        if wanted > available:
            raise ValueError(
                f"{flag} {wanted:g}: Ray on this machine has {available:g} {name}s, no trial could start"
            )


def run_ray(
    trials: list[Trial],
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlueXTrainingArguments,
    sweep_args: SweepArguments,
) -> list[RunResults]:
    """Each trial a Ray Tune trial of a grid search over (fusion_layer, seed).

    Ray starts on this machine unless --ray_address (or $RAY_ADDRESS) names a running cluster; a Ray already
    initialised in this process is used as it is. On a cluster, the output_dir must be a folder every node
    sees (a shared file system): the trials write their run folders there and the sweep report reads them.
    """
    ray, tune = import_ray()
    output_dir = Path(training_args.output_dir).resolve()
    started = not ray.is_initialized()
    if started:
        ray.init(address=sweep_args.ray_address)  # None: $RAY_ADDRESS, else a Ray of this machine's resources
    try:
        resources = ray.cluster_resources()
        gpus = sweep_args.trial_gpus
        if gpus is None:
            gpus = 1 if resources.get("GPU", 0) >= 1 else 0
        if started and not sweep_args.ray_address and not os.environ.get("RAY_ADDRESS"):
            # Nothing can join a Ray of this machine: a trial larger than it would wait forever.
            _check_resources(resources, sweep_args.trial_cpus, gpus)
        job = {
            "cwd": os.getcwd(),
            "model_args": model_args,
            # The driver has just tokenized (and, with --overwrite_cache, re-tokenized): trials read its cache.
            "data_args": dataclasses.replace(data_args, overwrite_cache=False),
            "training_values": _training_values(training_args),
            "trials": {(trial.fusion_layer, trial.seed): trial for trial in trials},
        }
        trainable = tune.with_resources(
            tune.with_parameters(_ray_trial, job=job), {"cpu": sweep_args.trial_cpus, "gpu": gpus}
        )
        settings = list(dict.fromkeys(trial.fusion_layer for trial in trials))
        seeds = list(dict.fromkeys(trial.seed for trial in trials))
        storage = output_dir / TUNE_FOLDER
        logger.info(
            "Running %d trials on Ray (%g CPUs, %g GPUs each; the cluster has %s)",
            len(trials),
            sweep_args.trial_cpus,
            gpus,
            ", ".join(
                f"{value:g} {name}" for name, value in sorted(resources.items()) if name in ("CPU", "GPU")
            ),
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"fusion_layer": tune.grid_search(settings), "seed": tune.grid_search(seeds)},
            tune_config=tune.TuneConfig(trial_dirname_creator=_trial_dirname),
            run_config=tune.RunConfig(
                name=f"sweep_{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}", storage_path=str(storage)
            ),
        )
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    # A trial that fails before it starts has no config: it is named by its folder, with its error.
    failed = [
        f"{label_for_setting(r.config['fusion_layer'])} seed {r.config['seed']}"
        if r.config
        else f"{r.path} ({type(r.error).__name__}: {r.error})"
        for r in grid
        if r.error
    ]
    if failed:
        raise SweepError(
            f"{len(failed)} of {len(trials)} trials failed ({', '.join(failed)}); their logs are under {storage}. "
            "Run the same command again to retry them: the finished trials are reused."
        )
    return [_trial_results(output_dir, trial) for trial in trials]


def _trial_results(output_dir: Path, trial: Trial) -> RunResults:
    path = output_dir / trial.dir / RESULTS_FILE
    if not path.is_file():
        raise SweepError(
            f"trial {trial.name} finished, but {path} is not there: on a Ray cluster, --output_dir must be a "
            "folder that every node sees (a shared file system)"
        )
    return RunResults.read(path.parent)
