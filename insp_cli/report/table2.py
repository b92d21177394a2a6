"""Table 2 (``table=table2``: denoising) and every low-level task side by side (``table=tasks``): `insp eval` runs
on image INRs -> PSNR / SSIM / LPIPS per method, ours beside the paper's Table 2; their bars, catalogue entry and
the paper's numbers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from insp_cli.errors import InspError
from insp_cli.report.labels import label
from insp_cli.report.runs import RunRecord
from insp_cli.report.table_kit import (Bars, Column, PaperItem, Table, TableSpec, eval_view, method_order, mean_std,
                                       need_eval, setting_of, shared_test_set, split_complete)

# The paper's Table 2 (App.: 100 DIV2K test images, RGB Gaussian noise): (PSNR dB, SSIM, LPIPS)
PAPER_TABLE2 = {"input": (20.51, 0.47, 0.40), "mprnet": (23.95, 0.72, 0.36), "maxim": (24.64, 0.74, 0.33),
                "mean_filter": (22.57, 0.60, 0.43), "insp_net": (23.86, 0.65, 0.38)}
OURS_VS_PAPER_PSNR = (("ours_psnr", "ours"), ("paper_psnr", "paper"))


# Table 2's score columns (metrics.json rows.<method>.<key>): ours as mean ± std over runs, the paper's beside
_SCORES = (("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 3), ("lpips", "LPIPS", 3))
_SCORE_COLUMNS = ([Column(f"ours_{n}", f"Ours: {t}", d, std=f"ours_{n}_std") for n, t, d in _SCORES]
                  + [Column(f"paper_{n}", f"Paper: {t}", 2) for n, t, _ in _SCORES])


def _score_cells(ours: list[dict], paper: tuple | None) -> dict:
    """The score cells of one method: ours (its rows of several runs) and the paper's (psnr, ssim, lpips)."""
    cells: dict[str, Any] = {}
    for i, (name, _, _) in enumerate(_SCORES):
        cells[f"ours_{name}"], cells[f"ours_{name}_std"] = mean_std([o.get(name) for o in ours])
        cells[f"paper_{name}"] = paper[i] if paper else None
    return cells


def _table2(records: list[RunRecord], scale: str | None) -> Table:
    runs, other = [], defaultdict(int)
    done, failed = split_complete(records)
    for r in done:
        m = need_eval(r, "task", "rows", "n_items")
        if m["task"] != "denoise":
            other[str(m["task"])] += 1
            continue
        runs.append(r)
    if not runs and not failed:
        raise InspError(f"table2 is denoising; the eval runs given are of other tasks ({', '.join(sorted(other))})")
    test_set = shared_test_set(runs, "table2: the eval runs", "table")
    methods = list(PAPER_TABLE2)
    for r in runs:
        methods += [k for k in r.metrics["rows"] if k not in methods]
    rows = []
    for k in methods:
        ours = [r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]]
        rows.append({"method": label(k), **_score_cells(ours, PAPER_TABLE2.get(k)), "runs": len(ours),
                     "note": "" if ours else ("not run (no insp implementation)" if k in ("mprnet", "maxim")
                                              else "not run")})
    cols = [Column("method", "Method"), *_SCORE_COLUMNS, Column("runs", "Runs"), Column("note", "Note")]
    notes = []
    if runs:
        s = setting_of(runs[0].metrics)
        n, size = test_set
        detail = ", ".join(f"{k} {v}" for k, v in s.items() if k not in ("label", "image_size"))
        notes.append(f"Ours: {n} test INRs of {'x'.join(map(str, size)) or '?'} images"
                     + (f"; {detail}" if detail else "") + "; mean ± std over runs where several.")
        for r in runs:  # per-image wins against the best 3x3 filter (eval's wins.csv / wins.png)
            w = r.metrics.get("wins_vs_best_3x3")
            if w:
                notes.append(f"INSP-Net beats the best 3x3 filter ({label(w['best_3x3'])}) on {w['wins']} of "
                             f"{w['n']} test images, mean {w['mean_delta_db']:+.2f} dB (per image: wins.csv, "
                             "wins.png in the eval run).")
    ensembles = sorted({int(r.metrics.get("self_ensemble", 1)) for r in runs} - {1})
    if ensembles:  # insp eval self_ensemble=8|48 (recorded runs before it have none: Pi alone)
        notes.append("Test-time self-ensemble: INSP-Net and the DnCNN twin averaged over "
                     + " / ".join(f"{e} ({'flips, quarter turns' + (', colour permutations' if e == 48 else '')})"
                                  for e in ensembles) + " views of each image, outputs turned back (insp eval "
                     "self_ensemble=...); the classical filters see the image once.")
    notes.append("Paper: 100 DIV2K test images, RGB Gaussian noise; MPRNet and MAXIM are pretrained "
                 "restoration networks (App., Table 2).")
    if other:
        notes.append("Left out: eval runs of other tasks (" + ", ".join(f"{k}: {v}" for k, v in sorted(other.items()))
                     + ").")
    return Table("table2", "Table 2: denoising (PSNR / SSIM / LPIPS)", scale, cols, rows, notes=notes,
                 failed=failed)


TASK_ORDER = ("denoise", "deblur", "blur", "inpaint", "inpaint_text")


def _task_block(metrics: dict) -> str:
    """A task's block of rows: its name, and the fitting prior of its input INRs where one was used
    (``inpaint (INR + INRR)``: the same filter on INRs fitted with ``fit.reg=inrr``)."""
    reg = str(metrics.get("inr_reg") or "none")
    return metrics["task"] if reg == "none" else f"{metrics['task']} (INR + {reg.upper()})"


def _pi_of(r: RunRecord) -> str:
    """The Pi an eval run scored: 'mlp 4x256, jets at 5x5 points (step 1), K=2, 1200 steps, 95 train INRs'."""
    sc = eval_view(r.metrics)["scale"]
    return (f"{sc.get('pi', '?')}, K={sc.get('order', '?')}, {sc.get('train_steps', '?')} steps, "
            f"{sc.get('n_train', '?')} train INRs")


def _tasks(records: list[RunRecord], scale: str | None) -> Table:
    """Every low-level task side by side (Table 2's layout, one block of rows per task): INSP-Net and the
    classical filters on each task's held-out test INRs. The paper's numbers exist for denoising only."""
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    done, failed = split_complete(records)
    for r in done:
        by_task[_task_block(need_eval(r, "task", "rows", "n_items"))].append(r)
    origin = {t: t for t in by_task}  # block -> the task block it comes from (its paper numbers)
    for task in list(by_task):  # runs of different Pi (a recorded variant beside the recipe) never average
        kinds = {_pi_of(r) for r in by_task[task]}
        if len(kinds) > 1:
            for r in by_task.pop(task):
                by_task[f"{task} ({_pi_of(r)})"].append(r)
                origin[f"{task} ({_pi_of(r)})"] = task
    tasks = [t for base in TASK_ORDER for t in sorted(by_task) if t.split(" ")[0] == base] + \
        sorted(t for t in by_task if t.split(" ")[0] not in TASK_ORDER)
    rows = []
    for task in tasks:
        runs = by_task[task]
        n = shared_test_set(runs, f"tasks: the {task} eval runs", "task")[0]
        for k in method_order(runs):
            ours = [r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]]
            paper = PAPER_TABLE2.get(k) if origin[task] == "denoise" else None  # the paper's INRs: no prior
            rows.append({"task": task, "method": label(k), **_score_cells(ours, paper), "test_inrs": n,
                         "runs": len(ours)})
    cols = [Column("task", "Task"), Column("method", "Method"), *_SCORE_COLUMNS, Column("test_inrs", "Test INRs"),
            Column("runs", "Runs")]
    notes = ["Each task: its own test INRs of degraded images, scored against the clean images (blur: against "
             "the blurred clean image); mean ± std over runs where several. Paper: Table 2 reports denoising "
             "only (100 DIV2K test images); the paper shows the other tasks as figures."]
    return Table("tasks", "INSP-Net on every low-level task (PSNR / SSIM / LPIPS)", scale, cols, rows, notes=notes,
                 failed=failed)


TABLE2 = TableSpec(
    "table2", "eval", _table2, modality="images", paper=PAPER_TABLE2,
    bars=Bars(lambda row: row["method"], OURS_VS_PAPER_PSNR, "PSNR (dB)", ran_only=True),
    item=PaperItem("table2", "Table 2: denoising, PSNR / SSIM / LPIPS (paper: 100 DIV2K test images)", (),
                   ["insp fit data=images degradation=noise && insp fit data=images data.split=test degradation=noise",
                    "insp train-filter task=denoise store=stores/images-train-noise-w64d3-s0",
                    "insp eval filter=FILTER store=stores/images-test-noise-w64d3-s0 scale=cpu",
                    "insp table table=table2 runs=[runs/eval/DATE] out=experiments/table2_denoising"]))
TASKS = TableSpec("tasks", "eval", _tasks, modality="images", paper=PAPER_TABLE2,
                  bars=Bars(lambda row: f"{row['task']}\n{row['method']}", OURS_VS_PAPER_PSNR, "PSNR (dB)",
                            ran_only=False))
