"""transformers' own model tests, `ModelTesterMixin` of the installed version, run on the DLFA classes.

The mixin is not in the wheel: it comes from `tests/test_modeling_common.py` of the transformers sdist at the
installed version, downloaded from PyPI once into `~/.cache/modeling_dlfa/transformers-tests/<version>`
(`$DLFA_TRANSFORMERS_TESTS_DIR` moves it). Without PyPI and without that cache the module skips, saying so. A
transformers upgrade runs the new version's tests: what they catch shows up here.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import unittest
import warnings
from pathlib import Path
from unittest import mock

import pytest
import transformers
from transformers import AutoConfig
from transformers.models.auto import modeling_auto

from modeling_dlfa import DLFAConfig, DLFAForSequenceClassification, DLFAForTokenClassification, DLFAModel

SUITE_DIR_ENV = "DLFA_TRANSFORMERS_TESTS_DIR"
# The sdist's `tests/` folder becomes this package: `tests` is this project's own.
SUITE_PACKAGE = "transformers_tests"
SUITE_FILES = ("test_modeling_common.py",)
# test_modeling_common.py imports these two, which the sdist does not ship. Generation is only checked for
# (DLFA cannot generate, so its tester does not inherit it); the export tests (ONNX, ExecuTorch, ...) are
# not run.
SUITE_STUBS = {
    "exporters/test_export.py": '"""Not in the sdist: the export tests are not run."""\n\n\nclass ExportTesterMixin:\n    pass\n',
    "generation/test_utils.py": '"""Not in the sdist: only checked for by ModelTesterMixin."""\n\n\nclass GenerationTesterMixin:\n    pass\n',
}


def suite_dir() -> Path:
    configured = os.environ.get(SUITE_DIR_ENV)
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "modeling_dlfa"
    return root / "transformers-tests" / transformers.__version__


def fetch_suite(directory: Path) -> None:
    """Extract the sdist's test files into `directory/SUITE_PACKAGE`, downloading the sdist with pip; the
    folder is renamed into place when complete, so a killed run leaves no half-extracted suite."""
    if all((directory / SUITE_PACKAGE / name).is_file() for name in SUITE_FILES):
        return
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        requirement = f"transformers=={transformers.__version__}"
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--retries", "1",
            "--timeout", "30", "--dest", scratch, requirement,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        sdists = sorted(Path(scratch).glob("transformers-*.tar.gz"))
        if result.returncode != 0 or not sdists:
            pip_said = " | ".join((result.stderr or result.stdout).strip().splitlines()[-2:])
            raise OSError(f"could not download the {requirement} sdist ({shlex.join(command)}): {pip_said}")
        package = Path(scratch) / SUITE_PACKAGE
        package.mkdir()
        with tarfile.open(sdists[0]) as sdist:
            for name in SUITE_FILES:
                member = f"transformers-{transformers.__version__}/tests/{name}"
                if member not in sdist.getnames():
                    # Not a skip: a transformers release that moved its tests needs this module updated.
                    raise LookupError(f"{sdists[0].name} has no {member}: update {__file__} to its layout")
                (package / name).write_bytes(sdist.extractfile(member).read())
        for name, text in {"__init__.py": "", **SUITE_STUBS}.items():
            path = package / name
            path.parent.mkdir(exist_ok=True)
            (path.parent / "__init__.py").touch()
            path.write_text(text)
        try:
            package.rename(directory / SUITE_PACKAGE)
        except OSError:
            # Another run put it there first.
            if not (directory / SUITE_PACKAGE).is_dir():
                raise


pytest.importorskip(
    "parameterized", reason="the transformers test suite needs parameterized: pip install -e '.[test]'"
)
try:
    fetch_suite(suite_dir())
except OSError as error:
    pytest.skip(f"transformers' test suite is not available: {error}", allow_module_level=True)
sys.path.insert(0, str(suite_dir()))
with warnings.catch_warnings():
    # transformers' own conftest registers its marks (accelerate_tests, flash_attn_test, ...); ours does not.
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    from transformers_tests.test_modeling_common import ModelTesterMixin, ids_tensor, random_attention_mask

MODEL_CLASSES = (DLFAModel, DLFAForSequenceClassification, DLFAForTokenClassification)


@pytest.fixture(autouse=True, scope="module")
def dlfa_in_the_auto_class_names():
    """The mixin picks inputs, labels and tests by class name from transformers' Auto class tables."""
    tables = {
        "MODEL_MAPPING_NAMES": DLFAModel,
        "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES": DLFAForSequenceClassification,
        "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES": DLFAForTokenClassification,
    }
    patches = [
        mock.patch.dict(getattr(modeling_auto, table), {DLFAConfig.model_type: model_class.__name__})
        for table, model_class in tables.items()
    ]
    for patch in patches:
        patch.start()
    yield
    for patch in reversed(patches):
        patch.stop()


class DLFAModelTester:
    """Tiny DLFA configs and inputs, sized as transformers' BertModelTester."""

    def __init__(self, parent, model_type: str, fusion_layer: int | None, **backbone_overrides):
        self.parent = parent
        self.model_type = model_type
        self.fusion_layer = fusion_layer
        self.backbone_overrides = backbone_overrides
        self.batch_size = 13
        self.seq_length = 7
        self.is_training = True
        self.vocab_size = 99
        self.hidden_size = 32
        self.num_hidden_layers = 2
        self.num_attention_heads = 4
        self.num_labels = 3

    def get_config(self) -> DLFAConfig:
        backbone_config = AutoConfig.for_model(
            self.model_type,
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=37,
            max_position_embeddings=512,
            **self.backbone_overrides,
        )
        return DLFAConfig(
            backbone_config=backbone_config, fusion_layer=self.fusion_layer, num_labels=self.num_labels
        )

    def prepare_config_and_inputs_for_common(self):
        config = self.get_config()
        shape = [self.batch_size, self.seq_length]
        inputs = {
            # Ids 3 and up: a pad id would move XLM-R's positions, which count the non-pad tokens.
            "input_ids": ids_tensor(shape, self.vocab_size - 3) + 3,
            "attention_mask": random_attention_mask(shape),
            "token_type_ids": ids_tensor(shape, config.backbone_config.type_vocab_size),
        }
        return config, inputs


class DLFAModelTestBase(ModelTesterMixin):
    all_model_classes = MODEL_CLASSES
    model_type = "bert"
    fusion_layer: int | None = 1
    backbone_overrides: dict = {}

    def setUp(self):
        self.model_tester = DLFAModelTester(
            self, self.model_type, self.fusion_layer, **self.backbone_overrides
        )


class DLFABertTest(DLFAModelTestBase, unittest.TestCase):
    model_type = "bert"


class DLFAXLMRobertaTest(DLFAModelTestBase, unittest.TestCase):
    model_type = "xlm-roberta"
    backbone_overrides = {"type_vocab_size": 1, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
