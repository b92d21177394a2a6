"""The run directory and Weights & Biases.

Every job writes into its run directory (Hydra's output dir): ``.hydra/`` (config, overrides), the job log,
``metrics.json`` (written once, atomically, when the job ends, with its status), and W&B's files under
``wandb/``. W&B is offline by default (``wandb sync <run dir>/wandb/offline-run-*`` uploads later), disabled in
tests, online only for a logged-in user; it never prompts.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from omegaconf import DictConfig, OmegaConf

from .errors import InspError
from .files import atomic_write_json, run_log_failure

log = logging.getLogger("insp")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class Run:
    """A job's run directory plus its W&B run. Use as a context manager::

        with Run(cfg, run_dir, job="fit") as run:
            run.log({"psnr": 30.0}); run.finish({"psnr_mean": 30.0})
    """

    def __init__(self, cfg: DictConfig, run_dir: str | Path, job: str):
        self.cfg, self.dir, self.job = cfg, Path(run_dir), job
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics: dict[str, Any] = {}
        self.wandb = None
        self.started = time.time()
        from .progress import configure  # here: `insp table` never imports torch

        configure(cfg.get("progress"))  # progress.every_s: the job's progress lines (progress.py)
        # what an interrupt leaves behind, said on the `interrupted:`/`terminated:` line (None: "finished work
        # is kept"); a job updates it as it goes (train-filter: nothing yet, or the checkpoint of step N)
        self.kept: str | None = None
        self.recorded = False  # this run wrote its metrics.json (an older one in a reused run dir is not its record)

    def __enter__(self) -> "Run":
        mode = str(self.cfg.tracking.mode)
        if mode not in ("offline", "online", "disabled"):
            raise InspError(f"tracking.mode must be offline, online or disabled, not {mode!r}")
        if mode != "disabled":
            self.wandb = self._init_wandb(mode)
        return self

    def _init_wandb(self, mode: str):
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        if mode == "online" and not (os.environ.get("WANDB_API_KEY") or _has_netrc_login()):
            raise InspError("tracking.mode=online needs a W&B login (`wandb login`); "
                            "use tracking.mode=offline and `wandb sync` later")
        t = self.cfg.tracking
        return wandb.init(project=t.project, entity=t.get("entity") or None, group=t.get("group") or None,
                          name=f"{self.job}-{self.dir.name}", job_type=self.job, dir=str(self.dir), mode=mode,
                          config=OmegaConf.to_container(self.cfg, resolve=True),
                          settings=wandb.Settings(console="off", silent=True))

    def log(self, values: dict, step: int | None = None) -> None:
        if self.wandb is not None:
            self.wandb.log(values, step=step)

    def log_table(self, key: str, columns: list[str], rows: list[list]) -> None:
        if self.wandb is not None:
            import wandb

            self.wandb.log({key: wandb.Table(columns=columns, data=rows)})

    def log_histogram(self, key: str, values) -> None:
        if self.wandb is not None:
            import wandb

            self.wandb.log({key: wandb.Histogram(np.asarray(values)[np.isfinite(values)])})

    def log_image(self, key: str, path: Path, caption: str = "") -> None:
        if self.wandb is not None:
            import wandb

            self.wandb.log({key: wandb.Image(str(path), caption=caption)})

    def finish(self, metrics: dict, status: str = "complete") -> None:
        """Write metrics.json (atomically) and close W&B. A full disk: ``InspError`` ``no space left on device:
        RUN_DIR/metrics.json`` (no partial file), the run's one error line."""
        self.metrics = {"job": self.job, "status": status, "seconds": round(time.time() - self.started, 3),
                        **metrics}
        if run_log_failure():  # the run log stopped early (files.RunLogHandler): the record says so
            self.metrics["log_error"] = run_log_failure()
        atomic_write_json(self.dir / "metrics.json", self.metrics, default=_json_default)
        self.recorded = True
        if self.wandb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float, str)):
                    self.wandb.summary[k] = v
            self.wandb.finish(exit_code=0 if status == "complete" else 1)
            self.wandb = None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt) and self.kept and exc is not None:
            exc.kept = self.kept  # cli.py prints it
        if exc_type is not None and not self.recorded:
            status = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
            try:
                self.finish({"error": str(exc) or exc_type.__name__}, status=status)
            except InspError as e:  # the record does not fit either (a full disk): the job's own error stays
                if str(e) != str(exc):  # the one error line; the lost record is said beside it
                    log.warning("the run record was not written: %s", e)
        elif self.wandb is not None:
            self.wandb.finish()


def run_job(cfg: DictConfig, run_dir: str | Path, job: str, body: Callable[[DictConfig, Run], dict]) -> dict:
    """``body(cfg, run)`` inside the run directory of ``job``: its metrics become metrics.json (complete), an
    exception leaves metrics.json with status failed or interrupted. Returns the metrics."""
    with Run(cfg, run_dir, job=job) as run:
        metrics = body(cfg, run)
        run.finish(metrics)
    return metrics


def _has_netrc_login() -> bool:
    import netrc

    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False
