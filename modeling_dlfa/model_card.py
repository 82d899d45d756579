"""The Hub model card of a DLFA run's output folder: metadata with per-language results (`model-index`), the
scores, the training recipe and a loading snippet, from its results.json and config.json.

Publishing the folder, and the command line: modeling_dlfa/hub.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from hub_cards import load_template

from .atomic import write_text
from .base_model import CARD_FILE, base_model, card_license, earlier_license
from .configuration_dlfa import DLFAConfig
from .results import RESULTS_FILE, SWEEP_FILE, RunResults
from .sweep_results import SweepResults
from .task_files import results_task
from .task_kinds import Task

MIN_TRANSFORMERS = "5.24"
CONFIG_FILE = "config.json"

# results.json's metric -> the Hub's metric id in model-index (f1 is seqeval's span-level F1).
MODEL_INDEX_METRICS = {"accuracy": "accuracy", "span_f1": "f1", "token_accuracy": "accuracy"}
TASK_DISPLAY = {"xnli": "XNLI", "pawsx": "PAWS-X", "panx": "WikiANN (PAN-X)", "udpos": "UD POS"}
# The usage snippet's examples, as (text, second text) or (sentence,); the task turns them into pipeline inputs.
EXAMPLE_TEXTS = {
    "xnli": [
        ("A man is playing a guitar on stage.", "Someone is making music."),
        ("Ein Mann spielt auf der Bühne Gitarre.", "Niemand macht Musik."),
    ],
    "pawsx": [
        ("The bridge was built in 1880 and rebuilt after the flood.",
         "After the flood, the bridge built in 1880 was rebuilt."),
        ("Le pont a été construit en 1880 et reconstruit après la crue.",
         "La crue a été construite en 1880 et reconstruite après le pont."),
    ],
    "panx": [("Angela Merkel met Emmanuel Macron in Paris.",), ("Angela Merkel traf Emmanuel Macron in Paris.",)],
    "udpos": [("The old man reads a book.",), ("Der alte Mann liest ein Buch.",)],
}  # fmt: skip
# Any other task (a task file): one-text and tagging tasks read the first text.
OTHER_EXAMPLE_TEXTS = [
    ("The new phone works very well.", "It is a good phone."),
    ("Das neue Telefon funktioniert sehr gut.", "Es ist ein gutes Telefon."),
]
# What the model's config.json chose where the paper is silent or where this model departs from it.
GLOBAL_NORM_TEXT = {
    "batch": "both branches use BatchNorm, as in the paper; the local branch's statistics count real tokens only, "
    "the global branch's are taken over the pooled vectors of a batch's examples.",
    "layer": "the local branch uses BatchNorm whose statistics count real tokens only, as in the paper; the global "
    "branch uses GroupNorm with one group instead of BatchNorm: each example's pooled vector is normalised over "
    "its own channels, so the branch does not depend on the other examples of a batch (BatchNorm sees a single "
    "value per channel at one example per device).",
}
GATE_TEXT = {
    "paper": "AIF(W) = W · sigmoid(global + local), as Eq. 1 is written (not bounded).",
    "sigmoid": "AIF(W) = sigmoid(global + local), bounded to [0, 1] as in Attentional Feature Fusion (Dai et "
    "al., 2021), instead of Eq. 1's unbounded W · sigmoid(global + local).",
}
INIT_TEXT = {
    "paper": "Eq. 2 as written, from the first training step.",
    "identity": "the head reads L2 + s · (L − L2), with a per-channel scale s initialised at 0: the fused layer "
    "starts equal to the last layer (the pretrained representation), and training learns how much of the "
    "fusion to use.",
}
TRAINING_LABELS = {
    "learning_rate": "Learning rate",
    "num_train_epochs": "Epochs",
    "per_device_train_batch_size": "Batch size per device",
    "gradient_accumulation_steps": "Gradient accumulation steps",
    "weight_decay": "Weight decay",
    "warmup_steps": "Warmup steps",
    "max_seq_length": "Maximum sequence length",
    "head_learning_rate": "Learning rate of the new parts (fusion module, pooler, classifier)",
    "freeze_embeddings": "Word embeddings frozen",
    "label_piece": "Piece of a word that carries its label",
}


def hub_datasets(results: RunResults) -> list[str]:
    """The Hub datasets the run read, or [] when any of its data came from files or its results.json does not
    record where the data came from (a card must not name a Hub dataset the model was not trained or scored
    on)."""
    origins = (results.data_origins or {}).values()
    if not origins or not all(origin.from_hub for origin in origins):
        return []
    return sorted({origin.repo for origin in origins})


def data_description(results: RunResults) -> str:
    """Where the data came from, for the card's text: the Hub datasets, and the local files by name."""
    if not results.data_origins:
        return "the data its results.json lists under `data_sources`"
    origins = results.data_origins.values()
    repos = sorted({origin.repo for origin in origins if origin.from_hub})
    files = sorted({Path(origin.path).name for origin in origins if origin.from_file})
    parts = []
    if repos:
        parts.append(", ".join(f"[`{repo}`](https://huggingface.co/datasets/{repo})" for repo in repos))
    if files:
        parts.append("local files (" + ", ".join(f"`{name}`" for name in files) + ")")
    return " and ".join(parts)


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
    results_task(results)


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
    task = results_task(results)
    config = _load_config(model_dir)
    _check_same_run(results, config)
    license_fields = card_license(results.model_name_or_path, base_model_license)
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
        kwargs["base_model_license"] = earlier_license(output_dir / CARD_FILE, results.model_name_or_path)
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
        base_model=base_model(name),
        datasets=hub_datasets(results) or None,
        metrics=[MODEL_INDEX_METRICS[results.metric]],
        model_name=model_name,
        eval_results=eval_results(results),
        **license_fields,
    )


def eval_results(results: RunResults) -> list[EvalResult]:
    """One model-index result per evaluated language (dataset config = its load_dataset config), then the
    macro average over languages."""
    task = results_task(results)
    display = TASK_DISPLAY.get(task.name, task.name)
    metric_display = results.metric_display
    repos = hub_datasets(results)
    origins = results.data_origins or {}
    common = {
        "task_type": task.pipeline_tag,
        "task_name": f"Zero-shot cross-lingual transfer from {results.train_language}",
        # The Hub dataset when the run read one, else the task (its data came from local files).
        "dataset_type": repos[0] if len(repos) == 1 else task.name,
        "dataset_split": results.eval_split,
        "metric_type": MODEL_INDEX_METRICS[results.metric],
    }
    per_language = [
        EvalResult(
            dataset_name=f"{display} ({code})",
            dataset_config=origins[code].config if repos else None,
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


def _template_context(
    results: RunResults, task: Task, config: DLFAConfig, model_id: str, revision: str | None
) -> dict[str, Any]:
    name = results.model_name_or_path
    return {
        "model_name_or_path": name,
        "base_name": Path(name).name or name,
        "base_model_url": f"https://huggingface.co/{base}" if (base := base_model(name)) else None,
        "base_model": base,
        "task_display": TASK_DISPLAY.get(task.name, task.name),
        "data_description": data_description(results),
        "eval_split": results.eval_split,
        "metric_display": results.metric_display,
        "train_language": results.train_language,
        "languages": list(results.languages),
        "language_rows": _language_rows(results),
        "average_rows": _average_rows(results),
        "min_transformers": MIN_TRANSFORMERS,
        "card_pipeline": task.card_pipeline,
        "card_pipeline_call": task.card_pipeline_call,
        "card_output_note": task.card_output_note,
        "card_head": task.card_head,
        "auto_class": task.auto_class,
        "pipeline_tag": task.pipeline_tag,
        "model_id_literal": repr(model_id),
        "revision_literal": repr(revision or "main"),
        "revision_pinned": revision is not None,
        "example_inputs": [
            repr(example)
            for example in task.pipeline_inputs(EXAMPLE_TEXTS.get(task.name, OTHER_EXAMPLE_TEXTS))
        ],
        "input_form": task.pipeline_input_form,
        "labels": [config.id2label[index] for index in sorted(config.id2label)],
        "is_baseline": config.fusion_layer is None,
        "fusion_layer": config.fusion_layer,
        "fusion_gate": config.fusion_gate,
        "gate_text": GATE_TEXT[config.fusion_gate],
        "fusion_init": config.fusion_init,
        "init_text": INIT_TEXT[config.fusion_init],
        "aif_global_norm": config.aif_global_norm,
        "global_norm_text": GLOBAL_NORM_TEXT[config.aif_global_norm],
        "aif_reduction": config.aif_reduction,
        "num_layers": config.num_hidden_layers,
        "backbone_type": config.backbone_config.model_type,
        "training_rows": _training_rows(results),
        "evaluation_only": results.evaluation_only,
        "evaluated_trained_on": _trained_on(results.lineage[-1]) if results.lineage else "unknown",
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


def _trained_on(step: dict) -> str:
    """What a checkpoint of the lineage was trained on."""
    if "task" not in step:
        return "unknown (no results.json beside it)"
    return (
        f"{step['task']}, {step['train_language']}, {step['num_train_examples']:,} examples"
        f" (from `{step['started_from']}`)"
    )


def _training_rows(results: RunResults) -> list[tuple[str, str]]:
    task_display = TASK_DISPLAY.get(results.task, results.task)
    examples = results.num_train_examples
    if results.evaluation_only:
        rows = [("Training", f"none in this run: an evaluation of `{results.model_name_or_path}`")]
        label = "Evaluated checkpoint"
    else:
        rows = [
            ("Base model", f"`{results.model_name_or_path}`"),
            (
                "Training data",
                f"{task_display}, {results.train_language}"
                + (f", {examples:,} examples" if examples is not None else ""),
            ),
        ]
        label = "Continued from"
    for step in results.lineage or []:
        # The checkpoint this run started from (or evaluated), and what it had been trained on.
        rows.append((label, f"`{step['model_name_or_path']}`, trained on {_trained_on(step)}"))
    if results.fusion_layer is not None:
        rows.append(
            (
                "Fusion",
                f"layer {results.fusion_layer}, gate {results.fusion_gate}, init {results.fusion_init}, "
                f"global-branch norm {results.aif_global_norm}",
            )
        )
    if not results.evaluation_only:  # the arguments of a training that did not happen would mislead
        rows += [(TRAINING_LABELS.get(key, key), str(value)) for key, value in results.training.items()]
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
