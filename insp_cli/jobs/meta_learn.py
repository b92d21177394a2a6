"""`insp meta-learn`: training signals -> a meta-learned initialisation file (inr/meta.py, inr/meta_file.py).

Learns on a TRAIN split only (refused otherwise), through the same data adapters as `insp fit`; the last
``meta.val`` signals of the selection are held out and scored after ``meta.inner_steps`` inner steps (the
validation split that settings are chosen on). Uses the one training loop of training.py; the output file is
also the checkpoint: a rerun of the same command resumes an unfinished one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import hydra_run_dir, jets_compile, pick_device, seed_everything, threads_from_env
from ..errors import InspError
from ..inr.backbones import describe
from ..inr.registry import BACKBONES, backbone_of
from ..inr.siren import BACKBONE as SIREN
from ..inr.fit import FitSettings, fit_inrs, inr_seed
from ..inr.meta import AUGMENTS, MetaINR, fit_latents, flip_signals, functa_loss, reptile_loss
from ..inr.meta_file import load_meta, read_meta, save_meta
from ..training import cosine_factor, differing, resume_or_refuse, train_steps
from ..modalities import of_data
from ..tracking import Run, run_job

log = logging.getLogger("insp")


def meta_learn_job(cfg: DictConfig) -> float | None:
    return run_meta_learn(cfg, hydra_run_dir())


def run_meta_learn(cfg: DictConfig, run_dir: str | Path) -> float:
    """Learn ``cfg.init`` and write the run directory. Returns the validation PSNR (dB)."""
    return run_job(cfg, run_dir, "meta-learn", _meta_learn)["val_psnr"]


def _signals(cfg: DictConfig):
    d = cfg.data
    if str(d.split) != "train":
        raise InspError(f"meta-learning learns on the train split only (data.split=train), not {d.split!r}: every "
                        "figure of a fit from it must be on signals it never saw")
    modality = of_data(str(d.name))
    if modality.own_fit:
        raise InspError(f"meta-learning takes images or audio (data=mnist | images | photos | audio ...), not {d.name}")
    if BACKBONES.get(str(cfg.model.kind)) is not SIREN:
        raise InspError(f"meta-learning learns SIREN initialisations, not model.kind={cfg.model.kind}")
    if str(cfg.degradation.kind) != "clean":
        raise InspError(f"meta-learning learns from clean signals (degradation=clean), not {cfg.degradation.kind}")
    sig = modality.signals(cfg)
    if backbone_of(sig.spec) is not SIREN:
        raise InspError(f"meta-learning learns SIREN initialisations, not {describe(sig.spec)}")
    return sig


def _meta_learn(cfg: DictConfig, run: Run) -> dict:
    seed_everything(int(cfg.seed))
    threads_from_env()
    jets_compile(cfg)  # compile=true: the inner loop's fitting step through torch.compile, as `insp fit`'s
    device = pick_device(str(cfg.device))
    m = OmegaConf.to_container(cfg.meta, resolve=True)
    mode, seed = str(m["mode"]), int(cfg.seed)
    if mode == "functa" and int(m["latent_dim"]) < 1:
        raise InspError("meta=functa needs meta.latent_dim >= 1")
    sig = _signals(cfg)
    n_all, n_val = len(sig.indices), int(m["val"])
    if n_all - n_val < 1:
        raise InspError(f"meta.val={n_val} holds out all {n_all} selected signals; select more (data.limit) or "
                        "lower meta.val")
    n_train = n_all - n_val
    meta = _file_meta(cfg, m, sig, n_train, n_val)
    model = MetaINR(sig.spec, mode, latent_dim=max(1, int(m["latent_dim"])), inner_lr=float(m["inner_lr"]),
                    generator=torch.Generator().manual_seed(inr_seed(seed, 2**63))).to(device)
    opt = (torch.optim.SGD(model.parameters(), lr=float(m["outer_lr"])) if mode == "weights"
           else torch.optim.Adam(model.parameters(), lr=float(m["outer_lr"])))
    gen = torch.Generator().manual_seed(seed)
    path = Path(str(cfg.init))
    start, old = resume_or_refuse(
        path, read_meta, lambda old: differing(old, meta, SAME_RUN), "initialisation", "init", model, "meta.", opt,
        gen, lambda old: old["step"], bool(cfg.overwrite))
    if start is None:
        done = load_meta(path)
        print(f"initialisation {path} is already learned ({old['meta']['steps']} steps); pass overwrite=true "
              "to learn it again")
        return {"init": str(path), "mode": mode, "steps": old["meta"]["steps"], "sha256": done.sha256,
                "val_psnr": old.get("val_psnr")}

    k = int(m["inner_steps"])
    inner = inner_settings(m)
    t0 = time.time()
    train_psnr = _outer_loop(cfg, m, run, sig, n_train, n_val, model, opt, gen, path, meta, inner, start, device)
    seconds = time.time() - t0
    val_psnr = _validate(sig, model, sig.spec, mode, inner, k, n_train, seed, device) if n_val else float("nan")
    meta.update(step=int(m["steps"]), complete=True, val_psnr=val_psnr, seconds=round(seconds, 2))
    save_meta(path, model, meta)  # no optimizer state: the finished file holds the learned tensors only
    done = load_meta(path)  # verifies what was written
    run.log({"val_psnr": val_psnr})
    print(f"meta-learn {mode}: {n_train} {cfg.data.name} train signals, {m['steps']} outer steps"
          + (f" (resumed at {start})" if start else "")
          + f", {seconds:.0f} s; "
          + (f"held-out {n_val} train signals after {k} inner steps: {val_psnr:.2f} dB" if n_val else
             "no train signals held out (meta.val=0)")
          + f"\n  init    {path}\n  run dir {run.dir}")
    return {"init": str(path), "mode": mode, "dataset": cfg.data.name, "split": cfg.data.split,
            "train_signals": n_train, "val_signals": n_val, "steps": int(m["steps"]), "resumed_from": start,
            "inner_steps": k, "train_psnr": train_psnr, "val_psnr": val_psnr, "seconds": round(seconds, 2),
            "sha256": done.sha256, "architecture": describe(sig.spec), "device": str(device)}


# the inner Adam schedule's later settings and their values before them (warm-up 0, torch's betas): a file's
# metadata names one only where it differs, so files learned before these settings existed still resume
_INNER_SINCE = {"inner_warmup": ("warmup", 0), "inner_beta1": ("beta1", 0.9), "inner_beta2": ("beta2", 0.999)}
_META_SINCE = {"augment": AUGMENTS[0]}  # later outer-loop settings and their values before them, likewise


def inner_settings(m: dict) -> FitSettings:
    """The Reptile inner loop (weights mode) from ``cfg.meta``: the fit's own batched Adam, ``inner_steps`` steps,
    ``inner_lr`` cosine to ``inner_lr_final`` after ``inner_warmup`` linear steps, Adam betas ``inner_beta1`` /
    ``inner_beta2`` (as ``fit.warmup`` / ``fit.beta1`` / ``fit.beta2``: docs/fit.md)."""
    later = {field: type(default)(m.get(key, default)) for key, (field, default) in _INNER_SINCE.items()}
    return FitSettings(steps=int(m["inner_steps"]), lr=float(m["inner_lr"]), lr_final=float(m["inner_lr_final"]),
                       retries=0, **later)


# the file's settings that make it one run: a file that differs in one of them is refused, not resumed
SAME_RUN = ("mode", "architecture", "modality", "shape", "channels", "source", "meta", "seed")


def _file_meta(cfg: DictConfig, m: dict, sig, n_train: int, n_val: int) -> dict:
    """The output file's metadata (docs/meta.md, "The file") before the first step."""
    spec, mode = sig.spec, str(m["mode"])
    source = {**sig.source, "indices": [int(sig.indices[0]), int(sig.indices[n_train - 1]) + 1], "count": n_train,
              "val_indices": [int(sig.indices[n_train]), int(sig.indices[-1]) + 1] if n_val else None}
    meta = {"mode": mode, "architecture": spec.to_dict(), "backbone": describe(spec),
            "modality": of_data(str(cfg.data.name)).name, "shape": [int(s) for s in sig.shape],
            "channels": int(sig.targets.shape[-1]), "source": source,
            "meta": {**{k: m[k] for k in ("steps", "batch_size", "inner_steps", "inner_lr", "inner_lr_final",
                                       "outer_lr", "outer_lr_final", "latent_dim")},
            **{k: m[k] for k, (_, default) in _INNER_SINCE.items() if k in m and m[k] != default},
            **{k: m[k] for k, default in _META_SINCE.items() if k in m and m[k] != default}},
            "seed": int(cfg.seed), "step": 0, "complete": False}
    meta["meta"]["inner"] = ("Adam, (warm-up then) cosine inner_lr -> inner_lr_final (inr/fit.py), Reptile outer SGD"
                             if mode == "weights" else
                             "SGD on the latent, Meta-SGD rates; outer Adam through the inner steps")
    return meta


def _outer_loop(cfg, m: dict, run: Run, sig, n_train: int, n_val: int, model: MetaINR, opt, gen, path: Path,
                meta: dict, inner: FitSettings, start: int, device) -> float:
    """Outer steps ``start .. meta.steps`` on the train signals (checkpoints to ``path``); returns the mean
    PSNR after the inner loop over the last ``meta.log_every`` steps."""
    mode, seed, spec = str(m["mode"]), int(cfg.seed), sig.spec
    coords = sig.coords.to(device)
    targets = torch.from_numpy(sig.targets[:n_train]).to(device) * 2.0 - 1.0  # (N, Q, c) in [-1, 1]
    steps, batch, k, every = int(m["steps"]), min(int(m["batch_size"]), n_train), inner.steps, int(m["log_every"])
    log.info("meta-learn %s: %d %s train signals (%d held out), %s, %d outer steps of %d signals, %d inner steps, "
             "from step %d, %s", mode, n_train, cfg.data.name, n_val, describe(spec), steps, batch, k, start, device)
    running: list[float] = []
    flips = str(m.get("augment", "none")) == "flips"

    def loss_at(step: int) -> torch.Tensor:
        rows = torch.randint(n_train, (batch,), generator=gen)
        y = targets[rows.to(device)]
        if flips:
            y = flip_signals(y, tuple(sig.shape), gen)
        if mode == "functa":
            loss, mse = functa_loss(model.functa(), coords, y, k)
        else:
            gens = [torch.Generator().manual_seed(inr_seed(seed, int(sig.indices[r]), step + 1)) for r in rows]
            loss, mse = reptile_loss(spec, model.init, coords, y, inner, gens)
        running.append(float((-10 * torch.log10((mse / 4).clamp_min(1e-20))).mean()))
        return loss

    def after_step(done: int) -> str:
        psnr = float(np.mean(running[-every:]))
        if done % every == 0 or done == steps:
            run.log({"train_psnr_after_inner": psnr, "outer_lr": opt.param_groups[0]["lr"]}, step=done)
        if done % int(m["save_every"]) == 0 and done < steps:
            save_meta(path, model, {**meta, "step": done}, opt, gen)
        return f"after {k} inner steps {psnr:5.2f} dB"

    lr0, lr1 = float(m["outer_lr"]), float(m["outer_lr_final"])
    train_steps(model, opt, loss_at, start, steps, lambda i: lr1 + (lr0 - lr1) * cosine_factor(i, max(steps - 1, 1)),
                after_step, "meta-learn", lambda i: f"outer step {i + 1}",
                "lower meta.outer_lr (or meta.inner_lr)")
    return float(np.mean(running[-every:])) if running else float("nan")


def _validate(sig, model, spec, mode, inner: FitSettings, k: int, n_train: int, seed: int, device) -> float:
    """Mean PSNR (dB) of the held-out signals fitted from the learned start with the inner loop (k steps)."""
    pix = torch.from_numpy(sig.targets[n_train:]).to(device)
    coords = sig.coords.to(device)
    if mode == "functa":
        res = fit_latents(model.functa(), pix, coords, k)
    else:
        res = fit_inrs(spec, pix, coords, FitSettings(**{**inner.__dict__, "retries": 0}), seed=seed,
                       indices=sig.indices[n_train:], start=model.init.detach())
    return float(res.psnr[torch.isfinite(res.psnr)].mean())
