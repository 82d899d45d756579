"""What every benchmark report records about the machine and the code it measured."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The CPU, its cores, the memory and the operating system."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_total_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO_ROOT)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_commit(short: bool = True) -> str:
    """The checked-out commit ("unknown" outside a git checkout)."""
    return _git("rev-parse", *(["--short"] if short else []), "HEAD") or "unknown"


def uncommitted_changes(path: str) -> bool | None:
    """Whether the working tree differs from the commit under `path` (None: git could not tell)."""
    status = _git("status", "--porcelain", "--", path)
    return None if status is None else bool(status)


def versions() -> dict[str, str]:
    import datasets
    import torch
    import transformers

    import modeling_dlfa

    return {
        "modeling_dlfa": modeling_dlfa.__version__,
        "git": git_commit(short=True),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
    }


def load_average() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"
