"""Run directories: what every insp job writes, read back for tables and sweep summaries.

A run directory holds ``.hydra/config.yaml`` (the composed config), ``.hydra/overrides.yaml`` (its command line)
and ``metrics.json`` (written once when the job ends, with ``status``: complete | failed | interrupted). A run
without metrics.json crashed or is still running. A "complete" run whose metrics hold a NaN or an infinity
(an accuracy or PSNR that diverged) is read as ``diverged``: like a failed run it is listed by name under its
table and never counted, so a table's run count and its mean always agree. Pure: knows nothing of Hydra's
runtime or W&B.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # PyYAML, a dependency of Hydra and OmegaConf

from insp_cli.errors import InspError

STATUS_OK = "complete"
UNFINISHED = "unfinished"  # no metrics.json: crashed, killed or still running
DIVERGED = "diverged"  # metrics.json says complete, but a number in it is NaN or infinite


@dataclass
class RunRecord:
    """One run directory: its job, status, metrics.json and composed config."""

    dir: Path
    job: str
    status: str  # complete | failed | interrupted | unfinished | diverged
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
            metrics = json.loads(mpath.read_text(encoding="utf-8"))
        except UnicodeDecodeError as e:
            raise InspError(f"{mpath} is corrupt: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
                            f"{e.start}); rerun that job or leave its run directory out") from None
        except (OSError, json.JSONDecodeError) as e:
            raise InspError(f"{mpath} is unreadable or corrupt ({e})") from None
        if not isinstance(metrics, dict):
            raise InspError(f"{mpath} is not a metrics object")
    status = str(metrics.get("status", UNFINISHED if not metrics else "unknown"))
    where = _non_finite(metrics) if status == STATUS_OK else None
    if where is not None:
        key, value = where
        shown = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"  # as JSON writes them
        status, metrics = DIVERGED, {**metrics, "error": f"{key} is {shown} in its metrics.json"}
    job = metrics.get("job") or _hydra_job_name(d) or "?"
    return RunRecord(dir=d, job=str(job), status=status, metrics=metrics, config=config, overrides=overrides)


def _non_finite(v: Any, key: str = "") -> tuple[str, float] | None:
    """(dotted key, value) of the first NaN or infinite number in a metrics object, or None."""
    if isinstance(v, float) and not math.isfinite(v):
        return key, v
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        found = _non_finite(x, f"{key}.{k}" if key else str(k))
        if found is not None:
            return found
    return None


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
