"""`insp table`: run directories -> the paper's tables, ours beside the paper's numbers (markdown, CSV, PNG).

Pure: reads run directories and returns rows and files; knows nothing of Hydra or W&B (jobs/table.py does).
A run directory is what every insp job writes: ``.hydra/config.yaml`` (the composed config),
``.hydra/overrides.yaml`` (its command line) and ``metrics.json`` (written once when the job ends, with
``status``: complete | failed | interrupted). A run without metrics.json crashed or is still running.

A *recorded* table is a folder (``experiments/<name>/``) holding ``table.json`` (which table, which options),
its runs (in place, or their evidence copied into ``runs/``: metrics.json + .hydra/) and the files built from them;
``rebuild_recorded`` rebuilds every one and experiments/README.md from those alone.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import os
import re
import shlex
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # PyYAML, a dependency of Hydra and OmegaConf

from .errors import InspError

TABLES = ("table1", "table2", "tasks", "grid")
MIXED = ("refuse", "separate")
STATUS_OK = "complete"
UNFINISHED = "unfinished"  # no metrics.json: crashed, killed or still running

# The paper's numbers (Sec. 5.3 Table 1: test accuracy %, INRs of the full datasets, 1,000 epochs;
# App. Table 2: 100 DIV2K test images, RGB Gaussian noise, PSNR dB / SSIM / LPIPS).
PAPER_TABLE1 = {"mnist": {"depthwise_cnn": 87.6, "pca_svm": 11.3, "weight_mlp": 9.8, "insp_convnet": 88.1},
                "cifar10": {"depthwise_cnn": 59.5, "pca_svm": 9.4, "weight_mlp": 10.1, "insp_convnet": 62.5}}
PAPER_TABLE2 = {"input": (20.51, 0.47, 0.40), "mprnet": (23.95, 0.72, 0.36), "maxim": (24.64, 0.74, 0.33),
                "mean_filter": (22.57, 0.60, 0.43), "insp_net": (23.86, 0.65, 0.38)}
LABELS = {"mnist": "MNIST", "cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST",
          "depthwise_cnn": "Depthwise CNN", "pca_svm": "PCA + SVM", "weight_mlp": "MLP classifier",
          "insp_convnet": "INSP-ConvNet", "input": "Input (decoded from INR)", "mprnet": "MPRNet",
          "maxim": "MAXIM", "mean_filter": "Mean filter", "median_filter": "Median filter",
          "gaussian_filter": "Gaussian filter", "box_filter": "Box filter", "wiener": "Wiener filter",
          "insp_net": "INSP-Net"}


def label(key: str) -> str:
    return LABELS.get(key, str(key))


# ------------------------------------------------------------------------------------------ run directories

@dataclass
class RunRecord:
    """One run directory: its job, status, metrics.json and composed config."""

    dir: Path
    job: str
    status: str  # complete | failed | interrupted | unfinished
    metrics: dict
    config: Any  # OmegaConf DictConfig (interpolations resolve on access)
    overrides: list[str]

    @property
    def scale(self) -> str | None:
        """The scale label a job recorded (metrics.json ``scale``: a label or {"label": ...}; else its config)."""
        s = self.metrics.get("scale")
        if isinstance(s, dict):
            s = s.get("label")
        if s is None:
            s = self.get_config("scale")
        return None if s is None or s is _MISSING else str(s)

    @property
    def error(self) -> str:
        if self.status == UNFINISHED:
            return "no metrics.json (the job crashed, was killed or is still running)"
        return str(self.metrics.get("error") or self.status)

    @property
    def command(self) -> str:
        return " ".join(["insp", self.job] + [shlex.quote(o) for o in self.overrides])

    def get_config(self, key: str):
        from omegaconf import OmegaConf

        try:
            v = OmegaConf.select(self.config, key, default=_MISSING, throw_on_resolution_failure=False)
        except Exception:  # noqa: BLE001 - a resolver of the run's machine (oc.env...) that fails here
            return _MISSING
        return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v

    def get_metric(self, key: str):
        v: Any = self.metrics
        for part in key.split("."):
            if not isinstance(v, dict) or part not in v:
                return _MISSING
            v = v[part]
        return v

    def get(self, key: str):
        """A metric (dotted path into metrics.json) or, failing that, a config key."""
        v = self.get_metric(key)
        return self.get_config(key) if v is _MISSING else v


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def read_run(run_dir: str | Path) -> RunRecord:
    """Read one run directory (``.hydra/config.yaml`` required; metrics.json absent = unfinished)."""
    from omegaconf import OmegaConf

    d = Path(run_dir)
    cfg_path = d / ".hydra" / "config.yaml"
    if not cfg_path.is_file():
        raise InspError(f"{d} is not a run directory (no .hydra/config.yaml)")
    try:
        config = OmegaConf.load(cfg_path)
        over = d / ".hydra" / "overrides.yaml"
        # plain YAML: OmegaConf would resolve the ${...} an override may hold (store=st${fit.steps})
        overrides = [str(o) for o in (yaml.safe_load(over.read_text()) or [])] if over.is_file() else []
    except Exception as e:  # noqa: BLE001 - any YAML/OmegaConf failure is one line about this file
        raise InspError(f"{cfg_path} is unreadable ({type(e).__name__})") from None
    metrics: dict = {}
    mpath = d / "metrics.json"
    if mpath.is_file():
        try:
            metrics = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InspError(f"{mpath} is unreadable or corrupt ({e})") from None
        if not isinstance(metrics, dict):
            raise InspError(f"{mpath} is not a metrics object")
    status = str(metrics.get("status", UNFINISHED if not metrics else "unknown"))
    job = metrics.get("job") or _hydra_job_name(d) or "?"
    return RunRecord(dir=d, job=str(job), status=status, metrics=metrics, config=config, overrides=overrides)


def _hydra_job_name(d: Path) -> str | None:
    p = d / ".hydra" / "hydra.yaml"  # read as plain YAML: its interpolations only resolve inside Hydra
    try:
        name = yaml.safe_load(p.read_text())["hydra"]["job"]["name"] if p.is_file() else None
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return None if name is None else str(name)


def find_runs(specs: list[str | Path] | str | Path) -> list[Path]:
    """Run directories from a list of run dirs, sweep dirs, roots (searched recursively) or globs."""
    specs = [specs] if isinstance(specs, (str, Path)) else list(specs)
    found: list[Path] = []
    for spec in specs:
        s = os.path.expanduser(str(spec))
        matches = sorted(glob.glob(s)) if glob.has_magic(s) else [s]
        if not matches:
            raise InspError(f"no run directories match {spec}")
        for m in map(Path, matches):
            if (m / ".hydra" / "config.yaml").is_file():
                found.append(m)
            elif m.is_dir():
                inner = _walk_runs(m)
                if not inner and not glob.has_magic(s):
                    raise InspError(f"{m} holds no run directories (no .hydra/config.yaml below it)")
                found += inner
            elif not glob.has_magic(s):
                raise InspError(f"run directory {m} does not exist")
    return list(dict.fromkeys(found))


def _walk_runs(root: Path) -> list[Path]:
    out = []
    for here, dirs, _ in os.walk(root):
        if (Path(here) / ".hydra" / "config.yaml").is_file():
            out.append(Path(here))
            dirs[:] = []  # a run dir holds no other run dirs; do not walk its wandb/ files
            continue
        dirs[:] = sorted(d for d in dirs if d not in ("wandb", ".submitit", ".hydra"))
    return sorted(out)


def sweep_failures(sweep_dir: str | Path) -> tuple[int, list[str]]:
    """(number of jobs, one line per job that did not complete) of a multirun's sweep directory."""
    root = Path(sweep_dir)
    if not root.is_dir():
        return 0, []
    runs = [read_run(d) for d in _walk_runs(root)]
    return len(runs), [f"{r.dir}: {r.status}: {r.error}" for r in runs if r.status != STATUS_OK]


# ----------------------------------------------------------------------------------------------- tables

@dataclass
class Column:
    key: str  # CSV header
    title: str  # markdown header
    digits: int | None = None  # decimals of a number in markdown
    std: str | None = None  # key of the spread shown as "mean ± std" in markdown


@dataclass
class Table:
    """A built table: rows of plain values (None = not run / not in the paper)."""

    id: str
    title: str
    scale: str | None
    columns: list[Column]
    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one line per run that did not complete
    runs: list[Path] = field(default_factory=list)
    plot: dict | None = None


def build_tables(table: str, records: list[RunRecord], scale: str | None = None, mixed: str = "refuse",
                 grid: dict | None = None) -> list[Table]:
    """The table ``table`` (one of TABLES) from run records: one Table, or one per scale when
    ``mixed="separate"``. Runs of several scales are refused otherwise: their numbers are not comparable."""
    if table not in TABLES:
        raise InspError(f"unknown table {table!r}; choose {', '.join(TABLES)} (or all: rebuild experiments/)")
    if mixed not in MIXED:
        raise InspError(f"mixed_scales must be refuse or separate, not {mixed!r}")
    grid = dict(grid or {})
    job = {"table1": "classify", "table2": "eval", "tasks": "eval"}.get(table) or grid.get("job")
    recs = [r for r in records if r.job != "table" and (job is None or r.job == job)]
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
    build = {"table1": _table1, "table2": _table2, "tasks": _tasks, "grid": _grid}[table]
    out = []
    for s, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        t = build(rs, s, grid) if table == "grid" else build(rs, s)
        t.runs = [r.dir for r in rs]
        out.append(t)
    return out


def _need(r: RunRecord, *keys: str) -> dict:
    missing = [k for k in keys if r.get_metric(k) is _MISSING]
    if missing:
        raise InspError(f"{r.dir}: metrics.json has no {', '.join(missing)} (written by an older insp {r.job}?); "
                        "rerun it or leave it out")
    return r.metrics


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return None, None
    m = sum(v) / len(v)
    return m, (math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else None)


def _failed_line(r: RunRecord, what: str = "") -> str:
    return f"{r.status}: {r.dir}{f' ({what})' if what else ''}: {r.error}"


def _table1(records: list[RunRecord], scale: str | None) -> Table:
    cells: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    failed = []
    for r in records:
        if r.status != STATUS_OK:
            kind = r.get_config("model.kind")
            failed.append(_failed_line(r, "" if kind is _MISSING else label(str(kind))))
            continue
        m = _need(r, "model", "dataset", "test_accuracy", "train_count", "test_count")
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
            acc, std = _mean_std([100 * r.metrics["test_accuracy"] for r in runs])
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
    ran = [row for row in rows if row["runs"]]
    return Table("table1", "Table 1: classification of INRs, test accuracy (%)", scale, cols, rows,
                 notes=["Ours: mean ± std over runs (seeds) where a cell has several. Paper: full MNIST / "
                        "CIFAR-10, 1,000 epochs (Sec. 5.3)."],
                 failed=failed,
                 plot={"kind": "bars", "label": lambda row: f"{row['dataset']}\n{row['method']}",
                       "series": [("ours_accuracy", "ours"), ("paper_accuracy", "paper")],
                       "ylabel": "test accuracy (%)", "rows": ran} if ran else None)


# Table 2's score columns (metrics.json rows.<method>.<key>): ours as mean ± std over runs, the paper's beside
_SCORES = (("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 3), ("lpips", "LPIPS", 3))
_SCORE_COLUMNS = ([Column(f"ours_{n}", f"Ours: {t}", d, std=f"ours_{n}_std") for n, t, d in _SCORES]
                  + [Column(f"paper_{n}", f"Paper: {t}", 2) for n, t, _ in _SCORES])


def _score_cells(ours: list[dict], paper: tuple | None) -> dict:
    """The score cells of one method: ours (its rows of several runs) and the paper's (psnr, ssim, lpips)."""
    cells: dict[str, Any] = {}
    for i, (name, _, _) in enumerate(_SCORES):
        cells[f"ours_{name}"], cells[f"ours_{name}_std"] = _mean_std([o.get(name) for o in ours])
        cells[f"paper_{name}"] = paper[i] if paper else None
    return cells


def _test_set(runs: list[RunRecord], what: str, per: str) -> tuple[int, tuple] | None:
    """(images, image size) of the test set these eval runs share (None without runs); runs of different test
    sets are refused: their scores do not average."""
    sizes = {(r.metrics["n_images"], tuple(r.get_metric("scale.image_size") or ())) for r in runs}
    if len(sizes) > 1:
        raise InspError(f"{what} differ in test set (images x size "
                        f"{', '.join(f'{n} x {s}' for n, s in sorted(sizes))}); pass one setting per {per}")
    return next(iter(sizes), None)


def _table2(records: list[RunRecord], scale: str | None) -> Table:
    runs, failed, other = [], [], defaultdict(int)
    for r in records:
        if r.status != STATUS_OK:
            failed.append(_failed_line(r, "eval"))
            continue
        m = _need(r, "task", "rows", "n_images")
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
    notes.append("Paper: 100 DIV2K test images, RGB Gaussian noise; MPRNet and MAXIM are pretrained "
                 "restoration networks (App., Table 2).")
    if other:
        notes.append("Left out: eval runs of other tasks (" + ", ".join(f"{k}: {v}" for k, v in sorted(other.items()))
                     + ").")
    ran = [row for row in rows if row["runs"]]
    return Table("table2", "Table 2: denoising (PSNR / SSIM / LPIPS)", scale, cols, rows, notes=notes,
                 failed=failed, plot={"kind": "bars", "label": lambda row: row["method"],
                                      "series": [("ours_psnr", "ours"), ("paper_psnr", "paper")],
                                      "ylabel": "PSNR (dB)", "rows": ran} if ran else None)


TASK_ORDER = ("denoise", "deblur", "blur", "inpaint", "inpaint_text")


def _tasks(records: list[RunRecord], scale: str | None) -> Table:
    """Every low-level task side by side (Table 2's layout, one block of rows per task): INSP-Net and the
    classical filters on each task's held-out test INRs. The paper's numbers exist for denoising only."""
    by_task: dict[str, list[RunRecord]] = defaultdict(list)
    failed = []
    for r in records:
        if r.status != STATUS_OK:
            failed.append(_failed_line(r, "eval"))
            continue
        by_task[str(_need(r, "task", "rows", "n_images")["task"])].append(r)
    tasks = [t for t in TASK_ORDER if t in by_task] + sorted(set(by_task) - set(TASK_ORDER))
    rows = []
    for task in tasks:
        runs = by_task[task]
        n = _test_set(runs, f"tasks: the {task} eval runs", "task")[0]
        seen = list(dict.fromkeys(k for r in runs for k in r.metrics["rows"]))
        methods = [k for k in ("input",) if k in seen] + [k for k in seen if k not in ("input", "insp_net")] + \
            [k for k in ("insp_net",) if k in seen]  # input first, INSP-Net last, as in Table 2
        for k in methods:
            ours = [r.metrics["rows"][k] for r in runs if k in r.metrics["rows"]]
            paper = PAPER_TABLE2.get(k) if task == "denoise" else None
            rows.append({"task": task, "method": label(k), **_score_cells(ours, paper), "test_inrs": n,
                         "runs": len(ours)})
    cols = [Column("task", "Task"), Column("method", "Method"), *_SCORE_COLUMNS, Column("test_inrs", "Test INRs"),
            Column("runs", "Runs")]
    notes = ["Each task: its own test INRs of degraded images, scored against the clean images (blur: against "
             "the blurred clean image); mean ± std over runs where several. Paper: Table 2 reports denoising "
             "only (100 DIV2K test images); the paper shows the other tasks as figures."]
    return Table("tasks", "INSP-Net on every low-level task (PSNR / SSIM / LPIPS)", scale, cols, rows, notes=notes,
                 failed=failed, plot={"kind": "bars", "label": lambda row: f"{row['task']}\n{row['method']}",
                                      "series": [("ours_psnr", "ours"), ("paper_psnr", "paper")],
                                      "ylabel": "PSNR (dB)", "rows": rows} if rows else None)


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
            failed.append(_failed_line(r, f"{x}={xv}"))
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
        mean, std = _mean_std(vals)
        rows.append({**({"series": key[0]} if series else {}), "x": key[1], "y": mean, "y_std": std,
                     "runs": len(vals), "failed": failed_at.get(key, 0)})
    cols = ([Column("series", series)] if series else []) + [
        Column("x", x), Column("y", y, 4, std="y_std"), Column("runs", "Runs"), Column("failed", "Failed")]
    job = jobs[0] if jobs else "?"
    return Table("grid", f"{y} vs {x}" + (f" by {series}" if series else "") + f" ({job} runs)", scale, cols,
                 rows, notes=["mean ± std over runs where a point has several; failed runs are marked."],
                 failed=failed, plot={"kind": "lines", "x": x, "y": y, "series": series})


def _hashable(v):
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v


# ------------------------------------------------------------------------------------------------ output

def _cell(row: dict, c: Column) -> str:
    v = row.get(c.key)
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if c.digits is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
        s = f"{v:.{c.digits}f}"
        sd = row.get(c.std) if c.std else None
        return s + (f" ± {sd:.{c.digits}f}" if sd is not None else "")
    return str(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(tables: list[Table], heading: str = "###") -> str:
    out = []
    for t in tables:
        out.append(f"{heading} {t.title}" + (f" — scale: {t.scale}" if t.scale is not None else ""))
        out.append("")
        out.append("| " + " | ".join(c.title for c in t.columns) + " |")
        out.append("|" + "|".join("---" for _ in t.columns) + "|")
        out += ["| " + " | ".join(_cell(row, c) for c in t.columns) + " |" for row in t.rows]
        out.append("")
        out += [f"{n}" for n in t.notes]
        out.append(f"Built from {len(t.runs)} run directories.")
        if t.failed:
            out.append("")
            out.append(f"**{len(t.failed)} run(s) did not complete** (not in the numbers above):")
            out += [f"- {line}" for line in t.failed]
        out.append("")
    return "\n".join(out)


def to_csv(tables: list[Table]) -> str:
    """One CSV for all tables: plain numbers (no formatting), a ``scale`` column, the paper's in their own."""
    keys: list[str] = ["scale"]
    for t in tables:
        for c in t.columns:
            keys += [k for k in (c.key, c.std) if k and k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for t in tables:
        for row in t.rows:
            w.writerow({"scale": t.scale, **{k: _csv_value(v) for k, v in row.items()}})
    return buf.getvalue()


def _csv_value(v):
    if isinstance(v, float):
        return "" if not math.isfinite(v) else round(v, 6)
    return "" if v is None else v


def plot(t: Table, path: Path) -> Path | None:
    """A PNG of the table where a picture reads faster: bars (ours vs paper) or lines (a sweep)."""
    if not t.plot or not t.rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = t.plot
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(t.rows) + 2), 3.6), dpi=110)
    if p["kind"] == "bars":
        rows = p["rows"]
        width = 0.8 / len(p["series"])
        for i, (key, name) in enumerate(p["series"]):
            xs = [j + (i - (len(p["series"]) - 1) / 2) * width for j in range(len(rows))]
            ys = [row.get(key) if row.get(key) is not None else 0.0 for row in rows]
            bars = ax.bar(xs, ys, width, label=name)
            ax.bar_label(bars, labels=[f"{v:.1f}" if row.get(key) is not None else "—" for v, row in
                                       zip(ys, rows)], fontsize=7)
        ax.set_xticks(range(len(rows)), [p["label"](row) for row in rows], fontsize=7)
        ax.set_ylabel(p["ylabel"])
    else:
        lines: dict = defaultdict(list)
        for row in t.rows:
            lines[row.get("series")].append(row)
        numeric = all(isinstance(row["x"], (int, float)) for row in t.rows)
        ticks = {v: i for i, v in enumerate(dict.fromkeys(row["x"] for row in t.rows))}
        for s, rs in lines.items():
            ok = [row for row in rs if row["y"] is not None]
            xs = [row["x"] if numeric else ticks[row["x"]] for row in ok]
            ax.errorbar(xs, [row["y"] for row in ok], yerr=[row["y_std"] or 0.0 for row in ok], marker="o",
                        capsize=3, label=None if s is None else f"{p['series']}={s}")
            bad = [row["x"] if numeric else ticks[row["x"]] for row in rs if row["failed"]]
            if bad:
                ax.plot(bad, [ax.get_ylim()[0]] * len(bad), "x", color="red", clip_on=False,
                        label="failed run(s)")
        if not numeric:
            ax.set_xticks(list(ticks.values()), [str(v) for v in ticks])
        ax.set_xlabel(p["x"])
        ax.set_ylabel(p["y"])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title(t.title + (f" [{t.scale}]" if t.scale is not None else ""), fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, metadata={"Software": None})
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_tables(tables: list[Table], folder: str | Path, stem: str) -> list[Path]:
    """``<stem>.md``, ``<stem>.csv`` and a PNG per table (``<stem>.png``, or ``<stem>-<scale>.png``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, cs = folder / f"{stem}.md", folder / f"{stem}.csv"
    _write_text(md, to_markdown(tables))
    _write_text(cs, to_csv(tables))
    out = [md, cs]
    for t in tables:
        name = f"{stem}.png" if len(tables) == 1 else f"{stem}-{_slug(str(t.scale))}.png"
        png = plot(t, folder / name)
        if png:
            out.append(png)
    return out


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s) or "none"


# ------------------------------------------------------------------------------------- recorded tables

SPEC = "table.json"
EVIDENCE = ("metrics.json", ".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml")


def record(folder: str | Path, table: str, records: list[RunRecord], options: dict, built_by: str) -> list[Path]:
    """Write ``folder/table.json`` so that the table can be rebuilt from the folder alone: runs already inside
    the folder are referenced in place; the evidence of others (metrics.json, .hydra/) is copied into
    ``folder/runs/``. Copies this table made earlier and no longer uses are removed; nothing else is touched."""
    folder = Path(folder).resolve()
    old = _read_spec(folder) if (folder / SPEC).is_file() else {}
    names = []
    for r in records:
        src = r.dir.resolve()
        if src.is_relative_to(folder):
            names.append(src.relative_to(folder).as_posix())
            continue
        name = f"runs/{_record_name(src)}"
        dst = folder / name
        if dst.exists():
            shutil.rmtree(dst)
        for rel in EVIDENCE:
            if (src / rel).is_file():
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / rel, dst / rel)
        names.append(name)
    for name in set(old.get("runs", [])) - set(names):  # only copies this table made, never others' files
        if name.startswith("runs/"):
            shutil.rmtree(folder / name, ignore_errors=True)
    spec = {"table": table, "runs": sorted(names), "options": options, "built_by": built_by,
            "commands": sweep_commands(records)}
    _write_text(folder / SPEC, json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return [folder / n for n in sorted(names)]


def _record_name(d: Path) -> str:
    """runs/classify/DATE -> classify_DATE; runs/classify-multirun/DATE/0_model=x -> classify-multirun_DATE_0_model=x"""
    d = d.resolve()
    parts = ([d.parent.parent.name] if d.parent.parent.name.endswith("-multirun") else []) + [d.parent.name, d.name]
    return re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", "_".join(parts))


def sweep_commands(records: list[RunRecord]) -> list[str]:
    """The commands that made these runs: a sweep's own command line (its multirun.yaml) for runs of a sweep,
    else each run's command. Hydra's pinned sweep dir is left out (it is a time stamp, not a setting)."""
    out = []
    for r in records:
        sweep = r.dir.parent / "multirun.yaml"
        cmd = r.command
        if sweep.is_file():
            try:
                h = yaml.safe_load(sweep.read_text())["hydra"]["overrides"]
                args = [str(a) for a in h["hydra"] if not str(a).startswith(("hydra.sweep.dir=", "hydra.mode="))]
                cmd = " ".join(["insp", r.job, "-m"] + [shlex.quote(a) for a in args + [str(a) for a in h["task"]]])
            except (OSError, yaml.YAMLError, KeyError, TypeError):  # a foreign multirun.yaml: the job's own
                pass
        out.append(cmd)
    return list(dict.fromkeys(out))


def _read_spec(folder: Path) -> dict:
    try:
        spec = json.loads((folder / SPEC).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InspError(f"{folder / SPEC} is unreadable ({e})") from None
    if spec.get("table") not in TABLES or not isinstance(spec.get("runs"), list):
        raise InspError(f"{folder / SPEC} is not a recorded insp table (table {spec.get('table')!r})")
    return spec


def recorded_folders(root: str | Path) -> list[Path]:
    root = Path(root)
    return sorted(p.parent for p in root.glob(f"*/{SPEC}")) if root.is_dir() else []


def rebuild(folder: str | Path) -> tuple[dict, list[Table], list[Path]]:
    """Rebuild one recorded table from its ``runs/`` alone: (its spec, the tables, the files written)."""
    folder = Path(folder)
    spec = _read_spec(folder)
    records = [read_run(folder / n) for n in spec["runs"]]
    o = spec.get("options", {})
    tables = build_tables(spec["table"], records, scale=o.get("scale"), mixed=o.get("mixed_scales", "refuse"),
                          grid=o.get("grid"))
    for t in tables:  # paths relative to the folder: the files do not depend on where the checkout lives
        t.runs = [Path(os.path.relpath(p, folder)) for p in t.runs]
        t.failed = [line.replace(str(folder) + os.sep, "") for line in t.failed]
    return spec, tables, write_tables(tables, folder, spec["table"])


# ------------------------------------------------------------------------------------- experiments/README

# Every table and figure of the paper: (folder prefix under experiments/, title, tasks whose recorded runs show
# it, recipe). A recorded folder (experiments/<prefix>_*/ with table.json) supplies the exact commands, scale and
# result of a table; a figure shows the PNGs of recorded runs of its tasks; the recipe is the starting point.
PAPER_ITEMS = [
    ("table1", "Table 1: classification of INRs (MNIST, CIFAR-10)", (),
     ["insp fit data=mnist && insp fit data=mnist data.split=test",
      "insp classify -m model=insp_convnet,depthwise_cnn,pca_svm,weight_mlp scale=cpu",
      "insp table table=table1 runs=[runs/classify-multirun/DATE] out=experiments/table1_classification"]),
    ("table2", "Table 2: denoising, PSNR / SSIM / LPIPS (paper: 100 DIV2K test images)", (),
     ["insp fit data=images degradation=noise && insp fit data=images data.split=test degradation=noise",
      "insp train-filter task=denoise store=stores/images-train-gaussian_noise-w64d3-s0",
      "insp eval filter=FILTER store=stores/images-test-gaussian_noise-w64d3-s0 scale=cpu",
      "insp table table=table2 runs=[runs/eval/DATE] out=experiments/table2_denoising"]),
    ("fig1", "Fig. 1, 2: method diagrams", (), None),
    ("fig3", "Fig. 3, 9: edge detection (hand-made Π: gradient magnitude)", ("edges",),
     ["insp fit data=images && insp train-filter task=edges store=stores/images-train-clean-w64d3-s0 decode.size=256"]),
    ("fig4", "Fig. 4, 10: denoising", ("denoise",), ["# as Table 2: insp eval writes grid.png (input | INSP-Net | baselines | ground truth)"]),
    ("fig5", "Fig. 5, 11: deblurring", ("deblur",),
     ["insp fit data=images degradation=blur ... && insp train-filter task=deblur store=STORE && insp eval ..."]),
    ("fig6", "Fig. 6, 12: blurring", ("blur",),
     ["insp fit data=images ... && insp train-filter task=blur store=STORE && insp eval ..."]),
    ("fig7", "Fig. 7, 13: inpainting (30% random pixels; text)", ("inpaint", "inpaint_text"),
     ["insp fit data=images degradation=mask ... && insp train-filter task=inpaint store=STORE && insp eval ...",
      "# text removal: degradation=text, task=inpaint_text"]),
    ("fig8", "Fig. 8, 14: geometry (SDF) smoothing", (), None),
    ("fig15", "Fig. 15: audio denoising", (), None),
]
README_HEAD = """# Experiments: every table and figure of the paper

Generated by `insp table` (do not edit by hand: rebuild it, and every recorded table, with `insp table`).
A recorded table is a folder holding `table.json` (which table, which options, which runs, their commands),
its runs (in place, or their `metrics.json` and `.hydra/` copied into `runs/`) and the files built from them
(`<table>.md`, `.csv`, `.png`). Record one with `insp table table=table1 runs=[RUN_DIRS] out=experiments/<folder>`.
Scales: `cpu` = the laptop-sized runs of this repository, `paper` = the paper's setting; numbers of different
scales are never mixed in one table. Figures list the images of the recorded runs of their task.
"""


def _matches(prefix: str, name: str) -> bool:
    return re.match(rf"^{re.escape(prefix)}([_-]|$)", name) is not None


def readme(root: str | Path, built: dict[Path, tuple[dict, list[Table]]]) -> str:
    """experiments/README.md: the catalogue of the paper's items with each recorded result."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    runs = [r for r in (read_run(d) for d in _walk_runs(root)) if r.status == STATUS_OK] if root.is_dir() else []
    out = [README_HEAD]
    used: set[Path] = set()
    for prefix, title, tasks, recipe in PAPER_ITEMS:
        mine = [f for f in folders if _matches(prefix, f.name)]
        used |= set(mine)
        shots = [(r, png) for r in runs if r.metrics.get("task") in tasks for png in sorted(r.dir.glob("*.png"))]
        out.append(f"## {title}\n")
        for f in mine:
            out += _folder_section(root, f, built.get(f))
        for r, png in shots:
            rel = png.relative_to(root).as_posix()
            out.append(f"- [`{rel}`]({rel}) — scale {r.scale or '?'} — `{r.command}`")
        if not mine and not shots:
            out.append("Not recorded yet." if recipe else "Not reproduced by insp (no experiment in this repository).")
        if recipe and not (set(mine) & set(built)):
            out.append("\nRecipe:\n\n```bash\n" + "\n".join(recipe) + "\n```")
        out.append("")
    rest = [f for f in folders if f not in used and f in built]
    if rest:
        out.append("## Other recorded tables (sweeps)\n")
        for f in rest:
            out += _folder_section(root, f, built[f])
    return "\n".join(out).rstrip() + "\n"


def _folder_section(root: Path, f: Path, built: tuple[dict, list[Table]] | None) -> list[str]:
    rel = f.relative_to(root).as_posix()
    out = [f"**Folder:** [`{rel}/`]({rel}/)" + (f" — notes in [{rel}/README.md]({rel}/README.md)"
                                               if (f / "README.md").is_file() else "")]
    scripts = sorted(p.name for p in f.glob("*.sh"))
    if scripts:
        out.append("\n**Scripts:** " + ", ".join(f"[`{n}`]({rel}/{n})" for n in scripts))
    if built is None:
        return out + ["\nNo table recorded here yet (no table.json)."]
    spec, tables = built
    cmds = spec.get("commands", [])
    out.append(f"\n**Scale:** {', '.join(sorted({t.scale or 'unlabelled' for t in tables}))} "
               f"({sum(len(t.runs) for t in tables)} runs).")
    out.append("\n**Reproduce** (the recorded commands, then the table):\n\n```bash\n"
               + "\n".join(cmds[:12] + ([f"# ... {len(cmds) - 12} more in {rel}/{SPEC}"] if len(cmds) > 12 else [])
                           + [spec.get("built_by", "")]) + "\n```")
    out.append(f"\n**Latest recorded result** ([`{spec['table']}.md`]({rel}/{spec['table']}.md), "
               f"[`.csv`]({rel}/{spec['table']}.csv)):\n")
    out.append(to_markdown(tables, heading="####"))
    return out


def rebuild_recorded(root: str | Path) -> tuple[list[tuple[Path, list[Table]]], Path]:
    """Rebuild every recorded table under ``root`` and ``root/README.md``."""
    root = Path(root)
    built = {}
    for f in recorded_folders(root):
        spec, tables, _ = rebuild(f)
        built[f] = (spec, tables)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "README.md"
    _write_text(path, readme(root, built))
    return [(f, t) for f, (_, t) in built.items()], path
