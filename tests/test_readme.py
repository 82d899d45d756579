"""The README's promises: two set-up commands first, and a Python snippet that runs as written."""

import os
import re
import subprocess
import sys

from .conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_demo_and_the_test_command():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["bash demo/run.sh", "bash scripts/test.sh"]
    assert (REPO_ROOT / "demo" / "run.sh").is_file() and (REPO_ROOT / "scripts" / "test.sh").is_file()
    assert "bash scripts/test.sh" in (REPO_ROOT / ".ci" / "run").read_text()


def test_python_api_snippet_runs_as_written(tmp_path):
    section = README.split("## Python API", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "torch.Size([2, 3])" in result.stdout
    assert (tmp_path / "dlfa-example" / "modeling_dlfa.py").is_file()
