"""What every table builder shares (public, imported by each table's module): the built ``Table`` and its
``Column``s, the completed/failed split, mean ± std, the metrics a builder needs, eval runs read in one layout
(``eval_view``) and their shared test set, eval methods in Table 2's order, the modality of an eval run, and
``TableSpec``: everything that defines a table (name, the job whose runs it reads, the modality of those runs,
its builder, its bars, its catalogue entry, the paper's numbers), written once beside its builder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from insp_cli.errors import InspError
from insp_cli.report.runs import _MISSING, STATUS_OK, RunRecord


class Bars(NamedTuple):
    """A table's bar chart (``render.plot``): one group of bars per row, one bar per series (ours, the paper's)."""

    label: Callable[[dict], str]  # a row's tick label
    series: tuple[tuple[str, str], ...]  # (column key, legend name)
    ylabel: str
    ran_only: bool  # only the rows that have runs (a paper-only row has nothing of ours to show)


class PaperItem(NamedTuple):
    """A table or figure of the paper in experiments/README.md's catalogue (``readme``): ``prefix`` of its
    folders under experiments/ (``table1``, ``fig8``), its title, the tasks whose recorded eval runs show it
    (their PNGs are listed), and the recipe shown until it is recorded (None: not reproduced by insp)."""

    prefix: str
    title: str
    tasks: tuple[str, ...]
    recipe: list[str] | None

    @property
    def rank(self) -> tuple[int, int]:
        """Its place in the catalogue: the paper's tables, then its figures, by number."""
        return (0 if self.prefix.startswith("table") else 1, int("".join(c for c in self.prefix if c.isdigit())))


@dataclass(frozen=True)
class TableSpec:
    """One table, defined once in its own module: ``name`` (table=NAME), ``job`` (the command whose runs it
    reads; None: any, or grid.job), ``build(records, scale[, grid]) -> Table``, ``modality`` (eval runs of this
    modality only; None: any), ``takes_grid`` (the builder takes the grid options), ``bars`` (its PNG; None:
    lines of a sweep), ``item`` (its entry in the experiments catalogue; None: listed with the other recorded
    tables), ``paper`` (the paper's numbers printed beside ours; None: the paper has none)."""

    name: str
    job: str | None
    build: Callable
    modality: str | None = None
    takes_grid: bool = False
    bars: Bars | None = None
    item: PaperItem | None = None
    paper: Any = None


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


def modality_of(r: RunRecord) -> str:
    """The modality of an eval run: its metrics' ``modality`` (images when absent), or for a failed run its
    store's name."""
    m = r.get_metric("modality")
    if m is _MISSING and r.status == STATUS_OK:  # the old images layout wrote none
        m = "images"
    if m is _MISSING:  # a failed run has no metrics: its store says it
        store = str(r.get_config("store"))
        m = "audio" if "audio" in store else "shapes" if "meshes" in store or "fig8" in store else "images"
    return str(m)


EVAL_LAYOUT = 2  # metrics.json of `insp eval` (``modalities.base.eval_record``); older files have no ``layout``
NOT_BASELINES = ("input", "insp_net", "insp_net_2x_down")


def eval_view(m: dict) -> dict:
    """An eval run's metrics in the current layout, whichever layout wrote them. Layout 2 (every modality):
    ``task``, ``modality``, ``model`` (the INR's description), ``n_items``, ``rows`` (per-method means),
    ``baselines``, ``per_item``, ``scale`` (the setting, without the INR). The older layouts (one per modality,
    recorded in experiments/) had ``n_images``, ``scale.inr``, no ``modality`` for images, ``decode_seconds``
    or ``eval_seconds``, and no per-item scores: they read as layout 2 with ``per_item`` empty."""
    if m.get("layout") == EVAL_LAYOUT:
        return m
    scale = dict(m["scale"]) if isinstance(m.get("scale"), dict) else {}
    model = scale.pop("inr", None)
    rows = m.get("rows") if isinstance(m.get("rows"), dict) else {}
    view = {**m, "layout": EVAL_LAYOUT, "modality": m.get("modality") or "images", "model": model,
            "baselines": [k for k in rows if k not in NOT_BASELINES], "per_item": {}, "scale": scale,
            "eval_seconds": m.get("eval_seconds", m.get("decode_seconds"))}
    if "n_images" in m:
        view["n_items"] = m["n_images"]
    return view


def setting_of(m: dict) -> dict:
    """An eval run's setting as the notes print it: its ``scale`` with the INR as ``inr``, keys sorted (the order
    metrics.json keeps)."""
    v = eval_view(m)
    return dict(sorted({**v["scale"], **({"inr": v["model"]} if v.get("model") is not None else {})}.items()))


def need_eval(r: RunRecord, *keys: str) -> dict:
    """The eval run's metrics in the current layout (``eval_view``); InspError naming the keys it lacks."""
    v = eval_view(r.metrics)
    missing = [k for k in keys if k not in v]
    if missing:
        raise InspError(f"{r.dir}: metrics.json has no {', '.join(missing)} (written by an older insp {r.job}?); "
                        "rerun it or leave it out")
    return v


def need(r: RunRecord, *keys: str) -> dict:
    missing = [k for k in keys if r.get_metric(k) is _MISSING]
    if missing:
        raise InspError(f"{r.dir}: metrics.json has no {', '.join(missing)} (written by an older insp {r.job}?); "
                        "rerun it or leave it out")
    return r.metrics


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return None, None
    m = sum(v) / len(v)
    return m, (math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else None)


def failed_line(r: RunRecord, what: str = "") -> str:
    return f"{r.status}: {r.dir}{f' ({what})' if what else ''}: {r.error}"


def split_complete(records: list[RunRecord], what=lambda r: "eval") -> tuple[list[RunRecord], list[str]]:
    """(the runs that completed, one line per run that did not: its status, folder, ``what(run)`` and error).
    Every table builder starts here, so a failed run is listed under its table and never enters a number."""
    ok = [r for r in records if r.status == STATUS_OK]
    return ok, [failed_line(r, what(r)) for r in records if r.status != STATUS_OK]


def method_order(runs: list[RunRecord]) -> list[str]:
    """The methods of eval runs, input first and INSP-Net last, as in Table 2."""
    seen = list(dict.fromkeys(k for r in runs for k in r.metrics["rows"]))
    return [k for k in ("input",) if k in seen] + [k for k in seen if k not in ("input", "insp_net")] + \
        [k for k in ("insp_net",) if k in seen]


def shared_test_set(runs: list[RunRecord], what: str, per: str, size_key: str = "image_size"
                    ) -> tuple[int, tuple] | None:
    """(items, item size: scale.<size_key>) of the test set these eval runs share (None without runs); runs of
    different test sets are refused: their scores do not average."""
    sizes = set()
    for r in runs:
        v = eval_view(r.metrics)
        size = v["scale"].get(size_key)
        size = [size] if isinstance(size, int) else ([] if size is None else size)
        sizes.add((v["n_items"], tuple(size)))
    if len(sizes) > 1:
        raise InspError(f"{what} differ in test set (images x size "
                        f"{', '.join(f'{n} x {s}' for n, s in sorted(sizes))}); pass one setting per {per}")
    return next(iter(sizes), None)
