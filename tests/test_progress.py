"""Progress lines for logs (insp_cli/progress.py): the time throttle on a fake clock, the lines of fits and
training loops, and `insp fit` through a pipe writing them to stderr and to the run's fit.log."""

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from insp_cli import progress
from insp_cli.config import check_overrides
from insp_cli.errors import InspError
from insp_cli.progress import FitProgress, ProgressLog, duration, rate_text, step_progress

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def at(self, seconds):  # seconds after the loop began
        self.t = 1000.0 + seconds


def test_lines_come_exactly_when_due_with_rate_and_eta():
    clock, lines = Clock(), []
    p = ProgressLog("train-filter", 100, "steps", every=30, clock=clock, write=lines.append)
    for t, done in [(1, 2), (10, 20), (29.99, 59)]:
        clock.at(t)
        assert p.update(done) is None
    clock.at(30)  # due: 60 of 100 steps in 30 s
    assert p.update(60, "step 60/100", "psnr 20.00 dB") == \
        "progress: train-filter step 60/100 (2.0 steps/s, eta 20s) | psnr 20.00 dB"
    clock.at(59.9)
    assert p.update(85) is None  # the next line is due 30 s after the previous one
    clock.at(60)
    assert p.update(90) == "progress: train-filter 90/100 (1.5 steps/s, eta 7s)"  # 10 steps at 1.5/s = 6.7 s
    assert lines == ["progress: train-filter step 60/100 (2.0 steps/s, eta 20s) | psnr 20.00 dB",
                     "progress: train-filter 90/100 (1.5 steps/s, eta 7s)"]


def test_slow_steps_report_at_their_first_update_after_the_interval():
    clock, lines = Clock(), []
    p = ProgressLog("eval", 10, "INR", every=30, clock=clock, write=lines.append)
    clock.at(100)  # one update after 100 s: time-based, so it is written
    assert p.update(2) == "progress: eval 2/10 (50.0 s/INR, eta 6m40s)"
    clock.at(129)
    assert p.update(3) is None
    clock.at(130)
    assert p.update(3) is not None and len(lines) == 2


def test_the_watchdog_reports_a_step_slower_than_the_interval():
    clock, lines = Clock(), []
    p = ProgressLog("classify", 10, "steps", every=30, clock=clock, write=lines.append)
    clock.at(5)
    p.update(1, "step 1/10")
    clock.at(29.9)
    assert p.watchdog() is None  # not due yet
    clock.at(30)
    assert p.watchdog() == "progress: classify step 1/10 (30.0 s/step, eta 4m30s) | no update for 25s"
    clock.at(59.5)
    p.update(2, "step 2/10")
    clock.at(60)  # due, but the loop updated 0.5 s ago: its own next update writes the line, not the watchdog
    assert p.watchdog() is None
    clock.at(60.2)
    assert p.update(3, "step 3/10") == "progress: classify step 3/10 (20.1 s/step, eta 2m20s)"
    clock.at(95)  # 34.8 s without an update: the watchdog writes once, then waits for the next due time
    assert p.watchdog() == "progress: classify step 3/10 (31.7 s/step, eta 3m42s) | no update for 35s"
    clock.at(110)
    assert p.watchdog() is None and len(lines) == 3


def test_the_watchdog_thread_runs_inside_the_context():
    lines = []
    with ProgressLog("eval", 2, "INR", every=0.05, write=lines.append, where="denoise: 0/2 INRs decoded"):
        time.sleep(1.5)  # one slow first step: no update for 1.5 s, every 0.05 s, silence threshold 0.025 s
    assert lines and all(ln.startswith("progress: eval denoise: 0/2 INRs decoded (0.0 INR/s, eta ?) | no update for ")
                         for ln in lines)
    n = len(lines)
    time.sleep(0.3)
    assert len(lines) == n  # the thread ends with the context


def test_resumed_loops_count_this_runs_work_only_and_none_or_zero_interval():
    clock = Clock()
    p = ProgressLog("classify", 100, "steps", done=40, every=30, clock=clock, write=lambda s: None)
    clock.at(30)
    assert p.update(70) == "progress: classify 70/100 (1.0 steps/s, eta 30s)"
    off = ProgressLog("fit", 10, every=None, clock=clock, write=lambda s: None)
    clock.at(1e6)
    assert off.update(5) is None and not off.due()
    each, lines = ProgressLog("fit", 4, every=0, clock=clock, write=lambda s: None), []
    assert [each.update(i) is not None for i in range(1, 5)] == [True] * 4
    zero = ProgressLog("fit", 4, every=0, clock=clock, write=lambda s: None)
    assert zero.update(0).endswith("(0.0 steps/s, eta ?)")  # no work done yet: no rate, no ETA


def test_duration_and_rate_text():
    assert [duration(s) for s in (0, 12.4, 60, 252, 3599, 3600, 7500)] == \
        ["0s", "12s", "1m00s", "4m12s", "59m59s", "1h00m", "2h05m"]
    assert rate_text(48.04, "steps") == "48.0 steps/s" and rate_text(0.25, "steps") == "4.0 s/step"
    assert rate_text(0.5, "INR") == "2.0 s/INR" and rate_text(0.1, "shapes") == "10.0 s/shape"


def test_fit_progress_lines_name_shard_step_and_refits():
    clock, lines = Clock(), []
    bar = FitProgress(total=8, steps=100, shards=2, enabled=False)
    bar.log = ProgressLog("fit", 8, "INR", every=30, clock=clock, write=lines.append)
    mse = torch.full((4,), 1e-3)  # 30 dB
    with bar:
        bar.next_shard()
        for step in range(100):
            clock.at((step + 1) * 0.5)  # 2 steps/s
            bar.on_step(step, 4, mse)
        # step 60 at 30 s: 4 INRs x 60/100 = 2.4 of 8 INRs in 30 s
        assert lines == ["progress: fit shard 1/2 step 60/100 (12.5 s/INR, eta 1m10s) | 2.0 steps/s, 0/8 INRs done, "
                         "psnr 30.00 dB"]
        clock.at(61)
        bar.on_step(0, 1, mse[:1])  # the step count starts again: a refit of one diverged INR
        assert lines[-1].startswith("progress: fit shard 1/2 refit step 1/100 (")
        bar.batch_done(4, torch.full((4,), 30.0))
        bar.next_shard()
        clock.at(95)
        bar.on_step(0, 4, mse)
        assert lines[-1].startswith("progress: fit shard 2/2 step 1/100 (") and "4/8 INRs done" in lines[-1]


def test_training_loop_lines_go_to_stderr_and_the_log(capsys, caplog):
    caplog.set_level(logging.INFO)
    progress.configure({"every_s": 0})
    try:
        with step_progress("train-filter", total=4, completed=1) as bar:
            bar.update(2, "psnr 21.50 dB")
            bar.update(3)
    finally:
        progress.configure(None)
    err = capsys.readouterr().err.splitlines()
    assert [ln.split(" (")[0] for ln in err] == ["progress: train-filter step 2/4", "progress: train-filter step 3/4"]
    assert err[1].endswith("| psnr 21.50 dB")  # the latest info follows every line
    logged = [r.getMessage() for r in caplog.records if r.name == "insp.progress"]
    assert logged == err


def test_on_a_terminal_the_lines_go_to_the_log_only(monkeypatch, caplog):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    caplog.set_level(logging.INFO)
    progress.write_line("progress: fit 1/2 (1.0 INR/s, eta 1s)")
    assert tty.getvalue() == ""  # the rich bar is there instead
    assert [r.getMessage() for r in caplog.records] == ["progress: fit 1/2 (1.0 INR/s, eta 1s)"]


@pytest.mark.parametrize("value", ["-1", "abc", "nan"])
def test_bad_interval_is_one_line(value):
    with pytest.raises(InspError, match="progress.every_s"):
        check_overrides("fit", [f"progress.every_s={value}"])
    with pytest.raises(InspError, match="progress.every_s"):  # a job called from Python checks it too
        progress.configure({"every_s": value})
    assert progress.every_s() == progress.every_from_env()  # and falls back to the environment's


def test_the_interval_comes_from_the_config_else_the_environment(monkeypatch):
    monkeypatch.setenv("INSP_PROGRESS_EVERY", "12.5")
    progress.configure(None)
    assert progress.every_s() == 12.5
    progress.configure({"every_s": 0})
    assert progress.every_s() == 0
    progress.configure({"every_s": None})
    assert progress.every_s() is None
    progress.configure(None)
    monkeypatch.setenv("INSP_PROGRESS_EVERY", "off")
    assert progress.every_s() is None
    monkeypatch.delenv("INSP_PROGRESS_EVERY")
    assert progress.every_s() == 30


def _fit(workdir, *args, every=None):
    env = {k: v for k, v in os.environ.items() if k != "INSP_PROGRESS_EVERY"}
    if every is not None:
        env["INSP_PROGRESS_EVERY"] = every
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", "data.split=test", "data.limit=8",
                           "fit.steps=20", "fit.shard_size=4", "samples=0", f"store={workdir}/st", *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=600)


def _run_dir(stdout: str) -> Path:
    return Path(stdout.split("run dir")[1].split()[0])


def test_fit_through_a_pipe_writes_progress_to_stderr_and_fit_log(workdir):
    r = _fit(workdir, "progress.every_s=0")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("progress: fit shard ") for ln in lines), r.stderr
    # every step of both shards (2 shards x 20 steps) and the end of each batch
    assert sum(" step " in ln for ln in lines) == 40 and "shard 2/2 step 20/20" in r.stderr
    log = (_run_dir(r.stdout) / "fit.log").read_text()
    assert [ln for ln in log.splitlines() if "[insp.progress]" in ln and ln.endswith(lines[-1])]
    assert sum("progress: fit shard" in ln for ln in log.splitlines()) == len(lines)
    # the environment sets the interval too; null turns the lines off (stderr stays empty)
    r = _fit(workdir, "data.limit=12", every="null")
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    assert "progress:" not in (_run_dir(r.stdout) / "fit.log").read_text()


def test_fit_through_a_pipe_with_the_default_interval(workdir):
    r = _fit(workdir)  # 30 s: a tiny fit ends before the first line is due, and nothing else changes
    assert r.returncode == 0, r.stderr
    assert "PSNR mean" in r.stdout and "Traceback" not in r.stderr
    assert all(ln.startswith("progress: fit ") for ln in r.stderr.splitlines() if ln.strip())
