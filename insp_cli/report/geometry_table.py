"""Figs. 8/14 as a table (``insp table table=geometry``): `insp eval` runs on SDF INRs -> one block of rows per
task (smooth, denoise_shape), each method's Chamfer-L1 (x1e-3), normal consistency and near-surface PSNR, and
whether the issue's targets are met. The paper reports no number for geometry (Figs. 8 and 14 are pictures).
"""

from __future__ import annotations

from collections import defaultdict

from insp_cli.errors import InspError
from insp_cli.report.labels import label
from insp_cli.report.runs import RunRecord
from insp_cli.report.table_kit import (Bars, Column, PaperItem, Table, TableSpec, eval_view, mean_std, method_order,
                                       setting_of, split_complete)

SCORES = (("chamfer_l1", "Chamfer-L1 (x1e-3)", 3, 1e3), ("normal_consistency", "Normal consistency", 4, 1.0),
          ("psnr_band", "PSNR near surface (dB)", 2, 1.0))


def geometry_table(records: list[RunRecord], scale: str | None):
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    done, failed = split_complete(records)
    for r in done:
        if not isinstance(r.metrics.get("rows"), dict) or "task" not in r.metrics:
            raise InspError(f"{r.dir}: metrics.json has no rows / task (an older insp eval?); rerun it")
        sigma = eval_view(r.metrics)["scale"].get("sigma")
        key = r.metrics["task"] + (f" (sigma {sigma:g})" if r.metrics["task"] == "smooth" and sigma else "")
        by_task[key].append(r)  # smoothings of different widths are different tasks
    rows, notes = [], []
    for task in sorted(by_task):
        runs = by_task[task]
        variants = list(dict.fromkeys(_pi(r) for r in runs))  # Pis of this task, in run order
        means, per_variant = {}, {}
        for k in method_order(runs):
            if k != "insp_net" or len(variants) == 1:
                means[k] = _cells([r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]])
                n = means[k].pop("n")
                rows.append({"task": task, "method": label(k), **means[k], "runs": n})
                continue
            for v in variants:  # one INSP-Net row per Pi (the pointwise Pi beside a context Pi)
                sub = [r for r in runs if _pi(r) == v]
                cells = _cells([r.metrics["rows"][k] for r in sub if k in r.metrics["rows"]])
                n = cells.pop("n")
                name = f"{label(k)}, Pi {v}" + ("" if "jets at" in v else " (pointwise)")
                rows.append({"task": task, "method": name, **cells, "runs": n})
                per_variant[v] = (cells, sub)
        for v, (cells, sub) in per_variant.items() or {None: (means.get("insp_net", {}), runs)}.items():
            s = setting_of(sub[0].metrics)
            kept = "held-out" if all(r.metrics.get("held_out") for r in sub) else "NOT held-out"
            notes.append(f"{task}: {eval_view(sub[0].metrics).get('n_items')} {kept} test shapes decoded at "
                         f"{s.get('resolution')}^3 (Pi trained on {s.get('n_train')} shapes at {s.get('train_grid')}^3 "
                         f"voxels); INR {s.get('inr')}; Pi {s.get('pi')} on the jets up to order {s.get('order')}; "
                         f"Gaussian sigma {s.get('sigma')}." + _snap_note(sub))
            notes.append(_target(task, {**means, "insp_net": cells}, sub))
    notes.append("Paper (Sec. 5.2, Figs. 8 and 14): pictures of Thai Statue, Armadillo and Dragon only; no number.")
    cols = [Column("task", "Task"), Column("method", "Method")] + \
        [Column(k, t, d, std=f"{k}_std") for k, t, d, _ in SCORES] + [Column("runs", "Runs")]
    return Table("geometry", "Figs. 8/14: SDF smoothing and shape denoising (Chamfer-L1 / NC / near-surface PSNR)",
                 scale, cols, rows, notes=notes, failed=failed)


def _pi(r: RunRecord) -> str:
    """The Pi a run's INSP-Net row comes from ('mlp 3x128, jets at 3x3x3 points (step 2)')."""
    return str(eval_view(r.metrics)["scale"].get("pi") or "")


def _snap_note(runs: list[RunRecord]) -> str:
    """' Its neighbours read at the nearest voxels ...' for a context Pi snapped onto the eval grid, else ''."""
    snaps = [r.metrics["context_snap"] for r in runs if isinstance(r.metrics.get("context_snap"), dict)]
    if not snaps:
        return ""
    dev, worst = max(x["deviation"] for x in snaps), max(x["max_abs"] for x in snaps)
    return (f" Pi's neighbours read at the nearest voxels ({100 * dev:.2f} % nearer), which changes Psi by at most "
            f"{worst:.1e} (SDF units) against reading them exactly, on {snaps[0]['voxels']} voxels of the first shape.")


def _cells(ours: list[dict]) -> dict:
    """Mean and std of each score over runs (Chamfer-L1 in units of 1e-3), and how many runs (n)."""
    cells = {"n": len(ours)}
    for key, _, _, mult in SCORES:
        m, s = mean_std([None if o.get(key) is None else o[key] * mult for o in ours])
        cells[key], cells[f"{key}_std"] = m, s
    return cells


def _target(task: str, means: dict, runs: list[RunRecord]) -> str:
    ins = means.get("insp_net", {})
    if task.startswith("smooth") and "gaussian" in means and ins.get("psnr_band") is not None:
        gap = ins["psnr_band"] - means["gaussian"]["psnr_band"]
        vs = [r.metrics["rows"]["insp_net"].get("psnr_vs_filter") for r in runs]
        vs = [v for v in vs if v is not None]
        return (f"Target (smooth: INSP-Net within 1 dB of the Gaussian on the decoded grid, near the surface): "
                f"{gap:+.2f} dB, {'met' if gap >= -1 else 'missed'}; INSP-Net vs that Gaussian itself: "
                f"{sum(vs) / max(len(vs), 1):.2f} dB.")
    if task == "denoise_shape" and ins.get("chamfer_l1") is not None:
        others = {k: means[k]["chamfer_l1"] for k in ("taubin", "laplacian") if k in means}
        met = all(ins["chamfer_l1"] < v for v in others.values() if v is not None)
        return (f"Target (denoise_shape: INSP-Net's Chamfer-L1 below Taubin's and Laplacian's): "
                f"{ins['chamfer_l1']:.3f} vs " + ", ".join(f"{k} {v:.3f}" for k, v in others.items())
                + f" (x1e-3), {'met' if met else 'missed'}.")
    return f"{task}: no target stated."


GEOMETRY = TableSpec(
    "geometry", "eval", geometry_table, modality="shapes",
    bars=Bars(lambda row: f"{row['task']}\n{row['method'].split(' (')[0]}", (("chamfer_l1", "ours"),),
              "Chamfer-L1 (x1e-3)", ran_only=True),
    item=PaperItem("fig8", "Fig. 8, 14: geometry (SDF) smoothing, and shape denoising (Chamfer-L1 / NC / near-surface "
                   "PSNR)", ("smooth", "denoise_shape"),
                   ["insp fit data=meshes && insp fit data=meshes data.split=test   # + degradation=vertex_noise for "
                    "denoising",
                    "insp train-filter task=smooth store=stores/meshes-train-clean-w128d3-s0 fusion.order=2",
                    "insp eval filter=FILTER store=stores/meshes-test-clean-w128d3-s0  # shapes.md, meshes/*.ply, "
                    "renders.png",
                    "insp table table=geometry runs=[runs/eval/DATE] out=experiments/fig8_geometry"]))
