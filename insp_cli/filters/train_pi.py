"""Training a learned Pi, once for every modality: AdamW steps on the squared error of Pi's output against the
targets of random training points (audio may add a multi-resolution STFT magnitude term, ``train.stft``: then the
points come as windows of contiguous samples, ``PiData.windows``, and the loss is the squared error +
train.stft.weight x ``filters.stft_loss.stft_loss`` of the windows), train.lr decayed by a cosine, loss and PSNR
logged every train.log_every steps, and the filter saved every train.save_every steps so an interrupted run
resumes where it stopped.

What differs between modalities is only the training data (``PiData``: a sampler of (features, targets) with
the statistics and final-PSNR conventions of its signals) and the metadata Pi is saved with; the modality
(``insp_cli.modalities``) supplies both. ``log(values, step)`` is the caller's logger (a run's W&B log).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from insp_cli.errors import InspError
from insp_cli.filters.checkpoint import build_fusion, read_filter, save_filter
from insp_cli.filters.jet_cnn import augment_fields
from insp_cli.filters.sampler import augment
from insp_cli.filters.stft_loss import stft_loss
from insp_cli.training import cosine_factor, differing, resume_or_refuse, train_steps

log = logging.getLogger("insp")


@dataclass
class PiData:
    """A modality's training data for Pi.

    sample(batch, generator) -> (features (B, F), targets (B, c)); stat_features(points, generator, seed) ->
    features (S, F) that fit Pi's feature scaler (``stat_channels`` channels); final_psnr(fusion, seed) -> the
    training PSNR recorded at the end; peak_squared: the squared peak-to-peak of the targets (1: pixels in [0, 1],
    4: SDFs or amplitudes in [-1, 1]) for the logged PSNR; what: '64x64, 1 offsets' for the log line;
    noun: 'INRs' or 'SDF INRs'; extra: metrics of this data recorded with the run; windows(count, length,
    generator) -> (features (count * length, F), targets (count * length, c)) at runs of contiguous samples (1-D
    signals only, for ``train.stft``; None where the modality has none); patches(count, side, generator) ->
    (fields (count, S + 2R, S + 2R, F), targets (count, S, S, c)): square windows of the jet field for a
    convolutional Pi (``filters.jet_cnn``; images, and with patch_dims 1 runs (count, S + 2R, F) of audio clips).
    """

    sample: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    stat_features: Callable[[int, torch.Generator, int], torch.Tensor]
    stat_channels: int
    num_features: int
    final_psnr: Callable[[torch.nn.Module, int], float]
    what: str
    peak_squared: float = 1.0
    noun: str = "INRs"
    psnr_note: str = ""
    extra: dict = field(default_factory=dict)
    windows: Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None
    patches: Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None
    patch_dims: int = 2


def lr_at(t: dict, step: int) -> float:
    """train.lr decayed to train.lr_final by a cosine over the run's steps (constant without lr_final)."""
    lr, final = float(t["lr"]), t.get("lr_final")
    if final is None or t["steps"] <= 1:
        return lr
    return float(final) + (lr - float(final)) * cosine_factor(step, t["steps"] - 1)


def sampled_psnr(fusion, sample: Callable, seed: int, lo: float, points: int = 65536) -> float:
    """PSNR (peak 1) of Pi on ``points`` fresh training points, outputs clamped to [lo, 1]."""
    with torch.no_grad():
        x, y = sample(points, torch.Generator().manual_seed(seed + 2))
        mse = float((fusion(x).clamp(lo, 1) - y).pow(2).mean())
    return -10 * math.log10(max(mse, 1e-20))


def kept_note(path: Path, step: int, steps: int, save_every: int) -> str:
    """What an interrupt leaves of a filter being trained (``Run.kept``): its checkpoint of ``step``, or
    nothing before the first save."""
    if step <= 0:
        first = min(save_every, steps)
        return (f"nothing of this training is kept yet (its first checkpoint is saved at step {first}); rerun the "
                "same command to start again")
    return f"the filter checkpoint of step {step}/{steps} is kept ({path}); rerun the same command to resume from it"


def resume_step(path: Path, meta: dict, fusion, opt, gen, overwrite: bool) -> tuple[int | None, dict | None]:
    """``training.resume_or_refuse`` for a filter checkpoint: (0, None) fresh, (k, old) resumed at step k,
    (None, old) finished."""
    def read(p: Path) -> tuple[dict, dict]:
        old, tensors = read_filter(p)
        if "modality" not in old:  # an image filter written before image filters had offsets: pointwise
            old["fusion"].setdefault("offsets", [[0, 0]])
        return old, tensors

    def differ(old: dict) -> list[str]:
        same = ("task", "order", "units", "channels", "fusion", "architecture", "trained_on", "modality")
        t_old = {k: v for k, v in old["train"].items() if k not in ("step", "final_psnr", "seconds")}
        t_new = {k: v for k, v in meta["train"].items() if k != "step"}
        if "stft" not in t_old and not float((t_new.get("stft") or {}).get("weight") or 0):
            t_new.pop("stft", None)  # a filter saved before train.stft existed: squared error alone, the same
        if meta["fusion"].get("kind") != "conv":  # train.patch shapes a convolutional Pi's batches only
            t_old.pop("patch", None)
            t_new.pop("patch", None)
        return differing(old, meta, same) + (["train"] if t_old != t_new else [])

    return resume_or_refuse(path, read, differ, "filter", "filter", fusion, "fusion.", opt, gen,
                            lambda old: old["train"]["step"], overwrite)


def train_pi(meta: dict, data_of: Callable[[], PiData], path: Path, seed: int, overwrite: bool, device,
             log_values: Callable[[dict, int], None], n_inrs: int, run_dir: Path,
             keep: Callable[[str], None] = lambda note: None) -> dict:
    """Train (or resume) the Pi that ``meta`` describes on ``data_of()`` and save it to ``path``. Returns the
    run's metrics. meta: task, order, channels, units, fusion, architecture, trained_on, train (the train.*
    settings), complete; the modality adds its own fields (m, modality, fusion.offsets). ``keep(note)`` is told
what an interrupt would leave (``kept_note``) whenever that changes."""
    t, task = meta["train"], meta["task"]
    fusion = build_fusion(meta).to(device)
    opt = torch.optim.AdamW(fusion.parameters(), lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    gen = torch.Generator().manual_seed(seed)
    start, old = resume_step(path, meta, fusion, opt, gen, overwrite)
    if start is not None:
        keep(kept_note(path, start, int(t["steps"]), int(t["save_every"])))
    if start is None:  # finished earlier: report, do not retrain
        print(f"filter {path} is already trained ({old['train']['steps']} steps); pass overwrite=true to retrain")
        return {"filter": str(path), "task": task["name"], "steps": old["train"]["steps"],
                "resumed_from": old["train"]["steps"], "train_psnr": old["train"].get("final_psnr")}
    t0 = time.time()
    data = data_of()
    if start == 0:
        fusion.scaler.fit(data.stat_features(int(t["stat_points"]), gen, seed), channels=data.stat_channels)
    read = fusion.features_read  # fewer than the features where coarse offsets read lower orders
    log.info("train-filter %s: %d %s %s, K=%d (%s features), Pi %dx%d, %d steps of %d points from step %d, "
             "augment %s, %s", task["name"], n_inrs, data.noun, data.what, meta["order"],
             data.num_features if read == data.num_features else f"{data.num_features}, {read} read by Pi",
             meta["fusion"]["layers"], meta["fusion"]["hidden"], t["steps"], t["batch_points"], start,
             bool(t["augment"]), device)
    steps, batch, order = int(t["steps"]), int(t["batch_points"]), int(meta["order"])
    offsets = [tuple(o) if isinstance(o, list) else o for o in meta["fusion"].get("offsets") or []] or None
    running: list[float] = []
    loss_at = step_loss(t, data, fusion, batch, order, offsets, gen, running)
    _steps(log_values, keep, t, fusion, opt, gen, meta, path, start, loss_at, running, data.peak_squared)
    seconds = time.time() - t0
    train_psnr = data.final_psnr(fusion, seed)
    meta["train"].update(step=steps, final_psnr=train_psnr, seconds=round(seconds, 2))
    meta["complete"] = True
    save_filter(path, fusion, meta, opt, gen)
    print(f"train-filter {task['name']}: {n_inrs} {data.noun}, K={order}, {steps} steps"
          + (f" (resumed at {start})" if start else "") + f", train PSNR {train_psnr:.2f} dB{data.psnr_note}, "
          f"{seconds:.0f} s\n  filter  {path}\n  run dir {run_dir}")
    return {"filter": str(path), "task": task["name"], "order": order, "steps": steps, "resumed_from": start,
            "train_psnr": train_psnr, "train_seconds": round(seconds, 2), "n_inrs": n_inrs, **data.extra,
            "features": data.num_features, "features_read": read, "device": str(device)}


def step_loss(t: dict, data: PiData, fusion, batch: int, order: int, offsets, gen: torch.Generator,
              running: list[float]) -> Callable[[int], torch.Tensor]:
    """One training step's loss: the squared error of Pi on ``batch`` random points (appended to ``running``, the
    logged PSNR's), + train.stft.weight x ``stft_loss`` on runs of train.stft.segment contiguous samples
    (``PiData.windows``; then the points are those runs). InspError where the data has no windows."""
    stft = t.get("stft") or {}
    weight = float(stft.get("weight") or 0.0)
    if weight > 0 and data.windows is None:
        raise InspError(f"train.stft.weight={weight:g} is for audio (1-D clips); set it to 0 for {data.noun}")
    segment = int(stft.get("segment") or 1)
    count = max(1, batch // segment)
    if getattr(fusion, "convolutional", False):
        return field_loss(t, data, fusion, batch, order, gen, running)

    def seg(v: torch.Tensor) -> torch.Tensor:  # (count * segment, c) -> (count * c, segment) segments
        return v.reshape(count, segment, -1).transpose(1, 2).reshape(-1, segment)

    def loss_at(step: int) -> torch.Tensor:
        x, y = data.windows(count, segment, gen) if weight > 0 else data.sample(batch, gen)
        if t["augment"]:
            x, y = augment(x, y, order, gen, offsets, getattr(fusion, "extra", 0))
        out = fusion(x)
        loss = (out - y).pow(2).mean()
        running.append(float(loss.detach()))  # the logged PSNR stays the squared error's
        if weight > 0:
            loss = loss + weight * stft_loss(seg(out), seg(y), [int(f) for f in stft["ffts"]])
        return loss

    return loss_at


def field_loss(t: dict, data: PiData, fusion, batch: int, order: int, gen: torch.Generator,
               running: list[float]) -> Callable[[int], torch.Tensor]:
    """A convolutional Pi's step loss: the squared error on batch / train.patch^m windows of train.patch points a
    side (``PiData.patches``; m = ``PiData.patch_dims``), each flipped / turned and colour-permuted (images) or
    reversed / negated (clips) with its jet field (``jet_cnn.augment_fields``) when train.augment."""
    if data.patches is None:
        raise InspError(f"a convolutional Pi (fusion.kind=conv) trains on windows of image or audio jet fields, not "
                        f"on {data.noun}")
    side = int(t.get("patch") or 32)
    count = max(1, round(batch / side ** data.patch_dims))

    def loss_at(step: int) -> torch.Tensor:
        x, y = data.patches(count, side, gen)
        if t["augment"]:
            x, y = augment_fields(x, y, order, gen)
        loss = (fusion.on_field(x) - y).pow(2).mean()
        running.append(float(loss.detach()))
        return loss

    return loss_at


def field_data(sampler, side: int, channels: int, lo: float, what: str) -> PiData:
    """A convolutional Pi's training data (``filters.jet_cnn``): windows of ``side`` points a side of the cached jet
    fields of a ``filters.sampler.PixelSampler`` (1-D runs of clips, 2-D squares of images); the feature statistics
    per point (``channels`` * M); the final training PSNR on fresh windows, outputs clamped to [lo, 1]."""
    dims = len(sampler.size)

    def stat(k: int, gen, seed: int) -> torch.Tensor:
        fields, _ = sampler.patches(max(1, k // side ** dims), side, torch.Generator().manual_seed(seed + 1))
        return fields.reshape(-1, fields.shape[-1])

    return PiData(sample=sampler.sample, num_features=sampler.num_features // len(sampler.offsets),
                  stat_channels=channels, stat_features=stat, patches=sampler.patches, patch_dims=dims,
                  final_psnr=lambda fusion, seed: field_psnr(fusion, sampler.patches, seed, side=side, dims=dims,
                                                             lo=lo),
                  what=what)


def field_psnr(fusion, patches: Callable, seed: int, points: int = 65536, side: int = 32, dims: int = 2,
               lo: float = 0.0) -> float:
    """PSNR (peak 1) of a convolutional Pi on about ``points`` fresh training points (windows of ``side`` points
    a side in ``dims`` dimensions), outputs clamped to [lo, 1]: ``sampled_psnr`` for ``filters.jet_cnn``."""
    with torch.no_grad():
        x, y = patches(max(1, points // side ** dims), side, torch.Generator().manual_seed(seed + 2))
        mse = float((fusion.on_field(x).clamp(lo, 1) - y).pow(2).mean())
    return -10 * math.log10(max(mse, 1e-20))


def _steps(log_values, keep, t: dict, fusion: torch.nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator,
           meta: dict, path: Path, start: int, loss_at: Callable[[int], torch.Tensor], running: list[float],
           peak_squared: float = 1.0) -> None:
    """Steps start..train.steps of ``loss_at`` (which appends each step's loss to ``running``); the logged PSNR
    is 10 log10(peak_squared / mean loss)."""
    steps, every, save_every = int(t["steps"]), int(t["log_every"]), int(t["save_every"])

    def after_step(done: int) -> str | None:
        info = None
        if done % every == 0 or done == steps:
            mean_loss = float(np.mean(running))
            running.clear()
            psnr = -10 * math.log10(max(mean_loss, 1e-20) / peak_squared)
            log_values({"loss": mean_loss, "train_psnr": psnr, "lr": lr_at(t, done - 1)}, done)
            info = f"psnr {psnr:5.2f} dB"
        if done % save_every == 0 and done < steps:
            meta["train"]["step"] = done
            save_filter(path, fusion, meta, opt, gen)
            keep(kept_note(path, done, steps, save_every))
        return info

    train_steps(fusion, opt, loss_at, start, steps, lambda step: lr_at(t, step), after_step, "train-filter",
                where=lambda step: f"step {step}", hint="lower train.lr")
