"""One job per command: ``<name>_job(cfg)`` runs inside Hydra; ``run_<name>(cfg, run_dir)`` is the plain
function that tests call with a composed config. Also the Hydra-side helpers of sweeps (multirun)."""

from __future__ import annotations

from pathlib import Path


def hydra_run_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def is_multirun(argv: list[str]) -> bool:
    return any(a in ("-m", "--multirun") or a.replace(" ", "") == "hydra.mode=MULTIRUN" for a in argv)


def pin_sweep_dir(config_name: str, argv: list[str]) -> tuple[list[str], Path]:
    """The sweep directory a multirun will write, resolved now and passed to Hydra as an override, so that the
    CLI can read every job's metrics.json when the sweep ends: joblib and SLURM jobs run in other processes,
    and ``${now:...}`` would resolve to another second later. Returns (argv with the override, sweep dir)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from ..config import _FLAGS_WITH_VALUE, conf_dir

    key = "hydra.sweep.dir="
    plain, skip = [], False
    for a in argv:
        if skip or a.startswith("-"):
            skip = not skip and a in _FLAGS_WITH_VALUE and a not in ("--info", "-i")
            continue
        plain.append(a)
    # the first value of each swept key is enough: the sweep dir never depends on a job's own overrides
    single = [f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}" if o.is_sweep_override()
              else o.input_line for o in OverridesParser.create().parse_overrides(plain)]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=single, return_hydra_config=True)
    sweep = str(OmegaConf.select(cfg, "hydra.sweep.dir"))
    return [a for a in argv if not a.startswith(key)] + [key + _quote(sweep)], Path(sweep)


def _quote(path: str) -> str:
    # Hydra's override grammar: quote anything beyond plain path characters
    plain = all(c.isalnum() or c in "/._-:+" for c in path)
    return path if plain else "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"
