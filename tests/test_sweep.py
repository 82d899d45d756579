"""Sweeps over fusion settings and seeds: run folders, the summary over seeds, resuming, and Ray Tune trials
that give the same numbers as the sequential loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from modeling_dlfa.results import RunResults
from modeling_dlfa.statistics import paired_difference, summarize
from modeling_dlfa.sweep import parse_seeds, plan
from modeling_dlfa.sweep_results import SweepResults
from run_glue_x import main

from .conftest import REPO_ROOT
from .fixtures import write_xnli_dir

FAST = ["--num_train_epochs", "1", "--per_device_train_batch_size", "8", "--learning_rate", "1e-3"]
SEEDS = (1, 2)
TRIAL_DIRS = [f"fusion_{setting}/seed_{seed}" for setting in ("none", "2") for seed in SEEDS]
SCORE_KEYS = ("languages", "average", "groups", "train_dev_score")


def sweep_args(model: Path, data: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--task_name", "xnli", "--model_name_or_path", str(model), "--fusion_layer", "none,2",
        "--seeds", ",".join(map(str, SEEDS)), "--data_dir", str(data), "--output_dir", str(output),
        "--report_to", "none", "--disable_tqdm", "true", *FAST, *extra,
    ]  # fmt: skip


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def scores(folder: Path) -> dict:
    results = read_json(folder / "results.json")
    return {key: results[key] for key in SCORE_KEYS}


@pytest.fixture(scope="module")
def xnli_dir(tmp_path_factory) -> Path:
    return write_xnli_dir(tmp_path_factory.mktemp("xnli"), train=24, dev=8)


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, tiny_bert_dir, xnli_dir) -> Path:
    output = tmp_path_factory.mktemp("sweeps") / "local"
    assert main(sweep_args(tiny_bert_dir, xnli_dir, output)) == 0
    return output


def test_parse_seeds() -> None:
    assert parse_seeds(None, 42) == [42]
    assert parse_seeds(" 3, 1,2 ", 42) == [3, 1, 2]
    with pytest.raises(ValueError, match=r"--seeds 'x' is not an integer: use a comma list of distinct"):
        parse_seeds("1,x", 42)
    with pytest.raises(ValueError, match="--seeds lists 1 twice"):
        parse_seeds("1,2,1", 42)


def test_plan_keeps_the_one_seed_layout() -> None:
    assert [trial.dir for trial in plan([6], [42])] == ["."]
    assert [trial.dir for trial in plan([None, 6], [42])] == ["fusion_none", "fusion_6"]
    assert [trial.dir for trial in plan([6], [1, 2])] == ["fusion_6/seed_1", "fusion_6/seed_2"]


def test_every_setting_and_seed_in_its_own_folder(local_sweep, tiny_bert_dir, xnli_dir, tmp_path):
    for folder in TRIAL_DIRS:
        results = read_json(local_sweep / folder / "results.json")
        assert results["seed"] == int(folder[-1])
        assert results["fusion_layer"] == (None if "none" in folder else 2)
    assert scores(local_sweep / "fusion_none/seed_1") != scores(local_sweep / "fusion_none/seed_2")

    # A trial is the same run as a single run with that seed.
    single = tmp_path / "single"
    assert main(["--task_name", "xnli", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "2",
                 "--seed", "2", "--data_dir", str(xnli_dir), "--output_dir", str(single), *FAST]) == 0  # fmt: skip
    assert scores(single) == scores(local_sweep / "fusion_2/seed_2")


def test_sweep_report_over_seeds(local_sweep):
    sweep = read_json(local_sweep / "sweep.json")
    assert sweep["seeds"] == list(SEEDS)
    baseline, fused = sweep["settings"]
    assert [run["dir"] for run in baseline["runs"] + fused["runs"]] == TRIAL_DIRS
    runs = {run["dir"]: run["results"] for setting in sweep["settings"] for run in setting["runs"]}

    def per_seed(setting: str, pick) -> dict[int, float]:
        return {seed: pick(runs[f"fusion_{setting}/seed_{seed}"]) for seed in SEEDS}

    for setting, entry in (("none", baseline), ("2", fused)):
        fr = per_seed(setting, lambda results: results["languages"]["fr"])
        assert entry["summary"]["languages"]["fr"] == summarize(fr.values()).to_dict()
        noenf = per_seed(setting, lambda results: results["groups"]["noenf"])
        assert entry["summary"]["groups"]["noenf"] == summarize(noenf.values()).to_dict()
        # The setting's results (what compare reads) are the means over seeds.
        assert entry["results"]["languages"]["fr"] == pytest.approx(sum(fr.values()) / len(SEEDS))
    assert "difference" not in baseline
    expected = paired_difference(
        per_seed("2", lambda results: results["average"]),
        per_seed("none", lambda results: results["average"]),
    )
    assert fused["difference"]["average"] == expected.to_dict()
    assert expected.ci_low is not None and expected.ci_low <= expected.mean <= expected.ci_high

    # Selected on the mean English dev score over seeds.
    mean_dev = {e["fusion_layer"]: e["summary"]["train_dev_score"]["mean"] for e in sweep["settings"]}
    assert sweep["selected_fusion_layer"] == max(mean_dev, key=lambda layer: (mean_dev[layer], layer is None))
    text = (local_sweep / "sweep.md").read_text()
    assert "Seeds: 1, 2." in text and " ± " in text and "## Difference vs the baseline" in text
    assert (local_sweep / "sweep.png").is_file()


def test_results_files_read_and_write_back_byte_for_byte(local_sweep, tmp_path):
    for folder in TRIAL_DIRS:
        RunResults.read(local_sweep / folder).write(tmp_path / folder)
        assert (tmp_path / folder / "results.json").read_bytes() == (
            local_sweep / folder / "results.json"
        ).read_bytes()
    SweepResults.read(local_sweep).write(tmp_path)
    assert (tmp_path / "sweep.json").read_bytes() == (local_sweep / "sweep.json").read_bytes()


def test_interrupted_sweep_reuses_finished_trials(local_sweep, tiny_bert_dir, xnli_dir, tmp_path):
    """As if killed during the last trial: its folder has no results.json and the sweep has no sweep.json."""
    copy = tmp_path / "interrupted"
    subprocess.run(["cp", "-a", str(local_sweep), str(copy)], check=True)
    (copy / "sweep.json").unlink()
    (copy / TRIAL_DIRS[-1] / "results.json").unlink()
    finished = {folder: (copy / folder / "results.json").stat().st_mtime_ns for folder in TRIAL_DIRS[:-1]}
    assert main(sweep_args(tiny_bert_dir, xnli_dir, copy)) == 0
    assert {folder: (copy / folder / "results.json").stat().st_mtime_ns for folder in finished} == finished
    for folder in TRIAL_DIRS:
        assert scores(copy / folder) == scores(local_sweep / folder)


def test_overwrite_output_dir_reruns_every_seed(local_sweep, tiny_bert_dir, xnli_dir, tmp_path):
    copy = tmp_path / "again"
    subprocess.run(["cp", "-a", str(local_sweep), str(copy)], check=True)
    before = {folder: (copy / folder / "results.json").stat().st_mtime_ns for folder in TRIAL_DIRS}
    assert main(sweep_args(tiny_bert_dir, xnli_dir, copy)) == 2  # sweep.json: finished, refused
    assert main(sweep_args(tiny_bert_dir, xnli_dir, copy, "--overwrite_output_dir")) == 0
    for folder in TRIAL_DIRS:
        assert (copy / folder / "results.json").stat().st_mtime_ns != before[folder], folder
        assert scores(copy / folder) == scores(local_sweep / folder)


def test_ray_backend_without_ray_names_the_extra(tmp_path, tiny_bert_dir, xnli_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    output = tmp_path / "no-ray"
    assert main(sweep_args(tiny_bert_dir, xnli_dir, output, "--sweep_backend", "ray")) == 2
    assert 'pip install "modeling-dlfa[ray]"' in capsys.readouterr().err
    assert not output.exists()


# --- on Ray Tune -----------------------------------------------------------------------------------------

RAY_INIT = dict(num_cpus=2, include_dashboard=False, log_to_driver=False)


@pytest.fixture(scope="module")
def local_ray():
    """A Ray of 2 CPUs in this process, for the module's Ray tests."""
    ray = pytest.importorskip("ray")
    ray.init(**RAY_INIT)
    yield ray
    ray.shutdown()


def ray_args(model: Path, data: Path, output: Path) -> list[str]:
    return sweep_args(model, data, output, "--sweep_backend", "ray", "--trial_cpus", "1", "--trial_gpus", "0")


@pytest.mark.slow
def test_ray_gives_the_same_scores_as_the_local_loop(
    local_ray, local_sweep, tiny_bert_dir, xnli_dir, tmp_path
):
    output = tmp_path / "ray"
    assert main(ray_args(tiny_bert_dir, xnli_dir, output)) == 0
    for folder in TRIAL_DIRS:
        assert scores(output / folder) == scores(local_sweep / folder), folder
        # The same run configuration: a sweep begun on one backend resumes on the other.
        assert read_json(output / folder / "run_config.json") == read_json(
            local_sweep / folder / "run_config.json"
        )
    sweep, reference = read_json(output / "sweep.json"), read_json(local_sweep / "sweep.json")
    assert sweep["selected_fusion_layer"] == reference["selected_fusion_layer"]
    assert [s["summary"] for s in sweep["settings"]] == [s["summary"] for s in reference["settings"]]
    # Two trials at a time on the 2 CPUs: some trials ran while another was running.
    spans = [
        ((output / f / "run_config.json").stat().st_mtime, (output / f / "results.json").stat().st_mtime)
        for f in TRIAL_DIRS
    ]
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :]), spans
    assert list((output / "ray_tune").iterdir())  # Tune's own records of the trials


RAY_CLI = textwrap.dedent(
    """
    import sys
    import ray
    from run_glue_x import main

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.slow
def test_killed_ray_sweep_resumes_and_skips_finished_trials(
    local_ray, local_sweep, tiny_bert_dir, xnli_dir, tmp_path
):
    output = tmp_path / "killed"
    argv = ray_args(tiny_bert_dir, xnli_dir, output)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    with open(tmp_path / "killed.log", "wb") as log:
        # A session of its own: the kill takes the driver and every Ray process it started.
        sweep = subprocess.Popen(
            [sys.executable, "-c", RAY_CLI, *argv], stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=REPO_ROOT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not list(output.glob("fusion_*/seed_*/results.json")):
            assert sweep.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no trial finished in 300 s"
            time.sleep(0.1)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    finished = {
        folder: (output / folder / "results.json").stat().st_mtime_ns
        for folder in TRIAL_DIRS
        if (output / folder / "results.json").is_file()
    }
    assert 1 <= len(finished) < len(TRIAL_DIRS) and not (output / "sweep.json").exists()

    assert main(argv) == 0
    assert {folder: (output / folder / "results.json").stat().st_mtime_ns for folder in finished} == finished
    for folder in TRIAL_DIRS:
        assert scores(output / folder) == scores(local_sweep / folder), folder
