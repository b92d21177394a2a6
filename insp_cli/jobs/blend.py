"""`insp blend`: gradient-domain editing of INRs (filters/gradient_domain.py) -> a new INR store, scored against the
discrete Poisson solution and alpha blending of the decoded grids (filters/baselines/poisson.py).

Run directory: ``metrics.json`` (per pair and means), ``blend.png`` (f1 | f2 | mask | INR blend | Poisson blend |
alpha blend per pair) or ``reconstruct.png`` (image | INR from gradients | Poisson from finite differences),
``mask.png``. The new INRs are ordinary SIRENs in the store ``out`` (decode, filter or classify them as any other).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import hydra_run_dir, pick_device, required, seed_everything, threads_from_env
from ..errors import InspError
from ..filters.baselines.poisson import alpha_blend, poisson_blend, poisson_reconstruct, seam_error
from ..filters.gradient_domain import MASK_SHAPES, GradientFitSettings, Mask, check_pairs, fit_to_gradients
from ..inr.backbones import describe, name_of
from ..inr.fit import decode_pixels
from ..inr.siren import SirenSpec, grid_coords
from ..jets.inr_jet import inr_jet
from ..inr.store import INRStore, StoreHeader, finished_shards, plan_range, prepare_store, write_shard
from ..metrics.images import psnr_up_to_constant
from ..modalities import of_store
from ..modalities.images import IMAGES
from ..progress import step_progress
from ..tracking import Run, run_job
from ..viz import save_grid

log = logging.getLogger("insp")


def blend_job(cfg: DictConfig) -> float | None:
    m = run_blend(cfg, hydra_run_dir())
    return m.get("psnr_vs_poisson_mean", m.get("psnr_mean"))


def run_blend(cfg: DictConfig, run_dir: str | Path) -> dict:
    return run_job(cfg, run_dir, "blend", _blend)


def _open(path) -> INRStore:
    store = INRStore.open(str(path))
    if of_store(store) is not IMAGES or store.spec.in_features != 2 or store.size is None:
        raise InspError(f"store {path} does not hold 2-D images with a recorded size; `insp blend` edits image INRs")
    if not getattr(store.spec, "pointwise", True):
        raise InspError(f"store {path} holds {name_of(store.spec)} INRs, whose jets exist on their grid only; "
                        "blending reads gradients at any point (SIREN stores)")
    return store


def check_same_kind(a: INRStore, b: INRStore, pa, pb) -> None:
    """Two stores can be blended when their images have one size and channel count and their INRs one backbone."""
    if a.size != b.size:
        raise InspError(f"stores {pa} and {pb} hold images of different sizes ({a.size[0]}x{a.size[1]} and "
                        f"{b.size[0]}x{b.size[1]}); fit them at one data.size")
    if a.spec.out_features != b.spec.out_features:
        raise InspError(f"stores {pa} and {pb} hold images with different channels ({a.spec.out_features} and "
                        f"{b.spec.out_features})")
    if a.spec != b.spec:
        raise InspError(f"stores {pa} and {pb} hold INRs of different backbones ({describe(a.spec)} and "
                        f"{describe(b.spec)}); blend INRs of one architecture")


def make_mask(m: DictConfig, size: tuple[int, int]) -> Mask:
    """cfg.mask -> Mask; a PNG path is read as a grayscale picture (white = inside) that must be ``size``."""
    shape = str(m.shape)
    centre, radius = [float(v) for v in m.centre], [float(v) for v in m.radius]
    if len(centre) != 2 or len(radius) != 2:
        raise InspError(f"mask.centre and mask.radius take two numbers each, got {list(m.centre)} and "
                        f"{list(m.radius)}")
    if shape == "disc":
        return Mask.disc(centre[0], centre[1], radius[0])
    if shape == "rect":
        return Mask.rect(*centre, *radius)
    path = Path(shape)
    if path.suffix.lower() != ".png":
        raise InspError(f"mask.shape={shape!r} is neither a built-in shape ({' | '.join(MASK_SHAPES)}) nor a .png path")
    if not path.is_file():
        raise InspError(f"mask picture {path} does not exist")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as e:
        raise InspError(f"cannot read mask picture {path}: {e}") from None
    if pixels.shape != tuple(size):
        raise InspError(f"mask picture {path} is {pixels.shape[0]}x{pixels.shape[1]}, the images are "
                        f"{size[0]}x{size[1]}: draw the mask at the images' size")
    return Mask.from_pixels(pixels > 0.5)


def _settings(cfg: DictConfig) -> GradientFitSettings:
    f = cfg.fit
    return GradientFitSettings(steps=int(f.steps), lr=float(f.lr), lr_final=float(f.lr_final),
                               batch_points=int(f.batch_points), pool_points=int(f.pool_points),
                               value_weight=float(f.value_weight), path_weight=float(f.path_weight),
                               path_pairs=int(f.path_pairs), path_length=float(f.path_length))


def _phi_spec(cfg: DictConfig, source) -> SirenSpec:
    m = cfg.model
    pick = lambda key, default: default if m.get(key) is None else m[key]  # noqa: E731
    return SirenSpec(in_features=2, out_features=source.out_features,
                     hidden=int(pick("hidden", getattr(source, "hidden", 64))),
                     depth=int(pick("depth", getattr(source, "depth", 3))),
                     omega0=float(pick("omega0", getattr(source, "omega0", 30.0))))


def _pairs(cfg: DictConfig, n1: int, n2: int | None) -> list[tuple[int, int]]:
    pairs = OmegaConf.to_container(cfg.pairs, resolve=True) if OmegaConf.is_list(cfg.pairs) else cfg.pairs
    if pairs is None:
        pairs = list(range(n1)) if n2 is None else [[i, i + 1] for i in range(0, min(n1, n2) - 1, 2)]
    if not isinstance(pairs, list):
        raise InspError(f"pairs must be a list ([[i, j], ...] or [i, ...]), got {pairs!r}")
    return check_pairs(pairs, n1, n2)


@dataclass
class _Inputs:
    """What a blend reads: the mode, alpha, the stores (s2/p2 None for reconstruct), the pairs, the grid and
    the mask (None for reconstruct) with its pixels on the grid."""

    mode: str
    alpha: float
    p1: object
    s1: INRStore
    p2: object
    s2: INRStore | None
    pairs: list[tuple[int, int]]
    size: tuple[int, int]
    mask: object
    grid_mask: np.ndarray | None


def _inputs(cfg: DictConfig) -> _Inputs:
    mode, alpha = str(cfg.mode), float(cfg.alpha)
    if not 0.0 <= alpha <= 1.0:  # schema.py says so first; kept for callers of run_blend
        raise InspError(f"bad value: alpha={alpha}; it must be a number in [0, 1]")
    p1 = required(cfg, "store", "an INR store of images (insp fit data=images ...)")
    s1 = _open(p1)
    s2, p2 = None, None
    if mode == "blend":
        p2 = cfg.store2 if cfg.store2 is not None else p1
        s2 = s1 if p2 == p1 else _open(p2)
        check_same_kind(s1, s2, p1, p2)
    # a backbone without jets says so now, in one line
    inr_jet(s1.spec, s1.params_at(slice(0, 1)), torch.zeros(1, 2), 1)
    pairs = _pairs(cfg, len(s1), None if s2 is None else len(s2))
    size = s1.size
    mask = make_mask(cfg.mask, size) if mode == "blend" else None
    grid_mask = None if mask is None else mask.grid(size)
    if grid_mask is not None and (not grid_mask.any() or grid_mask.all()):
        raise InspError(f"the mask covers {'no' if not grid_mask.any() else 'every'} pixel of the {size[0]}x{size[1]} "
                        "grid: move or resize it (mask.centre, mask.radius)")
    return _Inputs(mode, alpha, p1, s1, p2, s2, pairs, size, mask, grid_mask)


def _new_store(cfg: DictConfig, x: _Inputs, spec: SirenSpec, settings: GradientFitSettings) -> tuple[Path, StoreHeader]:
    """The output store's folder (refused when it already holds INRs) and header, planned for one shard."""
    blend = x.mode == "blend"
    header = StoreHeader(
        spec=spec,
        source={"name": f"insp-{x.mode}", "modality": "images", "size": [int(x.size[0]), int(x.size[1])],
                "channels": int(spec.out_features), "mode": x.mode, "store": str(x.p1),
                "store2": None if x.p2 is None else str(x.p2), "pairs": [list(p) for p in x.pairs],
                "alpha": x.alpha if blend else None,
                "mask": OmegaConf.to_container(cfg.mask, resolve=True) if blend else None},
        degradation={"kind": "clean"},
        fit={**settings.__dict__, "seed": int(cfg.seed), "loss": "E|h grad Phi - h g|^2 + lambda (1 - k) |Phi - f1|^2 "
             "(docs/blend.md)", "targets": "order-1 jets of the stored INRs"})
    out = Path(str(cfg.out))
    if out.is_dir() and finished_shards(out):
        raise InspError(f"store {out} already holds INRs; pass another out=PATH or remove it")
    out = prepare_store(out, header)
    plan_range(out, 0, len(x.pairs))
    return out, header


def _fit_pairs(cfg: DictConfig, run: Run, x: _Inputs, spec: SirenSpec, settings: GradientFitSettings, device):
    """Phi of every pair fitted to its gradients, ``fit.batch_size`` pairs at a time: (params, loss, ok,
    grad_rmse) over all pairs; InspError when every fit diverged."""
    batch = int(cfg.fit.batch_size)
    params, loss, ok, grad_rmse = [], [], [], []
    with step_progress(x.mode, total=settings.steps * ((len(x.pairs) + batch - 1) // batch)) as bar:
        for b, a in enumerate(range(0, len(x.pairs), batch)):
            chunk = x.pairs[a:a + batch]
            f1 = x.s1.params_at([i for i, _ in chunk]).to(device)
            f2 = None if x.s2 is None else x.s2.params_at([j for _, j in chunk]).to(device)

            def on_step(step, lv, done=b * settings.steps):
                if step % 10 == 0 or step == settings.steps - 1:
                    bar.update(done + step + 1, f"loss {float(lv.mean()):.2e}")
                    run.log({"loss": float(lv.mean())})

            res = fit_to_gradients(spec, x.s1.spec, f1, f2, x.mask, x.alpha, x.size, settings, seed=int(cfg.seed),
                                   indices=range(a, a + len(chunk)), on_step=on_step)
            params.append(res.params), loss.append(res.loss), ok.append(res.ok), grad_rmse.append(res.grad_rmse)
    params, loss, ok, grad_rmse = torch.cat(params), torch.cat(loss), torch.cat(ok), torch.cat(grad_rmse)
    if not ok.any():
        raise InspError(f"the gradient fit diverged for all {len(x.pairs)} pairs (non-finite loss); lower fit.lr (now "
                        f"{settings.lr:g})", exit_code=3)
    return params, loss, ok, grad_rmse


def _score_and_draw(cfg: DictConfig, run: Run, x: _Inputs, phi: np.ndarray, img1: np.ndarray, device) -> dict:
    """The mode's scores against the pixel baselines, and its picture grid (+ mask.png for a blend)."""
    shown = range(min(len(x.pairs), int(cfg.samples)))
    if x.mode == "reconstruct":
        metrics = _score_reconstruction(phi, img1, x.pairs, x.s1)
        _draw(run, "reconstruct", [[img1[k], phi[k], np.clip(metrics["_poisson"][k], 0, 1)] for k in shown],
              ["image (decoded f)", "INR from grad f", "Poisson from diffs"])
        metrics.pop("_poisson")
        return metrics
    img2 = x.s2.decode(x.size, rows=[j for _, j in x.pairs], device=device).numpy().astype(np.float64)
    metrics = _score_blends(phi, img1, img2, x.grid_mask, x.alpha, x.pairs, x.s1, x.s2)
    mask = x.grid_mask.astype(np.float64)
    rows = [[img1[k], img2[k], mask, phi[k], np.clip(metrics["_poisson"][k], 0, 1), metrics["_alpha"][k]]
            for k in shown]
    _draw(run, "blend", rows, ["f1", "f2", "mask", "INR blend", "Poisson", "alpha blend"])
    save_grid([[mask]], run.dir / "mask.png")
    metrics.pop("_poisson"), metrics.pop("_alpha")
    return metrics


def _blend(cfg: DictConfig, run: Run) -> dict:
    seed_everything(int(cfg.seed))
    threads_from_env()
    device = pick_device(str(cfg.device))
    x = _inputs(cfg)
    spec, settings = _phi_spec(cfg, x.s1.spec), _settings(cfg)
    out, header = _new_store(cfg, x, spec, settings)
    log.info("%s %d pair(s) of %s%s -> %s: Phi %s, %d steps of %d points", x.mode, len(x.pairs), x.p1,
             f" and {x.p2}" if x.p2 is not None else "", out, describe(spec), settings.steps, settings.batch_points)
    t0 = time.time()
    params, loss, ok, grad_rmse = _fit_pairs(cfg, run, x, spec, settings, device)
    seconds = time.time() - t0
    # decode everything once on the stores' grid: the INR results, the inputs, and the pixel baselines
    with torch.no_grad():
        phi = decode_pixels(_eval(spec, params, grid_coords(x.size), device))
    phi = phi.reshape(len(x.pairs), x.size[0], x.size[1], -1).numpy().astype(np.float64)
    img1 = x.s1.decode(x.size, rows=[i for i, _ in x.pairs], device=device).numpy().astype(np.float64)
    store = INRStore.open(_write(out, header, params, loss, ok, phi, img1, x.mode), only_ok=False)
    metrics = _score_and_draw(cfg, run, x, phi, img1, device)
    inputs = [str(x.p1)] + ([str(x.p2)] if x.p2 is not None else [])
    metrics.update({"mode": x.mode, "store": str(out), "inputs": inputs,
                    "pairs": [list(p) for p in x.pairs], "count": len(store),
                    "alpha": x.alpha if x.mode == "blend" else None, "size": list(x.size),
                    "architecture": describe(spec), "params_per_inr": spec.num_params,
                    "fit_seconds": round(seconds, 3), "device": str(device), "loss_mean": float(loss.mean()),
                    "grad_rmse_mean": float(grad_rmse.mean()), "flagged": int((~ok).sum())})
    run.log({k: v for k, v in metrics.items() if isinstance(v, float)})
    print(_summary(metrics) + f"\n  store   {out}\n  run dir {run.dir}")
    return metrics


def _eval(spec, params, coords, device) -> torch.Tensor:
    from ..inr.siren import siren_forward

    p = params.to(device)
    return torch.cat([siren_forward(spec, p, coords[a:a + 16384].to(device)).cpu()
                      for a in range(0, coords.shape[0], 16384)], dim=1)


def _write(out: Path, header: StoreHeader, params, loss, ok, phi, img1, mode) -> Path:
    """One shard of the new INRs; its psnr column: against the decoded f1 (reconstruct: up to the constant;
    blend: over the whole image, a plain record of how far the blend moved from f1)."""
    if mode == "reconstruct":
        psnr = psnr_up_to_constant(phi, img1)
    else:
        psnr = -10 * np.log10(np.maximum(((phi - img1) ** 2).mean((1, 2, 3)), 1e-20))
    write_shard(out, header, 0, len(params), params, np.arange(len(params)), psnr.astype(np.float32),
                ok.numpy().astype(np.uint8))
    return out


def _score_reconstruction(phi, img, pairs, s1) -> dict:
    poisson = np.stack([poisson_reconstruct(x) for x in img])
    inr = psnr_up_to_constant(phi, img)
    disc = psnr_up_to_constant(poisson, img)
    per = [{"index": int(s1.indices[i]), "psnr": float(a), "psnr_discrete_poisson": float(b)}
           for (i, _), a, b in zip(pairs, inr, disc)]
    return {"psnr_mean": float(inr.mean()), "psnr_min": float(inr.min()),
            "psnr_discrete_poisson_mean": float(disc.mean()), "per_pair": per, "_poisson": poisson,
            "score": "PSNR (dB) of the decoded INR against the decoded f, each minus its per-channel mean"}


def _score_blends(phi, img1, img2, mask, alpha, pairs, s1, s2) -> dict:
    poisson = np.stack([poisson_blend(a, b, mask, alpha) for a, b in zip(img1, img2)])
    alpha_b = np.stack([alpha_blend(a, b, mask, alpha) for a, b in zip(img1, img2)])
    per = []
    for k, (i, j) in enumerate(pairs):
        vs = -10 * np.log10(max(float(((phi[k] - poisson[k]) ** 2).mean()), 1e-20))
        seams = {name: seam_error(x, img1[k], img2[k], mask, alpha)
                 for name, x in (("inr", phi[k]), ("poisson", poisson[k]), ("alpha", alpha_b[k]))}
        per.append({"index1": int(s1.indices[i]), "index2": int(s2.indices[j]), "psnr_vs_poisson": vs,
                    "seam_inr": seams["inr"], "seam_poisson": seams["poisson"], "seam_alpha": seams["alpha"],
                    "psnr_alpha_vs_poisson": -10 * np.log10(max(float(((alpha_b[k] - poisson[k]) ** 2).mean()),
                                                                1e-20))})
    col = lambda key: np.array([p[key] for p in per])  # noqa: E731
    return {"psnr_vs_poisson_mean": float(col("psnr_vs_poisson").mean()),
            "psnr_vs_poisson_min": float(col("psnr_vs_poisson").min()),
            "seam_inr_mean": float(col("seam_inr").mean()), "seam_poisson_mean": float(col("seam_poisson").mean()),
            "seam_alpha_mean": float(col("seam_alpha").mean()),
            "seam_inr_below_alpha": int((col("seam_inr") < col("seam_alpha")).sum()),
            "per_pair": per, "_poisson": poisson, "_alpha": alpha_b,
            "score": "psnr_vs_poisson: the decoded INR blend against the discrete Poisson blend (decoded grids); "
                     "seam: RMS over pixel pairs crossing the mask boundary of the result's difference minus the "
                     "guidance's (filters/baselines/poisson.py seam_error)"}


def _draw(run: Run, name: str, rows: list, titles: list[str]) -> None:
    if not rows:
        return
    path = save_grid(rows, run.dir / f"{name}.png", titles=titles, scale=max(1, 96 // rows[0][0].shape[0]))
    run.log_image(name, path, caption=" | ".join(titles))


def _summary(m: dict) -> str:
    if m["mode"] == "reconstruct":
        return (f"reconstruct {m['count']} INRs from their gradients: PSNR (up to a constant) mean "
                f"{m['psnr_mean']:.2f} dB, min {m['psnr_min']:.2f} dB (discrete Poisson "
                f"{m['psnr_discrete_poisson_mean']:.2f} dB)")
    return (f"blend {m['count']} pairs (alpha {m['alpha']:g}): INR vs discrete Poisson {m['psnr_vs_poisson_mean']:.2f} "
            f"dB (min {m['psnr_vs_poisson_min']:.2f}); seam error INR {m['seam_inr_mean']:.4f}, Poisson "
            f"{m['seam_poisson_mean']:.4f}, alpha {m['seam_alpha_mean']:.4f} (INR below alpha on "
            f"{m['seam_inr_below_alpha']}/{m['count']} pairs)")
