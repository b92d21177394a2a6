"""`insp eval`: a filter checkpoint + a test INR store -> the filter's scores against the clean signals, beside
the classical filters applied to the decoded input. The store's modality (``modalities/``) does the scoring and
writes its tables and pictures: images in the layout of the paper's Table 2 (PSNR / SSIM / LPIPS, the 2x
resolution check), audio (SNR / SI-SDR / PESQ / STOI), shapes (meshes, Chamfer-L1, normal consistency).
Every ``metrics.json`` has one layout whatever the modality (``modalities.base.eval_record``: task, modality,
model, per-item scores, per-method means ``rows``, baselines, ``scale``), which ``insp table`` reads.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from ..config import hydra_run_dir, jets_compile, pick_device, required, seed_everything
from ..errors import InspError
from ..filters.checkpoint import check_filter_fits, load_filters
from ..filters.tasks import SHAPE_TASKS, check_inputs
from ..modalities.base import check_filter_modality, check_task, open_store
from ..tracking import Run, run_job

log = logging.getLogger("insp")


def eval_job(cfg: DictConfig) -> float | None:
    row = run_eval(cfg, hydra_run_dir())["rows"]["insp_net"]
    return row["psnr"] if "psnr" in row else row["snr"] if "snr" in row else row.get("chamfer_l1")


def run_eval(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Score ``cfg.filter`` on ``cfg.store`` and write the run directory. Returns the metrics. ``cfg.filter``: one
    checkpoint, or a list of them: their ensemble, Psi = the mean of their outputs (``filters.checkpoint.load_filters``),
    scored as one filter (its twin: a DnCNN of all their parameters together)."""
    return run_job(cfg, run_dir, "eval", _evaluate)


def _evaluate(cfg: DictConfig, run: Run) -> dict:
    seed_everything(int(cfg.seed))
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    filt, meta = load_filters(required(cfg, "filter", "a checkpoint from `insp train-filter`, or a list of them"))
    task = meta["task"]
    store, modality = open_store(required(cfg, "store", "an INR store of degraded test images"))
    where = f"store {cfg.store}"
    check_filter_modality(meta, store, where)
    check_filter_fits(meta, store, where)
    check_inputs(task, store, where)
    check_task(task, store, where, SHAPE_TASKS)
    filt.ensemble = int(cfg.self_ensemble)
    modality.check_self_ensemble(filt, store, where)  # a count it has no views for: one error line
    return modality.evaluate(cfg, run, filt, meta, store, where, device)
