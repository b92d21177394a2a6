"""A recorded experiment is complete in a clean clone: every recorded table rebuilds there, byte for byte.

This catches a .gitignore that hides a recording's run directories (it once hid experiments/**/runs/), and a
recorded file that was rebuilt but not committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout")
def test_every_recorded_table_rebuilds_identically_in_a_clean_clone(tmp_path):
    clone = tmp_path / "clone"
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(clone), cwd=tmp_path)
    recorded = sorted(p.parent for pattern in ("*/table.json", "*/variants/*/table.json")
                      for p in (clone / "experiments").glob(pattern))
    assert recorded, "no recorded tables in experiments/"
    env = {**os.environ, "INSP_WANDB_MODE": "disabled", "INSP_RUNS": str(tmp_path / "runs"),
           "PYTHONPATH": str(clone)}
    done = subprocess.run([sys.executable, "-m", "insp_cli.cli", "table"], cwd=clone, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{len(recorded)} recorded tables rebuilt" in done.stdout
    # the rebuild rewrote every recorded file; none may differ from what was committed
    changed = _git("status", "--porcelain", "--untracked-files=all", "--", "experiments", cwd=clone)
    assert changed == "", f"rebuilding in a clean clone changed recorded files:\n{changed}"
    for folder in recorded:  # each recorded table names runs that the clone really has
        runs = [p for p in folder.rglob("metrics.json")]
        assert runs, f"{folder.name}: no run directories committed"
