"""One job per command: ``<name>_job(cfg)`` runs inside Hydra; ``run_<name>(cfg, run_dir)`` is the plain
function that tests call with a composed config."""

from __future__ import annotations

from pathlib import Path


def hydra_run_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)
