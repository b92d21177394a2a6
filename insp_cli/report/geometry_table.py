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
        means = {}
        for k in method_order(runs):
            ours = [r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]]
            cells = {}
            for key, _, _, mult in SCORES:
                m, s = mean_std([None if o.get(key) is None else o[key] * mult for o in ours])
                cells[key], cells[f"{key}_std"] = m, s
            means[k] = cells
            rows.append({"task": task, "method": label(k), **cells, "runs": len(ours)})
        s = setting_of(runs[0].metrics)
        kept = "held-out" if all(r.metrics.get("held_out") for r in runs) else "NOT held-out"
        n = eval_view(runs[0].metrics).get("n_items")
        notes.append(f"{task}: {n} {kept} test shapes decoded at {s.get('resolution')}^3 "
                     f"(Pi trained on {s.get('n_train')} shapes at {s.get('train_grid')}^3 voxels); INR {s.get('inr')}; "
                     f"Pi {s.get('pi')} on the jets up to order {s.get('order')}; Gaussian sigma {s.get('sigma')}.")
        notes.append(_target(task, means, runs))
    notes.append("Paper (Sec. 5.2, Figs. 8 and 14): pictures of Thai Statue, Armadillo and Dragon only; no number.")
    cols = [Column("task", "Task"), Column("method", "Method")] + \
        [Column(k, t, d, std=f"{k}_std") for k, t, d, _ in SCORES] + [Column("runs", "Runs")]
    return Table("geometry", "Figs. 8/14: SDF smoothing and shape denoising (Chamfer-L1 / NC / near-surface PSNR)",
                 scale, cols, rows, notes=notes, failed=failed)


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
