"""Progress of every long loop (fits, Pi training, classification, evaluation), in two forms:

- a rich bar (done / total, a line of running quality, time left), on a terminal only (stderr);
- progress lines for logs: ``progress: fit shard 3/8 step 1200/2500 (0.8 INR/s, eta 4m12s) | ...``, at most one
  every ``progress.every_s`` seconds (conf/common.yaml; env ``INSP_PROGRESS_EVERY``; default 30; 0 = at every
  update; null = none), into the run's ``<command>.log`` always and onto stderr when stderr is not a terminal
  (a SLURM log, a pipe, nohup), where no bar is shown. Time-based, not step-based: a line is due ``every_s``
  seconds after the loop began and after each line; the loop writes it at its next update, or a watchdog thread
  does (with the last state) when that update is late, so a step slower than ``every_s`` still reports on time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from typing import Callable, Iterator, Mapping

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

DEFAULT_EVERY_S = 30.0
_every_s: float | None = None  # set per job by ``configure`` (tracking.Run); None until then: the env / default
_configured = False
_UNSET = object()


def every_from_env() -> float | None:
    """INSP_PROGRESS_EVERY (seconds; 'null', 'none' or 'off' = no lines), else the default 30 s."""
    raw = os.environ.get("INSP_PROGRESS_EVERY", "").strip()
    if not raw:
        return DEFAULT_EVERY_S
    if raw.lower() in ("null", "none", "off"):
        return None
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_EVERY_S  # the config check (schema.py) names a bad value when a job composes it
    return value if math.isfinite(value) and value >= 0 else DEFAULT_EVERY_S


def configure(settings: Mapping | None) -> None:
    """The job's ``progress`` config node ({every_s: seconds or None}); called when its run directory opens
    (``tracking.Run``). A config without one falls back to INSP_PROGRESS_EVERY / the default."""
    from .schema import COMMON, check_value

    global _every_s, _configured
    _configured = False
    if settings is not None and "every_s" in settings:
        value = settings["every_s"]
        check_value("progress.every_s", value, COMMON["progress.every_s"])  # the CLI checked it; the API too
        _every_s, _configured = (None if value is None else float(value)), True


def every_s() -> float | None:
    """Seconds between progress lines for the job being run (None: no lines)."""
    return _every_s if _configured else every_from_env()


def duration(seconds: float) -> str:
    """'12s', '4m12s', '2h05m'."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def rate_text(per_second: float, unit: str) -> str:
    """'48.0 steps/s', or for slow loops the seconds per item: '3.2 s/INR'."""
    if per_second >= 1 or per_second <= 0:
        return f"{per_second:.1f} {unit}/s"
    return f"{1 / per_second:.1f} s/{unit[:-1] if unit.endswith('s') else unit}"


def _console(handler: logging.Handler) -> bool:
    """A handler that prints to the terminal (Hydra's console handler: stdout) rather than into a file."""
    return (isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
            and getattr(handler, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))


def write_line(line: str) -> None:
    """One progress line into the run's log (every handler of the root logger that is not a console: Hydra's
    ``<command>.log``) and onto stderr when stderr is not a terminal (a terminal shows the bar instead)."""
    record = logging.getLogger("insp.progress").makeRecord("insp.progress", logging.INFO, __file__, 0, line,
                                                           None, None)
    for handler in logging.getLogger().handlers:
        if not _console(handler) and record.levelno >= handler.level:
            handler.handle(record)
    try:
        if not sys.stderr.isatty():
            print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):  # a closed pipe (`| head`) or stream: the log still has it
        pass


class ProgressLog:
    """Progress lines of one loop: ``update(done)`` writes ``progress: <label> <where> (<rate>, eta <time>)`` when
    ``every`` seconds have passed since the previous line (or since the loop began), else nothing.

    total: the loop's amount of work in ``unit``; done: how much of it was done before the loop began (a resumed
    training), so the rate counts this run's work only; where: what the watchdog says before the first update.
    The rate is the mean since the loop began; the ETA is the work left at that rate. ``every`` defaults to the
    job's ``progress.every_s``; ``clock`` and ``write`` are for tests.

    Used as a context manager (``with ProgressLog(...) as p:``) it also runs a watchdog thread, so that a step
    slower than ``every`` still reports on time: when a line is due and the loop has not updated for a second
    (or every / 2 if shorter), the thread writes the last state, '... | no update for 45s'.
    """

    def __init__(self, label: str, total: float, unit: str = "steps", done: float = 0, every=_UNSET,
                 clock: Callable[[], float] = time.monotonic, write: Callable[[str], None] = write_line,
                 where: str | None = None):
        self.label, self.total, self.unit, self.done0 = label, total, unit, done
        self.every = every_s() if every is _UNSET else every
        self.clock, self.write = clock, write
        self.t0 = self.last_t = clock()
        self.last: tuple[float, str | None] = (done, where)  # the latest update's (done, where): the watchdog's
        self.next_due = None if self.every is None else self.t0 + self.every
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "ProgressLog":
        if self.every:  # none (None) or every update (0): nothing to watch
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._watch, args=(self._stop,), name=f"progress-{self.label}",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)  # a line being written is finished, none follows the loop's end
            self._thread = None

    def _watch(self, stop: threading.Event) -> None:
        while not stop.wait(min(1.0, self.every / 4)):
            self.watchdog()

    def _take_due(self, now: float) -> bool:
        with self._lock:  # the loop and the watchdog never write the same line twice
            if self.next_due is None or now < self.next_due:
                return False
            self.next_due = now + self.every
            return True

    def due(self) -> bool:
        """Whether the next ``update`` writes a line (to skip computing its details when it does not)."""
        return self.next_due is not None and self.clock() >= self.next_due

    def update(self, done: float, where: str | None = None, note: str | None = None) -> str | None:
        """``done`` of ``total`` finished; ``where`` replaces the default 'done/total', ``note`` follows ' | '.
        Returns the line written, or None when none was due."""
        now = self.clock()
        self.last, self.last_t = (done, where), now
        if not self._take_due(now):
            return None
        return self._write(done, where, note, now)

    def watchdog(self) -> str | None:
        """The thread's check (tests call it on a fake clock): the last state, when a line is due and the loop
        has been silent for ``min(1 s, every / 2)``."""
        now = self.clock()
        if self.every is None or now - self.last_t < min(1.0, self.every / 2) or not self._take_due(now):
            return None
        done, where, silent = *self.last, now - self.last_t
        return self._write(done, where, f"no update for {f'{silent:.1f}s' if silent < 10 else duration(silent)}", now)

    def _write(self, done: float, where: str | None, note: str | None, now: float) -> str:
        line = f"progress: {self.label} {where or f'{done:g}/{self.total:g}'} ({self.rate_eta(done, now)})"
        line += f" | {note}" if note else ""
        self.write(line)
        return line

    def rate_eta(self, done: float, now: float) -> str:
        elapsed = now - self.t0
        rate = (done - self.done0) / elapsed if elapsed > 0 else 0.0
        eta = duration((self.total - done) / rate) if rate > 0 else "?"
        return f"{rate_text(rate, self.unit)}, eta {eta}"


def progress_bar(label: str, enabled: bool | None = None) -> Progress:
    """label | bar | done/total | info | time left."""
    enabled = sys.stderr.isatty() if enabled is None else enabled
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                    TimeRemainingColumn(), transient=False, disable=not enabled)


class StepBar:
    """``update(done, info)``: the bar and the progress lines of a training loop (``training.train_steps``)."""

    def __init__(self, progress: Progress, task, log: ProgressLog):
        self.progress, self.task, self.log, self.info = progress, task, log, None

    def update(self, done: int, info: str | None = None) -> None:
        if info is None:
            self.progress.update(self.task, completed=done)
        else:
            self.progress.update(self.task, completed=done, info=info)
            self.info = info  # the latest (train-filter: the PSNR; classify: the last epoch) follows each line
        self.log.update(done, f"step {done}/{self.log.total:g}", self.info)


@contextlib.contextmanager
def step_progress(label: str, total: int, completed: int = 0) -> Iterator[StepBar]:
    with (progress_bar(label) as progress,
          ProgressLog(label, total, "steps", done=completed, where=f"step {completed}/{total}") as log):
        yield StepBar(progress, progress.add_task(label, total=total, completed=completed, info=""), log)


class FitProgress:
    """INRs fitted / total, INR/s and the running mean PSNR of the batch being fitted (bar), and progress lines
    ``progress: fit shard 3/8 step 1200/2500 (0.8 INR/s, eta 4m12s) | 48.0 steps/s, 16/64 INRs done, psnr ..``.

    The job calls ``next_shard()`` before each shard; the fitter calls ``on_step`` after every step (a step count
    that restarts within a batch is a refit of its diverged INRs) and the job ``batch_done`` after each batch.
    The lines' work is INRs: a batch of n at step s of S counts n * s / S, so the ETA holds across shards.
    """

    def __init__(self, total: int, steps: int, shards: int = 1, enabled: bool | None = None):
        self.total, self.steps, self.shards, self.done, self.t0 = total, steps, shards, 0, time.time()
        self.progress = progress_bar("fit", enabled)
        self.task = None
        self.log = ProgressLog("fit", total, "INR", where=f"shard 1/{shards} step 0/{steps}")
        self.shard, self.step_calls, self.batch_n, self.last_step, self.refit = 0, 0, 0, -1, False

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("fit", total=self.total, info="")
        self.log.__enter__()
        return self

    def __exit__(self, *exc):
        self.log.__exit__(*exc)
        self.progress.__exit__(*exc)

    def next_shard(self) -> None:
        self.shard += 1

    def on_step(self, step: int, active: int, mse: torch.Tensor) -> None:
        self.step_calls += 1
        if self.last_step < 0:  # a batch's first step: every INR of it is active
            self.batch_n = active
        elif step < self.last_step:
            self.refit = True
        self.last_step = step
        if step % 10 == 0 or step == self.steps - 1:
            psnr = float((-10 * torch.log10(mse.clamp_min(1e-20))).mean())
            rate = self.done / max(time.time() - self.t0, 1e-9)
            self.progress.update(self.task, info=f"step {step + 1}/{self.steps} psnr {psnr:5.2f} dB "
                                                 f"active {active} | {rate:.1f} INR/s")
        share = 1.0 if self.refit else (step + 1) / self.steps
        note = None
        if self.log.due():  # the PSNR only for a line (float() waits for a GPU)
            psnr = float((-10 * torch.log10(mse.clamp_min(1e-20))).mean())
            elapsed = max(self.log.clock() - self.log.t0, 1e-9)
            note = f"{self.step_calls / elapsed:.1f} steps/s, {self.done}/{self.total} INRs done, psnr {psnr:.2f} dB"
        self.log.update(self.done + self.batch_n * share, f"shard {max(self.shard, 1)}/{self.shards} "
                        + ("refit " if self.refit else "") + f"step {step + 1}/{self.steps}", note)

    def batch_done(self, n: int, psnr: torch.Tensor) -> None:
        self.done += n
        self.last_step, self.refit = -1, False
        finite = psnr[torch.isfinite(psnr)]
        mean = float(finite.mean()) if len(finite) else math.nan
        self.progress.update(self.task, advance=n,
                             info=f"last batch {mean:.2f} dB | {self.done / max(time.time() - self.t0, 1e-9):.1f} INR/s")
        self.log.update(self.done, f"shard {max(self.shard, 1)}/{self.shards}, {self.done}/{self.total} INRs done",
                        f"last batch {mean:.2f} dB")
