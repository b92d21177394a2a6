"""`insp fit`: signals of any modality (``modalities/``: images, audio clips, meshes) -> (degrade) -> batched INR
fitting (any backbone of ``inr/backbones.py``) -> sharded INR store."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ..config import hydra_run_dir, pick_device, seed_everything, threads_from_env
from ..errors import InspError
from ..inr.backbones import describe, kind_of
from ..inr.fit import SEEDING, FitResult, FitSettings, fit_inrs, psnr_of_fit
from ..inr.meta import fit_latents
from ..inr.meta_file import check_init_matches, load_meta
from ..inr.regularised import RegSettings
from ..inr.regularisers import KINDS as REG_KINDS
from ..inr.store import (INRStore, StoreHeader, finished_shards, plan_range, prepare_store, verify_for_resume,
                         write_shard)
from ..modalities import Signals, check_finite_input, of_data  # noqa: F401  (check_finite_input: public here)
from ..progress import FitProgress
from ..tracking import Run, run_job

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
                        target_psnr=None if f.target_psnr is None else float(f.target_psnr), retries=int(f.retries),
                        shared_init=bool(f.get("shared_init", False)))
        batch, shard = int(f.batch_size), int(f.shard_size)
    except (TypeError, ValueError) as e:
        raise InspError(f"bad fit settings: {e}") from None
    if s.steps < 1 or not s.lr > 0 or batch < 1 or shard < 1:
        raise InspError("fit.steps, fit.lr, fit.batch_size and fit.shard_size must be positive")
    s.reg = reg_settings(f)
    return s


def reg_settings(f: DictConfig) -> RegSettings | None:
    """fit.reg, its weight fit.reg_weights.<kind> and fit.reg_opts -> RegSettings (None for reg=none)."""
    kind = str(f.get("reg", "none") or "none")
    if kind not in REG_KINDS:
        raise InspError(f"unknown regulariser fit.reg={kind!r} (choose from {', '.join(REG_KINDS)})")
    if kind == "none":
        return None
    weights, opts = f.get("reg_weights") or {}, dict(f.get("reg_opts") or {})
    try:
        weight = float(weights[kind])
        reg = RegSettings(kind=kind, weight=weight, **opts)
    except KeyError:
        raise InspError(f"fit.reg={kind} needs a weight fit.reg_weights.{kind}") from None
    except (TypeError, ValueError) as e:
        raise InspError(f"bad fit.reg_opts / fit.reg_weights: {e}") from None
    if not (math.isfinite(reg.weight) and reg.weight >= 0):
        raise InspError(f"fit.reg_weights.{kind}={weights[kind]} must be a finite number >= 0")
    if not reg.lr > 0 or reg.g_hidden < 1 or reg.g_depth < 1 or not reg.g_omega0 > 0:
        raise InspError("fit.reg_opts: lr and g_omega0 must be > 0, g_hidden and g_depth >= 1")
    if f.batch_pixels is not None:
        raise InspError(f"fit.reg={kind} decodes every pixel each step: set fit.batch_pixels=null "
                        f"(it is {f.batch_pixels})")
    return reg


def fit_job(cfg: DictConfig) -> float | None:
    return run_fit(cfg, hydra_run_dir())


def run_fit(cfg: DictConfig, run_dir: str | Path) -> float:
    """Fit the INRs that ``cfg`` asks for into ``cfg.store`` and write the run directory. Returns mean PSNR."""
    return run_job(cfg, run_dir, "fit", _fit)["psnr_mean"]


def _fit(cfg: DictConfig, run: Run) -> dict:
    seed_everything(int(cfg.seed))
    threads_from_env()  # INSP_THREADS: small batched products run far faster on one thread of a shared CPU
    device = pick_device(str(cfg.device))
    d = cfg.data
    modality = of_data(str(d.name))
    sig = modality.signals(cfg)
    lo, hi = int(sig.indices[0]), int(sig.indices[-1]) + 1
    settings = fit_settings(cfg)
    shard_size = int(cfg.fit.shard_size)
    lo, hi = part_range(lo, hi, int(d.shard), int(d.num_shards), shard_size)
    spec = sig.spec
    if not getattr(spec, "pointwise", True) and settings.batch_pixels:
        log.info("fit.batch_pixels=%s ignored: %s decodes its whole grid every step", settings.batch_pixels,
                 describe(spec))
        settings.batch_pixels = None
    if settings.reg is not None and len(sig.shape) != 2:
        raise InspError(f"fit.reg={settings.reg.kind} regularises images (rows and columns); {d.name} is not")
    mi = meta_init(cfg, sig, settings)  # fit.init: a meta-learned start (docs/meta.md), or None
    fit_rec = {k: v for k, v in settings.__dict__.items() if k not in ("reg", "shared_init")}
    if mi is not None:  # only when used: older stores' headers stay as they were; another init refuses a resume
        fit_rec["init"] = mi.record()
        fit_rec["mode"] = mi.mode
    if settings.shared_init:  # only when used: older stores' headers (and resumes) stay as they were
        fit_rec["shared_init"] = True
    if settings.reg is not None:  # only when used: stores fitted before fit.reg existed still resume
        fit_rec["reg"] = settings.reg.to_dict()
    header = StoreHeader(spec=spec, source=sig.source, degradation=sig.degradation,
                         fit={**fit_rec, **(sig.fit_extra or {}), "seed": int(cfg.seed), "shard_size": shard_size,
                              "seeding": SEEDING,
                              "psnr_floor": "above min(flat mid-gray image, initialisation) (docs/fit.md)"})
    store_dir = prepare_store(cfg.store, header)
    plan_range(store_dir, lo, hi)
    verify_for_resume(store_dir, header, lo, hi)  # bad shards are moved aside and so refitted below
    todo = missing_ranges(lo, hi, shard_size, list(finished_shards(store_dir)))
    n_total = hi - lo
    log.info("fit %d %s %s INRs [%d, %d) -> %s (%d to fit, %d already done); %s, %d params, %s",
             n_total, d.name, d.split, lo, hi, store_dir, sum(b - a for a, b in todo),
             n_total - sum(b - a for a, b in todo), describe(spec), spec.num_params, device)

    coords = sig.coords.to(device)
    q, c = sig.targets.shape[1:]
    pos = {int(j): i for i, j in enumerate(sig.indices)}
    batch = int(cfg.fit.batch_size)
    fitted, t0 = 0, time.time()
    with FitProgress(total=sum(b - a for a, b in todo), steps=settings.steps, shards=len(todo)) as bar:
        for a, b in todo:
            bar.next_shard()
            rows = np.array([pos[j] for j in range(a, b)])
            params, psnr, ok, latents = [], [], [], []
            for s in range(0, len(rows), batch):
                r = rows[s:s + batch]
                pix = torch.from_numpy(sig.targets[r]).to(device)
                mask = None if sig.masks is None else torch.from_numpy(sig.masks[r]).to(device)
                # each INR's seed depends on (seed, its source index) only: batch size, resume and parts
                # change nothing
                if sig.fit_batch is not None:  # the modality fits its own way (shapes: per-INR points)
                    res = sig.fit_batch(r, settings, int(cfg.seed), bar.on_step, device)
                else:
                    res = fit_inrs(spec, pix, coords, settings, mask=mask, seed=int(cfg.seed),
                                   indices=sig.indices[r], on_step=bar.on_step, shape=sig.shape,
                                   start=None if mi is None else mi.init)
                if res.latents is not None:
                    latents.append(res.latents.numpy())
                params.append(res.params), psnr.append(res.psnr.numpy()), ok.append(res.ok.numpy())
                bar.batch_done(len(r), res.psnr)
            psnr_a, ok_a = np.concatenate(psnr), np.concatenate(ok)
            write_shard(store_dir, header, a, b, torch.cat(params), sig.indices[rows], psnr_a, ok_a,
                        None if sig.labels is None else sig.labels[rows],
                        extra={"latents": np.concatenate(latents).astype(np.float32)} if latents else None)
            fitted += len(rows)
            finite = psnr_a[np.isfinite(psnr_a)]  # a shard of diverged INRs (all NaN): no numpy warning
            run.log({"shard_psnr_mean": float(finite.mean()) if finite.size else float("nan"), "inrs_fitted": fitted,
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
        "device": str(device), "params_per_inr": spec.num_params, "degradation": sig.degradation["kind"],
        "backbone": kind_of(spec), "architecture": describe(spec),
    }
    if sig.masks is not None and sig.clean is not None:  # inpainting: the fit against the clean image
        metrics.update(_clean_scores(store, sig, device))
    elif sig.clean is not None and sig.names is not None and len(store) <= PER_IMAGE_MAX:
        metrics["per_image"] = _per_image(store, sig, device)
    modality.log_samples(cfg, run, store)
    run.log_histogram("psnr_per_inr", good)
    run.log_table("inrs", ["index", "label", "psnr", "ok"],
                  [[int(i), None if store.labels is None else int(store.labels[k]), float(store.psnr[k]),
                    bool(store.ok[k])] for k, i in enumerate(store.indices[:10000])])
    run.log({"psnr_mean": metrics["psnr_mean"], "psnr_p5": metrics["psnr_p5"]})
    print(f"fit {len(store)} INRs ({d.name} {d.split} [{lo}, {hi}), {sig.degradation['kind']}): "
          f"PSNR mean {metrics['psnr_mean']:.2f} dB, p5 {metrics['psnr_p5']:.2f} dB"
          + (f", {_rate(fitted, seconds)}" if fitted else ", all shards already done")
          + f"\n  store   {store_dir}\n  run dir {run.dir}")
    if flagged:
        nonfinite = int((~np.isfinite(psnr_all)).sum())
        flat = modality.flat
        why = (f"{nonfinite} non-finite, {flagged - nonfinite} worse than both {flat} and their "
               f"initialisation, after {cfg.fit.retries} refit(s) at half the learning rate")
        if flagged == len(store):
            regw = (f" or fit.reg_weights.{settings.reg.kind} (now {settings.reg.weight:g})"
                    if settings.reg is not None else "")
            raise InspError(f"the fit diverged: all {flagged} INRs failed ({why}); lower fit.lr (now "
                            f"{settings.lr:g}){regw} or check the data; they are flagged in {store_dir}", exit_code=3)
        raise InspError(f"{flagged} of {len(store)} INRs did not converge ({why}); they are flagged in {store_dir} "
                        "and skipped when it is opened", exit_code=3)
    return metrics


def meta_init(cfg: DictConfig, sig: "Signals", settings: FitSettings):
    """fit.init=PATH: load and check a meta-learned initialisation (insp meta-learn) for these signals. In
    fit.mode=functa the signals' latents alone are fitted (fit.steps Meta-SGD steps; sig.fit_batch is set)."""
    path, mode = cfg.fit.get("init"), str(cfg.fit.get("mode") or "weights")
    if not path:
        if mode == "functa":
            raise InspError("fit.mode=functa needs fit.init=PATH, a functa file of `insp meta-learn meta=functa`")
        return None
    if sig.fit_batch is not None:
        raise InspError(f"fit.init works for images and audio, not {cfg.data.name}")
    mi = load_meta(str(path))
    check_init_matches(mi, sig.spec, of_data(str(cfg.data.name)).name, sig.shape)
    if mi.mode != mode:
        raise InspError(f"initialisation {path} was learned in mode {mi.mode}; pass fit.mode={mi.mode}")
    if settings.reg is not None or settings.shared_init:
        raise InspError("fit.init does not combine with fit.reg or fit.shared_init")
    if mode == "functa":
        f = mi.functa

        def fit_batch(rows, st, seed, on_step, device):
            pix = torch.from_numpy(sig.targets[rows]).to(device)
            mask = None if sig.masks is None else torch.from_numpy(sig.masks[rows]).to(device)
            res = fit_latents(f, pix, sig.coords.to(device), st.steps, mask, on_step)
            return FitResult(params=res.params.float().cpu(), psnr=res.psnr.cpu(),
                             steps=torch.full((len(rows),), st.steps), ok=res.ok.cpu(), latents=res.latents.cpu())

        sig.fit_batch = fit_batch
    return mi


def _clean_scores(store: INRStore, sig: Signals, device) -> dict:
    """PSNR (dB) of each decoded INR against the CLEAN signal: on every pixel and on the missing pixels alone
    (INRR's Table 1 reports the whole image). Returns psnr_full_mean, psnr_missing_mean and per_image."""
    pos = {int(j): i for i, j in enumerate(sig.indices)}
    rows = np.array([pos[int(j)] for j in store.indices])
    coords = sig.coords.to(device)
    clean = torch.from_numpy(sig.clean[rows]).to(device)
    miss = torch.from_numpy(~sig.masks[rows]).to(device)
    params = store.params.float().to(device)
    full = psnr_of_fit(store.spec, params, coords, clean).cpu().numpy()
    gone = psnr_of_fit(store.spec, params, coords, clean, miss).cpu().numpy()
    names = [sig.names[int(r)] for r in rows] if sig.names is not None else [str(int(i)) for i in store.indices]
    per = [{"index": int(i), "name": n, "psnr_full": float(a), "psnr_missing": float(b),
            "missing_fraction": float(miss[k].float().mean())}
           for k, (i, n, a, b) in enumerate(zip(store.indices, names, full, gone))]
    ok = np.asarray(store.ok, dtype=bool)
    return {"psnr_full_mean": float(np.mean(full[ok])) if ok.any() else float("nan"),
            "psnr_missing_mean": float(np.mean(gone[ok])) if ok.any() else float("nan"), "per_image": per}


PER_IMAGE_MAX = 64  # fits of at most this many images list each one in metrics.json (photo tables)


def _per_image(store: INRStore, sig: Signals, device) -> list[dict]:
    """[{index, name, psnr (against the fitted, maybe degraded, image), psnr_clean (against the clean one),
    psnr_input (the degraded image against the clean one; None for clean fits)}]."""
    pos = {int(j): i for i, j in enumerate(sig.indices)}
    rows = np.array([pos[int(j)] for j in store.indices])
    clean = torch.from_numpy(sig.clean[rows]).to(device)
    full = psnr_of_fit(store.spec, store.params.float().to(device), sig.coords.to(device), clean).cpu().numpy()
    mse_in = ((sig.targets[rows].astype(np.float64) - sig.clean[rows]) ** 2).mean((1, 2))
    psnr_in = -10 * np.log10(np.maximum(mse_in, 1e-20))  # the degraded image itself (inf when clean)
    return [{"index": int(i), "name": sig.names[int(r)], "psnr": float(p), "psnr_clean": float(c),
             "psnr_input": float(pi) if np.isfinite(pi) and mse_in[k] > 0 else None}
            for k, (i, r, p, c, pi) in enumerate(zip(store.indices, rows, store.psnr, full, psnr_in))]


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:.1f} INR/s" if n >= seconds else f"{seconds / n:.2f} s/INR"
