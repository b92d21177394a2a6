"""The progress bar (rich) of every long loop: done / total, a line of running quality, time left. Shown on a
terminal only (stderr), so logs and tests stay clean."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import Iterator

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def progress_bar(label: str, enabled: bool | None = None) -> Progress:
    """label | bar | done/total | info | time left."""
    enabled = sys.stderr.isatty() if enabled is None else enabled
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                    TimeRemainingColumn(), transient=False, disable=not enabled)


class StepBar:
    """``update(done, info)``: the bar of a training loop (``training.train_steps``)."""

    def __init__(self, progress: Progress, task):
        self.progress, self.task = progress, task

    def update(self, done: int, info: str | None = None) -> None:
        if info is None:
            self.progress.update(self.task, completed=done)
        else:
            self.progress.update(self.task, completed=done, info=info)


@contextlib.contextmanager
def step_progress(label: str, total: int, completed: int = 0) -> Iterator[StepBar]:
    with progress_bar(label) as progress:
        yield StepBar(progress, progress.add_task(label, total=total, completed=completed, info=""))


class FitProgress:
    """INRs fitted / total, INR/s and the running mean PSNR of the batch being fitted."""

    def __init__(self, total: int, steps: int, enabled: bool | None = None):
        self.total, self.steps, self.done, self.t0 = total, steps, 0, time.time()
        self.progress = progress_bar("fit", enabled)
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("fit", total=self.total, info="")
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def on_step(self, step: int, active: int, mse: torch.Tensor) -> None:
        if step % 10 == 0 or step == self.steps - 1:
            psnr = float((-10 * torch.log10(mse.clamp_min(1e-20))).mean())
            rate = self.done / max(time.time() - self.t0, 1e-9)
            self.progress.update(self.task, info=f"step {step + 1}/{self.steps} psnr {psnr:5.2f} dB "
                                                 f"active {active} | {rate:.1f} INR/s")

    def batch_done(self, n: int, psnr: torch.Tensor) -> None:
        self.done += n
        finite = psnr[torch.isfinite(psnr)]
        mean = float(finite.mean()) if len(finite) else math.nan
        self.progress.update(self.task, advance=n,
                             info=f"last batch {mean:.2f} dB | {self.done / max(time.time() - self.t0, 1e-9):.1f} INR/s")
