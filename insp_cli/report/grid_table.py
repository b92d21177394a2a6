"""Any metric against any setting (``insp table table=grid grid.x=KEY grid.y=METRIC [grid.series=KEY]``): runs of
one command -> one row per (series, x) point, the mean ± std of y, failed runs marked; drawn as lines."""

from __future__ import annotations

import json
from collections import defaultdict

from insp_cli.errors import InspError
from insp_cli.report.runs import _MISSING, STATUS_OK, RunRecord
from insp_cli.report.table_kit import Column, Table, TableSpec, failed_line, mean_std

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


GRID = TableSpec("grid", None, _grid, takes_grid=True)
