"""The base model a DLFA card names: its Hub id (the card's `base_model`) and its license, which the card
carries over (a DLFA model is the backbone's weights, fine-tuned).

The license comes from the backbone's own card where that is on this machine (a local folder or the Hub
cache): nothing is downloaded to write a card.
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import ModelCard, try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

CARD_FILE = "README.md"
# What the offline backbone builder (offline_backbone/) records beside the weights: the model and its license.
BUILD_INFO_FILE = "BUILD_INFO.json"


def is_hub_id(name: str) -> bool:
    """Whether `name` reads as a Hub model id rather than a path on this machine."""
    if Path(name).expanduser().exists():
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def base_model(name_or_path: str) -> str | None:
    """The Hub id of the backbone: the name itself, or for a local folder the model it was built or saved from
    (the offline build's BUILD_INFO.json, else config.json's `_name_or_path`)."""
    if is_hub_id(name_or_path):
        return name_or_path
    folder = Path(name_or_path).expanduser()
    for file, key in ((BUILD_INFO_FILE, "model"), ("config.json", "_name_or_path")):
        try:
            value = json.loads((folder / file).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, str) and is_hub_id(value):
            return value
    return None


def _built_license(name_or_path: str) -> str | None:
    """The license the offline build recorded for the model weights ("MIT (model), ..." -> "mit")."""
    try:
        info = json.loads((Path(name_or_path).expanduser() / BUILD_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    first = str(info.get("licence", "")).split(" (")[0].split(",")[0].strip().lower()
    return first or None


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


def card_license(name_or_path: str, fallback: str | None) -> dict[str, str]:
    """The card's license fields: the backbone card's, else `fallback` (given, or an earlier card's), else the
    one the offline build recorded, else "other" (which the card explains)."""
    fields = backbone_license(name_or_path)
    if fields:
        return fields
    return {"license": fallback or _built_license(name_or_path) or "other"}


def earlier_license(card_path: Path, name_or_path: str) -> str | None:
    """The license an earlier card at `card_path` gave the same base model, so rewriting a card keeps it."""
    if not card_path.is_file():
        return None
    data = ModelCard.load(card_path, ignore_metadata_errors=True).data
    same_base = data.get("base_model") == (name_or_path if is_hub_id(name_or_path) else None)
    license_id = data.get("license")
    return license_id if same_base and license_id not in (None, "other") else None
