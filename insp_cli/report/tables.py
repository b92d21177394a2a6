"""Run records -> the paper's tables (rows of plain values), ours beside the paper's numbers.

Each table is defined once, by the ``TableSpec`` of its own module (name, job, modality, builder, bars,
catalogue entry, the paper's numbers): ``table1`` (classification), ``table2`` (``table2`` denoising, ``tasks``
every low-level task), ``audio_table`` (Fig. 15), ``geometry_table`` (Figs. 8/14), ``grid_table`` (any metric
against any setting), ``inrr_table``, ``oinr_table``. ``SPECS`` collects them: the only place a table is looked
up. The helpers every builder shares are public in ``table_kit``; rendering is ``report.render``.
"""

from __future__ import annotations

from collections import defaultdict

from insp_cli.errors import InspError
from insp_cli.report.audio_table import AUDIO
from insp_cli.report.geometry_table import GEOMETRY
from insp_cli.report.grid_table import GRID
from insp_cli.report.inrr_table import INRR
from insp_cli.report.oinr_table import OINR
from insp_cli.report.runs import RunRecord
from insp_cli.report.table1 import TABLE1
from insp_cli.report.table2 import TABLE2, TASKS
from insp_cli.report.table_kit import Column, Table, TableSpec, modality_of  # noqa: F401 (Column, Table: re-exported)

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


SPECS: dict[str, TableSpec] = {spec.name: spec for spec in (TABLE1, TABLE2, TASKS, AUDIO, GEOMETRY, GRID, INRR, OINR)}
TABLES = tuple(SPECS)
