"""The shapes modality (m = 3) of `insp fit` and `insp train-filter`: meshes -> SDF INRs -> INSP-Net on them.

``mesh_signals(cfg)``: what `insp fit data=meshes` fits (``jobs.fit.Signals``' fields): per shape, ``data.points``
training points with exact signed distances (``data.meshes.sdf_samples``), of the clean mesh or of a noisy scan
(``degradation=vertex_noise``), and a ``fit_batch`` that fits a batch of them with ``inr.sdf.fit_sdfs``.
``train_shapes(cfg, run)``: `insp train-filter task=smooth|denoise_shape` (``filters.shapes`` has the math).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..data.degrade import image_rng
from ..data.meshes import load_meshes, sdf_samples, vertex_noise
from ..errors import InspError
from ..filters.checkpoint import build_fusion, read_filter, save_filter
from ..config import pick_device
from ..filters.shapes import check_grid, decode_grid, task_target, training_points, voxel_features, voxel_points
from ..filters.tasks import store_summary
from ..inr.sdf import SDF_LOSSES, fit_sdfs
from ..inr.siren import SirenSpec
from ..metrics.shapes import sample_surface
from ..tracking import Run
from .pi_loop import kept_note, run_pi_steps

log = logging.getLogger("insp")
SHAPE_DEGRADATIONS = ("clean", "vertex_noise")


def shape_degradation(cfg_deg, seed: int) -> dict:
    deg = OmegaConf.to_container(cfg_deg, resolve=True)
    kind = deg.get("kind")
    if kind not in SHAPE_DEGRADATIONS:
        raise InspError(f"degradation {kind} is for images or audio; meshes take clean or vertex_noise "
                        "(degradation=vertex_noise)")
    if kind == "vertex_noise" and not float(deg.get("sigma", -1)) >= 0:
        raise InspError(f"vertex_noise sigma={deg.get('sigma')} must be >= 0 (a fraction of the bounding box)")
    return {**deg, "seed": int(seed)} if kind != "clean" else {"kind": "clean"}


def degraded_meshes(meshes: list, indices, deg: dict) -> list:
    """The meshes as the fit sees them: a noisy scan drawn from ``image_rng(seed, index)`` per shape."""
    if deg["kind"] == "clean":
        return list(meshes)
    return [vertex_noise(m, float(deg["sigma"]), image_rng(int(deg["seed"]), int(j))) for m, j in zip(meshes, indices)]


def mesh_signals(cfg: DictConfig, spec: SirenSpec) -> dict:
    """Keyword arguments of ``jobs.fit.Signals`` for `insp fit data=meshes`."""
    d = cfg.data
    loss = str(d.get("loss", "regression"))
    if loss not in SDF_LOSSES:
        raise InspError(f"unknown data.loss={loss!r} (choose from {', '.join(SDF_LOSSES)})")
    count = int(d.points)
    if count < 16:
        raise InspError(f"data.points={count} is too few training points per shape (at least 16)")
    shapes = load_meshes(str(d.split), start=int(d.start), limit=d.limit, root=d.root, folder=d.get("folder"),
                         train_count=int(d.train_count), repair=bool(d.get("repair", False)))
    deg = shape_degradation(cfg.degradation, int(cfg.seed))
    seen = degraded_meshes(shapes.meshes, shapes.indices, deg)
    pts, sdf, surf, nrm = [], [], [], []
    for m, j in zip(seen, shapes.indices):
        p, s = sdf_samples(m, count, seed=int(cfg.seed) * 100003 + int(j))
        pts.append(p), sdf.append(s)
        if loss == "pointcloud":
            a, b = sample_surface(m, count // 2, seed=int(j) + 7)
            surf.append(a.astype(np.float32)), nrm.append(b.astype(np.float32))
    pts, sdf = np.stack(pts), np.stack(sdf)
    surf_t = torch.from_numpy(np.stack(surf)) if surf else None
    nrm_t = torch.from_numpy(np.stack(nrm)) if nrm else None

    def fit_batch(rows, settings, seed, on_step, device):
        sub = (None if t is None else t[rows].to(device) for t in (surf_t, nrm_t))
        return fit_sdfs(spec, torch.from_numpy(pts[rows]).to(device), torch.from_numpy(sdf[rows]).to(device),
                        settings, loss, *sub, seed=seed, indices=shapes.indices[rows], on_step=on_step)

    source = {k: v for k, v in shapes.meta.items() if k not in ("start", "limit", "root")}
    return dict(targets=sdf[..., None], masks=None, coords=torch.zeros(0, 3), indices=shapes.indices, labels=None,
                spec=spec, source=source, degradation=deg, shape=(count,), names=list(shapes.names),
                fit_batch=fit_batch, fit_extra={"loss": loss, "points": count,
                                                "sampling": "60 % near the surface (offsets std 0.005 and 0.05), "
                                                            "40 % uniform in [-1, 1]^3; exact SDF (point-cloud-utils)"})


# ----------------------------------------------------------------------------------------- train-filter


def train_shapes(cfg: DictConfig, run: Run, task: dict, store, resume) -> dict:
    """`insp train-filter` for SDF INRs: Pi on voxel-unit jets, trained at points of the ``train.grid`` grid
    near each training shape's surface plus uniform ones (``filters.shapes.training_points``)."""
    device = pick_device(str(cfg.device))
    t = OmegaConf.to_container(cfg.train, resolve=True)
    fz = OmegaConf.to_container(cfg.fusion, resolve=True)
    sm = task["sampling"]
    order, grid = int(fz["order"]), int(sm["grid"])
    check_grid(grid, 2, float(sm["max_grid_gb"]))

    meta = {"task": task, "order": order, "channels": 1, "m": 3, "modality": "shapes", "units": [grid] * 3,
            "fusion": {k: fz[k] for k in ("hidden", "layers", "residual")}, "architecture": store.spec.to_dict(),
            "trained_on": store_summary(store), "train": {**t, "step": 0, "seed": int(cfg.seed), "augment": False},
            "complete": False}
    path = Path(str(cfg.filter))
    fusion = build_fusion(meta).to(device)
    opt = torch.optim.AdamW(fusion.parameters(), lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    gen = torch.Generator().manual_seed(int(cfg.seed))
    start = resume(path, meta, fusion, opt, gen, bool(cfg.overwrite))
    if start is not None:
        run.kept = kept_note(path, start, int(t["steps"]), int(t["save_every"]))
    if start is None:
        old, _ = read_filter(path)
        print(f"filter {path} is already trained ({old['train']['steps']} steps); pass overwrite=true to retrain")
        return {"filter": str(path), "task": task["name"], "steps": old["train"]["steps"],
                "train_psnr": old["train"].get("final_psnr")}
    t0 = time.time()
    clean = clean_meshes_of(store, cfg.data_root) if task["target"] == "clean" else None
    feats, targets = [], []
    for i in range(len(store)):
        params = store.params[i:i + 1].to(device)
        decoded = decode_grid(store.spec, params, grid)
        ids = training_points(decoded, float(sm["band"]), int(sm["band_points"]), int(sm["uniform_points"]),
                              seed=int(cfg.seed) * 100003 + int(store.indices[i]))
        pts = torch.from_numpy(voxel_points(ids, grid)).to(device)
        feats.append(voxel_features(store.spec, params, pts, order, grid))
        targets.append(torch.from_numpy(task_target(task, decoded, ids, None if clean is None else clean[i])).to(device))
    x_all, y_all = torch.cat(feats).float(), torch.cat(targets)
    if start == 0:
        fusion.scaler.fit(x_all[torch.randperm(len(x_all), generator=gen)[:int(t["stat_points"])]], channels=1)
    log.info("train-filter %s: %d SDF INRs, %d points, K=%d (%d features), Pi %dx%d, %d steps of %d points",
             task["name"], len(store), len(x_all), order, x_all.shape[1], fz["layers"], fz["hidden"], t["steps"],
             t["batch_points"])
    steps, batch = int(t["steps"]), int(t["batch_points"])
    running: list[float] = []

    def loss_at(step: int) -> torch.Tensor:
        pick = torch.randint(len(x_all), (batch,), generator=gen).to(x_all.device)
        loss = (fusion(x_all[pick])[..., 0] - y_all[pick]).pow(2).mean()
        running.append(float(loss.detach()))
        return loss

    run_pi_steps(run, t, fusion, opt, gen, meta, path, start, loss_at, running, peak_squared=4.0)  # SDFs in [-1, 1]
    with torch.no_grad():
        mse = float((fusion(x_all)[..., 0] - y_all).pow(2).mean())
    seconds = time.time() - t0
    train_psnr = 10 * math.log10(4.0 / max(mse, 1e-20))
    meta["train"].update(step=steps, final_psnr=train_psnr, seconds=round(seconds, 2))
    meta["complete"] = True
    save_filter(path, fusion, meta, opt, gen)
    print(f"train-filter {task['name']}: {len(store)} SDF INRs, K={order}, {steps} steps, train PSNR "
          f"{train_psnr:.2f} dB (SDF, peak-to-peak 2), {seconds:.0f} s\n  filter  {path}\n  run dir {run.dir}")
    return {"filter": str(path), "task": task["name"], "order": order, "steps": steps, "resumed_from": start,
            "train_psnr": train_psnr, "train_seconds": round(seconds, 2), "n_inrs": len(store),
            "points": len(x_all), "features": int(x_all.shape[1]), "device": str(device)}


def clean_meshes_of(store, data_root) -> list:
    """The clean, normalised meshes of a shapes store's INRs, reloaded from its header, in store order."""
    src = store.header.source
    lo, hi = int(store.indices.min()), int(store.indices.max()) + 1
    try:
        shapes = load_meshes(src["split"], start=lo, limit=hi - lo, root=data_root,
                             folder=src.get("path") if src.get("origin") == "folder" else None,
                             train_count=int(src.get("train_count", 90)), repair=bool(src.get("repair", False)))
    except (InspError, KeyError) as e:
        raise InspError(f"cannot reload the clean meshes of the store: {e}") from None
    pos = {int(j): i for i, j in enumerate(shapes.indices)}
    return [shapes.meshes[pos[int(j)]] for j in store.indices]
