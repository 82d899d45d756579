"""Where the built folder and the downloaded wheels live, and whether a folder holds a complete build."""

from __future__ import annotations

import os
from pathlib import Path

BACKBONE_DIR_ENV = "DLFA_BACKBONE_DIR"
WHEEL_DIR_ENV = "DLFA_WHEEL_DIR"
BUILD_INFO = "BUILD_INFO.json"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def default_backbone_dir() -> Path:
    """`$DLFA_BACKBONE_DIR`, else `~/.cache/modeling_dlfa/multilingual-e5-small`."""
    configured = os.environ.get(BACKBONE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "modeling_dlfa" / "multilingual-e5-small"


def default_wheel_dir() -> Path:
    """`$DLFA_WHEEL_DIR`, else `~/.cache/modeling_dlfa/wheels`: downloaded wheels are kept for reuse."""
    configured = os.environ.get(WHEEL_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "modeling_dlfa" / "wheels"


def backbone_is_built(dir: str | os.PathLike) -> bool:
    """True when `dir` holds a completed build (BUILD_INFO.json is written last, before the rename)."""
    folder = Path(dir).expanduser()
    return all((folder / name).is_file() for name in (*MODEL_FILES, BUILD_INFO))
