"""The shapes modality (m = 3): meshes -> SDF INRs -> INSP-Net on them (task=smooth | denoise_shape).

Fit: per shape, ``data.points`` training points with exact signed distances (``data.meshes.sdf_samples``), of the
clean mesh or of a noisy scan (``degradation=vertex_noise``), and a ``fit_batch`` that fits a batch of them with
``inr.sdf.fit_sdfs``. Pi: trained on voxel-unit jets at points of the ``train.grid`` grid near each training
shape's surface plus uniform ones (``filters.shapes`` has the math).

`insp eval` meshes out, scored against the target mesh.

Per test shape, at ``shapes.resolution`` (any; the filter keeps the units of the grid it was trained on):
- input: Phi decoded on the grid; gaussian: that grid through the task's 3-D Gaussian; insp_net: Psi on the
  voxels where |Phi| < ``shapes.psi_band`` (Phi elsewhere; ``filters.shapes.apply_filter``); each -> marching
  cubes. taubin / laplacian: the input's mesh smoothed by trimesh (``filters.baselines.shapes``).
- reference: smooth -> the clean mesh's exact SDF on the grid through the same Gaussian (target mesh: its
  marching cubes); denoise_shape -> the clean mesh's exact SDF (target mesh: the clean mesh itself).
- scores (``metrics.shapes``): two-sided point-to-mesh Chamfer-L1 and normal consistency against the target
  mesh; PSNR of the SDF grid against the reference where |reference| < ``shapes.band`` (grid rows only); for
  smooth also the PSNR of Psi against the Gaussian of the decoded grid (how well Pi learned the operator at a
  resolution it was not trained at).
Run directory: ``per_shape.csv``, ``shapes.md`` / ``shapes.csv`` (means), ``meshes/<shape>-<method>.ply``,
``renders.png`` (input | INSP-Net | baselines | target), ``metrics.json`` (read by `insp table table=geometry`).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..data.degrade import image_rng
from ..data.meshes import load_meshes, sdf_samples, vertex_noise
from ..errors import InspError
from ..files import atomic_path, atomic_write
from ..filters.baselines.shapes import BASELINES, smooth_mesh
from ..filters.context import gather, offsets_pad, offsets_tensor
from ..filters.shapes import (apply_filter, check_grid, decode_grid, gaussian_sdf, grid_jets, grid_positions,
                              snap_check, snapped_offsets, task_target, training_points, voxel_points)
from ..filters.tasks import held_out
from ..filters.train_pi import PiData
from ..inr.sdf import SDF_LOSSES, fit_sdfs
from ..inr.siren import SirenSpec
from ..progress import ProgressLog
from ..mesh import exact_sdf, sample_surface
from ..metrics.shapes import band_psnr, chamfer_l1, marching_cubes, normal_consistency
from ..report import Column, Table, label, to_csv, to_markdown
from ..tracking import Run
from ..viz import save_grid
from ..viz_shapes import render_mesh
from .base import Modality, Signals, eval_record, pi_context, register, spec_for, summary_means

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


def mesh_signals(cfg: DictConfig) -> Signals:
    """What `insp fit data=meshes` fits: SDF samples of each (clean or noisy) mesh and a batch fitter."""
    spec = spec_for(cfg, 3, 1, ())
    if not isinstance(spec, SirenSpec):
        raise InspError(f"data=meshes fits SDFs with SIRENs only, not model.kind={cfg.model.kind}")
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
    return Signals(targets=sdf[..., None], masks=None, coords=torch.zeros(0, 3), indices=shapes.indices, labels=None,
                spec=spec, source=source, degradation=deg, shape=(count,), names=list(shapes.names),
                fit_batch=fit_batch, fit_extra={"loss": loss, "points": count,
                                                "sampling": "60 % near the surface (offsets std 0.005 and 0.05), "
                                                            "40 % uniform in [-1, 1]^3; exact SDF (point-cloud-utils)"})


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


def pi_meta(cfg: DictConfig, store, fz: dict, meta: dict) -> None:
    """The (2 reach / step + 1)^3 voxel offsets of fusion.context / context_step (and a coarse cube's,
    ``base.pi_context``), (0, 0, 0) alone for the paper's pointwise Pi."""
    grid = int(meta["task"]["sampling"]["grid"])
    check_grid(grid, 2, float(meta["task"]["sampling"]["max_grid_gb"]))
    meta.update(channels=1, m=3, modality="shapes", units=[grid] * 3)
    meta["fusion"]["offsets"] = [list(o) for o in pi_context(fz, 3, meta)]
    meta["train"]["augment"] = False


def pi_data(cfg: DictConfig, store, task: dict, meta: dict, device) -> PiData:
    """Voxel-unit jets (and targets) at points of the ``train.grid`` grid near each training shape's surface plus
    uniform ones (``filters.shapes.training_points``) and at their context offsets: per shape, the jets of every
    voxel read are computed once up front on the padded grid (``grid_jets``) and gathered per batch."""
    sm, order, seed = task["sampling"], int(meta["order"]), int(meta["train"]["seed"])
    grid = int(sm["grid"])
    offsets = [tuple(o) for o in meta["fusion"]["offsets"]]
    offs, pad = offsets_tensor(offsets, device), offsets_pad(offsets)
    clean = clean_meshes_of(store, cfg.data_root) if task["target"] == "clean" else None
    tables, shape_of, pos, targets = [], [], [], []
    for i in range(len(store)):
        params = store.params[i:i + 1].to(device)
        decoded = decode_grid(store.spec, params, grid)
        ids = training_points(decoded, float(sm["band"]), int(sm["band_points"]), int(sm["uniform_points"]),
                              seed=seed * 100003 + int(store.indices[i]))
        tables.append(grid_jets(store.spec, params, grid, order, offsets, ids))
        pos.append(torch.from_numpy(grid_positions(ids, grid)).to(device))
        shape_of.append(torch.full((len(ids),), i, dtype=torch.long, device=device))
        target = task_target(task, decoded, ids, None if clean is None else clean[i])
        targets.append(torch.from_numpy(target).to(device))
    table, pos_all, inr_all = torch.stack(tables), torch.cat(pos), torch.cat(shape_of)
    y_all = torch.cat(targets)[:, None]

    def features(pick: torch.Tensor) -> torch.Tensor:
        return gather(table, inr_all[pick], pos_all[pick], offs, pad)

    def sample(batch: int, gen: torch.Generator):
        pick = torch.randint(len(y_all), (batch,), generator=gen).to(device)
        return features(pick), y_all[pick]

    def final_psnr(fusion, seed: int) -> float:
        with torch.no_grad():
            sse = sum(float((fusion(features(p)) - y_all[p]).pow(2).sum())
                      for p in torch.arange(len(y_all), device=device).split(65536))
        return 10 * math.log10(4.0 / max(sse / len(y_all), 1e-20))

    return PiData(sample=sample, num_features=len(offsets) * int(table.shape[-1]), final_psnr=final_psnr,
                  stat_channels=len(offsets),
                  stat_features=lambda k, gen, seed: features(torch.randperm(len(y_all), generator=gen)[:k].to(device)),
                  what=f"{len(y_all)} points, {len(offsets)} offsets", peak_squared=4.0, noun="SDF INRs",
                  psnr_note=" (SDF, peak-to-peak 2)", extra={"points": len(y_all)})

SCORES = (("chamfer_l1", "Chamfer-L1 (x1e-3)", 3), ("normal_consistency", "Normal consistency", 4),
          ("psnr_band", "PSNR near surface (dB)", 2))


def _settings(cfg: DictConfig) -> dict:
    s = OmegaConf.to_container(cfg.shapes, resolve=True)
    if int(s["resolution"]) < 8:
        raise InspError(f"shapes.resolution={s['resolution']} is too coarse for marching cubes (at least 8)")
    return s


def _write_ply(path, mesh) -> None:
    import trimesh

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        trimesh.Trimesh(vertices=mesh[0], faces=mesh[1], process=False).export(tmp, file_type="ply")


def _score_shape(i: int, name: str, s: dict, task: dict, fusion, store, clean_mesh, methods: list[str],
                 scores: dict, run_dir, units: tuple[int, int], device, checks: dict):
    """Shape i: Phi, its Gaussian and Psi on the grid, their meshes and the baselines', scored into ``scores``
    (row i) against the target; the meshes written as PLY. On the first shape a context Pi whose neighbours were
    moved onto the grid's voxels is checked against its direct evaluation (``checks['context_snap']``).
    Returns (meshes, target mesh)."""
    res, sigma, count, band = int(s["resolution"]), float(task["sigma"]), int(s["chamfer_points"]), float(s["band"])
    order, grid_units = units
    params = store.params[i:i + 1].to(device)
    phi = decode_grid(store.spec, params, res)
    exact = exact_sdf(voxel_points(np.arange(res**3), res), clean_mesh).astype(np.float32).reshape(res, res, res)
    ref = gaussian_sdf(exact, sigma) if task["name"] == "smooth" else exact
    target = marching_cubes(ref) if task["name"] == "smooth" else clean_mesh
    grids = {"input": phi, "gaussian": gaussian_sdf(phi, sigma),
             "insp_net": apply_filter(fusion, store.spec, params, phi, order, grid_units, float(s["psi_band"]))}
    if i == 0 and len(fusion.offsets) > 1 and snapped_offsets(fusion.offsets, res, grid_units)[1] > 0:
        checks["context_snap"] = snap_check(fusion, store.spec, params, phi, grids["insp_net"], order, grid_units,
                                            float(s["psi_band"]))
    meshes = {m: marching_cubes(g) for m, g in grids.items()}
    for b in ("taubin", "laplacian"):
        if b in methods and meshes["input"] is not None:
            meshes[b] = smooth_mesh(b, meshes["input"], s.get(b))
    for m in methods:
        mesh = meshes.get(m)
        if m in grids:
            scores[m]["psnr_band"][i] = band_psnr(grids[m], ref, band)
        if mesh is None or target is None:
            log.warning("%s: %s has no zero level set at %d^3; its mesh scores are left blank", name, m, res)
            continue
        scores[m]["chamfer_l1"][i] = chamfer_l1(mesh, target, count, seed=i)
        scores[m]["normal_consistency"][i] = normal_consistency(mesh, target, count, seed=i)
        _write_ply(run_dir / "meshes" / f"{name}-{m}.ply", mesh)
    if "psnr_vs_filter" in scores["insp_net"]:
        scores["insp_net"]["psnr_vs_filter"][i] = band_psnr(grids["insp_net"], grids["gaussian"], band)
    if target is not None:
        _write_ply(run_dir / "meshes" / f"{name}-target.ply", target)
    return meshes, target


def _write_shapes_table(run_dir, task: dict, methods: list[str], summary: dict, n: int, res: int, count: int,
                        band, sigma: float) -> None:
    """shapes.md / shapes.csv: the score means per method, Chamfer-L1 in units of 1e-3."""
    cols = [Column("method", "Method")] + [Column(k, t, d) for k, t, d in SCORES]
    rows = [{"method": label(m), **summary[m], "chamfer_l1": None if summary[m]["chamfer_l1"] is None
             else summary[m]["chamfer_l1"] * 1e3} for m in methods]
    notes = [f"{n} test shapes decoded at {res}^3; Chamfer-L1: two-sided point-to-mesh distance, "
             f"{count} samples per side, against the "
             + ("clean mesh's exact SDF smoothed by the Gaussian" if task["name"] == "smooth" else "clean mesh")
             + f"; PSNR (peak-to-peak 2) where |reference SDF| < {band} (grid rows only); Gaussian std "
             f"{sigma} in [-1, 1] units; Taubin / Laplacian: trimesh, 10 iterations."]
    if task["name"] == "smooth":
        notes.append(f"INSP-Net against the Gaussian of the decoded grid (its training operator, at a resolution "
                     f"it was not trained at): {summary['insp_net']['psnr_vs_filter']:.2f} dB near the surface.")
    table = Table("eval", f"Shapes, task {task['name']} (ours, this run)", None, cols, rows, notes=notes)
    atomic_write(run_dir / "shapes.md", to_markdown([table]))
    atomic_write(run_dir / "shapes.csv", to_csv([table]))


def evaluate_shapes(cfg: DictConfig, run: Run, filt, meta: dict, store, where: str, device) -> dict:
    """Meshes of Phi, Psi and the baselines against the target mesh (module docstring)."""
    s = _settings(cfg)
    task = meta["task"]
    res, order, units = int(s["resolution"]), int(meta["order"]), int(meta["units"][0])
    check_grid(res, 6, float(s["max_grid_gb"]))  # input, gaussian, Psi, exact, reference, one spare
    methods = ["input"] + [b for b in BASELINES if b in (task.get("baselines") or BASELINES)] + ["insp_net"]
    fusion = filt.fusion.to(device)
    clean = clean_meshes_of(store, cfg.data_root)
    sigma, count, names = float(task["sigma"]), int(s["chamfer_points"]), store.header.source.get("shapes") or []
    scores = {m: {k: np.full(len(store), np.nan) for k, _, _ in SCORES} for m in methods}
    if task["name"] == "smooth":
        scores["insp_net"]["psnr_vs_filter"] = np.full(len(store), np.nan)
    renders, t0, checks = [], time.time(), {}
    with ProgressLog("eval", len(store), "shapes", where=f"{task['name']}: 0/{len(store)} shapes scored") as progress:
        for i in range(len(store)):
            name = names[int(store.indices[i])] if int(store.indices[i]) < len(names) else str(int(store.indices[i]))
            meshes, target = _score_shape(i, name, s, task, fusion, store, clean[i], methods, scores, run.dir,
                                          (order, units), device, checks)
            if i < int(s["render"]):
                shown = ["input", "insp_net"] + [m for m in methods if m not in ("input", "insp_net")]
                renders.append([render_mesh(meshes.get(m), int(s["render_size"])) for m in shown]
                               + [render_mesh(target, int(s["render_size"]))])
            log.info("eval %s: %s", name, "  ".join(f"{m} CD {scores[m]['chamfer_l1'][i] * 1e3:.3f}" for m in methods))
            progress.update(i + 1, f"{task['name']}: {i + 1}/{len(store)} shapes scored at {res}^3")
    seconds = time.time() - t0
    summary = summary_means(scores)
    _write_per_shape(run.dir / "per_shape.csv", store.indices, names, scores)
    _write_shapes_table(run.dir, task, methods, summary, len(store), res, count, s["band"], sigma)
    if renders:
        titles = [label(m).split(" (")[0] for m in ["input", "insp_net"] + [m for m in methods
                                                                          if m not in ("input", "insp_net")]]
        path = save_grid(renders, run.dir / "renders.png", titles=titles + ["target"])
        run.log_image("renders", path, caption=" | ".join(titles + ["target"]))
    run.log({f"{m}/{k}": v for m, r in summary.items() for k, v in r.items() if v is not None})
    metrics = eval_record(cfg, meta, store, scores, methods, {"resolution": res, "train_grid": units, "sigma": sigma},
                          seconds, **checks)
    line = "  ".join(f"{m} {summary[m]['chamfer_l1'] * 1e3:.3f}" for m in methods
                     if summary[m]["chamfer_l1"] is not None)
    print(f"eval {task['name']} on {len(store)} SDF INRs at {res}^3: Chamfer-L1 x1e-3 {line}\n"
          f"  PSNR near surface: " + "  ".join(f"{m} {summary[m]['psnr_band']:.2f}" for m in methods
                                                if summary[m]["psnr_band"] is not None)
          + f"\n  table   {run.dir / 'shapes.md'}\n  run dir {run.dir}")
    return metrics


def _write_per_shape(path, indices, names, scores: dict) -> None:
    keys = sorted({k for s in scores.values() for k in s})
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["index", "shape", "method"] + keys)
    for m, s in scores.items():
        for i, j in enumerate(indices):
            nm = names[int(j)] if int(j) < len(names) else str(int(j))
            wr.writerow([int(j), nm, m] + [f"{s[k][i]:.6g}" if k in s and np.isfinite(s[k][i]) else "" for k in keys])
    atomic_write(path, buf.getvalue())


class Shapes(Modality):
    name = "shapes"
    datasets = ("meshes",)
    summary_keys = ("name", "split", "origin", "modality", "shapes")
    flat = "the zero function"
    pi_tasks = True
    own_fit = True

    def signals(self, cfg):
        return mesh_signals(cfg)

    def check_store(self, store, where):
        if store.spec.in_features != 3 or store.spec.out_features != 1:
            raise InspError(f"{where} says it holds shapes but its INRs are not 3-D SDFs")

    pi_meta = staticmethod(pi_meta)
    pi_data = staticmethod(pi_data)
    evaluate = staticmethod(evaluate_shapes)


SHAPES = register(Shapes())
