"""`insp fit`: signals of any modality (``modalities/``: images, audio clips, meshes) -> (degrade) -> batched INR
fitting (any backbone of ``inr/backbones.py``) -> sharded INR store."""

from __future__ import annotations

import logging
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ..config import hydra_run_dir, jets_compile, pick_device, seed_everything, threads_from_env
from ..errors import InspError
from ..inr.backbones import describe, kind_of
from ..inr.fit import SEEDING, FitResult, FitSettings, fit_inrs, psnr_of_fit
from ..inr.meta import fit_latents
from ..inr.meta_file import check_init_matches, load_meta
from ..inr.regularised import RegSettings
from ..inr.store import (SHARED_FILE, INRStore, StoreHeader, finished_shards, plan_range, prepare_store,
                         read_header, verify_for_resume, write_shard, write_shared)
from ..modalities import Modality, Signals, check_finite_input, of_data  # noqa: F401  (check_finite_input: public here)
from ..progress import FitProgress
from ..schema import RULES, settings, typed, validate
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
    """cfg.fit -> FitSettings, every value checked and typed by its rule in schema.py (one line per bad value)."""
    s = settings(FitSettings, cfg.fit, "fit", "fit", skip=("reg",))
    s.reg = reg_settings(cfg.fit)
    return s


def reg_settings(f: DictConfig) -> RegSettings | None:
    """fit.reg, its weight fit.reg_weights.<kind> and fit.reg_opts -> RegSettings (None for reg=none)."""
    kind = typed("fit.reg", f.get("reg", "none") or "none", RULES["fit"]["fit.reg"])
    if kind == "none":
        return None
    weight = (f.get("reg_weights") or {}).get(kind)
    if weight is None:
        raise InspError(f"fit.reg={kind} needs a weight fit.reg_weights.{kind}")
    reg = settings(RegSettings, f.get("reg_opts") or {}, "fit.reg_opts", "fit", skip=("kind", "weight"))
    reg.kind, reg.weight = kind, typed(f"fit.reg_weights.{kind}", weight, RULES["fit"][f"fit.reg_weights.{kind}"])
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
    validate(cfg, "fit")  # types and ranges (schema.py): a Python caller is checked as the command line is
    seed_everything(int(cfg.seed))
    threads_from_env()  # INSP_THREADS: small batched products run far faster on one thread of a shared CPU
    jets_compile(cfg)  # compile=true: the fitting step through torch.compile (inr/fit.py set_compile)
    device = pick_device(str(cfg.device))
    modality = of_data(str(cfg.data.name))
    settings = fit_settings(cfg)
    check_prox(cfg, settings, modality)  # before any data is read or fetched
    sig = modality.signals(cfg)
    lo, hi = part_range(int(sig.indices[0]), int(sig.indices[-1]) + 1, int(cfg.data.shard), int(cfg.data.num_shards),
                        int(cfg.fit.shard_size))
    _adapt(settings, cfg, sig)
    mi = meta_init(cfg, sig, settings)  # fit.init: a meta-learned start (docs/meta.md), or None
    header = _header(cfg, sig, settings, mi)
    store_dir, todo = _plan(cfg, header, lo, hi, device, mi)
    t0 = time.time()
    fitted = _fit_shards(cfg, sig, settings, mi, header, store_dir, todo, device, run)
    seconds = time.time() - t0
    store = _fitted(store_dir, lo, hi)
    metrics = _metrics(cfg, sig, store, store_dir, (lo, hi), fitted, seconds, device)
    _log_results(cfg, modality, run, store, metrics)
    print(f"fit {len(store)} INRs ({cfg.data.name} {cfg.data.split} [{lo}, {hi}), {sig.degradation['kind']}): "
          f"PSNR mean {metrics['psnr_mean']:.2f} dB, p5 {metrics['psnr_p5']:.2f} dB"
          + (f", {_rate(fitted, seconds)}" if fitted else ", all shards already done")
          + f"\n  store   {store_dir}\n  run dir {run.dir}")
    _refuse_flagged(cfg, modality, store, store_dir, settings)
    return metrics


def _adapt(settings: FitSettings, cfg: DictConfig, sig: Signals) -> None:
    """The settings adapted to the backbone and the signals: a backbone that decodes its whole grid every step
    ignores fit.batch_pixels; a regulariser needs images."""
    if not getattr(sig.spec, "pointwise", True) and settings.batch_pixels:
        log.info("fit.batch_pixels=%s ignored: %s decodes its whole grid every step", settings.batch_pixels,
                 describe(sig.spec))
        settings.batch_pixels = None
    if settings.reg is not None and len(sig.shape) != 2:
        raise InspError(f"fit.reg={settings.reg.kind} regularises images (rows and columns); {cfg.data.name} is not")


# fit settings added after stores were written, with their defaults (FitSettings'): torch's Adam, no warm-up
_SINCE_DEFAULTS = {f.name: f.default for f in fields(FitSettings) if f.name in ("warmup", "beta1", "beta2", "prox")}


def _header(cfg: DictConfig, sig: Signals, settings: FitSettings, mi) -> StoreHeader:
    """The store header of this fit: the backbone, the source, the degradation and how the INRs are fitted."""
    fit_rec = {k: v for k, v in settings.__dict__.items() if k not in ("reg", "shared_init", *_SINCE_DEFAULTS)}
    # settings added later: only when not their default, so older stores' headers (and resumes) stay as they were
    fit_rec.update({k: getattr(settings, k) for k, d in _SINCE_DEFAULTS.items() if getattr(settings, k) != d})
    if mi is not None:  # only when used: older stores' headers stay as they were; another init refuses a resume
        fit_rec["init"] = mi.record()
        fit_rec["mode"] = mi.mode
    if settings.shared_init:  # only when used: older stores' headers (and resumes) stay as they were
        fit_rec["shared_init"] = True
    if settings.reg is not None:  # only when used: stores fitted before fit.reg existed still resume
        fit_rec["reg"] = settings.reg.to_dict()
    header = StoreHeader(spec=sig.spec, source=sig.source, degradation=sig.degradation,
                         fit={**fit_rec, **(sig.fit_extra or {}), "seed": int(cfg.seed),
                              "shard_size": int(cfg.fit.shard_size), "seeding": SEEDING,
                              "psnr_floor": "above min(flat mid-gray image, initialisation) (docs/fit.md)"})
    if mi is not None and mi.mode == "functa" and not _older_functa_store(cfg.store, header):
        # the shared base once and one latent per INR (format version 3, docs/store.md)
        header = StoreHeader(spec=header.spec, source=header.source, degradation=header.degradation, fit=header.fit,
                             compact={"kind": "functa", "file": SHARED_FILE,
                                      "latent_dim": mi.functa.latent_dim, "sha256": mi.sha256})
    return header


def _older_functa_store(store, header: StoreHeader) -> bool:
    """True when ``store`` is a functa store of full parameters (an insp before the compact layout) of these
    very INRs: a resume keeps writing its layout, so that it stays one store."""
    try:
        old = read_header(store)
    except InspError:  # none yet, or damaged: prepare_store says so
        return False
    if old.compact is None and old.fit.get("mode") == "functa" and old.same_kind(header) is None:
        log.info("store %s holds functa INRs as full SIREN parameters (an older insp): this fit adds to it the "
                 "same way; a new store keeps the base once and one latent per INR", store)
        return True
    return False


def _plan(cfg: DictConfig, header: StoreHeader, lo: int, hi: int, device, mi=None
          ) -> tuple[Path, list[tuple[int, int]]]:
    """Create or reopen the store (a compact functa store: with its shared tensors, rewritten if missing or
    damaged), record [lo, hi) as planned, verify what is there (bad shards are moved aside and so refitted):
    (the store directory, the ranges still to fit)."""
    store_dir = prepare_store(cfg.store, header)
    if header.compact is not None:
        write_shared(store_dir, header, mi.functa)
    plan_range(store_dir, lo, hi)
    verify_for_resume(store_dir, header, lo, hi)
    todo = missing_ranges(lo, hi, int(cfg.fit.shard_size), list(finished_shards(store_dir)))
    left = sum(b - a for a, b in todo)
    log.info("fit %d %s %s INRs [%d, %d) -> %s (%d to fit, %d already done); %s, %d params, %s", hi - lo,
             cfg.data.name, cfg.data.split, lo, hi, store_dir, left, hi - lo - left, describe(header.spec),
             header.spec.num_params, device)
    return store_dir, todo


def _fit_shards(cfg: DictConfig, sig: Signals, settings: FitSettings, mi, header: StoreHeader, store_dir: Path,
                todo: list[tuple[int, int]], device, run: Run) -> int:
    """Fit each range of ``todo`` in batches of fit.batch_size and write it as one shard. Returns INRs fitted."""
    coords = sig.coords.to(device)
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
                    res = fit_inrs(sig.spec, pix, coords, settings, mask=mask, seed=int(cfg.seed),
                                   indices=sig.indices[r], on_step=bar.on_step, shape=sig.shape,
                                   start=None if mi is None else mi.init)
                if res.latents is not None:
                    latents.append(res.latents.numpy())
                params.append(res.params), psnr.append(res.psnr.numpy()), ok.append(res.ok.numpy())
                bar.batch_done(len(r), res.psnr)
            psnr_a, ok_a = np.concatenate(psnr), np.concatenate(ok)
            # a compact store keeps the latents alone: its params are expanded on read (docs/store.md)
            write_shard(store_dir, header, a, b, None if header.compact else torch.cat(params), sig.indices[rows],
                        psnr_a, ok_a, None if sig.labels is None else sig.labels[rows],
                        extra={"latents": np.concatenate(latents).astype(np.float32)} if latents else None)
            fitted += len(rows)
            finite = psnr_a[np.isfinite(psnr_a)]  # a shard of diverged INRs (all NaN): no numpy warning
            run.log({"shard_psnr_mean": float(finite.mean()) if finite.size else float("nan"), "inrs_fitted": fitted,
                     "inrs_per_second": fitted / max(time.time() - t0, 1e-9)})
    return fitted


def _fitted(store_dir: Path, lo: int, hi: int) -> INRStore:
    """The INRs of [lo, hi) in the store (those of this fit and of earlier ones), flagged ones included."""
    mine = [p for (a, b), p in finished_shards(store_dir).items() if a < hi and b > lo]
    store = INRStore.open(mine, only_ok=False)
    return store.subset(np.nonzero((store.indices >= lo) & (store.indices < hi))[0])


def _metrics(cfg: DictConfig, sig: Signals, store: INRStore, store_dir: Path, span: tuple[int, int], fitted: int,
             seconds: float, device) -> dict:
    """metrics.json of the fit: counts, PSNR over the converged INRs, the backbone; per image where it applies."""
    good = store.psnr.astype(np.float64)[store.ok]
    spec = store.spec
    metrics = {
        "store": str(store_dir), "dataset": cfg.data.name, "split": cfg.data.split, "range": list(span),
        "count": len(store), "flagged": int((~store.ok).sum()),
        "psnr_mean": float(good.mean()) if len(good) else float("nan"),
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
    return metrics


def _log_results(cfg: DictConfig, modality, run: Run, store: INRStore, metrics: dict) -> None:
    """Samples, the PSNR histogram and a table of the INRs to the run (W&B)."""
    modality.log_samples(cfg, run, store)
    run.log_histogram("psnr_per_inr", store.psnr.astype(np.float64)[store.ok])
    run.log_table("inrs", ["index", "label", "psnr", "ok"],
                  [[int(i), None if store.labels is None else int(store.labels[k]), float(store.psnr[k]),
                    bool(store.ok[k])] for k, i in enumerate(store.indices[:10000])])
    run.log({"psnr_mean": metrics["psnr_mean"], "psnr_p5": metrics["psnr_p5"]})


def _refuse_flagged(cfg: DictConfig, modality, store: INRStore, store_dir: Path, settings: FitSettings) -> None:
    """INRs that did not converge end the fit with one line (exit 3): all of them = the fit diverged."""
    flagged = int((~store.ok).sum())
    if not flagged:
        return
    nonfinite = int((~np.isfinite(store.psnr.astype(np.float64))).sum())
    why = (f"{nonfinite} non-finite, {flagged - nonfinite} worse than both {modality.flat} and their "
           f"initialisation, after {cfg.fit.retries} refit(s) at half the learning rate")
    if flagged == len(store):
        regw = (f" or fit.reg_weights.{settings.reg.kind} (now {settings.reg.weight:g})"
                if settings.reg is not None else "")
        raise InspError(f"the fit diverged: all {flagged} INRs failed ({why}); lower fit.lr (now "
                        f"{settings.lr:g}){regw} or check the data; they are flagged in {store_dir}", exit_code=3)
    raise InspError(f"{flagged} of {len(store)} INRs did not converge ({why}); they are flagged in {store_dir} "
                    "and skipped when it is opened", exit_code=3)


def check_prox(cfg: DictConfig, settings: FitSettings, modality: Modality) -> None:
    """fit.prox pulls each INR's weights to their start inside ``fit_inrs``: images and audio in fit.mode=weights;
    a modality with its own fit (shapes) and functa latents fit their own way, so it is refused there in one
    line rather than ignored."""
    mode = str(cfg.fit.get("mode") or "weights")
    if settings.prox and (mode == "functa" or modality.own_fit):
        raise InspError(f"fit.prox pulls each INR's weights to their start: it works for images and audio in "
                        f"fit.mode=weights, not {'fit.mode=functa' if mode == 'functa' else cfg.data.name}")


def meta_init(cfg: DictConfig, sig: "Signals", settings: FitSettings):
    """fit.init=PATH: load and check a meta-learned initialisation (insp meta-learn) for these signals. In
    fit.mode=functa the signals' latents alone are fitted (fit.steps Meta-SGD steps; sig.fit_batch is set)."""
    path, mode = cfg.fit.get("init"), str(cfg.fit.get("mode") or "weights")
    if not path:
        if mode == "functa":
            raise InspError("fit.mode=functa needs fit.init=PATH, a functa file of `insp meta-learn meta=functa`")
        return None
    modality = of_data(str(cfg.data.name))
    if modality.own_fit:
        raise InspError(f"fit.init works for images and audio, not {cfg.data.name}")
    mi = load_meta(str(path))
    check_init_matches(mi, sig.spec, modality.name, sig.shape)
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
