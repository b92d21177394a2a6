"""Table builders: run records -> the paper's tables (rows of plain values), ours beside the paper's numbers.

One builder per table kind (``table1`` classification, ``table2`` denoising, ``tasks`` every low-level task,
``audio`` Fig. 15, ``grid`` any metric against any setting) beside the table modules' builders (``geometry_table``,
``inrr_table``, ``oinr_table``); ``SPECS`` holds one ``TableSpec`` per table (name, job, modality, builder), the
only place a table is looked up. The helpers every builder shares are public in ``table_kit``; rendering is
``report.render``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from insp_cli.errors import InspError
from insp_cli.report.paper import PAPER_TABLE1, PAPER_TABLE2, label
from insp_cli.report.runs import _MISSING, STATUS_OK, RunRecord
from insp_cli.report.geometry_table import GEOMETRY
from insp_cli.report.inrr_table import INRR
from insp_cli.report.oinr_table import OINR
from insp_cli.report.table_kit import (Column, Table, TableSpec, failed_line, mean_std, method_order, modality_of,  # noqa: F401
                                       need, split_complete)

MIXED = ("refuse", "separate")


def build_tables(table: str, records: list[RunRecord], scale: str | None = None, mixed: str = "refuse",
                 grid: dict | None = None) -> list[Table]:
    """The table ``table`` (one of TABLES) from run records: one Table, or one per scale when
    ``mixed="separate"``. Runs of several scales are refused otherwise: their numbers are not comparable."""
    if table not in TABLES:
        raise InspError(f"unknown table {table!r}; choose {', '.join(TABLES)} (or all: rebuild experiments/)")
    if mixed not in MIXED:
        raise InspError(f"mixed_scales must be refuse or separate, not {mixed!r}")
    grid = dict(grid or {})
    spec = SPECS[table]
    job = spec.job or grid.get("job")
    recs = [r for r in records if r.job != "table" and (job is None or r.job == job)]
    if spec.modality is not None:  # audio and shape evals have their own tables
        have = sorted({modality_of(r) for r in recs})
        recs = [r for r in recs if modality_of(r) == spec.modality]
        if have and not recs:
            raise InspError(f"{table} needs eval runs of {spec.modality}; the eval runs given are of {', '.join(have)}")
    if not recs:
        kinds = sorted({r.job for r in records})
        raise InspError(f"{table} needs {job or 'any'} runs; the {len(records)} run directories given hold "
                        f"{', '.join(kinds) or 'none'}")
    if scale is not None:
        have = sorted({str(r.scale) for r in recs})
        recs = [r for r in recs if r.scale == str(scale)]
        if not recs:
            raise InspError(f"no runs of scale {scale!r} (the runs given are of scale {', '.join(have)})")
    groups: dict[str | None, list[RunRecord]] = defaultdict(list)
    for r in recs:
        groups[r.scale].append(r)
    if len(groups) > 1 and mixed == "refuse":
        have = ", ".join(f"{s}: {len(v)} runs" for s, v in sorted(groups.items(), key=lambda kv: str(kv[0])))
        raise InspError(f"runs of mixed scales in one table ({have}); pick one with scale=LABEL or pass "
                        "mixed_scales=separate for one table per scale")
    out = []
    for s, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        t = spec.build(rs, s, grid) if spec.takes_grid else spec.build(rs, s)
        t.runs = [r.dir for r in rs]
        out.append(t)
    return out


def _table1(records: list[RunRecord], scale: str | None) -> Table:
    cells: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    done, failed = split_complete(records, lambda r: "" if (k := r.get_config("model.kind")) is _MISSING
                                  else label(str(k)))
    for r in done:
        m = need(r, "model", "dataset", "test_accuracy", "train_count", "test_count")
        cells[(str(m["dataset"]), str(m["model"]))].append(r)
    datasets = list(PAPER_TABLE1) + sorted({d for d, _ in cells} - set(PAPER_TABLE1))
    methods = list(PAPER_TABLE1["mnist"]) + sorted({k for _, k in cells} - set(PAPER_TABLE1["mnist"]))
    rows = []
    for d in datasets:
        for k in methods:
            runs = cells.get((d, k), [])
            paper = PAPER_TABLE1.get(d, {}).get(k)
            if not runs and paper is None:
                continue
            sizes = {(r.metrics["train_count"], r.metrics["test_count"]) for r in runs}
            if len(sizes) > 1:
                raise InspError(f"table1: the {label(k)} runs on {label(d)} differ in size (train/test INRs "
                                f"{', '.join(f'{a}/{b}' for a, b in sorted(sizes))}); one cell holds one "
                                "setting: pass those runs to separate tables, or use table=grid")
            acc, std = mean_std([100 * r.metrics["test_accuracy"] for r in runs])
            notes = sorted({f"not a result: {r.metrics['not_a_result']}" for r in runs
                            if r.metrics.get("not_a_result")})
            train, test = next(iter(sizes)) if sizes else (None, None)
            rows.append({"dataset": label(d), "method": label(k), "ours_accuracy": acc, "ours_std": std,
                         "paper_accuracy": paper, "train_inrs": train, "test_inrs": test, "runs": len(runs),
                         "note": "; ".join(notes) or ("not run" if not runs else "")})
    cols = [Column("dataset", "Dataset"), Column("method", "Method"),
            Column("ours_accuracy", "Ours: test accuracy (%)", 2, std="ours_std"),  # 2,000 INRs: steps of 0.05
            Column("paper_accuracy", "Paper: test accuracy (%)", 1),
            Column("train_inrs", "Train INRs"), Column("test_inrs", "Test INRs"), Column("runs", "Runs"),
            Column("note", "Note")]
    return Table("table1", "Table 1: classification of INRs, test accuracy (%)", scale, cols, rows,
                 notes=["Ours: mean ± std over runs (seeds) where a cell has several. Paper: full MNIST / "
                        "CIFAR-10, 1,000 epochs (Sec. 5.3)."],
                 failed=failed)


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


def _test_set(runs: list[RunRecord], what: str, per: str, size_key: str = "scale.image_size"
              ) -> tuple[int, tuple] | None:
    """(images, image size) of the test set these eval runs share (None without runs); runs of different test
    sets are refused: their scores do not average."""
    sizes = set()
    for r in runs:
        size = r.get_metric(size_key)
        size = [size] if isinstance(size, int) else ([] if size is _MISSING or size is None else size)
        sizes.add((r.metrics["n_images"], tuple(size)))
    if len(sizes) > 1:
        raise InspError(f"{what} differ in test set (images x size "
                        f"{', '.join(f'{n} x {s}' for n, s in sorted(sizes))}); pass one setting per {per}")
    return next(iter(sizes), None)


def _table2(records: list[RunRecord], scale: str | None) -> Table:
    runs, other = [], defaultdict(int)
    done, failed = split_complete(records)
    for r in done:
        m = need(r, "task", "rows", "n_images")
        if m["task"] != "denoise":
            other[str(m["task"])] += 1
            continue
        runs.append(r)
    if not runs and not failed:
        raise InspError(f"table2 is denoising; the eval runs given are of other tasks ({', '.join(sorted(other))})")
    test_set = _test_set(runs, "table2: the eval runs", "table")
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
        s = runs[0].metrics.get("scale") if isinstance(runs[0].metrics.get("scale"), dict) else {}
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
    sc = r.metrics.get("scale") if isinstance(r.metrics.get("scale"), dict) else {}
    return (f"{sc.get('pi', '?')}, K={sc.get('order', '?')}, {sc.get('train_steps', '?')} steps, "
            f"{sc.get('n_train', '?')} train INRs")


def _tasks(records: list[RunRecord], scale: str | None) -> Table:
    """Every low-level task side by side (Table 2's layout, one block of rows per task): INSP-Net and the
    classical filters on each task's held-out test INRs. The paper's numbers exist for denoising only."""
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    done, failed = split_complete(records)
    for r in done:
        by_task[_task_block(need(r, "task", "rows", "n_images"))].append(r)
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
        n = _test_set(runs, f"tasks: the {task} eval runs", "task")[0]
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


_AUDIO_SCORES = (("snr", "SNR (dB)", 2), ("si_sdr", "SI-SDR (dB)", 2), ("pesq", "PESQ-nb", 2), ("stoi", "STOI", 3))


def _audio(records: list[RunRecord], scale: str | None) -> Table:
    """Fig. 15 as a table: INSP-Net and the classical denoisers on held-out audio INRs (SNR, SI-SDR, PESQ-nb,
    STOI against the clean clips). The paper reports no number for audio."""
    runs, failed = split_complete(records)
    for r in runs:
        need(r, "rows", "n_images")
    n = _test_set(runs, "audio: the eval runs", "table", "scale.clip_samples")
    rows = []
    for k in method_order(runs):
        ours = [r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]]
        cells: dict[str, Any] = {}
        for name, _, _ in _AUDIO_SCORES:
            cells[name], cells[f"{name}_std"] = mean_std([o.get(name) for o in ours])
        rows.append({"method": label(k), **cells, "runs": len(ours)})
    cols = [Column("method", "Method")] + [Column(name, t, d, std=f"{name}_std") for name, t, d in _AUDIO_SCORES] + \
        [Column("runs", "Runs")]
    notes = []
    if runs:
        s = runs[0].metrics.get("scale") or {}
        sigma = (runs[0].metrics.get("degradation") or {}).get("sigma")
        kept = "held-out" if all(r.metrics.get("held_out") for r in runs) else "NOT held-out (they overlap training)"
        notes.append(f"Ours: {n[0] if n else '?'} {kept} test clips of {s.get('clip_samples')} samples at "
                     f"{s.get('rate')} Hz, Gaussian noise sigma {sigma}/255 of each clip's peak; INR {s.get('inr')}; "
                     f"Pi {s.get('pi')} on the jets up to order {s.get('order')} at "
                     f"{len(s.get('context') or [0])} offsets; {s.get('n_train')} training INRs. Baselines are "
                     "applied to the decoded input with the known sigma; mean ± std over runs where several.")
    notes.append("Paper (App. F, Fig. 15): one Bach clip, figures only, no number.")
    return Table("audio", "Fig. 15: audio denoising (SNR / SI-SDR / PESQ-nb / STOI)", scale, cols, rows,
                 notes=notes, failed=failed)


def _sortable(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


def _grid(records: list[RunRecord], scale: str | None, grid: dict) -> Table:
    x, y, series = grid.get("x"), grid.get("y"), grid.get("series")
    if not x or not y:
        raise InspError("table=grid needs grid.x=KEY (a config key, e.g. fit.steps) and grid.y=METRIC "
                        "(a metrics.json key, e.g. psnr_mean or rows.insp_net.psnr)")
    jobs = sorted({r.job for r in records})
    if len(jobs) > 1:
        raise InspError(f"table=grid got runs of several commands ({', '.join(jobs)}); pick one with grid.job=NAME")
    points: dict[tuple, list[RunRecord]] = defaultdict(list)
    failed: list[str] = []
    failed_at: dict[tuple, int] = defaultdict(int)
    for r in records:
        xv = r.get_config(x)
        xv = r.get_metric(x) if xv is _MISSING else xv
        sv = None if not series else r.get_config(series)
        if xv is _MISSING or sv is _MISSING:
            raise InspError(f"{r.dir}: its config has no {x if xv is _MISSING else series} (an older config?)")
        key = (_hashable(sv), _hashable(xv))
        if r.status != STATUS_OK:
            failed.append(failed_line(r, f"{x}={xv}"))
            failed_at[key] += 1
            continue
        if r.get_metric(y) is _MISSING:
            raise InspError(f"{r.dir}: metrics.json has no {y} (its metrics: "
                            f"{', '.join(sorted(k for k in r.metrics if not isinstance(r.metrics[k], (list, dict))))})")
        points[key].append(r)
    rows = []
    for key in sorted(set(points) | set(failed_at), key=lambda k: (_sortable(k[0]), _sortable(k[1]))):
        vals = [r.get_metric(y) for r in points.get(key, [])]
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in vals if v is not None):
            raise InspError(f"grid.y={y} is not a number in every run (got {vals[0]!r})")
        mean, std = mean_std(vals)
        rows.append({**({"series": key[0]} if series else {}), "x": key[1], "y": mean, "y_std": std,
                     "runs": len(vals), "failed": failed_at.get(key, 0)})
    cols = ([Column("series", series)] if series else []) + [
        Column("x", x), Column("y", y, 4, std="y_std"), Column("runs", "Runs"), Column("failed", "Failed")]
    job = jobs[0] if jobs else "?"
    return Table("grid", f"{y} vs {x}" + (f" by {series}" if series else "") + f" ({job} runs)", scale, cols,
                 rows, notes=["mean ± std over runs where a point has several; failed runs are marked."],
                 failed=failed)


def _hashable(v):
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v


SPECS: dict[str, TableSpec] = {spec.name: spec for spec in (
    TableSpec("table1", "classify", _table1),
    TableSpec("table2", "eval", _table2, modality="images"),
    TableSpec("tasks", "eval", _tasks, modality="images"),
    TableSpec("audio", "eval", _audio, modality="audio"),
    GEOMETRY,
    TableSpec("grid", None, _grid, takes_grid=True),
    INRR,
    OINR,
)}
TABLES = tuple(SPECS)
