"""The training loop every `insp train-filter` path shares (images, audio: train_filter.py; SDFs: shapes.py):
AdamW steps on a loss, train.lr decayed by a cosine, loss and PSNR logged every train.log_every steps, and the
filter saved every train.save_every steps so an interrupted run resumes where it stopped."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..filters.checkpoint import save_filter
from ..tracking import Run
from ..training import cosine_factor, train_steps


def lr_at(t: dict, step: int) -> float:
    """train.lr decayed to train.lr_final by a cosine over the run's steps (constant without lr_final)."""
    lr, final = float(t["lr"]), t.get("lr_final")
    if final is None or t["steps"] <= 1:
        return lr
    return float(final) + (lr - float(final)) * cosine_factor(step, t["steps"] - 1)


def kept_note(path: Path, step: int, steps: int, save_every: int) -> str:
    """What an interrupt leaves of a filter being trained (``Run.kept``): its checkpoint of ``step``, or
    nothing before the first save."""
    if step <= 0:
        first = min(save_every, steps)
        return (f"nothing of this training is kept yet (its first checkpoint is saved at step {first}); rerun the "
                "same command to start again")
    return f"the filter checkpoint of step {step}/{steps} is kept ({path}); rerun the same command to resume from it"


def run_pi_steps(run: Run, t: dict, fusion: torch.nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator,
                 meta: dict, path: Path, start: int, loss_at: Callable[[int], torch.Tensor], running: list[float],
                 peak_squared: float = 1.0) -> None:
    """Steps start..train.steps of ``loss_at`` (which appends each step's loss to ``running``); the logged PSNR
    is 10 log10(peak_squared / mean loss) (1 for pixels in [0, 1], 4 for SDFs in [-1, 1])."""
    steps, every, save_every = int(t["steps"]), int(t["log_every"]), int(t["save_every"])
    run.kept = kept_note(path, start, steps, save_every)

    def after_step(done: int) -> str | None:
        info = None
        if done % every == 0 or done == steps:
            mean_loss = float(np.mean(running))
            running.clear()
            psnr = -10 * math.log10(max(mean_loss, 1e-20) / peak_squared)
            run.log({"loss": mean_loss, "train_psnr": psnr, "lr": lr_at(t, done - 1)}, step=done)
            info = f"psnr {psnr:5.2f} dB"
        if done % save_every == 0 and done < steps:
            meta["train"]["step"] = done
            save_filter(path, fusion, meta, opt, gen)
            run.kept = kept_note(path, done, steps, save_every)
        return info

    train_steps(fusion, opt, loss_at, start, steps, lambda step: lr_at(t, step), after_step, "train-filter",
                where=lambda step: f"step {step}", hint="lower train.lr")
