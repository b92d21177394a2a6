"""The images modality (m = 2): photos and image datasets -> 2-D INRs -> INSP-Net (denoise, blur, deblur,
inpaint) scored against the clean images in the layout of the paper's Table 2.

Fit: images (N, H, W, c) in [0, 1], degraded by any image degradation (noise, blur, masks, text, Poisson).
Pi: pixel-unit jets at random pixels and their context offsets (``filters.sampler.PixelSampler``), against the
task's target (``filters.tasks``), with the dihedral / colour augmentations.
`insp eval`: ``per_image.csv`` (one row per image and method), ``table2.md`` / ``table2.csv`` (means),
``grid.png`` (input | INSP-Net | baselines | ground truth), ``wins.csv`` / ``wins.png``, ``metrics.json``
(read by ``insp table``). Also the resolution check: Psi decoded on 2x2 sub-pixels and box-averaged back must
give the 1x decoding's quality (Psi is one continuous function, not a 1x image).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ..data import load_images
from ..data.degrade import MASKED, degrade
from ..errors import InspError
from ..files import atomic_write
from ..filters import PixelSampler, box_downsample
from ..filters.baselines.dncnn import TwinTraining, apply_twin, dncnn_for_budget, parameter_count, train_twin
from ..filters.baselines.images import BASELINES, LEARNED, apply_baseline
from ..filters.checkpoint import first_stage, prior_record
from ..filters.tasks import clean_targets, task_targets
from ..filters.jet_cnn import conv_record
from ..filters.train_pi import PiData, field_data, sampled_psnr
from ..inr.siren import grid_coords
from ..inr.store import INRStore
from ..metrics import image_scores, psnr_where_missing
from ..progress import ProgressLog
from ..report import PAPER_TABLE2, Column, Table, label, to_markdown
from ..report.wins import image_names, wins_vs_best_3x3, write_wins
from ..tracking import Run
from ..viz import save_grid, tile
from .base import (Modality, Signals, degraded, eval_record, fmt, open_store, pi_context, register, spec_for,
                   store_summary, summary_means, write_scores_csv)

log = logging.getLogger("insp")
PER_IMAGE_KEYS = ("psnr", "ssim", "lpips", "psnr_missing", "psnr_vs_1x")


def image_signals(cfg: DictConfig) -> Signals:
    d = cfg.data
    images = load_images(d.name, split=d.split, start=int(d.start), limit=d.limit, size=d.size,
                         channels=d.channels, root=d.root, folder=d.folder, download=bool(d.download),
                         train_count=int(d.train_count), crops=int(d.get("crops", 5)))
    if len(images) == 0:
        raise InspError(f"no images selected from {d.name} {d.split} (start={d.start}, limit={d.limit})")
    noisy = degraded(cfg, images.images, images.indices, d.name)
    n, h, w, c = images.images.shape
    source = {k: v for k, v in images.meta.items() if k not in ("start", "limit", "root")}
    source["size"] = [int(h), int(w)]
    masks = None if noisy.masks is None else noisy.masks.reshape(n, h * w)
    return Signals(targets=noisy.images.reshape(n, h * w, c), masks=masks, coords=grid_coords((h, w)),
                   indices=images.indices, labels=images.labels, spec=spec_for(cfg, 2, c, (h, w)), source=source,
                   degradation=noisy.params, shape=(h, w), clean=images.images.reshape(n, h * w, c),
                   names=list(images.names))


def _log_samples(cfg: DictConfig, run: Run, store: INRStore, size) -> None:
    n = min(int(cfg.samples), len(store))
    if n == 0:
        return
    imgs = store.decode(size, rows=np.arange(n)).numpy()
    path = save_grid(tile(imgs, ncol=8), run.dir / "samples.png", scale=max(1, 64 // size[0]))
    run.log_image("samples", path, caption=f"first {n} INRs decoded at {size[0]}x{size[1]}")


def pi_meta(cfg: DictConfig, store, fz: dict, meta: dict) -> None:
    """The (2 reach / step + 1)^2 pixel offsets (and a coarse square's, ``base.pi_context``), (0, 0) alone for the
    paper's pointwise Pi."""
    if fz.get("kind", "mlp") == "conv":  # a CNN on the jet field (filters.jet_cnn): its reach sets the offsets
        offsets = conv_record(fz, 2, meta)
    else:
        offsets = pi_context(fz, 2, meta)
    meta["units"] = list(store.size)
    meta["fusion"]["offsets"] = [list(o) for o in offsets]
    if fz.get("prior"):  # a cascade: Pi also reads a trained first stage's output (filters.insp_net)
        meta["fusion"]["prior"] = prior_record(str(fz["prior"]), int(fz.get("prior_ensemble") or 1), meta)


def pi_data(cfg: DictConfig, store, task: dict, meta: dict, device) -> PiData:
    """Random pixels of random training INRs: their (cached) jets and the task's target pixels."""
    t, where = meta["train"], f"store {cfg.store}"
    h, w = store.size
    c = store.spec.out_features
    offsets = [tuple(o) for o in meta["fusion"]["offsets"]]
    params = store.params.to(device)
    targets = task_targets(task, clean_targets(cfg.targets, cfg.data_root, store, where))
    tg = torch.from_numpy(np.ascontiguousarray(targets)).reshape(len(store), h * w, c).to(device)
    sampler = PixelSampler(store.spec, params, tg, int(meta["order"]), (h, w),
                           cache_bytes=float(t["feature_cache_gb"]) * 2**30,
                           images_per_batch=int(t["images_per_batch"]), offsets=offsets, prior=first_stage(meta))
    if meta["fusion"].get("kind") == "conv":
        side = int(t.get("patch") or 32)
        return field_data(sampler, side, c, 0.0, f"{h}x{w}, windows of {side}x{side} with a reach of {sampler.pad}")
    return PiData(sample=sampler.sample, num_features=sampler.num_features, stat_channels=len(offsets) * c,
                  stat_features=lambda k, gen, seed: sampler.sample(k, torch.Generator().manual_seed(seed + 1))[0],
                  final_psnr=lambda fusion, seed: sampled_psnr(fusion, sampler.sample, seed, 0.0),
                  what=f"{h}x{w}, {len(offsets)} offsets")


def _eval_inputs(cfg: DictConfig, task: dict, store, where: str):
    """(targets (N, H, W, c), the removed-pixel masks or None, the store's degradation, the baselines asked for)."""
    clean = clean_targets(cfg.targets, cfg.data_root, store, where)
    gt = task_targets(task, clean).astype(np.float64)
    deg = dict(store.header.degradation)
    mask = None
    if deg.get("kind") in MASKED:  # the same removed pixels as the fit saw
        kind, seed = deg.pop("kind"), int(deg.pop("seed", 0))
        mask = degrade(clean, kind, deg, seed=seed, indices=store.indices).masks
        deg = store.header.degradation
    names = list(cfg.baselines) if cfg.baselines is not None else list(task.get("baselines") or [])
    for b in names:
        if b not in BASELINES + LEARNED:
            raise InspError(f"unknown baseline {b!r} (choose from {', '.join(BASELINES + LEARNED)})")
    return gt, mask, deg, names


def pixel_twin(cfg: DictConfig, filt, meta: dict, task: dict, device) -> tuple:
    """The learned pixel twin of Pi (``filters.baselines.dncnn``), trained on the decoded INRs of Pi's own
    training store (``twin.store``, checked against the filter's record) with Pi's parameter count and training
    settings: (the trained DnCNN, what metrics.json records of it). For an ensemble of N filters
    (``filters.checkpoint.load_filters``) the budget is all N Pi's parameters together (``MeanFusion``'s), at one
    Pi's steps; for a cascade both stages' parameters and steps together."""
    if not cfg.twin.store:
        raise InspError("baseline dncnn (the pixel twin) trains on the filter's training INRs: pass "
                        "twin.store=STORE, the store `insp train-filter` was given")
    store, _ = open_store(cfg.twin.store)
    where = f"twin.store {cfg.twin.store}"
    if store_summary(store) != meta["trained_on"]:
        raise InspError(f"{where} is not the store this filter was trained on (its source, degradation or INR "
                        "range differ); pass the filter's training store")
    t0 = time.time()
    inputs = store.decode(store.size, device=device).numpy()
    targets = task_targets(task, clean_targets(None, cfg.data_root, store, where))
    budget = sum(p.numel() for p in filt.fusion.parameters())  # a cascade's frozen first stage included
    model = dncnn_for_budget(store.spec.out_features, budget, int(cfg.twin.depth))
    tr = meta["train"]
    prior_steps = int((meta["fusion"].get("prior") or {}).get("steps") or 0)
    t = TwinTraining(steps=int(tr["steps"]) + prior_steps, pixels=int(tr["batch_points"]), lr=float(tr["lr"]),
                     lr_final=None if tr.get("lr_final") is None else float(tr["lr_final"]),
                     weight_decay=float(tr["weight_decay"]), augment=bool(tr["augment"]), seed=int(cfg.seed),
                     patch=int(cfg.twin.patch))
    log.info("pixel twin: DnCNN %d layers x %d channels, %d parameters (Pi: %d), %d steps of %d pixels on %d "
             "decoded training INRs", model.depth, model.width, parameter_count(model), budget, t.steps, t.pixels,
             len(store))
    train_psnr = train_twin(model, inputs, targets, t)
    return model, {"architecture": f"DnCNN {model.depth} layers x {model.width}", "parameters": parameter_count(model),
                   "pi_parameters": budget, "steps": t.steps, "pixels_per_step": t.pixels, "patch": t.patch,
                   "train_inrs": len(store), "train_psnr": round(train_psnr, 3),
                   "seconds": round(time.time() - t0, 2)}


def _decode(cfg: DictConfig, task: dict, filt, store, methods: list[str], c: int, device):
    """Phi and Psi of every INR at the fitted size (and Psi at 2x box-averaged back, for the resolution check):
    ({method: (N, H, W, c)}, the 2x decodings or None)."""
    (h, w), n, bs = store.size, len(store), int(cfg.batch_inrs)
    outs = {m: np.empty((n, h, w, c), np.float32) for m in methods}
    up = np.empty_like(outs["input"]) if cfg.check_2x else None
    with ProgressLog("eval", n, "INR", where=f"{task['name']}: 0/{n} INRs decoded") as progress:
        for a in range(0, n, bs):
            rows = np.arange(a, min(a + bs, n))
            params = store.params_at(rows).to(device)
            outs["input"][rows] = store.decode((h, w), rows=rows, device=device).numpy()
            outs["insp_net"][rows] = filt.decode(store.spec, params, (h, w)).cpu().numpy()
            if up is not None:
                up[rows] = box_downsample(filt.decode(store.spec, params, (h, w), factor=2), 2).cpu().numpy()
            progress.update(rows[-1] + 1, f"{task['name']}: {rows[-1] + 1}/{n} INRs decoded")
    return outs, up


def _check_2x(scores: dict, up: np.ndarray, outs: dict, gt: np.ndarray, device) -> dict:
    """Psi decoded on 2x2 sub-pixels and box-averaged back against the 1x decoding (adds its per-image scores)."""
    p1 = scores["insp_net"]["psnr"]
    p2 = image_scores(up, gt, device, False)["psnr"]
    pc = image_scores(up, outs["insp_net"], device, False)["psnr"]
    scores["insp_net_2x_down"] = {"psnr": p2, "psnr_vs_1x": pc}
    return {"psnr_1x": float(p1.mean()), "psnr_2x_down": float(p2.mean()),
            "delta_db": float(p2.mean() - p1.mean()), "max_abs_delta_db": float(np.abs(p2 - p1).max()),
            "psnr_2x_down_vs_1x": float(pc.mean()), "within_0_5_db": bool(abs(p2.mean() - p1.mean()) <= 0.5)}


def evaluate_images(cfg: DictConfig, run: Run, filt, meta: dict, store, where: str, device) -> dict:
    """Psi and the classical filters against the task's targets: PSNR / SSIM / LPIPS (module docstring)."""
    task = meta["task"]
    gt, mask, deg, names = _eval_inputs(cfg, task, store, where)
    methods = ["input"] + names + ["insp_net"]
    h, w = store.size
    n = len(store)
    with_lpips = bool(cfg.lpips) and gt.shape[-1] in (1, 3) and min(h, w) >= 32
    if bool(cfg.lpips) and not with_lpips:
        log.warning("LPIPS skipped: it needs 1- or 3-channel images of at least 32x32 pixels")
    t0 = time.time()
    outs, up = _decode(cfg, task, filt, store, methods, gt.shape[-1], device)
    decode_seconds = time.time() - t0
    twin = None
    for b in names:
        if b == "dncnn":
            model, twin = pixel_twin(cfg, filt, meta, task, device)
            outs[b] = apply_twin(model, outs["input"], ensemble=filt.ensemble)
            continue
        outs[b] = np.stack([apply_baseline(b, img, deg, float(cfg.wiener_balance))
                            for img in outs["input"]]).astype(np.float32)
    scores = {m: image_scores(outs[m], gt, device, with_lpips) for m in methods}
    alone = None
    if filt.ensemble > 1:  # Pi (and the twin) alone beside their self-ensembles: the same trained models, per item
        alone = _score_alone(cfg, filt, store, outs["input"], model if twin else None, gt, device, with_lpips, scores)
    if mask is not None:
        for m in methods:
            scores[m]["psnr_missing"] = psnr_where_missing(outs[m], gt, mask)
    rows_summary = summary_means(scores)
    check = None if up is None else _check_2x(scores, up, outs, gt, device)

    write_scores_csv(run.dir / "per_image.csv", store.indices, scores, PER_IMAGE_KEYS)
    wins = wins_vs_best_3x3(scores)
    if wins is not None:  # wins.csv + wins.png: INSP-Net minus the best 3x3 filter, per image
        wins = write_wins(run.dir, image_names(dict(store.header.source), store.indices), scores, wins)
    _write_table(run.dir, task["name"], methods, rows_summary, mask is not None)
    if int(cfg.grid) > 0:  # grid=0: no PNG grid
        grid = _write_grid(run.dir / "grid.png", outs, gt, methods, int(cfg.grid))
        run.log_image("grid", grid, caption=" | ".join(methods + ["ground truth"]))
    run.log_table("per_image", ["index", "method", "psnr", "ssim", "lpips"],
                  [[int(store.indices[i]), m, float(scores[m]["psnr"][i]), float(scores[m]["ssim"][i]),
                    float(scores[m]["lpips"][i])] for m in methods for i in range(n)])
    run.log({f"{m}/{k}": v for m, r in rows_summary.items() for k, v in r.items() if v is not None})

    setting = {"image_size": [h, w], "channels": store.spec.out_features}
    metrics = eval_record(cfg, meta, store, scores, methods, setting, decode_seconds, decode_2x=check,
                          wins_vs_best_3x3=wins, self_ensemble=filt.ensemble,
                          **({"without_self_ensemble": alone} if alone else {}),
                          **({"pixel_twin": twin} if twin else {}))
    r = rows_summary
    line = "  ".join(f"{m} {r[m]['psnr']:.2f}" for m in methods)
    print(f"eval {task['name']} on {n} INRs ({h}x{w}): PSNR {line}"
          + (f"\n  2x decode: {check['psnr_2x_down']:.2f} dB vs 1x {check['psnr_1x']:.2f} dB" if check else "")
          + (f"\n  wins against {wins['best_3x3']}: {wins['wins']}/{wins['n']} (mean {wins['mean_delta_db']:+.2f} dB)"
             if wins else "")
          + f"\n  table   {run.dir / 'table2.md'}\n  run dir {run.dir}")
    return metrics


def _score_alone(cfg, filt, store, noisy: np.ndarray, twin_model, gt, device, with_lpips: bool, scores: dict) -> dict:
    """Pi without its self-ensemble (and the twin, when given, without its views) on the same trained models:
    adds ``scores["insp_net_alone"]`` (and ``"dncnn_alone"``) per item; returns their means. noisy: (N, H, W, C)."""
    (h, w), n = store.size, len(store)
    single, bs = dataclasses.replace(filt, ensemble=1), int(cfg.batch_inrs)
    outs = {"insp_net": np.concatenate([
        single.decode(store.spec, store.params_at(np.arange(a, min(a + bs, n))).to(device), (h, w)).cpu().numpy()
        for a in range(0, n, bs)])}
    if twin_model is not None:
        outs["dncnn"] = apply_twin(twin_model, noisy)
    for m, out in outs.items():
        scores[f"{m}_alone"] = image_scores(out, gt, device, with_lpips)
    return summary_means({m: scores[f"{m}_alone"] for m in outs})


def _write_table(run_dir: Path, task: str, methods: list[str], rows: dict, missing: bool) -> None:
    """Table 2's layout (method | PSNR | SSIM | LPIPS), as markdown and CSV; the paper's numbers below, labelled."""
    cols = ["psnr", "ssim", "lpips"] + (["psnr_missing"] if missing else [])
    order = ["input"] + [m for m in methods if m not in ("input", "insp_net")] + ["insp_net"]
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["method", "label"] + cols)
    for m in order:
        wr.writerow([m, label(m)] + [fmt(rows[m].get(c)) for c in cols])
    atomic_write(run_dir / "table2.csv", buf.getvalue())
    columns = [Column("method", "Method"), Column("psnr", "PSNR", 2), Column("ssim", "SSIM", 3),
               Column("lpips", "LPIPS", 3)] + ([Column("psnr_missing", "PSNR (removed pixels)", 2)] if missing else [])
    ours = Table("eval", f"Task: {task} (ours, this run)", None, columns,
                 [{"method": label(m), **rows[m]} for m in order],
                 notes=["Classical filters: 3x3 windows (Gaussian: sigma 1); Wiener: deconvolution with the known "
                        "PSF."])
    tables = [ours]
    if task == "denoise":
        paper = [Column("method", "Method"), Column("psnr", "PSNR", 2), Column("ssim", "SSIM", 2),
                 Column("lpips", "LPIPS", 2)]
        paper_rows = [{"method": f"{label(m)} (paper)", "psnr": p, "ssim": s, "lpips": lp}
                for m, (p, s, lp) in PAPER_TABLE2.items()]
        tables.append(Table("paper", "The paper's Table 2 (DIV2K 256x256, 100 test INRs; reference only, not this "
                            "run)", None, paper, paper_rows))
    atomic_write(run_dir / "table2.md", to_markdown(tables))


def _write_grid(path: Path, outs: dict, gt: np.ndarray, methods: list[str], count: int) -> Path:
    shown = ["input", "insp_net"] + [m for m in methods if m not in ("input", "insp_net")]
    rows = [[outs[m][i] for m in shown] + [gt[i]] for i in range(min(count, len(gt)))]
    size = gt.shape[1]
    return save_grid(rows, path, titles=[label(m).split(" (")[0] for m in shown] + ["ground truth"],
                     scale=max(1, 128 // size))


class Images(Modality):
    name = "images"
    summary_keys = ("name", "split", "size", "channels", "origin")
    flat = "a flat mid-gray image"
    self_ensemble = True

    def signals(self, cfg):
        return image_signals(cfg)

    def log_samples(self, cfg, run, store):
        _log_samples(cfg, run, store, store.size)

    def check_store(self, store, where):
        if store.spec.in_features != 2 or store.size is None:
            raise InspError(f"{where} does not hold 2-D images with a recorded size; INSP-Net filters here "
                            "take image INRs")

    pi_meta = staticmethod(pi_meta)
    pi_data = staticmethod(pi_data)
    evaluate = staticmethod(evaluate_images)


IMAGES = register(Images())
