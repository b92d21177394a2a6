"""`insp eval` on SDF INRs (task=smooth | denoise_shape): meshes out, scored against the target mesh.

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
import time

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..errors import InspError
from ..files import atomic_path, atomic_write
from ..filters.baselines.shapes import BASELINES, smooth_mesh
from ..filters.shapes import apply_filter, check_grid, decode_grid, gaussian_sdf, voxel_points
from ..filters.tasks import held_out
from ..metrics.shapes import band_psnr, chamfer_l1, exact_sdf, marching_cubes, normal_consistency
from ..progress import ProgressLog
from ..report import Column, Table, label, to_csv, to_markdown
from ..tracking import Run
from ..viz import save_grid
from ..viz_shapes import render_mesh
from .shapes import clean_meshes_of

log = logging.getLogger("insp")
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


def evaluate_shapes(cfg: DictConfig, run: Run, fusion, meta: dict, store, where: str, device) -> dict:
    s = _settings(cfg)
    task = meta["task"]
    res, order, units = int(s["resolution"]), int(meta["order"]), int(meta["units"][0])
    check_grid(res, 6, float(s["max_grid_gb"]))  # input, gaussian, Psi, exact, reference, one spare
    methods = ["input"] + [b for b in BASELINES if b in (task.get("baselines") or BASELINES)] + ["insp_net"]
    fusion = fusion.to(device)
    clean = clean_meshes_of(store, cfg.data_root)
    sigma, count, names = float(task["sigma"]), int(s["chamfer_points"]), store.header.source.get("shapes") or []
    scores = {m: {k: np.full(len(store), np.nan) for k, _, _ in SCORES} for m in methods}
    if task["name"] == "smooth":
        scores["insp_net"]["psnr_vs_filter"] = np.full(len(store), np.nan)
    renders, t0 = [], time.time()
    with ProgressLog("eval", len(store), "shapes", where=f"{task['name']}: 0/{len(store)} shapes scored") as progress:
        ids = np.arange(res**3)
        for i in range(len(store)):
            name = names[int(store.indices[i])] if int(store.indices[i]) < len(names) else str(int(store.indices[i]))
            params = store.params[i:i + 1].to(device)
            phi = decode_grid(store.spec, params, res)
            exact = exact_sdf(voxel_points(ids, res), clean[i]).astype(np.float32).reshape(res, res, res)
            ref = gaussian_sdf(exact, sigma) if task["name"] == "smooth" else exact
            target = marching_cubes(ref) if task["name"] == "smooth" else clean[i]
            grids = {"input": phi, "gaussian": gaussian_sdf(phi, sigma),
                     "insp_net": apply_filter(fusion, store.spec, params, phi, order, units, float(s["psi_band"]))}
            meshes = {m: marching_cubes(g) for m, g in grids.items()}
            for b in ("taubin", "laplacian"):
                if b in methods and meshes["input"] is not None:
                    meshes[b] = smooth_mesh(b, meshes["input"], s.get(b))
            for m in methods:
                mesh = meshes.get(m)
                if m in grids:
                    scores[m]["psnr_band"][i] = band_psnr(grids[m], ref, float(s["band"]))
                if mesh is None or target is None:
                    log.warning("%s: %s has no zero level set at %d^3; its mesh scores are left blank", name, m, res)
                    continue
                scores[m]["chamfer_l1"][i] = chamfer_l1(mesh, target, count, seed=i)
                scores[m]["normal_consistency"][i] = normal_consistency(mesh, target, count, seed=i)
                _write_ply(run.dir / "meshes" / f"{name}-{m}.ply", mesh)
            if "psnr_vs_filter" in scores["insp_net"]:
                scores["insp_net"]["psnr_vs_filter"][i] = band_psnr(grids["insp_net"], grids["gaussian"],
                                                                    float(s["band"]))
            if target is not None:
                _write_ply(run.dir / "meshes" / f"{name}-target.ply", target)
            if i < int(s["render"]):
                shown = ["input", "insp_net"] + [m for m in methods if m not in ("input", "insp_net")]
                renders.append([render_mesh(meshes.get(m), int(s["render_size"])) for m in shown]
                               + [render_mesh(target, int(s["render_size"]))])
            log.info("eval %s: %s", name, "  ".join(f"{m} CD {scores[m]['chamfer_l1'][i] * 1e3:.3f}" for m in methods))
            progress.update(i + 1, f"{task['name']}: {i + 1}/{len(store)} shapes scored at {res}^3")
    seconds = time.time() - t0
    summary = {m: {k: float(np.nanmean(v)) if np.isfinite(v).any() else None for k, v in sc.items()}
               for m, sc in scores.items()}
    _write_per_shape(run.dir / "per_shape.csv", store.indices, names, scores)
    cols = [Column("method", "Method")] + [Column(k, t, d) for k, t, d in SCORES]
    rows = [{"method": label(m), **summary[m], "chamfer_l1": None if summary[m]["chamfer_l1"] is None
             else summary[m]["chamfer_l1"] * 1e3} for m in methods]
    notes = [f"{len(store)} test shapes decoded at {res}^3; Chamfer-L1: two-sided point-to-mesh distance, "
             f"{count} samples per side, against the "
             + ("clean mesh's exact SDF smoothed by the Gaussian" if task["name"] == "smooth" else "clean mesh")
             + f"; PSNR (peak-to-peak 2) where |reference SDF| < {s['band']} (grid rows only); Gaussian std "
             f"{sigma} in [-1, 1] units; Taubin / Laplacian: trimesh, 10 iterations."]
    if task["name"] == "smooth":
        notes.append(f"INSP-Net against the Gaussian of the decoded grid (its training operator, at a resolution "
                     f"it was not trained at): {summary['insp_net']['psnr_vs_filter']:.2f} dB near the surface.")
    table = Table("eval", f"Shapes, task {task['name']} (ours, this run)", None, cols, rows, notes=notes)
    atomic_write(run.dir / "shapes.md", to_markdown([table]))
    atomic_write(run.dir / "shapes.csv", to_csv([table]))
    if renders:
        titles = [label(m).split(" (")[0] for m in ["input", "insp_net"] + [m for m in methods
                                                                          if m not in ("input", "insp_net")]]
        path = save_grid(renders, run.dir / "renders.png", titles=titles + ["target"])
        run.log_image("renders", path, caption=" | ".join(titles + ["target"]))
    run.log({f"{m}/{k}": v for m, r in summary.items() for k, v in r.items() if v is not None})
    spec = store.spec
    metrics = {"task": task["name"], "modality": "shapes", "n_images": len(store),
               "held_out": held_out(meta["trained_on"], store), "rows": summary,
               "scale": {"label": str(cfg.scale), "resolution": res, "train_grid": units, "sigma": sigma,
                         "inr": f"siren {spec.depth}x{spec.hidden} omega0 {spec.omega0:g}", "order": order,
                         "pi": f"mlp {meta['fusion']['layers']}x{meta['fusion']['hidden']}",
                         "n_train": int(meta["trained_on"]["count"]), "train_steps": int(meta["train"]["steps"])},
               "filter": str(cfg.filter), "store": str(cfg.store), "degradation": store.header.degradation,
               "trained_on": meta["trained_on"], "eval_seconds": round(seconds, 2)}
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
