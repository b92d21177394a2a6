"""`insp train-filter`: an INR store (+ its clean images) -> an INSP-Net filter checkpoint.

Learned tasks (denoise, blur, deblur, inpaint, inpaint_text) train Pi with AdamW on random pixels of the
training INRs (``training.train_steps``); the targets are the clean images the store's header points to (blur:
those images through the task's Gaussian blur; ``filters.tasks``). Hand-made tasks (edges, laplacian, unsharp)
train nothing: they decode Psi at the requested resolution beside the classical pixel operators (the paper's
Fig. 3; ``filters.handmade``). The filter file is ``filters.checkpoint``'s; a rerun resumes an unfinished one.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import hydra_run_dir, jets_compile, pick_device, required, seed_everything
from ..errors import InspError
from ..files import atomic_write
from ..filters import HANDMADE, INSPFilter, PixelSampler, augment, handmade
from ..filters.checkpoint import build_fusion, read_filter, save_filter
from ..filters.audio import ClipSampler, sample_jets
from ..filters.context import context_offsets, neighbourhood
from ..filters.tasks import (check_inputs, clean_clips, clean_targets, modality, open_store, store_summary, task_of,
                             task_targets)
from .shapes import train_shapes
from ..tracking import Run, run_job
from ..training import restore
from .pi_loop import kept_note, run_pi_steps
from ..viz import save_grid

log = logging.getLogger("insp")


def train_filter_job(cfg: DictConfig) -> float | None:
    return run_train_filter(cfg, hydra_run_dir()).get("train_psnr")


def run_train_filter(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Train (or, for hand-made tasks, just apply) the filter that ``cfg`` asks for. Returns the metrics."""
    return run_job(cfg, run_dir, "train-filter",
                   lambda cfg, run: (_handmade if task_of(cfg.task)["name"] in HANDMADE else _train)(cfg, run))


def _train(cfg: DictConfig, run: Run) -> dict:
    task = task_of(cfg.task)
    seed_everything(int(cfg.seed))
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    store = open_store(required(cfg, "store", "an INR store fitted with `insp fit`"))
    where = f"store {cfg.store}"
    check_inputs(task, store, where)
    if modality(store) == "shapes":  # SDF INRs: jobs/shapes.py
        return train_shapes(cfg, run, task, store, _resume)
    t = OmegaConf.to_container(cfg.train, resolve=True)
    fz = OmegaConf.to_container(cfg.fusion, resolve=True)
    order = int(fz["order"])
    meta = {"task": task, "order": order, "channels": store.spec.out_features,
            "fusion": {k: fz[k] for k in ("hidden", "layers", "residual")},
            "architecture": store.spec.to_dict(), "trained_on": store_summary(store),
            "train": {**t, "step": 0, "seed": int(cfg.seed)}, "complete": False}
    audio = modality(store) == "audio"
    reach, step = int(fz.get("context") or 0), int(fz.get("context_step") or 1)
    if audio:
        offsets = context_offsets(reach, step)
        length = int(store.header.source["length"])
        meta.update(modality="audio", units=[length])
        meta["fusion"]["offsets"] = offsets
        meta["train"]["augment"] = False  # flips and colour permutations are image symmetries
    else:  # the (2 reach / step + 1)^2 pixel offsets, (0, 0) alone for the paper's pointwise Pi
        offsets = neighbourhood(reach, step, 2)
        meta["units"] = list(store.size)
        meta["fusion"]["offsets"] = [list(o) for o in offsets]

    path = Path(str(cfg.filter))
    fusion = build_fusion(meta).to(device)
    opt = torch.optim.AdamW(fusion.parameters(), lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    gen = torch.Generator().manual_seed(int(cfg.seed))
    start = _resume(path, meta, fusion, opt, gen, bool(cfg.overwrite))
    if start is not None:
        run.kept = kept_note(path, start, int(t["steps"]), int(t["save_every"]))
    if start is None:  # finished earlier: report, do not retrain
        old, _ = read_filter(path)
        print(f"filter {path} is already trained ({old['train']['steps']} steps); pass overwrite=true to retrain")
        return {"filter": str(path), "task": task["name"], "steps": old["train"]["steps"],
                "resumed_from": old["train"]["steps"], "train_psnr": old["train"].get("final_psnr")}

    t0 = time.time()
    params = store.params.to(device)
    if audio:
        clean = torch.from_numpy(clean_clips(store, cfg.data_root, where)).to(device)
        jets = sample_jets(store.spec, params, length, order, pad=max(abs(o) for o in offsets)).float()
        sampler = ClipSampler(jets, clean, offsets)
        shape, channels = f"{length} samples, {len(offsets)} offsets", len(offsets)
    else:
        h, w = store.size
        c = store.spec.out_features
        targets = task_targets(task, clean_targets(cfg.targets, cfg.data_root, store, where))
        tg = torch.from_numpy(np.ascontiguousarray(targets)).reshape(len(store), h * w, c).to(device)
        sampler = PixelSampler(store.spec, params, tg, order, (h, w),
                               cache_bytes=float(t["feature_cache_gb"]) * 2**30,
                               images_per_batch=int(t["images_per_batch"]), offsets=offsets)
        shape, channels = f"{h}x{w}, {len(offsets)} offsets", len(offsets) * c
    if start == 0:
        feats, _ = sampler.sample(int(t["stat_points"]), torch.Generator().manual_seed(int(cfg.seed) + 1))
        fusion.scaler.fit(feats, channels=channels)
    log.info("train-filter %s: %d INRs %s, K=%d (%d features), Pi %dx%d, %d steps of %d points from step %d, "
             "augment %s, %s", task["name"], len(store), shape, order, sampler.num_features, fz["layers"],
             fz["hidden"], t["steps"], t["batch_points"], start, bool(meta["train"]["augment"]), device)

    steps, batch = int(t["steps"]), int(t["batch_points"])
    running: list[float] = []

    def loss_at(step: int) -> torch.Tensor:
        x, y = sampler.sample(batch, gen)
        if meta["train"]["augment"]:
            x, y = augment(x, y, order, gen, offsets)
        loss = (fusion(x) - y).pow(2).mean()
        running.append(float(loss.detach()))
        return loss

    run_pi_steps(run, t, fusion, opt, gen, meta, path, start, loss_at, running)
    seconds = time.time() - t0

    train_psnr = _train_psnr(fusion, sampler, int(cfg.seed))
    meta["train"].update(step=steps, final_psnr=train_psnr, seconds=round(seconds, 2))
    meta["complete"] = True
    save_filter(path, fusion, meta, opt, gen)
    metrics = {"filter": str(path), "task": task["name"], "order": order, "steps": steps, "resumed_from": start,
               "train_psnr": train_psnr, "train_seconds": round(seconds, 2), "n_inrs": len(store),
               "features": sampler.num_features, "device": str(device)}
    print(f"train-filter {task['name']}: {len(store)} INRs, K={order}, {steps} steps"
          + (f" (resumed at {start})" if start else "") + f", train PSNR {train_psnr:.2f} dB, {seconds:.0f} s"
          f"\n  filter  {path}\n  run dir {run.dir}")
    return metrics


def _resume(path: Path, meta: dict, fusion, opt, gen, overwrite: bool) -> int | None:
    """Step to start from: 0 (fresh), k (resume an unfinished checkpoint of the same run), None (finished)."""
    if overwrite or not path.exists():
        return 0
    old, tensors = read_filter(path)
    if old.get("modality", "images") == "images":  # written before image filters had offsets: pointwise
        old["fusion"].setdefault("offsets", [[0, 0]])
    same = ("task", "order", "units", "channels", "fusion", "architecture", "trained_on", "modality")
    diff = [k for k in same if old.get(k) != meta.get(k)]
    t_old = {k: v for k, v in old["train"].items() if k not in ("step", "final_psnr", "seconds")}
    t_new = {k: v for k, v in meta["train"].items() if k != "step"}
    if t_old != t_new:
        diff.append("train")
    if diff:
        raise InspError(f"{path} holds another filter ({', '.join(diff)} differ); pass another filter=PATH or "
                        "overwrite=true")
    if old.get("complete"):
        return None
    restore(old, tensors, fusion, "fusion.", opt, gen)
    log.info("resuming %s at step %d", path, old["train"]["step"])
    return int(old["train"]["step"])


@torch.no_grad()
def _train_psnr(fusion, sampler: PixelSampler, seed: int, points: int = 65536) -> float:
    x, y = sampler.sample(points, torch.Generator().manual_seed(seed + 2))
    out = fusion(x)
    out = out.clamp(-1, 1) if isinstance(sampler, ClipSampler) else out.clamp(0, 1)  # audio: amplitudes
    mse = float((out - y).pow(2).mean())
    return -10 * math.log10(max(mse, 1e-20))


def _handmade(cfg: DictConfig, run: Run) -> dict:
    """Psi = a hand-made Pi of the jets, decoded at ``decode.size`` beside the classical pixel operators."""
    task = task_of(cfg.task)
    run.kept = "nothing is kept (a hand-made filter's outputs are written when it ends); rerun the same command"
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    store = open_store(required(cfg, "store", "an INR store fitted with `insp fit`"))
    name = task["name"]
    fn, order, _ = HANDMADE[name]
    amount = float(task.get("amount", 0.5))
    fusion = (lambda pj: fn(pj, amount)) if name == "unsharp" else fn
    h, w = store.size
    size = int(cfg.decode.size) if cfg.decode.size else h
    shape = (size, round(w * size / h))
    n = min(int(cfg.decode.samples), len(store))
    params = store.params[:n].to(device)
    t0 = time.time()
    psi = INSPFilter(fusion=fusion, order=order, units=store.size).decode(store.spec, params, shape, clamp=False)
    psi = psi.cpu().numpy().astype(np.float64)
    decoded = store.decode(shape, rows=np.arange(n), device=device).numpy().astype(np.float64)
    seconds = time.time() - t0
    # s: how many decoded pixels per fitted pixel
    titles, ref, rows, corr = handmade.compare(name, psi, decoded, s=size / h, amount=amount)
    out = Path(run.dir) / f"{name}.png"
    save_grid(rows, out, titles=titles, scale=max(1, 128 // size))
    arrays = Path(run.dir) / f"{name}.npz"  # the raw decodings (Psi unclamped, and Phi), for further use

    def write_arrays(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to the temporary name
            np.savez_compressed(f, insp=psi.astype(np.float32), decoded=decoded.astype(np.float32),
                                indices=store.indices[:n])

    atomic_write(arrays, write_arrays)
    run.log_image(name, out, caption=" | ".join(titles))
    key = f"pearson_vs_{ref}"
    metrics = {"task": name, "order": order, "decode_size": list(shape), "n_images": n, key: float(np.mean(corr)),
               "seconds": round(seconds, 2), "grid": str(out), "arrays": str(arrays)}
    print(f"train-filter {name} (hand-made, K={order}): {n} INRs decoded at {shape[0]}x{shape[1]}, mean Pearson r "
          f"vs {ref} {metrics[key]:.3f}\n  grid    {out}\n  run dir {run.dir}")
    return metrics
