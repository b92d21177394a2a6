"""`insp table`: run directories -> the paper's tables (markdown, CSV, PNG, W&B table) in the run directory,
optionally recorded in a folder of experiments/; or (table=all) rebuild every recorded table and the README."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..config import hydra_run_dir
from ..errors import InspError
from ..report import (TABLES, build_tables, find_runs, read_run, rebuild, rebuild_recorded, record, to_markdown,
                      write_tables)
from ..tracking import Run, run_job


def table_job(cfg: DictConfig) -> dict | None:
    return run_table(cfg, hydra_run_dir())


def run_table(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Build (or rebuild) the tables ``cfg`` asks for and write the run directory. Returns the metrics."""
    table = str(cfg.table)
    if table != "all" and table not in TABLES:
        raise InspError(f"unknown table {table!r}; choose {', '.join(TABLES)} or all (rebuild experiments/)")
    return run_job(cfg, run_dir, "table", lambda cfg, run: _rebuild_all(cfg) if table == "all" else _build(cfg, run, table))


def _rebuild_all(cfg: DictConfig) -> dict:
    root = Path(str(cfg.experiments))
    if not root.is_dir():
        raise InspError(f"{root}/ does not exist: run insp table from the repository root or pass experiments=PATH")
    built, readme = rebuild_recorded(root)
    for folder, tables in built:
        parts = [f"{t.id} [scale {t.scale or 'unlabelled'}] from {len(t.runs)} runs" for t in tables]
        print(f"rebuilt {folder}: {', '.join(parts)}")
    print(f"{len(built)} recorded tables rebuilt\n  readme  {readme}")
    return {"table": "all", "recorded": [str(f) for f, _ in built], "readme": str(readme)}


def _build(cfg: DictConfig, run: Run, table: str) -> dict:
    if not cfg.runs:
        raise InspError(f"table={table} needs runs=[DIR,...]: run dirs, sweep dirs, roots or quoted globs")
    specs = [str(s) for s in cfg.runs] if OmegaConf.is_list(cfg.runs) else [str(cfg.runs)]
    records = [read_run(d) for d in find_runs(specs)]
    grid = OmegaConf.to_container(cfg.grid, resolve=True) if table == "grid" else None
    scale = None if cfg.scale is None else str(cfg.scale)
    tables = build_tables(table, records, scale=scale, mixed=str(cfg.mixed_scales), grid=grid)
    files = write_tables(tables, run.dir, table)
    for t in tables:
        run.log_table(t.id if t.scale is None else f"{t.id}/{t.scale}", [c.key for c in t.columns],
                      [[row.get(c.key) for c in t.columns] for row in t.rows])
    for f in files:
        if f.suffix == ".png":
            run.log_image(f.stem, f, caption=tables[0].title)
    used = {p for t in tables for p in t.runs}
    out_files: list[Path] = []
    if cfg.out:
        out = Path(str(cfg.out))
        options = {"scale": scale, "mixed_scales": str(cfg.mixed_scales), "grid": grid}
        shown = os.path.relpath(out) if not os.path.relpath(out).startswith("..") else str(out)
        built_by = (f"insp table table={table} runs=[RUN_DIRS] out={shown}"
                    + (f" scale={scale}" if scale else "")
                    + (" mixed_scales=separate" if cfg.mixed_scales == "separate" else "")
                    + "".join(f" grid.{k}={v}" for k, v in (grid or {}).items() if v is not None)
                    + "   # then `insp table` rebuilds it from its runs/")
        record(out, table, [r for r in records if r.dir in used], options, built_by)
        _, tables, out_files = rebuild(out)  # the recorded files come from the recorded runs alone
        root = Path(str(cfg.experiments))
        if root.is_dir() and out.resolve().parent == root.resolve():
            _, readme = rebuild_recorded(root)
            out_files.append(readme)
    failed = sum(len(t.failed) for t in tables)
    print(to_markdown(tables))
    print(f"{table}: {len(used)} runs" + (f" ({failed} did not complete, marked)" if failed else "")
          + f", scale {', '.join(t.scale or 'unlabelled' for t in tables)}"
          + "".join(f"\n  {f.suffix[1:]:<7} {f}" for f in files)
          + "".join(f"\n  out     {f}" for f in out_files if f.suffix in (".md", ".csv"))
          + f"\n  run dir {run.dir}")
    return {"table": table, "runs": len(used), "failed": failed, "scales": [t.scale for t in tables],
            "files": [os.fspath(f) for f in files + out_files]}
