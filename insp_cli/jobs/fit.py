"""`insp fit`: images -> (degrade) -> batched SIREN fitting -> sharded INR store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import pick_device, seed_everything
from ..data import load_images
from ..data.degrade import degrade
from ..errors import InspError
from ..inr.fit import SEEDING, FitSettings, fit_inrs
from ..inr.siren import SirenSpec, grid_coords
from ..inr.store import (INRStore, StoreHeader, finished_shards, plan_range, prepare_store, verify_for_resume,
                         write_shard)
from ..progress import FitProgress
from ..tracking import Run, run_job
from ..viz import save_grid, tile
from ..config import hydra_run_dir

log = logging.getLogger("insp")


def shard_ranges(start: int, stop: int, shard_size: int) -> list[tuple[int, int]]:
    """[start, stop) cut at multiples of shard_size: the same grid for every process, so parts never overlap."""
    out, a = [], start
    while a < stop:
        b = min(stop, (a // shard_size + 1) * shard_size)
        out.append((a, b))
        a = b
    return out


def part_range(start: int, stop: int, shard: int, num_shards: int, shard_size: int) -> tuple[int, int]:
    """Part ``shard`` of ``num_shards`` of [start, stop), cut on the shard grid (for array jobs)."""
    if not 0 <= shard < num_shards:
        raise InspError(f"data.shard={shard} must be in [0, data.num_shards={num_shards})")
    pieces = shard_ranges(start, stop, shard_size)
    per = -(-len(pieces) // num_shards)
    mine = pieces[shard * per:(shard + 1) * per]
    return (mine[0][0], mine[-1][1]) if mine else (stop, stop)


def missing_ranges(start: int, stop: int, shard_size: int, done: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pieces of the shard grid over [start, stop) that no finished shard covers yet.

    A store extended with a larger data.limit, or fitted by parts, reuses what is there: a piece is cut around
    finished shards, so shards never overlap.
    """
    out = []
    for a, b in shard_ranges(start, stop, shard_size):
        gaps = [(a, b)]
        for da, db in done:
            gaps = [g for ga, gb in gaps for g in ((ga, min(gb, da)), (max(ga, db), gb)) if g[0] < g[1]]
        out += gaps
    return out


def fit_settings(cfg: DictConfig) -> FitSettings:
    f = cfg.fit
    try:
        s = FitSettings(steps=int(f.steps), lr=float(f.lr), lr_final=float(f.lr_final),
                        batch_pixels=None if f.batch_pixels is None else int(f.batch_pixels),
                        target_psnr=None if f.target_psnr is None else float(f.target_psnr), retries=int(f.retries))
        batch, shard = int(f.batch_size), int(f.shard_size)
    except (TypeError, ValueError) as e:
        raise InspError(f"bad fit settings: {e}") from None
    if s.steps < 1 or not s.lr > 0 or batch < 1 or shard < 1:
        raise InspError("fit.steps, fit.lr, fit.batch_size and fit.shard_size must be positive")
    return s


def fit_job(cfg: DictConfig) -> float | None:
    return run_fit(cfg, hydra_run_dir())


def run_fit(cfg: DictConfig, run_dir: str | Path) -> float:
    """Fit the INRs that ``cfg`` asks for into ``cfg.store`` and write the run directory. Returns mean PSNR."""
    return run_job(cfg, run_dir, "fit", _fit)["psnr_mean"]


def _fit(cfg: DictConfig, run: Run) -> dict:
    seed_everything(int(cfg.seed))
    device = pick_device(str(cfg.device))
    d = cfg.data
    images = load_images(d.name, split=d.split, start=int(d.start), limit=d.limit, size=d.size,
                         channels=d.channels, root=d.root, folder=d.folder, download=bool(d.download),
                         train_count=int(d.train_count), crops=int(d.get("crops", 5)))
    if len(images) == 0:
        raise InspError(f"no images selected from {d.name} {d.split} (start={d.start}, limit={d.limit})")
    lo, hi = int(images.indices[0]), int(images.indices[-1]) + 1
    settings = fit_settings(cfg)
    shard_size = int(cfg.fit.shard_size)
    lo, hi = part_range(lo, hi, int(d.shard), int(d.num_shards), shard_size)
    deg = OmegaConf.to_container(cfg.degradation, resolve=True)
    kind = deg.pop("kind")
    degraded = degrade(images.images, kind, deg, seed=int(cfg.seed), indices=images.indices)
    check_finite_input(images.images, degraded.images, images.indices, d.name, kind)

    h, w, c = images.images.shape[1:]
    spec = SirenSpec(in_features=2, out_features=c, hidden=int(cfg.model.hidden), depth=int(cfg.model.depth),
                     omega0=float(cfg.model.omega0))
    source = {k: v for k, v in images.meta.items() if k not in ("start", "limit", "root")}
    source["size"] = [int(h), int(w)]
    header = StoreHeader(spec=spec, source=source, degradation=degraded.params,
                         fit={**settings.__dict__, "seed": int(cfg.seed), "shard_size": shard_size,
                              "seeding": SEEDING,
                              "psnr_floor": "above min(flat mid-gray image, initialisation) (docs/fit.md)"})
    store_dir = prepare_store(cfg.store, header)
    plan_range(store_dir, lo, hi)
    verify_for_resume(store_dir, header, lo, hi)  # bad shards are moved aside and so refitted below
    todo = missing_ranges(lo, hi, shard_size, list(finished_shards(store_dir)))
    n_total = hi - lo
    log.info("fit %d %s %s INRs [%d, %d) -> %s (%d to fit, %d already done); SIREN %dx%d, %d params, %s",
             n_total, d.name, d.split, lo, hi, store_dir, sum(b - a for a, b in todo),
             n_total - sum(b - a for a, b in todo), spec.depth, spec.hidden, spec.num_params, device)

    coords = grid_coords((h, w), device=device)
    pos = {int(j): i for i, j in enumerate(images.indices)}
    batch = int(cfg.fit.batch_size)
    fitted, t0 = 0, time.time()
    with FitProgress(total=sum(b - a for a, b in todo), steps=settings.steps) as bar:
        for a, b in todo:
            rows = np.array([pos[j] for j in range(a, b)])
            params, psnr, ok = [], [], []
            for s in range(0, len(rows), batch):
                r = rows[s:s + batch]
                pix = torch.from_numpy(degraded.images[r]).reshape(len(r), h * w, c).to(device)
                mask = None if degraded.masks is None else torch.from_numpy(
                    degraded.masks[r]).reshape(len(r), h * w).to(device)
                # each INR's seed depends on (seed, its source index) only: batch size, resume and parts
                # change nothing
                res = fit_inrs(spec, pix, coords, settings, mask=mask, seed=int(cfg.seed),
                               indices=images.indices[r], on_step=bar.on_step)
                params.append(res.params), psnr.append(res.psnr.numpy()), ok.append(res.ok.numpy())
                bar.batch_done(len(r), res.psnr)
            psnr_a, ok_a = np.concatenate(psnr), np.concatenate(ok)
            write_shard(store_dir, header, a, b, torch.cat(params), images.indices[rows], psnr_a, ok_a,
                        None if images.labels is None else images.labels[rows])
            fitted += len(rows)
            run.log({"shard_psnr_mean": float(np.nanmean(psnr_a)), "inrs_fitted": fitted,
                     "inrs_per_second": fitted / max(time.time() - t0, 1e-9)})
    seconds = time.time() - t0

    mine = [p for (a, b), p in finished_shards(store_dir).items() if a < hi and b > lo]
    store = INRStore.open(mine, only_ok=False)
    sel = np.nonzero((store.indices >= lo) & (store.indices < hi))[0]
    store = store.subset(sel)
    psnr_all = store.psnr.astype(np.float64)
    flagged = int((~store.ok).sum())
    good = psnr_all[store.ok]
    metrics = {
        "store": str(store_dir), "dataset": d.name, "split": d.split, "range": [lo, hi], "count": len(store),
        "flagged": flagged, "psnr_mean": float(good.mean()) if len(good) else float("nan"),
        "psnr_p5": float(np.percentile(good, 5)) if len(good) else float("nan"),
        "psnr_min": float(good.min()) if len(good) else float("nan"),
        "fitted_now": fitted, "fit_seconds": round(seconds, 3),
        "inrs_per_second": fitted / seconds if fitted else None,
        "device": str(device), "params_per_inr": spec.num_params, "degradation": degraded.params["kind"],
    }
    _log_samples(cfg, run, store, (h, w))
    run.log_histogram("psnr_per_inr", good)
    run.log_table("inrs", ["index", "label", "psnr", "ok"],
                  [[int(i), None if store.labels is None else int(store.labels[k]), float(store.psnr[k]),
                    bool(store.ok[k])] for k, i in enumerate(store.indices[:10000])])
    run.log({"psnr_mean": metrics["psnr_mean"], "psnr_p5": metrics["psnr_p5"]})
    print(f"fit {len(store)} INRs ({d.name} {d.split} [{lo}, {hi}), {degraded.params['kind']}): "
          f"PSNR mean {metrics['psnr_mean']:.2f} dB, p5 {metrics['psnr_p5']:.2f} dB"
          + (f", {_rate(fitted, seconds)}" if fitted else ", all shards already done")
          + f"\n  store   {store_dir}\n  run dir {run.dir}")
    if flagged:
        nonfinite = int((~np.isfinite(psnr_all)).sum())
        why = (f"{nonfinite} non-finite, {flagged - nonfinite} worse than both a flat mid-gray image and their "
               f"initialisation, after {cfg.fit.retries} refit(s) at half the learning rate")
        if flagged == len(store):
            raise InspError(f"the fit diverged: all {flagged} INRs failed ({why}); lower fit.lr (now "
                            f"{settings.lr:g}) or check the data; they are flagged in {store_dir}", exit_code=3)
        raise InspError(f"{flagged} of {len(store)} INRs did not converge ({why}); they are flagged in {store_dir} "
                        "and skipped when it is opened", exit_code=3)
    return metrics


def check_finite_input(clean: np.ndarray, degraded: np.ndarray, indices: np.ndarray, name: str, kind: str) -> None:
    """NaN or inf in the pixels is a fault of the data or its degradation, not of the fit: say which."""
    for what, arr in (("the images", clean), (f"the degraded images (degradation={kind})", degraded)):
        bad = ~np.isfinite(arr).reshape(len(arr), -1).all(1)
        if bad.any():
            raise InspError(f"{what} of {name} contain NaN or inf pixels ({int(bad.sum())} images, first index "
                            f"{int(indices[np.argmax(bad)])}): fix the data or the degradation's parameters")


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:.1f} INR/s" if n >= seconds else f"{seconds / n:.2f} s/INR"


def _log_samples(cfg: DictConfig, run: Run, store: INRStore, size) -> None:
    n = min(int(cfg.samples), len(store))
    if n == 0:
        return
    imgs = store.decode(size, rows=np.arange(n)).numpy()
    path = save_grid(tile(imgs, ncol=8), run.dir / "samples.png", scale=max(1, 64 // size[0]))
    run.log_image("samples", path, caption=f"first {n} INRs decoded at {size[0]}x{size[1]}")
