"""`insp train-filter`: an INR store (+ its clean images) -> an INSP-Net filter checkpoint.

Learned tasks (denoise, blur, deblur, inpaint, inpaint_text; audio: denoise; shapes: smooth, denoise_shape)
train Pi with ``filters.train_pi`` on training points the store's modality supplies (``modalities/``); the
targets are the clean signals the store's header points to (blur: those images through the task's Gaussian
blur; ``filters.tasks``). Hand-made tasks (edges, laplacian, unsharp)
train nothing: they decode Psi at the requested resolution beside the classical pixel operators (the paper's
Fig. 3; ``filters.handmade``). The filter file is ``filters.checkpoint``'s; a rerun resumes an unfinished one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..config import hydra_run_dir, jets_compile, pick_device, required, seed_everything
from ..errors import InspError
from ..files import atomic_write
from ..filters import HANDMADE, INSPFilter, handmade
from ..filters.tasks import SHAPE_TASKS, check_inputs, task_of
from ..filters.train_pi import train_pi
from ..modalities.base import check_task, open_store, store_summary
from ..tracking import Run, run_job
from ..viz import save_grid

log = logging.getLogger("insp")


def train_filter_job(cfg: DictConfig) -> float | None:
    return run_train_filter(cfg, hydra_run_dir()).get("train_psnr")


def run_train_filter(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Train (or, for hand-made tasks, just apply) the filter that ``cfg`` asks for. Returns the metrics."""
    return run_job(cfg, run_dir, "train-filter",
                   lambda cfg, run: (_handmade if task_of(cfg.task)["name"] in HANDMADE else _train)(cfg, run))


def _train(cfg: DictConfig, run: Run) -> dict:
    """A learned Pi on the store's INRs: the modality supplies its metadata and training data, ``train_pi`` the
    rest (the same loop for every modality)."""
    task = task_of(cfg.task)
    seed_everything(int(cfg.seed))
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    store, modality = open_store(required(cfg, "store", "an INR store fitted with `insp fit`"))
    where = f"store {cfg.store}"
    check_inputs(task, store, where)
    check_task(task, store, where, SHAPE_TASKS)
    t = OmegaConf.to_container(cfg.train, resolve=True)
    fz = OmegaConf.to_container(cfg.fusion, resolve=True)
    meta = {"task": task, "order": int(fz["order"]), "channels": store.spec.out_features,
            "fusion": {k: fz[k] for k in ("hidden", "layers", "residual")},
            "architecture": store.spec.to_dict(), "trained_on": store_summary(store),
            "train": {**t, "step": 0, "seed": int(cfg.seed)}, "complete": False}
    if fz.get("kind", "mlp") == "conv" and modality.name not in ("images", "audio"):
        raise InspError(f"fusion.kind=conv (a CNN on the jet field) is for image and audio INRs; {where} holds "
                        f"{modality.name}")
    if fz.get("prior") and modality.name != "images":
        raise InspError(f"fusion.prior (a cascade of two filters) is for image INRs; {where} holds {modality.name}")
    modality.pi_meta(cfg, store, fz, meta)
    return train_pi(meta, lambda: modality.pi_data(cfg, store, task, meta, device), Path(str(cfg.filter)),
                    int(cfg.seed), bool(cfg.overwrite), device, lambda values, step: run.log(values, step=step),
                    len(store), run.dir, keep=lambda note: setattr(run, "kept", note))


def _handmade(cfg: DictConfig, run: Run) -> dict:
    """Psi = a hand-made Pi of the jets, decoded at ``decode.size`` beside the classical pixel operators."""
    task = task_of(cfg.task)
    run.kept = "nothing is kept (a hand-made filter's outputs are written when it ends); rerun the same command"
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    store, _ = open_store(required(cfg, "store", "an INR store fitted with `insp fit`"))
    name = task["name"]
    fn, order, _ = HANDMADE[name]
    amount = float(task.get("amount", 0.5))
    fusion = (lambda pj: fn(pj, amount)) if name == "unsharp" else fn
    h, w = store.size
    size = int(cfg.decode.size) if cfg.decode.size else h
    shape = (size, round(w * size / h))
    n = min(int(cfg.decode.samples), len(store))
    params = store.params_at(slice(0, n)).to(device)
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
