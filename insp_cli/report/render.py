"""Renderers of built tables: markdown (the one renderer of insp's tables: ``insp table``, experiments/ and
eval's table2.md), CSV and a PNG per table kind.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from pathlib import Path

from insp_cli.files import atomic_write
from insp_cli.report.table_kit import Bars, Column, Table
from insp_cli.report.tables import SPECS


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
        if t.runs:  # a table of insp table; eval's table2.md shows one run's numbers
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


# ------------------------------------------------------------------------------------------------ pictures

def plot(t: Table, path: Path) -> Path | None:
    """A PNG of the table where a picture reads faster: bars (ours vs paper where it has numbers) as its
    ``TableSpec.bars`` says, lines (a sweep: y against x, one line per series) for a table without bars (grid).
    None when there is nothing to draw."""
    spec = SPECS.get(t.id)
    bars = spec.bars if spec else None
    rows = [row for row in t.rows if row["runs"]] if bars and bars.ran_only else t.rows
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(t.rows) + 2), 3.6), dpi=110)
    if bars:
        _draw_bars(ax, rows, bars)
    else:
        _draw_lines(ax, t)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title(t.title + (f" [{t.scale}]" if t.scale is not None else ""), fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))
    plt.close(fig)
    return path


def _draw_bars(ax, rows: list[dict], bars: Bars) -> None:
    width = 0.8 / len(bars.series)
    for i, (key, name) in enumerate(bars.series):
        xs = [j + (i - (len(bars.series) - 1) / 2) * width for j in range(len(rows))]
        ys = [row.get(key) if row.get(key) is not None else 0.0 for row in rows]
        drawn = ax.bar(xs, ys, width, label=name)
        ax.bar_label(drawn, labels=[f"{v:.1f}" if row.get(key) is not None else "—" for v, row in
                                    zip(ys, rows)], fontsize=7)
    ax.set_xticks(range(len(rows)), [bars.label(row) for row in rows], fontsize=7)
    ax.set_ylabel(bars.ylabel)


def _draw_lines(ax, t: Table) -> None:
    """grid: the mean of y against x with its std as error bars, one line per series; failed points as red x."""
    titles = {c.key: c.title for c in t.columns}
    lines: dict = defaultdict(list)
    for row in t.rows:
        lines[row.get("series")].append(row)
    numeric = all(isinstance(row["x"], (int, float)) for row in t.rows)
    ticks = {v: i for i, v in enumerate(dict.fromkeys(row["x"] for row in t.rows))}
    for s, rs in lines.items():
        ok = [row for row in rs if row["y"] is not None]
        xs = [row["x"] if numeric else ticks[row["x"]] for row in ok]
        ax.errorbar(xs, [row["y"] for row in ok], yerr=[row["y_std"] or 0.0 for row in ok], marker="o",
                    capsize=3, label=None if s is None else f"{titles.get('series')}={s}")
        bad = [row["x"] if numeric else ticks[row["x"]] for row in rs if row["failed"]]
        if bad:
            ax.plot(bad, [ax.get_ylim()[0]] * len(bad), "x", color="red", clip_on=False, label="failed run(s)")
    if not numeric:
        ax.set_xticks(list(ticks.values()), [str(v) for v in ticks])
    ax.set_xlabel(titles["x"])
    ax.set_ylabel(titles["y"])


def write_tables(tables: list[Table], folder: str | Path, stem: str) -> list[Path]:
    """``<stem>.md``, ``<stem>.csv`` and a PNG per table (``<stem>.png``, or ``<stem>-<scale>.png``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, cs = folder / f"{stem}.md", folder / f"{stem}.csv"
    atomic_write(md, to_markdown(tables))
    atomic_write(cs, to_csv(tables))
    out = [md, cs]
    for t in tables:
        name = f"{stem}.png" if len(tables) == 1 else f"{stem}-{_slug(str(t.scale))}.png"
        png = plot(t, folder / name)
        if png:
            out.append(png)
    return out


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s) or "none"
