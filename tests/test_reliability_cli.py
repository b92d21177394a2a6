"""The CLI's side of reliability: SIGTERM like Ctrl-C, run directories that never collide, help that points to
the config, non-ASCII paths. Each case checks the exit code, one `error:`/status line and the run record."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from insp_cli.cli import quote_non_ascii

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.split=test", "fit.steps=5", "fit.shard_size=4", "samples=0"]


def _insp(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "insp_cli.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ}, **kw)


def _records(workdir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((workdir / "runs").rglob("metrics.json"))]


def test_sigterm_ends_like_ctrl_c_with_a_record_and_a_resumable_store(workdir):
    p = _insp("fit", "data.split=test", "fit.steps=100", "fit.shard_size=8", "data.limit=4000", "samples=0",
              f"store={workdir}/st")
    deadline = time.time() + 240
    while not list((workdir / "st").glob("shard-*.safetensors")) and time.time() < deadline:
        time.sleep(0.5)  # a finished shard: the job is well inside its loop
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1].startswith("terminated: finished work is kept") and "Traceback" not in err
    (record,) = _records(workdir)
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"]
    assert not list((workdir / "st").glob(".*tmp*")), "a temporary file was left behind"


def test_commands_started_in_the_same_second_keep_separate_run_records(workdir):
    """The README's array-job example: two parts started together each keep their own metrics.json."""
    procs = [_insp("fit", *TINY, "data.limit=8", f"data.shard={k}", "data.num_shards=2", f"store={workdir}/st")
             for k in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    records = _records(workdir)
    assert len(records) == 2 and all(r["status"] == "complete" for r in records)
    assert sorted(r["count"] for r in records) == [4, 4]
    assert len({p.parent for p in (workdir / "runs").rglob("metrics.json")}) == 2


def test_help_points_to_the_config_keys():
    r = subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", "--help"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0 and "insp fit -h" in r.stdout and "--cfg job" in r.stdout
    h = subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", "-h"], capture_output=True, text=True, cwd=ROOT)
    assert h.returncode == 0 and "== Config ==" in h.stdout and "hidden:" in h.stdout  # Hydra lists the keys


def test_non_ascii_values_are_quoted_for_hydra(workdir):
    assert quote_non_ascii("store=/d/é") == "store='/d/é'"
    assert quote_non_ascii("store=/d/e") == "store=/d/e"
    assert quote_non_ascii("store='/d/é'") == "store='/d/é'"
    assert quote_non_ascii("data.limit=1,é") == "data.limit=1,é"
    assert quote_non_ascii("x=l'é") == 'x="l\'é"'
    p = _insp("fit", *TINY, "data.limit=2", f"store={workdir}/stö")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert (workdir / "stö" / "store.json").exists()


def test_cfg_with_multirun_is_one_line_in_either_order():
    for args in (["-m", "data.limit=8,16", "--cfg", "job"], ["--cfg", "job", "-m", "data.limit=8,16"]):
        r = subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", *args], capture_output=True, text=True,
                           cwd=ROOT)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1 and "do not combine" in lines[0], r.stderr


def test_runs_folder_on_a_full_disk_or_missing_is_one_line(tmp_path, monkeypatch):
    """ENOSPC is real here: the write check's temporary name is a symlink to /dev/full (in-process: known PID)."""
    from typer.testing import CliRunner

    from insp_cli.cli import app

    root = tmp_path / "runs"
    root.mkdir()
    (root / f"..insp-write-check.tmp-{os.getpid()}").symlink_to("/dev/full")
    monkeypatch.setenv("INSP_RUNS", str(root))
    r = CliRunner().invoke(app, ["fit", *TINY, "data.limit=2", f"store={tmp_path}/st"])
    assert r.exit_code == 2 and r.stderr.strip() == f"error: cannot create run directories in {root} (set INSP_RUNS):"\
        f" no space left on device: {root / '.insp-write-check'}", r.stderr
    assert not (tmp_path / "st").exists() and [p.name for p in root.iterdir()] == []
    monkeypatch.setenv("INSP_RUNS", "/proc/no-such-folder")
    r = CliRunner().invoke(app, ["fit", *TINY, "data.limit=2", f"store={tmp_path}/st"])
    assert r.exit_code == 2 and r.stderr.startswith("error: cannot create run directories in /proc/no-such-folder")
