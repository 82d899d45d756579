"""An interrupted run_glue_x.py run (SIGKILL mid-training) resumes from its last checkpoint by itself.

One real subprocess is killed once a mid-run checkpoint is complete; running the same command again must
resume it (run_config.json matches) and end with exactly the results of a run that was never interrupted.
The reference run goes in parallel with the killed one, so the module costs about two runs' wall time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, Trainer
from transformers.trainer_utils import get_last_checkpoint

from modeling_dlfa.arguments import parse_arguments
from modeling_dlfa.resume import checkpoint_problems, run_identity
from modeling_dlfa.tasks import get_task
from run_glue_x import main

from .conftest import REPO_ROOT
from .fixtures import write_xnli_dir

# 32 training examples, batch 4: 8 steps an epoch, 16 steps in all, a checkpoint (and a dev score) every 2.
MAX_STEPS = 16
KILL_AFTER_STEP = 6
TRAINING = [
    "--eval_strategy", "steps", "--eval_steps", "2", "--save_strategy", "steps", "--save_steps", "2",
    "--max_steps", str(MAX_STEPS), "--per_device_train_batch_size", "4", "--learning_rate", "1e-3",
    "--seed", "3", "--report_to", "none", "--disable_tqdm", "true",
]  # fmt: skip
CHECKPOINT_SAVED = re.compile(r"Saving model checkpoint to \S*checkpoint-(\d+)")
RUN_TIMEOUT = 300  # seconds, per subprocess; a run takes ~10 s on an idle 2-core machine

# The reference run is the plain CLI plus one observer: when the run starts deleting its checkpoints (after
# saving the selected model, before results.json), the folder is copied as it is at that moment.
OBSERVED_CLI = textwrap.dedent(
    """
    import os, runpy, shutil, sys
    from pathlib import Path
    import modeling_dlfa.outputs as outputs

    copy_to = Path(os.environ["DLFA_TEST_COPY_AT_CLEANUP"])

    class ObservedShutil:
        def __getattr__(self, name):
            return getattr(shutil, name)

        @staticmethod
        def rmtree(path, *args, **kwargs):
            if Path(path).name.startswith("checkpoint-") and not copy_to.exists():
                shutil.copytree(Path(path).parent, copy_to, symlinks=True)
            return shutil.rmtree(path, *args, **kwargs)

    outputs.shutil = ObservedShutil()
    sys.argv = [sys.argv[1], *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def run_args(model: Path, data: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--task_name", "xnli", "--model_name_or_path", str(model), "--fusion_layer", "1",
        "--data_dir", str(data), "--output_dir", str(output), *TRAINING, *extra,
    ]  # fmt: skip


def start(args: list[str], log: Path, features_cache: Path, copy_at_cleanup: Path | None = None):
    """run_glue_x.py in a real subprocess, every log line (info level) into `log`."""
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        DLFA_FEATURES_CACHE=str(features_cache),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",  # see one_thread
        MKL_NUM_THREADS="1",
    )
    script = [str(REPO_ROOT / "run_glue_x.py")]
    if copy_at_cleanup is not None:
        env["DLFA_TEST_COPY_AT_CLEANUP"] = str(copy_at_cleanup)
        script = ["-c", OBSERVED_CLI, *script]
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, *script, *args, "--log_level", "info"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )


def complete_state(checkpoint: Path) -> dict | None:
    """The checkpoint's trainer_state.json once it is fully written (the Trainer writes it last), else None."""
    try:
        return json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def step_of(checkpoint: Path | str) -> int:
    return int(Path(checkpoint).name.split("-")[1])


def complete_checkpoints(folder: Path) -> list[Path]:
    """The checkpoints a resume may use, oldest first. On an idle machine the kill often lands while the next
    checkpoint is being written: that partial one is not among them."""
    single_process = SimpleNamespace(save_only_model=False, world_size=1)
    checkpoints = sorted(folder.glob("checkpoint-*"), key=step_of)
    return [path for path in checkpoints if not checkpoint_problems(path, single_process)]


def read_results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def saved_steps(log_text: str) -> list[int]:
    return [int(step) for step in CHECKPOINT_SAVED.findall(log_text)]


def assert_same_model(folder: Path, reference: Path | dict, context: str = "") -> None:
    ours = load_file(folder / "model.safetensors")
    theirs = reference if isinstance(reference, dict) else load_file(reference / "model.safetensors")
    assert ours.keys() == theirs.keys()
    different = [name for name in ours if not torch.equal(ours[name], theirs[name])]
    worst = max(((ours[name] - theirs[name]).abs().max().item() for name in different), default=0.0)
    assert not different, f"{len(different)} weights differ (max {worst:.3g}) {different[:3]} {context}"


def copy_run(source: Path, folder: Path, old_path: Path) -> Path:
    """Copy a run folder; its checkpoints' trainer_state.json name the old folder, so point them here."""
    shutil.copytree(source, folder, symlinks=True)
    for state in folder.glob("checkpoint-*/trainer_state.json"):
        state.write_text(state.read_text(encoding="utf-8").replace(str(old_path), str(folder)))
    return folder


class TrainingStarted(Exception):
    """Raised instead of training, where a test only needs to know whether (and how) training started."""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Every run of this module, in a subprocess or in-process, computes on one CPU thread: with two, some
    kernels (the embedding gradient's scatter-add, for one) add up in a timing-dependent order, and runs of
    the same seed drift apart by ~1e-5 on a busy machine. On one thread they are bit-for-bit reproducible."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, tiny_bert_dir):
    """Run A to the end, and run B killed (SIGKILL) once checkpoint-KILL_AFTER_STEP is complete.

    `snapshot` is a copy of B's folder as the kill left it (before anything resumed it); `at_cleanup` a
    copy of A's folder when it began deleting its checkpoints.
    """
    root = tmp_path_factory.mktemp("resume")
    data = write_xnli_dir(root / "xnli")
    reference, killed, at_cleanup = root / "reference", root / "killed", root / "at-cleanup"
    # Separate feature caches: the two runs tokenize the same data at the same moment.
    ref_process = start(
        run_args(tiny_bert_dir, data, reference), root / "reference.log", root / "cache-a", at_cleanup
    )
    victim = start(run_args(tiny_bert_dir, data, killed), root / "killed.log", root / "cache-b")
    target = killed / f"checkpoint-{KILL_AFTER_STEP}"
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while complete_state(target) is None:
            assert victim.poll() is None, (
                "the run ended before it could be killed:\n" + (root / "killed.log").read_text()[-3000:]
            )
            assert time.monotonic() < deadline, "no checkpoint appeared in time"
            time.sleep(0.02)
        # The Trainer is now about to delete older checkpoints (save_total_limit): the kill often lands in
        # the middle of that, leaving one of them partly deleted, as a real kill would.
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
        snapshot = root / "snapshot"
        shutil.copytree(killed, snapshot, symlinks=True)
        assert ref_process.wait(timeout=RUN_TIMEOUT) == 0, (root / "reference.log").read_text()[-3000:]
    finally:
        for process in (victim, ref_process):
            if process.poll() is None:
                process.kill()
                process.wait()
    yield {
        "root": root,
        "data": data,
        "reference": reference,
        "killed": killed,
        "snapshot": snapshot,
        "at_cleanup": at_cleanup,
    }


@pytest.fixture(scope="module")
def resumed(interrupted, tiny_bert_dir):
    """The killed run's command again, unchanged: (exit code, log text, the checkpoint it should resume)."""
    root, killed = interrupted["root"], interrupted["killed"]
    last = complete_checkpoints(interrupted["snapshot"])[-1]
    process = start(
        run_args(tiny_bert_dir, interrupted["data"], killed), root / "resumed.log", root / "cache-b"
    )
    code = process.wait(timeout=RUN_TIMEOUT)
    return code, (root / "resumed.log").read_text(encoding="utf-8"), Path(last).name


def test_killed_run_has_checkpoints_but_no_results(interrupted):
    snapshot = interrupted["snapshot"]
    # A killed run never looks complete: results.json is the last thing a run writes.
    assert not (snapshot / "results.json").exists()
    assert (snapshot / "run_config.json").is_file()
    last = complete_checkpoints(snapshot)[-1]
    assert step_of(last) >= KILL_AFTER_STEP
    assert complete_state(last) is not None


def test_rerun_resumes_and_matches_the_uninterrupted_run(interrupted, resumed):
    code, log, last = resumed
    assert code == 0, log[-3000:]
    killed, reference = interrupted["killed"], interrupted["reference"]
    assert f"Resuming the interrupted run from {killed / last}" in log
    # Training went on from the checkpoint's step: no checkpoint at or before it was saved again.
    assert saved_steps(log) == list(range(step_of(last) + 2, MAX_STEPS + 1, 2))
    ours, theirs = read_results(killed), read_results(reference)
    # Tolerance: none. Same seed, same CPU kernels on one thread (see one_thread), and the Trainer restores
    # the optimizer, scheduler, RNG states (dropout is on in this backbone) and the data order, so the
    # resumed run is bit-for-bit the uninterrupted one.
    assert ours["languages"] == theirs["languages"]
    assert ours["train_dev_score"] == theirs["train_dev_score"]
    assert_same_model(killed, reference)
    assert not list(killed.glob("checkpoint-*"))


def test_explicit_resume_from_checkpoint(interrupted, tiny_bert_dir, monkeypatch, tmp_path):
    """--resume_from_checkpoint PATH wins over the automatic choice (here: an earlier checkpoint)."""
    folder = copy_run(interrupted["snapshot"], tmp_path / "explicit", interrupted["killed"])
    checkpoints = sorted(folder.glob("checkpoint-*"), key=step_of)
    # Only a complete one (the kill may have left one partly written or half deleted: see the partial tests).
    complete = complete_checkpoints(folder)
    chosen = complete[-2] if len(complete) >= 2 else complete[-1]
    calls = []
    original = Trainer.train

    def recording_train(self, *args, **kwargs):
        calls.append(kwargs.get("resume_from_checkpoint"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train", recording_train)
    args = run_args(tiny_bert_dir, interrupted["data"], folder, "--resume_from_checkpoint", str(chosen))
    assert main(args) == 0
    assert calls == [str(chosen)]
    reference = interrupted["reference"]
    # Tolerance: none, as for the automatic resume.
    assert read_results(folder)["languages"] == read_results(reference)["languages"]
    assert read_results(folder)["train_dev_score"] == read_results(reference)["train_dev_score"]
    assert_same_model(folder, reference, f"resumed from {chosen.name} of {[p.name for p in checkpoints]}")


@pytest.mark.parametrize("other", ["learning_rate", "config_name"])
def test_other_configuration_is_refused(other, interrupted, tiny_bert_dir, tmp_path, capsys):
    folder = tmp_path / "other"
    shutil.copytree(interrupted["snapshot"], folder, symlinks=True)
    before = sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
    run_config = (folder / "run_config.json").read_text()
    args = run_args(tiny_bert_dir, interrupted["data"], folder)
    if other == "learning_rate":
        args[args.index("--learning_rate") + 1] = "2e-3"
    else:  # the backbone built from another config (more dropout)
        config = AutoConfig.from_pretrained(tiny_bert_dir)
        config.hidden_dropout_prob = 0.2
        config.save_pretrained(tmp_path / "config")
        args += ["--config_name", str(tmp_path / "config")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert f"{folder} holds checkpoints of a different run configuration" in error
    assert "--overwrite_output_dir" in error
    # Nothing was touched: the interrupted run can still be resumed with its own configuration.
    assert sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) == before
    assert (folder / "run_config.json").read_text() == run_config


def test_identity_names_config_name_and_label_all_tokens_only_where_set(tiny_bert_dir):
    """Either changes the model trained; left out when unset, so earlier runs' run_config.json still match."""
    common = ["--task_name", "panx", "--model_name_or_path", str(tiny_bert_dir), "--output_dir", "unused"]
    identities = {}
    for name, extra in [
        ("plain", []),
        ("config", ["--config_name", "other-config"]),
        ("all_tokens", ["--label_all_tokens"]),
        ("trusted", ["--trust_remote_code"]),
    ]:
        model_args, data_args, training_args, _ = parse_arguments([*common, *extra])
        identities[name] = run_identity(get_task("panx"), model_args, data_args, training_args, 1)
    assert "config_name" not in identities["plain"] and "label_all_tokens" not in json.dumps(
        identities["plain"]
    )
    assert identities["config"] == {**identities["plain"], "config_name": "other-config"}
    assert identities["all_tokens"] == {**identities["plain"], "label_all_tokens": True}
    # Trusting a repository's code is a permission, not part of what is trained.
    assert identities["trusted"] == identities["plain"]


def test_partial_last_checkpoint_falls_back_to_the_last_complete_one(
    interrupted, tiny_bert_dir, tmp_path, capsys
):
    """A kill during a checkpoint save (weights written, trainer_state.json not yet) must not wedge the run."""
    folder = copy_run(interrupted["snapshot"], tmp_path / "partial", interrupted["killed"])
    last = complete_checkpoints(folder)[-1]
    for newer in folder.glob("checkpoint-*"):
        if step_of(newer) > step_of(last):
            shutil.rmtree(newer)
    # What the Trainer has written of the next checkpoint when it is killed just before trainer_state.json.
    partial = folder / f"checkpoint-{step_of(last) + 2}"
    partial.mkdir()
    for name in ("config.json", "model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        shutil.copy(last / name, partial / name)
    code = main(run_args(tiny_bert_dir, interrupted["data"], folder))
    assert code == 0, capsys.readouterr().err
    assert read_results(folder)["languages"] == read_results(interrupted["reference"])["languages"]
    assert_same_model(folder, interrupted["reference"])


def test_explicit_resume_of_a_half_deleted_checkpoint_is_refused(
    interrupted, tiny_bert_dir, tmp_path, monkeypatch, capsys
):
    folder = copy_run(interrupted["snapshot"], tmp_path / "half-deleted", interrupted["killed"])
    chosen = complete_checkpoints(folder)[-1]
    # What shutil.rmtree had removed when the kill landed (it deletes in directory order; the Trainer reads
    # trainer_state.json and the weights, which may still be there).
    for name in ("training_args.bin", "rng_state.pth", "scheduler.pt", "optimizer.pt"):
        (chosen / name).unlink()

    def refuse_to_train(self, *args, **kwargs):
        raise TrainingStarted(kwargs.get("resume_from_checkpoint"))

    monkeypatch.setattr(Trainer, "train", refuse_to_train)
    code = main(run_args(tiny_bert_dir, interrupted["data"], folder, "--resume_from_checkpoint", str(chosen)))
    assert code == 2
    error = capsys.readouterr().err
    assert str(chosen) in error and "rng_state.pth" in error


def test_kill_while_checkpoints_are_deleted_keeps_the_selected_model(interrupted, tiny_bert_dir, tmp_path):
    """The reference run's folder when it began deleting its checkpoints (the selected model is saved), then
    the kill lands just after the best checkpoint is deleted (glob order is arbitrary). The rerun of the
    same command must end with the model that was selected: resumed, or refused as complete."""
    at_cleanup = interrupted["at_cleanup"]
    assert at_cleanup.is_dir(), "the reference run never deleted a checkpoint"
    folder = copy_run(at_cleanup, tmp_path / "cleanup", interrupted["reference"])
    selected = load_file(folder / "model.safetensors")
    state = complete_state(Path(get_last_checkpoint(str(folder))))
    best = folder / Path(state["best_model_checkpoint"]).name
    assert best.is_dir() and best.name != f"checkpoint-{MAX_STEPS}", "test needs best != last"
    shutil.rmtree(best)
    code = main(run_args(tiny_bert_dir, interrupted["data"], folder))
    assert code in (0, 2)
    assert (folder / "results.json").is_file()
    assert_same_model(folder, selected, "(the rerun replaced the selected model)")
