"""`insp train-filter`: an INR store (+ its clean images) -> an INSP-Net filter checkpoint.

Learned tasks (denoise, blur, deblur, inpaint, inpaint_text) train Pi with AdamW on random pixels of the
training INRs; the targets are the clean images the store's header points to (blur: those images through the
task's Gaussian blur). Hand-made tasks (edges, laplacian, unsharp) train nothing: they decode Psi at the
requested resolution beside the classical pixel operators (the paper's Fig. 3).

The checkpoint is one safetensors file: Pi's weights and feature statistics, the AdamW state and the sampler's
random state (so an interrupted run resumes where it stopped), and JSON metadata with the task, the order K,
the pixel grid of the units and the INR architecture the filter expects.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..config import jets_compile, pick_device, seed_everything
from ..data import degrade, load_images
from ..errors import InspError
from ..filters import HANDMADE, INSPFilter, LearnedFusion, PixelSampler, augment
from ..inr.siren import SirenSpec
from ..inr.store import INRStore
from ..tracking import Run
from ..viz import save_grid
from . import hydra_run_dir

log = logging.getLogger("insp")

FORMAT, VERSION = "insp-filter", 1
LEARNED = ("denoise", "blur", "deblur", "inpaint", "inpaint_text")
TASKS = LEARNED + tuple(HANDMADE)


# --------------------------------------------------------------------------------- task, store and targets


def task_of(cfg_task) -> dict:
    """The task config as a plain dict, checked."""
    task = OmegaConf.to_container(cfg_task, resolve=True) if isinstance(cfg_task, DictConfig) else dict(cfg_task)
    if task.get("name") not in TASKS:
        raise InspError(f"unknown task {task.get('name')!r} (choose from {', '.join(TASKS)})")
    return task


def required(cfg: DictConfig, key: str, hint: str):
    """cfg[key], or one clear line when it was left at ``???``."""
    if OmegaConf.is_missing(cfg, key) or cfg[key] in (None, ""):
        raise InspError(f"pass {key}=... ({hint})")
    return cfg[key]


def open_store(paths) -> INRStore:
    paths = list(paths) if isinstance(paths, (list, tuple)) or OmegaConf.is_list(paths) else [paths]
    store = INRStore.open(paths)
    if store.spec.in_features != 2 or store.size is None:
        raise InspError(f"store {paths[0]} does not hold 2-D images with a recorded size; INSP-Net filters here "
                        "take image INRs")
    return store


def check_inputs(task: dict, store: INRStore, where: str) -> None:
    """The store's INRs are of the kind the task takes (e.g. denoise: INRs of noisy images)."""
    kind = store.header.degradation.get("kind", "clean")
    takes = task.get("inputs")
    if takes and kind not in takes:
        raise InspError(f"task={task['name']} takes INRs of {' or '.join(takes)} images, but {where} holds INRs "
                        f"of {kind} images (fit them with the matching degradation=...)")


def clean_images(store: INRStore, data_root: str, where: str) -> np.ndarray:
    """The clean images the store's INRs were fitted from, reloaded from its header: (N, H, W, c) in [0, 1]."""
    src = store.header.source
    if not src.get("name") or not src.get("split"):
        raise InspError(f"{where} records no ground-truth source (dataset name and split) in its header; "
                        "pass targets=FILE.npy with the clean images")
    folder = src.get("path") if src.get("origin") == "folder" else None
    lo, hi = int(store.indices.min()), int(store.indices.max()) + 1
    h, w = store.size
    try:
        images = load_images(src["name"], split=src["split"], start=lo, limit=hi - lo, size=h,
                             channels=src.get("channels"), root=data_root, folder=folder,
                             train_count=int(src.get("train_count", 90)))
    except InspError as e:
        raise InspError(f"cannot reload the clean images of {where}: {e}") from None
    pos = {int(j): i for i, j in enumerate(images.indices)}
    missing = [int(j) for j in store.indices if int(j) not in pos]
    if missing:
        raise InspError(f"the source of {where} no longer has images {missing[:5]} (it changed since the fit)")
    clean = images.images[[pos[int(j)] for j in store.indices]]
    check_targets(clean, store, where)
    return clean


def check_targets(targets: np.ndarray, store: INRStore, where: str) -> None:
    h, w = store.size
    c = store.spec.out_features
    if targets.ndim != 4 or targets.shape != (len(store), h, w, c):
        raise InspError(f"targets {tuple(targets.shape)} do not match the {len(store)} INRs of {where} "
                        f"({h}x{w}, {c} channels): expected ({len(store)}, {h}, {w}, {c})")


def load_targets(path: str, store: INRStore, where: str) -> np.ndarray:
    """Clean images from a .npy (or .npz with one array): (N, H, W, c) floats in [0, 1], in store order."""
    try:
        arr = np.load(path, allow_pickle=False)
        if isinstance(arr, np.lib.npyio.NpzFile):
            arr = arr[arr.files[0]]
    except (OSError, ValueError) as e:
        raise InspError(f"cannot read targets {path}: {e}") from None
    check_targets(arr, store, where)
    return arr.astype(np.float32)


def task_targets(task: dict, clean: np.ndarray) -> np.ndarray:
    """What Psi should output: the clean image, or for task=blur the clean image through the task's blur."""
    if task.get("target", "clean") == "clean":
        return clean
    if task["target"] == "blur":
        return degrade(clean, "gaussian_blur", dict(task.get("blur") or {})).images
    raise InspError(f"task {task['name']}: unknown target {task['target']!r} (clean or blur)")


def store_summary(store: INRStore) -> dict:
    h = store.header
    return {"source": {k: h.source.get(k) for k in ("name", "split", "size", "channels", "origin")},
            "degradation": h.degradation, "count": len(store),
            "indices": [int(store.indices.min()), int(store.indices.max())]}


# ------------------------------------------------------------------------------------------------ checkpoint


def save_filter(path: Path, fusion: LearnedFusion, meta: dict, optimizer: torch.optim.Optimizer | None = None,
                generator: torch.Generator | None = None) -> None:
    """Write a filter checkpoint atomically (temporary name, then rename)."""
    tensors = {f"fusion.{k}": v.detach().cpu().contiguous() for k, v in fusion.state_dict().items()}
    groups = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        for i, state in sd["state"].items():
            for k, v in state.items():
                tensors[f"optim.{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
        groups = sd["param_groups"]
    if generator is not None:
        tensors["rng"] = generator.get_state()
    meta = {"format": FORMAT, "version": VERSION, **meta, "optimizer_groups": groups}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={"insp": json.dumps(meta, sort_keys=True)})
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InspError(f"cannot write filter {path}: {e.strerror}") from None


def read_filter(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) of a filter checkpoint; InspError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise InspError(f"filter {path} does not exist; train one with `insp train-filter`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("insp", "null") or "null")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError, json.JSONDecodeError, ValueError) as e:
        raise InspError(f"{path} is not an insp filter checkpoint ({type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InspError(f"{path} is not an insp filter checkpoint")
    if int(meta.get("version", 0)) > VERSION:
        raise InspError(f"{path} was written by a newer insp (filter format {meta['version']}); upgrade insp")
    return meta, tensors


def build_fusion(meta: dict, tensors: dict[str, torch.Tensor] | None = None) -> LearnedFusion:
    f = meta["fusion"]
    fusion = LearnedFusion(channels=int(meta["channels"]), order=int(meta["order"]), hidden=int(f["hidden"]),
                           layers=int(f["layers"]), residual=bool(f["residual"]))
    if tensors is not None:
        sd = {k[len("fusion."):]: v for k, v in tensors.items() if k.startswith("fusion.")}
        try:
            fusion.load_state_dict(sd)
        except RuntimeError as e:
            raise InspError(f"filter weights do not match its metadata ({str(e).splitlines()[0]})") from None
    return fusion


def load_filter(path: str | Path) -> tuple[INSPFilter, dict]:
    """A trained filter ready to apply, and its metadata. Refuses an unfinished checkpoint."""
    meta, tensors = read_filter(path)
    if not meta.get("complete"):
        raise InspError(f"filter {path} is unfinished ({meta['train']['step']}/{meta['train']['steps']} steps); "
                        "rerun its `insp train-filter` command to resume")
    fusion = build_fusion(meta, tensors).eval()
    return INSPFilter(fusion=fusion, order=int(meta["order"]), units=tuple(meta["units"])), meta


def check_filter_fits(meta: dict, store: INRStore, where: str) -> None:
    """The filter was trained on INRs of this architecture, channel count and degradation kind."""
    spec = SirenSpec.from_dict(meta["architecture"])
    if spec != store.spec:
        raise InspError(f"the filter expects SIREN INRs {spec.depth}x{spec.hidden} (omega0 {spec.omega0:g}, "
                        f"{spec.out_features} channels) but {where} holds {store.spec.depth}x{store.spec.hidden} "
                        f"(omega0 {store.spec.omega0:g}, {store.spec.out_features} channels)")
    want = meta["trained_on"]["degradation"].get("kind")
    have = store.header.degradation.get("kind")
    if want != have:
        raise InspError(f"the filter was trained on INRs of {want} images but {where} holds INRs of {have} images")


# ------------------------------------------------------------------------------------------------------ jobs


def train_filter_job(cfg: DictConfig) -> float | None:
    return run_train_filter(cfg, hydra_run_dir()).get("train_psnr")


def run_train_filter(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Train (or, for hand-made tasks, just apply) the filter that ``cfg`` asks for. Returns the metrics."""
    with Run(cfg, run_dir, job="train-filter") as run:
        task = task_of(cfg.task)
        metrics = _handmade(cfg, run, task) if task["name"] in HANDMADE else _train(cfg, run, task)
        run.finish(metrics)
    return metrics


def _lr_at(t: dict, step: int) -> float:
    lr, final = float(t["lr"]), t.get("lr_final")
    if final is None or t["steps"] <= 1:
        return lr
    return float(final) + 0.5 * (lr - float(final)) * (1 + math.cos(math.pi * step / (t["steps"] - 1)))


def _train(cfg: DictConfig, run: Run, task: dict) -> dict:
    seed_everything(int(cfg.seed))
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    store = open_store(required(cfg, "store", "an INR store fitted with `insp fit`"))
    where = f"store {cfg.store}"
    check_inputs(task, store, where)
    clean = load_targets(str(cfg.targets), store, where) if cfg.targets else clean_images(store, cfg.data_root, where)
    targets = task_targets(task, clean)
    t = OmegaConf.to_container(cfg.train, resolve=True)
    fz = OmegaConf.to_container(cfg.fusion, resolve=True)
    order = int(fz["order"])
    h, w = store.size
    c = store.spec.out_features
    meta = {"task": task, "order": order, "units": [h, w], "channels": c,
            "fusion": {k: fz[k] for k in ("hidden", "layers", "residual")},
            "architecture": store.spec.to_dict(), "trained_on": store_summary(store),
            "train": {**t, "step": 0, "seed": int(cfg.seed)}, "complete": False}

    path = Path(str(cfg.filter))
    fusion = build_fusion(meta).to(device)
    opt = torch.optim.AdamW(fusion.parameters(), lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    gen = torch.Generator().manual_seed(int(cfg.seed))
    start = _resume(path, meta, fusion, opt, gen, bool(cfg.overwrite))
    if start is None:  # finished earlier: report, do not retrain
        old, _ = read_filter(path)
        print(f"filter {path} is already trained ({old['train']['steps']} steps); pass overwrite=true to retrain")
        return {"filter": str(path), "task": task["name"], "steps": old["train"]["steps"],
                "resumed_from": old["train"]["steps"], "train_psnr": old["train"].get("final_psnr")}

    t0 = time.time()
    params = store.params.to(device)
    tg = torch.from_numpy(np.ascontiguousarray(targets)).reshape(len(store), h * w, c).to(device)
    sampler = PixelSampler(store.spec, params, tg, order, (h, w), cache_bytes=float(t["feature_cache_gb"]) * 2**30,
                           images_per_batch=int(t["images_per_batch"]))
    if start == 0:
        feats, _ = sampler.sample(int(t["stat_points"]), torch.Generator().manual_seed(int(cfg.seed) + 1))
        fusion.scaler.fit(feats, channels=c)
    log.info("train-filter %s: %d INRs %dx%d, K=%d (%d features), Pi %dx%d, %d steps of %d points from step %d, "
             "features %s, augment %s, %s", task["name"], len(store), h, w, order, sampler.num_features,
             fz["layers"], fz["hidden"], t["steps"], t["batch_points"], start,
             "cached" if sampler.cache is not None else "per batch", bool(t["augment"]), device)

    steps, batch, every = int(t["steps"]), int(t["batch_points"]), int(t["log_every"])
    save_every = int(t["save_every"])
    running, psnr = [], float("nan")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("train-filter"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), disable=not sys.stderr.isatty()) as bar:
        bt = bar.add_task("train", total=steps, completed=start, info="")
        for step in range(start, steps):
            x, y = sampler.sample(batch, gen)
            if t["augment"]:
                x, y = augment(x, y, order, gen)
            for g in opt.param_groups:
                g["lr"] = _lr_at(t, step)
            loss = (fusion(x) - y).pow(2).mean()
            if not torch.isfinite(loss):
                raise InspError(f"the training loss became {float(loss)} at step {step}; lower train.lr", exit_code=3)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running.append(loss.detach().item())
            if (step + 1) % every == 0 or step + 1 == steps:
                mean_loss, running = float(np.mean(running)), []
                psnr = -10 * math.log10(max(mean_loss, 1e-20))
                run.log({"loss": mean_loss, "train_psnr": psnr, "lr": _lr_at(t, step)}, step=step + 1)
                bar.update(bt, completed=step + 1, info=f"psnr {psnr:5.2f} dB")
            if (step + 1) % save_every == 0 and step + 1 < steps:
                meta["train"]["step"] = step + 1
                save_filter(path, fusion, meta, opt, gen)
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
    same = ("task", "order", "units", "channels", "fusion", "architecture", "trained_on")
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
    fusion.load_state_dict({k[len("fusion."):]: v for k, v in tensors.items() if k.startswith("fusion.")})
    state = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    if state:
        opt.load_state_dict({"state": state, "param_groups": old["optimizer_groups"]})
    if "rng" in tensors:
        gen.set_state(tensors["rng"])
    log.info("resuming %s at step %d", path, old["train"]["step"])
    return int(old["train"]["step"])


@torch.no_grad()
def _train_psnr(fusion, sampler: PixelSampler, seed: int, points: int = 65536) -> float:
    x, y = sampler.sample(points, torch.Generator().manual_seed(seed + 2))
    mse = float((fusion(x).clamp(0, 1) - y).pow(2).mean())
    return -10 * math.log10(max(mse, 1e-20))


# ----------------------------------------------------------------------------------------------- hand-made


def _handmade(cfg: DictConfig, run: Run, task: dict) -> dict:
    """Psi = a hand-made Pi of the jets, decoded at ``decode.size`` beside the classical pixel operators."""
    from scipy import ndimage

    from ..baselines import classical as C

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
    s = size / h  # how many decoded pixels per fitted pixel
    n = min(int(cfg.decode.samples), len(store))
    params = store.params[:n].to(device)
    t0 = time.time()
    psi = INSPFilter(fusion=fusion, order=order, units=store.size).decode(store.spec, params, shape, clamp=False)
    psi = psi.cpu().numpy().astype(np.float64)
    decoded = store.decode(shape, rows=np.arange(n), device=device).numpy().astype(np.float64)
    seconds = time.time() - t0

    # Psi is in units of the fitted grid; on an s-times finer decoding a pixel step is s-times smaller, so the
    # pixel operators beside it are rescaled by s (gradients) or s^2 (Laplacian) to measure the same thing.
    def lap(img):
        return np.stack([ndimage.laplace(img[:, :, k], mode="reflect") for k in range(img.shape[-1])], -1) * s**2

    rows, corr = [], []
    if name == "edges":
        titles, ref = ["decoded", "INSP-Net |grad|", "Sobel", "Prewitt", "Canny"], "sobel"
        for i in range(n):
            sob = np.clip(C.sobel(decoded[i]) * s, 0, 1)
            rows.append([decoded[i], psi[i, :, :, 0], sob, np.clip(C.prewitt(decoded[i]) * s, 0, 1),
                         C.canny(decoded[i])])
            corr.append(_pearson(psi[i], sob))
    else:
        titles, ref = ["decoded", f"INSP-Net {name}", f"discrete {name}"], f"discrete_{name}"
        for i in range(n):
            disc = lap(decoded[i]) if name == "laplacian" else decoded[i] - amount * lap(decoded[i])
            show = 0.5 if name == "laplacian" else 0.0  # a signed Laplacian is shown around mid-grey
            rows.append([decoded[i], np.clip(show + psi[i], 0, 1), np.clip(show + disc, 0, 1)])
            corr.append(_pearson(psi[i], disc))
    out = Path(run.dir) / f"{name}.png"
    save_grid(rows, out, titles=titles, scale=max(1, 128 // size))
    arrays = Path(run.dir) / f"{name}.npz"  # the raw decodings (Psi unclamped, and Phi), for further use
    np.savez_compressed(arrays, insp=psi.astype(np.float32), decoded=decoded.astype(np.float32),
                        indices=store.indices[:n])
    run.log_image(name, out, caption=" | ".join(titles))
    key = f"pearson_vs_{ref}"
    metrics = {"task": name, "order": order, "decode_size": list(shape), "n_images": n, key: float(np.mean(corr)),
               "seconds": round(seconds, 2), "grid": str(out), "arrays": str(arrays)}
    print(f"train-filter {name} (hand-made, K={order}): {n} INRs decoded at {shape[0]}x{shape[1]}, mean Pearson r "
          f"vs {ref} {metrics[key]:.3f}\n  grid    {out}\n  run dir {run.dir}")
    return metrics


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-20))
