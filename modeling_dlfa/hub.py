"""Model cards and Hub publishing for the output folder of a DLFA run.

python -m modeling_dlfa.hub card OUTPUT_DIR [--repo-id ID] [--revision REV] [--license ID]
python -m modeling_dlfa.hub push OUTPUT_DIR REPO_ID [--private] [--revision REV] [--token T]
                                 [--commit-message M] [--license ID]
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
from typing import Any

from huggingface_hub import (
    CommitInfo,
    CommitOperationAdd,
    EvalResult,
    HfApi,
    ModelCard,
    ModelCardData,
    constants,
    try_to_load_from_cache,
)
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import httpx, validate_repo_id

from hub_cards import load_template

from .atomic import write_text
from .configuration_dlfa import DLFAConfig
from .results import RESULTS_FILE, SWEEP_FILE, RunResults, SweepResults
from .tasks import Task, get_task

MIN_TRANSFORMERS = "5.24"
CODE_FILES = ("configuration_dlfa.py", "modeling_dlfa.py")
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
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

# results.json's metric -> the Hub's metric id in model-index (f1 is seqeval's span-level F1).
MODEL_INDEX_METRICS = {"accuracy": "accuracy", "span_f1": "f1", "token_accuracy": "accuracy"}
TASK_DISPLAY = {"xnli": "XNLI", "pawsx": "PAWS-X", "panx": "WikiANN (PAN-X)", "udpos": "UD POS"}
EXAMPLE_INPUTS = {
    "xnli": [
        {"text": "A man is playing a guitar on stage.", "text_pair": "Someone is making music."},
        {"text": "Ein Mann spielt auf der Bühne Gitarre.", "text_pair": "Niemand macht Musik."},
    ],
    "pawsx": [
        {"text": "The bridge was built in 1880 and rebuilt after the flood.",
         "text_pair": "After the flood, the bridge built in 1880 was rebuilt."},
        {"text": "Le pont a été construit en 1880 et reconstruit après la crue.",
         "text_pair": "La crue a été construite en 1880 et reconstruite après le pont."},
    ],
    "panx": ["Angela Merkel met Emmanuel Macron in Paris.", "Angela Merkel traf Emmanuel Macron in Paris."],
    "udpos": ["The old man reads a book.", "Der alte Mann liest ein Buch."],
}  # fmt: skip
TRAINING_LABELS = {
    "learning_rate": "Learning rate",
    "num_train_epochs": "Epochs",
    "per_device_train_batch_size": "Batch size per device",
    "gradient_accumulation_steps": "Gradient accumulation steps",
    "weight_decay": "Weight decay",
    "warmup_steps": "Warmup steps",
    "max_seq_length": "Maximum sequence length",
}


def is_hub_id(name: str) -> bool:
    """Whether `name` reads as a Hub model id rather than a path on this machine."""
    if Path(name).expanduser().exists():
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def read_results(output_dir: str | os.PathLike) -> RunResults:
    results = RunResults.read(output_dir)
    check_results(results, source=str(Path(output_dir) / RESULTS_FILE))
    return results


def check_results(results: RunResults, source: str = "results") -> None:
    """What a card needs beyond a well-formed results.json: scores, a metric the Hub knows, a known task."""
    if not results.languages:
        raise ValueError(f"{source} has no per-language scores")
    if results.metric not in MODEL_INDEX_METRICS:
        raise ValueError(
            f"{source}: metric {results.metric!r} is not one of {', '.join(MODEL_INDEX_METRICS)}"
        )
    get_task(results.task)


# --- the card ---------------------------------------------------------------------------------------------


def build_model_card(
    results: RunResults,
    model_dir: str | os.PathLike,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    base_model_license: str | None = None,
) -> ModelCard:
    """The Hub card for the run in `model_dir` (its config.json) with the scores in `results`.

    `repo_id` and `revision` go into the loading snippet (a placeholder id and "main" when not given).
    The license is the backbone's, read from its card when that is on this machine (a local folder or the
    Hub cache), else `base_model_license`, else "other" with a note.
    """
    check_results(results)
    task = get_task(results.task)
    config = _load_config(model_dir)
    _check_same_run(results, config)
    license_fields = _license_fields(results.model_name_or_path, base_model_license)
    model_id = repo_id or f"<your-username>/{Path(model_dir).resolve().name}"
    card_data = _card_data(results, task, config, model_id.split("/")[-1], license_fields)
    context = _template_context(results, task, config, model_id, revision)
    context["license_known"] = license_fields != {"license": "other"}
    return ModelCard.from_template(card_data, template_str=load_template(), **context)


def write_model_card(output_dir: str | os.PathLike, results: RunResults | None = None, **kwargs: Any) -> Path:
    """(Re)write OUTPUT_DIR/README.md atomically; `results` defaults to OUTPUT_DIR/results.json.

    Keyword arguments go to `build_model_card`. Without `base_model_license`, a license an earlier card of the
    same base model carried is kept, so rewriting the card (as `push_to_hub` does) never loses it.
    """
    output_dir = Path(output_dir)
    if results is None:
        refuse_sweep_folder(output_dir)
        results = read_results(output_dir)
    else:
        check_results(results)
    if kwargs.get("base_model_license") is None:
        kwargs["base_model_license"] = _earlier_license(output_dir / CARD_FILE, results.model_name_or_path)
    card = build_model_card(results, output_dir, **kwargs)
    return write_text(output_dir / CARD_FILE, str(card))


def _load_config(model_dir: str | os.PathLike) -> DLFAConfig:
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (save the model with save_pretrained first)")
    return DLFAConfig.from_json_file(path)


def _check_same_run(results: RunResults, config: DLFAConfig) -> None:
    """A card whose scores and architecture come from different runs would misdescribe the weights."""
    fields = ["fusion_layer"] if config.fusion_layer is None else ["fusion_layer", "fusion_gate"]
    for field in fields:
        recorded = getattr(results, field)
        if recorded != getattr(config, field):
            raise ValueError(
                f"results say {field}={recorded!r} but config.json has {getattr(config, field)!r}: "
                "they come from different runs"
            )


def backbone_license(name_or_path: str) -> dict[str, str] | None:
    """license (and license_name/license_link) from the backbone's card, if that card is on this machine."""
    card_path = _local_card(name_or_path)
    if card_path is None:
        return None
    data = ModelCard.load(card_path, ignore_metadata_errors=True).data
    fields = {key: data.get(key) for key in ("license", "license_name", "license_link") if data.get(key)}
    return fields if "license" in fields else None


def _local_card(name_or_path: str) -> Path | None:
    local = Path(name_or_path).expanduser() / CARD_FILE
    if local.is_file():
        return local
    if is_hub_id(name_or_path):
        cached = try_to_load_from_cache(name_or_path, CARD_FILE)
        if isinstance(cached, str):
            return Path(cached)
    return None


def _license_fields(name_or_path: str, fallback: str | None) -> dict[str, str]:
    fields = backbone_license(name_or_path)
    if fields:
        return fields
    return {"license": fallback or "other"}


def _earlier_license(card_path: Path, name_or_path: str) -> str | None:
    if not card_path.is_file():
        return None
    data = ModelCard.load(card_path, ignore_metadata_errors=True).data
    same_base = data.get("base_model") == (name_or_path if is_hub_id(name_or_path) else None)
    license_id = data.get("license")
    return license_id if same_base and license_id not in (None, "other") else None


def _card_data(
    results: RunResults, task: Task, config: DLFAConfig, model_name: str, license_fields: dict[str, str]
) -> ModelCardData:
    name = results.model_name_or_path
    tags = [
        "custom_code",
        "dlfa",
        "zero-shot-cross-lingual-transfer",
        task.name,
        config.backbone_config.model_type,
    ]
    return ModelCardData(
        language=list(results.languages),
        library_name="transformers",
        pipeline_tag=task.pipeline_tag,
        tags=tags,
        base_model=name if is_hub_id(name) else None,
        datasets=[task.hub_repo],
        metrics=[MODEL_INDEX_METRICS[results.metric]],
        model_name=model_name,
        eval_results=eval_results(results),
        **license_fields,
    )


def eval_results(results: RunResults) -> list[EvalResult]:
    """One model-index result per evaluated language (dataset config = its load_dataset config), then the
    macro average over languages."""
    task = get_task(results.task)
    display = TASK_DISPLAY.get(task.name, task.name)
    metric_display = results.metric_display
    common = {
        "task_type": task.pipeline_tag,
        "task_name": f"Zero-shot cross-lingual transfer from {results.train_language}",
        "dataset_type": task.hub_repo,
        "dataset_split": results.eval_split,
        "metric_type": MODEL_INDEX_METRICS[results.metric],
    }
    per_language = [
        EvalResult(
            dataset_name=f"{display} ({code})",
            dataset_config=_dataset_config(task, code),
            metric_name=metric_display,
            metric_value=round(score, 2),
            **common,
        )
        for code, score in results.languages.items()
    ]
    average = EvalResult(
        dataset_name=f"{display} (macro average over {len(per_language)} languages)",
        metric_name=f"{metric_display}, macro average",
        metric_value=round(results.average, 2),
        **common,
    )
    return [*per_language, average]


def _dataset_config(task: Task, language: str) -> str:
    try:
        return task.hub_config(language)
    except ValueError:
        # A language from a local data folder that the Hub dataset does not name.
        return language


def _template_context(
    results: RunResults, task: Task, config: DLFAConfig, model_id: str, revision: str | None
) -> dict[str, Any]:
    name = results.model_name_or_path
    return {
        "model_name_or_path": name,
        "base_name": Path(name).name or name,
        "base_model_url": f"https://huggingface.co/{name}" if is_hub_id(name) else None,
        "task_display": TASK_DISPLAY.get(task.name, task.name),
        "dataset_repo": task.hub_repo,
        "eval_split": results.eval_split,
        "metric_display": results.metric_display,
        "train_language": results.train_language,
        "languages": list(results.languages),
        "language_rows": _language_rows(results),
        "average_rows": _average_rows(results),
        "min_transformers": MIN_TRANSFORMERS,
        "kind": task.kind,
        "auto_class": task.auto_class,
        "pipeline_tag": task.pipeline_tag,
        "model_id_literal": repr(model_id),
        "revision_literal": repr(revision or "main"),
        "revision_pinned": revision is not None,
        "example_inputs": [repr(example) for example in EXAMPLE_INPUTS.get(task.name, [])],
        "labels": [config.id2label[index] for index in sorted(config.id2label)],
        "is_baseline": config.fusion_layer is None,
        "fusion_layer": config.fusion_layer,
        "fusion_gate": config.fusion_gate,
        "aif_reduction": config.aif_reduction,
        "num_layers": config.num_hidden_layers,
        "backbone_type": config.backbone_config.model_type,
        "training_rows": _training_rows(results),
    }


def _percent(score: float) -> str:
    return f"{score:.2f}"


def _language_rows(results: RunResults) -> list[dict[str, Any]]:
    counts = results.num_examples
    return [
        {
            "language": code,
            "score": _percent(score),
            "examples": f"{counts[code]:,}" if code in counts else "–",
            "is_train": code == results.train_language,
        }
        for code, score in results.languages.items()
    ]


def _average_rows(results: RunResults) -> list[dict[str, str]]:
    languages = list(results.languages)
    train = results.train_language
    rows = [{"name": "all", "members": ", ".join(languages), "score": _percent(results.average)}]
    if results.average_without_train_language is not None:
        others = [code for code in languages if code != train]
        rows.append(
            {
                "name": f"all but {train}",
                "members": ", ".join(others),
                "score": _percent(results.average_without_train_language),
            }
        )
    members = results.group_members
    for group, score in results.groups.items():
        rows.append({"name": group, "members": ", ".join(members.get(group, [])), "score": _percent(score)})
    return rows


def _training_rows(results: RunResults) -> list[tuple[str, str]]:
    task_display = TASK_DISPLAY.get(results.task, results.task)
    examples = results.num_train_examples
    rows = [
        ("Base model", f"`{results.model_name_or_path}`"),
        (
            "Training data",
            f"{task_display}, {results.train_language}"
            + (f", {examples:,} examples" if examples is not None else ""),
        ),
    ]
    for key, value in results.training.items():
        rows.append((TRAINING_LABELS.get(key, key), str(value)))
    if results.seed is not None:
        rows.append(("Seed", str(results.seed)))
    if results.train_dev_score is not None:
        rows.append((f"Score on the {results.train_language} dev set", _percent(results.train_dev_score)))
    rows.append(("Evaluation split", f"`{results.eval_split}`"))
    for key, seconds in (results.runtime or {}).items():
        rows.append((f"{key.removesuffix('_seconds').capitalize()} time", f"{seconds:.1f} s"))
    if results.versions:
        rows.append(
            ("Software", ", ".join(f"{name} {version}" for name, version in results.versions.items()))
        )
    if results.date:
        rows.append(("Date", results.date))
    return rows


# --- publishing -------------------------------------------------------------------------------------------


def files_to_upload(output_dir: str | os.PathLike) -> list[str]:
    """The top-level files of `output_dir` that a Hub repository of the model holds, sorted."""
    return sorted(
        path.name
        for path in Path(output_dir).iterdir()
        if path.is_file() and any(fnmatch.fnmatchcase(path.name, pattern) for pattern in UPLOAD_PATTERNS)
    )


def refuse_sweep_folder(output_dir: Path) -> None:
    """A sweep folder holds one model per setting: say which, rather than that results.json is missing."""
    if (output_dir / RESULTS_FILE).is_file():
        return
    settings = sorted(path.parent.name for path in output_dir.glob(f"fusion_*/{RESULTS_FILE}"))
    if not settings:
        return
    selected = ""
    if (output_dir / SWEEP_FILE).is_file():
        layer = SweepResults.read(output_dir).selected_fusion_layer
        selected = f"; the sweep selected fusion_{'none' if layer is None else layer} on the training language's dev set"
    raise ValueError(
        f"{output_dir} is a sweep folder with one model per setting: give one of {', '.join(settings)}"
        f" (e.g. {output_dir / settings[0]}){selected}"
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
    return get_task(results.task), []


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
        base_model_license = _earlier_license(output_dir / CARD_FILE, results.model_name_or_path)
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
