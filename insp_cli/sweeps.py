"""Sweeps (Hydra multirun) from the CLI's side: recognise one, and pin its directory before it starts."""

from __future__ import annotations

from pathlib import Path

from .config import compose, first_of_each_sweep


def is_multirun(argv: list[str]) -> bool:
    return any(a in ("-m", "--multirun") or a.replace(" ", "") == "hydra.mode=MULTIRUN" for a in argv)


def pin_sweep_dir(config_name: str, argv: list[str]) -> tuple[list[str], Path]:
    """The sweep directory a multirun will write, resolved now and passed to Hydra as an override, so that the
    CLI can read every job's metrics.json when the sweep ends: joblib and SLURM jobs run in other processes,
    and ``${now:...}`` would resolve to another second later. Returns (argv with the override, sweep dir)."""
    from omegaconf import OmegaConf

    key = "hydra.sweep.dir="
    # the first value of each swept key is enough: the sweep dir never depends on a job's own overrides
    single, _ = first_of_each_sweep(argv)
    sweep = str(OmegaConf.select(compose(config_name, single, hydra=True), "hydra.sweep.dir"))
    return [a for a in argv if not a.startswith(key)] + [key + _quote(sweep)], Path(sweep)


def _quote(path: str) -> str:
    # Hydra's override grammar: quote anything beyond plain path characters
    plain = all(c.isalnum() or c in "/._-:+" for c in path)
    return path if plain else "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"
