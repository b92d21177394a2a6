"""Recorded tables: a folder (``experiments/<name>/``) holding ``table.json`` (which table, which options),
its runs (in place, or their evidence copied into ``runs/``: metrics.json + .hydra/) and the files built from
them; ``rebuild`` rebuilds one from the folder alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import yaml

from insp_cli.errors import InspError
from insp_cli.files import atomic_write
from insp_cli.report.render import write_tables
from insp_cli.report.runs import RunRecord, read_run
from insp_cli.report.tables import TABLES, Table, build_tables

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
        name, depth = f"runs/{_record_name(src)}", 3
        while name in names:  # two runs of one name (denoise/eval of a recipe and of a variant): longer names
            name, depth = f"runs/{_record_name(src, depth)}", depth + 1
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
    atomic_write(folder / SPEC, json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return [folder / n for n in sorted(names)]


def _record_name(d: Path, depth: int = 2) -> str:
    """runs/classify/DATE -> classify_DATE; runs/classify-multirun/DATE/0_model=x -> classify-multirun_DATE_0_model=x;
    depth > 2: the last ``depth`` folders (variants/cpu-x/cpu/denoise/eval, depth 4 -> cpu-x_cpu_denoise_eval)."""
    d = d.resolve()
    if depth > 2:
        return re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", "_".join(d.parts[-depth:]))
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
    """The recorded tables under ``root``: ``root/<name>/`` and the earlier scales or settings kept beside
    them, ``root/<name>/variants/<variant>/``."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for pattern in (f"*/{SPEC}", f"*/variants/*/{SPEC}") for p in root.glob(pattern))


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
