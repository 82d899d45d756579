"""The model a run trains: a DLFA head on a plain backbone (`from_backbone`), or a trained DLFA checkpoint."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors import SafetensorError
from transformers import AutoConfig, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_MAPPING

from .arguments import ModelArguments
from .configuration_dlfa import DLFAConfig
from .task_kinds import Task

logger = logging.getLogger(__name__)


def parse_fusion_layers(spec: str | None, num_layers: int) -> list[int | None]:
    """'6' -> [6]; 'none' -> [None]; 'none,1,6' -> [None, 1, 6]; 'all' -> [None, 0, ..., N-1]."""
    allowed = f"an int in 0..{num_layers - 1}, 'none' (baseline), a comma list of those, or 'all'"
    if spec is None or not spec.strip():
        raise ValueError(f"--fusion_layer is required for a plain backbone: {allowed}")
    if spec.strip().lower() == "all":
        return [None, *range(num_layers)]
    layers: list[int | None] = []
    for item in spec.split(","):
        item = item.strip().lower()
        if item in ("none", "baseline"):
            layer = None
        elif item.lstrip("-").isdigit():
            layer = int(item)
            if not 0 <= layer < num_layers:
                raise ValueError(
                    f"--fusion_layer {layer} is out of range for a {num_layers}-layer backbone: use {allowed}"
                )
        else:
            raise ValueError(f"--fusion_layer {item!r} is not understood: use {allowed}")
        if layer in layers:
            raise ValueError(f"--fusion_layer lists {item} twice")
        layers.append(layer)
    return layers


def _load(auto_class, flag: str, name: str, model_args: ModelArguments):
    """`auto_class.from_pretrained(name)`; a name that is no local path ends in one line saying so, and what
    the Hub said where it could be a Hub repository (not huggingface_hub's repo-id rules, or a long log)."""
    if not Path(name).exists():
        try:
            validate_repo_id(name)
        except HFValidationError:
            raise OSError(f"{flag} {name}: no such folder") from None
    try:
        return auto_class.from_pretrained(
            name,
            revision=model_args.model_revision,
            cache_dir=model_args.cache_dir,
            token=model_args.token,
            trust_remote_code=model_args.trust_remote_code,
        )
    except OSError as error:
        if Path(name).exists():
            raise
        hub = (str(error).strip().splitlines() or [repr(error)])[0]
        raise OSError(f"{flag} {name}: no local folder of that name, and the Hub: {hub}") from error


def load_model_config(model_args: ModelArguments):
    """The model's config, or --config_name's in its place (for a plain backbone)."""
    name = model_args.model_name_or_path
    config = _load(AutoConfig, "--model_name_or_path", name, model_args)
    if model_args.config_name:
        if isinstance(config, DLFAConfig):
            raise ValueError(
                f"--config_name replaces a plain backbone's config, but {name} is a DLFA checkpoint (its "
                "config holds its trained fusion and head): leave --config_name out"
            )
        own, config = config, _load(AutoConfig, "--config_name", model_args.config_name, model_args)
        if config.model_type != own.model_type:
            raise ValueError(
                f"--config_name {model_args.config_name} is a {config.model_type} config, but {name} is a "
                f"{own.model_type} model: give a {own.model_type} config"
            )
    if not isinstance(config, DLFAConfig) and type(config) not in MODEL_MAPPING:
        # Checked here, before anything reads the config's fields (a remote config may lack them).
        remote = not type(config).__module__.startswith("transformers.")
        what = (
            "remote code (loaded with --trust_remote_code)"
            if remote
            else "not an encoder with an AutoModel class"
        )
        raise ValueError(
            f"{model_args.config_name or name}: its model_type {config.model_type!r} is {what}; DLFA wraps only "
            "encoders that transformers implements (with an AutoModel class: bert, xlm-roberta, deberta-v2, ...)"
        )
    return config


def load_tokenizer(model_args: ModelArguments):
    flag = "--tokenizer_name" if model_args.tokenizer_name else "--model_name_or_path"
    return _load(AutoTokenizer, flag, model_args.tokenizer_name or model_args.model_name_or_path, model_args)


def _check_checkpoint_labels(task: Task, config: DLFAConfig, name: str) -> None:
    labels = [config.id2label[index] for index in sorted(config.id2label)]
    if labels != list(task.labels):
        raise ValueError(
            f"{name} was trained with num_labels={len(labels)} ({', '.join(map(str, labels))}), "
            f"but task {task.name} has {task.num_labels} labels ({', '.join(task.labels)})"
        )


_MODELING_LOGGER = logging.getLogger("transformers.modeling_utils")
# What a model built from a plain backbone initialises itself: the fusion module, the classifier and, for
# backbones without one, the pooler.
_NEW_PARTS = ("dlfa.fusion.", "classifier.", "pooler.")


class _HeldLoadReports(logging.Filter):
    """Holds back the LOAD REPORT records of one load, so they can be shown or dropped afterwards."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def replay(self) -> None:
        for record in self.records:
            _MODELING_LOGGER.handle(record)

    def filter(self, record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in record.getMessage():
            self.records.append(record)
            return False
        return True


def _from_backbone_quietly(model_class, name_or_path: str, **kwargs):
    """`from_backbone`, with one line naming the new weights instead of transformers' LOAD REPORT table of
    them; the table still shows in full when the load reports anything else."""
    held = _HeldLoadReports()
    _MODELING_LOGGER.addFilter(held)
    try:
        model, info = model_class.from_backbone(name_or_path, output_loading_info=True, **kwargs)
    except Exception:
        # transformers raises after its report (mismatched sizes, conversion errors): show what it refers to.
        _MODELING_LOGGER.removeFilter(held)
        held.replay()
        raise
    _MODELING_LOGGER.removeFilter(held)
    missing = info["missing_keys"]
    new = [part.split(".")[-2] for part in _NEW_PARTS if any(key.startswith(part) for key in missing)]
    # A tagging head has no pooler: a backbone's pooler weights are left out, as expected.
    has_pooler = getattr(model, "pooler", None) is not None
    unused = [key for key in info["unexpected_keys"] if has_pooler or not key.startswith("pooler.")]
    if all(key.startswith(_NEW_PARTS) for key in missing) and not unused and not info["mismatched_keys"]:
        logger.warning(
            "%s from %s: new weights: %s", model_class.__name__, name_or_path, ", ".join(new) or "none"
        )
    else:
        held.replay()
    return model


def build_model(task: Task, model_args: ModelArguments, fusion_layer: int | None, model_config):
    hub_kwargs = {
        "revision": model_args.model_revision,
        "cache_dir": model_args.cache_dir,
        "use_safetensors": model_args.use_safetensors,
        "token": model_args.token,
    }
    model_class = task.head_class
    try:
        if isinstance(model_config, DLFAConfig):
            _check_checkpoint_labels(task, model_config, model_args.model_name_or_path)
            model = model_class.from_pretrained(model_args.model_name_or_path, **hub_kwargs)
        else:
            model = _from_backbone_quietly(
                model_class,
                model_args.model_name_or_path,
                # The run's config (--config_name's where given), copied: a sweep's settings share it.
                backbone_config=copy.deepcopy(model_config),
                fusion_layer=fusion_layer,
                fusion_gate=model_args.fusion_gate,
                fusion_init=model_args.fusion_init,
                aif_global_norm=model_args.aif_global_norm,
                aif_reduction=model_args.aif_reduction,
                classifier_dropout=model_args.classifier_dropout,
                id2label=task.id2label,
                **hub_kwargs,
            )
    except SafetensorError as error:
        weights = Path(model_args.model_name_or_path) / "model.safetensors"
        raise OSError(f"{weights}: the safetensors weights are corrupt or truncated ({error})") from error
    except OSError as error:
        if "use_safetensors=False" in str(error):
            raise OSError(
                f"{model_args.model_name_or_path} has no model.safetensors, only pickle weights, refused by "
                "default; if you trust them, opt in with --use_safetensors false"
            ) from error
        raise
    if model_args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model
