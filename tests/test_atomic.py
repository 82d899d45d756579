"""modeling_dlfa.atomic: a write either happens whole or not at all, even when the writer is SIGKILLed.

The interruption tests run the writer in a subprocess that loads atomic.py by its path (stdlib only, so the
subprocess starts in a fraction of a second instead of importing torch and transformers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modeling_dlfa import atomic, run_report
from modeling_dlfa.atomic import atomic_path, write_bytes, write_json, write_text
from run_glue_x import main

from .conftest import REPO_ROOT
from .fixtures import write_xnli_dir

ATOMIC_FILE = REPO_ROOT / "modeling_dlfa" / "atomic.py"


def entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- in-process: errors inside the block ---------------------------------------------------------------


def test_error_inside_the_block_keeps_the_old_file_and_leaves_no_temporaries(tmp_path):
    path = write_text(tmp_path / "results.json", "old\n")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(path) as tmp:
        tmp.write_text("half of the new ver")
        raise RuntimeError("boom")
    assert path.read_text() == "old\n"
    assert entries(tmp_path) == ["results.json"]


def test_nothing_written_is_an_error_and_keeps_the_old_file(tmp_path):
    path = write_bytes(tmp_path / "weights.bin", b"old")
    with pytest.raises(FileNotFoundError, match="nothing was written"), atomic_path(path):
        pass
    assert path.read_bytes() == b"old"
    assert entries(tmp_path) == ["weights.bin"]


def test_writers_replace_and_create_parents(tmp_path):
    path = tmp_path / "deep" / "er" / "report.json"
    assert write_json(path, {"a": [1, "é"]}) == path
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": [1, "é"]}
    assert "é" in path.read_text(encoding="utf-8")  # ensure_ascii=False: UTF-8 on disk
    write_text(path, "two")
    write_bytes(path, b"three")
    assert path.read_bytes() == b"three"
    assert entries(path.parent) == ["report.json"]


def test_a_folder_is_replaced_whole(tmp_path):
    folder = tmp_path / "features"
    folder.mkdir()
    (folder / "old-only.arrow").write_text("old")
    (folder / "shared.json").write_text("old")
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        (tmp / "shared.json").write_text("new")
        (tmp / "new-only.arrow").write_text("new")
    # The new folder as a whole: no file of the old one survives, and the old folder set aside is gone.
    assert tree(folder) == {"new-only.arrow": b"new", "shared.json": b"new"}
    assert entries(tmp_path) == ["features"]


def test_an_error_while_building_a_folder_keeps_the_old_one(tmp_path):
    folder = tmp_path / "features"
    folder.mkdir()
    (folder / "data.arrow").write_text("old")
    with pytest.raises(OSError, match="disk full"), atomic_path(folder) as tmp:
        tmp.mkdir()
        (tmp / "data.arrow").write_text("ne")
        raise OSError("disk full")
    assert tree(folder) == {"data.arrow": b"old"}
    assert entries(tmp_path) == ["features"]


# --- real interruptions: SIGKILL -------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import importlib.util, random, sys
    spec = importlib.util.spec_from_file_location("dlfa_atomic", sys.argv[1])
    atomic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(atomic)
    target, size_a, size_b = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    contents = [random.Random(2).randbytes(size_b), random.Random(1).randbytes(size_a)]
    print("writing", flush=True)
    while True:
        for data in contents:
            atomic.write_bytes(target, data)
    """
)
SIZE_A = 24 * 2**20
SIZE_B = 20 * 2**20 + 7  # a different length too: a prefix of one can never pass for the other
KILLS = 6
KILL_SEED = 1234  # the kill moments are random but reproducible


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_sigkill_during_large_rewrites_leaves_old_or_new_file_never_part(tmp_path):
    """A subprocess rewrites a 20-24 MiB file again and again (A, B, A, ...); it is SIGKILLed KILLS times at
    random moments. After every kill the file is exactly A or exactly B.

    Leftovers: a kill inside write_bytes leaves its temporary folder (`.<name>.<random>.tmp/`, holding a
    partial copy) behind, since SIGKILL skips the cleanup; nothing removes it later. Those are hidden and
    never named like the target itself, so nothing looking for the target can take one for it.
    """
    folder = tmp_path / "out"
    target = folder / "model.safetensors"
    a, b = random.Random(1).randbytes(SIZE_A), random.Random(2).randbytes(SIZE_B)
    known = {sha256(a): "A", sha256(b): "B"}
    del b
    write_bytes(target, a)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = random.Random(KILL_SEED)
    seen = []
    try:
        for _ in range(KILLS):
            process = subprocess.Popen(
                [sys.executable, str(script), str(ATOMIC_FILE), str(target), str(SIZE_A), str(SIZE_B)],
                stdout=subprocess.PIPE,
            )
            try:
                assert process.stdout.readline() == b"writing\n"
                # Up to ~10 rewrites on an idle machine, a couple on a busy one.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=rng.uniform(0.05, 0.8))
                assert process.poll() is None, "the writer died on its own"
            finally:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                process.stdout.close()
            assert target.is_file()
            version = known.get(sha256(target.read_bytes()))
            assert version is not None, f"after a kill {target.name} is neither A nor B (a partial write)"
            seen.append(version)
            for name in entries(folder):
                if name != target.name:
                    # Hidden, distinct from the target, and a folder (its partial file is one level down).
                    assert name.startswith(f".{target.name}.") and name.endswith(".tmp"), name
                    assert (folder / name).is_dir()
        leftovers = [name for name in entries(folder) if name != target.name]
        print(f"versions after each kill: {seen}; {len(leftovers)} temporaries left behind")
        # The kills did interrupt writes in progress: some temporaries were left behind (see the docstring).
        assert leftovers, "no kill landed inside a write: the test proved nothing"
        assert len(leftovers) <= KILLS
        # A later write still works beside them and the target stays readable.
        write_bytes(target, b"after")
        assert target.read_bytes() == b"after"
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # up to KILLS x 24 MiB of leftovers


FOLDER_WRITER = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("dlfa_atomic", sys.argv[1])
    atomic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(atomic)
    print("ready", flush=True)
    version = 0
    while True:
        version = 1 - version
        with atomic.atomic_path(sys.argv[2]) as tmp:
            tmp.mkdir()
            for index in range(20):
                (tmp / f"part-{index}").write_text("AB"[version] * 100_000)
    """
)


def test_a_kill_while_a_folder_is_replaced_leaves_old_or_new(tmp_path):
    """A subprocess keeps replacing a folder (version A, version B, ...); killed at random moments, the folder
    is always there, whole, and one version throughout (the swap is one renameat2 RENAME_EXCHANGE)."""
    folder = tmp_path / "features"
    script = tmp_path / "folder_writer.py"
    script.write_text(FOLDER_WRITER)
    rng = random.Random(99)
    for _ in range(4):
        process = subprocess.Popen(
            [sys.executable, str(script), str(ATOMIC_FILE), str(folder)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout.readline().strip() == "ready"
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=rng.uniform(0.3, 1.2))
            assert process.poll() is None, "the writer died on its own"
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            process.stdout.close()
        if not folder.exists():
            continue  # killed before the first version landed
        contents = tree(folder)
        assert len(contents) == 20, sorted(contents)
        assert len(set(contents.values())) == 1, "a mix of two versions"


def test_two_writers_of_one_folder_do_not_crash(tmp_path, monkeypatch):
    """The interleaving is forced: the other writer completes just before this one's final rename."""
    path = tmp_path / "features" / "0123abcd"
    real_replace, raced = os.replace, []

    def other_writer_lands_first(src, dst):
        if not raced:
            raced.append(dst)
            with atomic_path(path) as theirs:
                theirs.mkdir()
                (theirs / "data.arrow").write_text("theirs")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", other_writer_lands_first)
    with atomic_path(path) as ours:
        ours.mkdir()
        (ours / "data.arrow").write_text("ours")
    assert raced == [path]
    assert tree(path) in ({"data.arrow": b"ours"}, {"data.arrow": b"theirs"})
    assert entries(path.parent) == [path.name]


# --- a run's results.json is written last -----------------------------------------------------------------

QUICK = [
    "--num_train_epochs", "1", "--per_device_train_batch_size", "8", "--learning_rate", "1e-3",
    "--seed", "5", "--max_train_samples", "8", "--max_eval_samples", "4", "--report_to", "none",
    "--disable_tqdm", "true",
]  # fmt: skip


@pytest.fixture(scope="module")
def small_xnli(tmp_path_factory) -> Path:
    return write_xnli_dir(tmp_path_factory.mktemp("xnli"), languages=("de",), train=8, dev=4)


def run_args(model: Path, data: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--task_name", "xnli", "--model_name_or_path", str(model), "--fusion_layer", "1",
        "--data_dir", str(data), "--output_dir", str(output), *QUICK, *extra,
    ]  # fmt: skip


def failing_report(*args, **kwargs):
    raise OSError(28, "No space left on device (simulated in write_run_report)")


def test_a_run_that_fails_while_writing_reports_leaves_no_results(
    tmp_path, tiny_bert_dir, small_xnli, monkeypatch, capsys
):
    output = tmp_path / "run"
    monkeypatch.setattr(run_report, "write_run_report", failing_report)
    assert main(run_args(tiny_bert_dir, small_xnli, output)) == 2
    assert "No space left on device" in capsys.readouterr().err
    # The folder never looks complete: results.json (the marker of a finished run) is absent.
    assert output.is_dir() and not (output / "results.json").exists()
    assert not [name for name in entries(output) if name.startswith(".")], entries(output)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_bert_dir, small_xnli) -> Path:
    output = tmp_path_factory.mktemp("finished") / "run"
    assert main(run_args(tiny_bert_dir, small_xnli, output)) == 0
    return output


@pytest.fixture(scope="module")
def failed_overwrite(finished_run, tiny_bert_dir, small_xnli, tmp_path_factory):
    """A copy of a finished run, overwritten by a run (another seed) that fails while writing its reports.

    Returns the folder and its files before the failed run.
    """
    folder = tmp_path_factory.mktemp("overwrite") / "run"
    shutil.copytree(finished_run, folder)
    before = tree(folder)
    args = run_args(tiny_bert_dir, small_xnli, folder, "--overwrite_output_dir")
    args[args.index("--seed") + 1] = "6"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_report, "write_run_report", failing_report)
        assert main(args) == 2
    return folder, before


def test_overwrite_that_fails_never_pairs_old_results_with_new_outputs(failed_overwrite):
    """--overwrite_output_dir retires the old results.json first: a run that then fails leaves a folder that
    does not look complete, rather than old results beside new weights and predictions."""
    folder, before = failed_overwrite
    assert "results.json" in before
    assert not (folder / "results.json").exists()


def test_atomic_module_uses_only_the_standard_library():
    """The interruption tests load atomic.py on its own; keep it importable that way."""
    assert atomic.__file__ == str(ATOMIC_FILE)
    imported = [line for line in ATOMIC_FILE.read_text().splitlines() if line.startswith(("import", "from"))]
    assert all(line.split()[1].split(".")[0] in sys.stdlib_module_names | {"__future__"} for line in imported)
