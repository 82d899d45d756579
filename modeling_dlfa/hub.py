"""Publishing the output folder of a DLFA run to the Hub, in one commit, and the command line.

python -m modeling_dlfa.hub card OUTPUT_DIR [--repo-id ID] [--revision REV] [--license ID]
python -m modeling_dlfa.hub push OUTPUT_DIR REPO_ID [--private] [--revision REV] [--token T]
                                 [--commit-message M] [--license ID]

The card itself is built by modeling_dlfa/model_card.py.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, constants
from huggingface_hub.utils import httpx, validate_repo_id

from .atomic import write_text
from .base_model import CARD_FILE, earlier_license
from .model_card import (
    CONFIG_FILE,
    TASK_DISPLAY,
    build_model_card,
    read_results,
    refuse_sweep_folder,
    write_model_card,
)
from .results import RESULTS_FILE, RunResults
from .task_files import results_task
from .task_kinds import Task

CODE_FILES = ("configuration_dlfa.py", "modeling_dlfa.py")
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
TOKENIZER_CONFIG = "tokenizer_config.json"

# Matched against the folder's top-level file names only, so checkpoint-*/ and predictions/ never go up,
# and no pattern admits pickles (training_args.bin, pytorch_model.bin).
UPLOAD_PATTERNS = (
    WEIGHTS_FILE,
    "model-*-of-*.safetensors",
    WEIGHTS_INDEX,
    CONFIG_FILE,
    *CODE_FILES,
    "tokenizer.json",
    TOKENIZER_CONFIG,
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",  # sentencepiece: sentencepiece.bpe.model (XLM-R), spiece.model, spm.model (mDeBERTa)
    CARD_FILE,
    RESULTS_FILE,
    "results.md",
    "per_language.png",
)


def files_to_upload(output_dir: str | os.PathLike) -> list[str]:
    """The top-level files of `output_dir` that a Hub repository of the model holds, sorted."""
    return sorted(
        path.name
        for path in Path(output_dir).iterdir()
        if path.is_file() and any(fnmatch.fnmatchcase(path.name, pattern) for pattern in UPLOAD_PATTERNS)
    )


def check_publishable(output_dir: str | os.PathLike) -> None:
    """Raise ValueError listing everything `output_dir` lacks for a loadable, documented Hub model."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise ValueError(f"{output_dir} is not a folder")
    refuse_sweep_folder(output_dir)
    task, problems = _results_problems(output_dir)
    problems += _weights_problems(output_dir)
    problems += [
        f"{name} (the model code that trust_remote_code loads)"
        for name in CODE_FILES
        if not (output_dir / name).is_file()
    ]
    problems += _config_problems(output_dir, task)
    if not (output_dir / TOKENIZER_CONFIG).is_file():
        problems.append(f"{TOKENIZER_CONFIG} (save the tokenizer with save_pretrained)")
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise ValueError(f"{output_dir} cannot be published; missing or invalid:\n{listing}")


def _results_problems(output_dir: Path) -> tuple[Task | None, list[str]]:
    try:
        results = read_results(output_dir)
    except (OSError, ValueError) as error:
        return None, [f"{RESULTS_FILE}: {error}"]
    return results_task(results), []


def _weights_problems(output_dir: Path) -> list[str]:
    if (output_dir / WEIGHTS_FILE).is_file():
        return []
    index = output_dir / WEIGHTS_INDEX
    if not index.is_file():
        return [f"{WEIGHTS_FILE} (safetensors weights; pickled .bin weights are never published)"]
    try:
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    except (ValueError, KeyError, AttributeError) as error:
        return [f"{WEIGHTS_INDEX}: unreadable ({error})"]
    return [f"{shard} (listed in {WEIGHTS_INDEX})" for shard in shards if not (output_dir / shard).is_file()]


def _config_problems(output_dir: Path, task: Task | None) -> list[str]:
    path = output_dir / CONFIG_FILE
    if not path.is_file():
        return [CONFIG_FILE]
    try:
        auto_map = json.loads(path.read_text(encoding="utf-8")).get("auto_map") or {}
    except (ValueError, AttributeError) as error:
        return [f"{CONFIG_FILE}: unreadable ({error})"]
    hint = "save the model with modeling_dlfa imported, so that save_pretrained writes it"
    needed = ["AutoConfig"] + ([task.auto_class] if task is not None else [])
    return [f"{CONFIG_FILE}: auto_map entry {name} ({hint})" for name in needed if name not in auto_map]


class PublishError(ValueError):
    """A Hub call failed: the message names the host and the step, and how to push the folder later."""


@dataclass(frozen=True)
class PushPlan:
    """What `push_to_hub` uploads, in one commit: shown by `--dry_run` before anything is sent."""

    output_dir: Path
    repo_id: str
    revision: str | None
    commit_message: str
    files: tuple[str, ...]

    def describe(self) -> str:
        listing = "\n".join(f"  {name}" for name in self.files)
        return (
            f"would push {self.output_dir} to https://huggingface.co/{self.repo_id} "
            f"(revision {self.revision or 'main'}) in one commit: {self.commit_message!r}\n{listing}"
        )


def plan_push(
    output_dir: str | os.PathLike,
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str | None = None,
    base_model_license: str | None = None,
) -> tuple[PushPlan, str]:
    """Check the folder and build the card for `repo_id`/`revision`; returns the plan and the card text.

    Nothing is written: the card on disk is replaced only once the upload has succeeded.
    """
    output_dir = Path(output_dir)
    validate_repo_id(repo_id)
    check_publishable(output_dir)
    results = read_results(output_dir)
    if base_model_license is None:
        base_model_license = earlier_license(output_dir / CARD_FILE, results.model_name_or_path)
    card = build_model_card(
        results, output_dir, repo_id=repo_id, revision=revision, base_model_license=base_model_license
    )
    files = sorted({*files_to_upload(output_dir), CARD_FILE})
    plan = PushPlan(
        output_dir, repo_id, revision, commit_message or _default_commit_message(results), tuple(files)
    )
    return plan, str(card)


def push_to_hub(
    output_dir: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    api: HfApi | None = None,
    base_model_license: str | None = None,
    dry_run: bool = False,
) -> CommitInfo | PushPlan:
    """Publish `output_dir` to the model repository `repo_id` in one commit (`dry_run`: only say what).

    Checks the folder, builds its card for `repo_id`/`revision`, creates the repository if needed (private
    only takes effect on creation) and the branch `revision` if it does not exist, then commits exactly
    `files_to_upload(output_dir)` with the new card. Files already in the repository that are not in that set
    stay there. The folder's own card is rewritten only after the commit succeeded.
    """
    plan, card = plan_push(
        output_dir,
        repo_id,
        revision=revision,
        commit_message=commit_message,
        base_model_license=base_model_license,
    )
    if dry_run:
        return plan
    api = api if api is not None else HfApi(token=token)
    operations = [
        CommitOperationAdd(
            path_in_repo=name,
            path_or_fileobj=card.encode("utf-8") if name == CARD_FILE else plan.output_dir / name,
        )
        for name in plan.files
    ]
    with _hub_step("creating the repository", plan):
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision is not None:
        with _hub_step(f"checking for the branch {revision}", plan):
            exists = api.revision_exists(repo_id, revision, repo_type="model")
        if not exists:
            with _hub_step(f"creating the branch {revision}", plan):
                api.create_branch(repo_id, branch=revision, repo_type="model")
    with _hub_step("uploading the commit", plan):
        info = api.create_commit(
            repo_id, operations, commit_message=plan.commit_message, revision=revision, repo_type="model"
        )
    write_text(plan.output_dir / CARD_FILE, card)
    return info


@contextlib.contextmanager
def _hub_step(step: str, plan: PushPlan) -> Iterator[None]:
    try:
        yield
    except (httpx.HTTPError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        later = f"python -m modeling_dlfa.hub push {plan.output_dir} {plan.repo_id}"
        if plan.revision:
            later += f" --revision {plan.revision}"
        raise PublishError(
            f"{step} on {constants.ENDPOINT} failed ({type(error).__name__}: {reason}); nothing was uploaded "
            f"and {plan.output_dir} is unchanged. Push the finished folder later with: {later}"
        ) from None


def _default_commit_message(results: RunResults) -> str:
    layer = results.fusion_layer
    variant = "baseline" if layer is None else f"fusion layer {layer}"
    display = TASK_DISPLAY.get(results.task, results.task)
    return f"DLFA {display} model ({variant}, {results.model_name_or_path})"


# --- command line -----------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modeling_dlfa.hub", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    card = commands.add_parser(
        "card", help="(re)write OUTPUT_DIR/README.md from results.json and config.json"
    )
    card.add_argument("output_dir")
    card.add_argument("--repo-id", help="Hub id for the loading snippet (default: a placeholder)")
    card.add_argument("--revision", help="revision for the loading snippet (default: main)")
    card.add_argument("--license", help="the base model's license id, when its card is not on this machine")
    push = commands.add_parser("push", help="publish OUTPUT_DIR to a Hub model repository in one commit")
    push.add_argument("output_dir")
    push.add_argument("repo_id")
    push.add_argument("--private", action="store_true", help="create the repository private")
    push.add_argument("--revision", help="branch to commit to (created if missing; default: main)")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN or the stored login)")
    push.add_argument("--commit-message")
    push.add_argument("--license", help="the base model's license id, when its card is not on this machine")
    push.add_argument(
        "--dry_run", "--dry-run", action="store_true", help="list what would be uploaded, upload nothing"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "card":
            path = write_model_card(
                args.output_dir, repo_id=args.repo_id, revision=args.revision, base_model_license=args.license
            )
            print(path)
        else:
            info = push_to_hub(
                args.output_dir,
                args.repo_id,
                private=args.private,
                revision=args.revision,
                token=args.token,
                commit_message=args.commit_message,
                base_model_license=args.license,
                dry_run=args.dry_run,
            )
            print(info.describe() if isinstance(info, PushPlan) else info.commit_url)
    except (ValueError, OSError, httpx.HTTPError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
