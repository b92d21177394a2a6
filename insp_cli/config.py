"""Hydra glue: where the configs live, how a command becomes a Hydra app, seeding and device choice."""

from __future__ import annotations

import os
import random
import secrets
import sys
from pathlib import Path
from typing import Callable

from .errors import InspError
from .schema import validate


_RUN_UID = f"{os.getpid() % 100000:05d}{secrets.token_hex(1)}"  # one per process: stable while it runs


def register_resolvers() -> None:
    """``${insp_uid:}`` in run-directory names (conf/common.yaml): the same for the whole process, different for
    two processes started in the same second (pid + random), so their run directories never collide."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("insp_uid"):
        OmegaConf.register_new_resolver("insp_uid", lambda: _RUN_UID)


register_resolvers()


def conf_dir() -> Path:
    """The Hydra config directory: ``insp_cli/conf`` inside a wheel, ``conf/`` at the top of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "fit.yaml").exists():
            return candidate
    raise InspError(f"insp's Hydra configs are missing (looked in {here / 'conf'} and {here.parent / 'conf'})")


def run_hydra_app(config_name: str, task: Callable, argv: list[str]) -> None:
    """Run ``task(cfg)`` as a Hydra app named after the command, with the user's overrides and flags
    (``-m``, ``--cfg job``, ``hydra/launcher=joblib`` ...) passed through untouched."""
    import hydra

    from hydra._internal.utils import run_and_report

    from .files import disk_fault

    app = hydra.main(config_path=str(conf_dir()), config_name=config_name, version_base="1.3")(task)
    old, full_error = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = [f"insp-{config_name}"] + list(argv)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing: its own writes' faults come here
    try:
        app()
    except Exception as e:  # noqa: BLE001 - sorted below: a file-system fault, or Hydra's report as before
        fault = disk_fault(e)
        if fault is not None:  # .hydra/*.yaml or the run log on a full disk: cli.py says it in one line
            if not fault.filename:
                fault.filename = _file_being_written(e.__traceback__)
            raise fault from None
        _restore_env("HYDRA_FULL_ERROR", full_error)

        def again():
            raise e

        run_and_report(again)  # Hydra's usual report of anything else (and exit 1)
    finally:
        sys.argv = old
        _restore_env("HYDRA_FULL_ERROR", full_error)


def _file_being_written(tb) -> str | None:
    """The name of the open file a failed write was writing (Hydra's ``_save_config`` writes through a local
    ``file``; an error of its close names no path), from the innermost frame that holds one."""
    names = []
    while tb is not None:
        f = tb.tb_frame.f_locals.get("file")
        if isinstance(getattr(f, "name", None), str) and hasattr(f, "write"):
            names.append(f.name)
        tb = tb.tb_next
    return names[-1] if names else None


def _restore_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def compose(config_name: str, overrides: list[str] | None = None, hydra: bool = False):
    """The composed config of a command without running it (tests and notebooks call job functions with it).

    hydra=True keeps the ``hydra`` node (the sweep and run directories, ``${hydra:...}`` interpolations)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides or [], return_hydra_config=hydra)


def hydra_run_dir() -> Path:
    """The run directory Hydra made for the job being run (its output dir)."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def required(cfg, key: str, hint: str):
    """cfg[key], or one clear line when it was left at ``???``."""
    from omegaconf import OmegaConf

    if OmegaConf.is_missing(cfg, key) or cfg[key] in (None, ""):
        raise InspError(f"pass {key}=... ({hint})")
    return cfg[key]


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str = "auto"):
    """The one place that picks the device: ``auto`` = CUDA when available, else CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InspError(f"device={name} asked for, but no CUDA device is available; use device=auto or cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise InspError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None


def jets_compile(cfg) -> None:
    """``compile=true|false`` (conf/common.yaml): run the jets' sin/cos recurrence through torch.compile."""
    import logging

    from insp_cli.jets import set_compile

    on = bool(cfg.get("compile", False))
    set_compile(on)
    if on:  # inductor's CPU path logs "No CUDA runtime is found, using CUDA_HOME=..." on machines without CUDA
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def threads_from_env() -> None:
    n = os.environ.get("INSP_THREADS")
    if n:
        import torch

        torch.set_num_threads(int(n))


FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--info", "-i", "--config-path", "-cp", "--config-name",
                    "-cn", "--config-dir", "-cd", "--experimental-rerun"}


def plain_overrides(argv: list[str]) -> list[str]:
    """The key=value overrides of a command line, without Hydra's flags (-m, --cfg job, ...) and their values."""
    plain, skip = [], False
    for a in argv:
        if skip or a.startswith("-"):
            skip = not skip and a in FLAGS_WITH_VALUE and a not in ("--info", "-i")  # --info: optional value
            continue
        plain.append(a)
    return plain


def first_of_each_sweep(argv: list[str]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(the overrides with every sweep at its first value, [(position, the sweep's other values)])."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    base, sweeps = [], []
    for o in OverridesParser.create().parse_overrides(plain_overrides(argv)):
        if o.is_sweep_override():
            values = [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
            if values:
                base.append(values[0])
                sweeps.append((len(base) - 1, values[1:]))
        else:
            base.append(o.input_line)
    return base, sweeps


def check_overrides(config_name: str, argv: list[str]) -> None:
    """Compose the config once per sweep value (the others at their first value) so that an unknown key or a
    wrong value fails with one clear line before any job starts."""
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    try:
        base, sweeps = first_of_each_sweep(argv)
        variants = [base] + [base[:i] + [v] + base[i + 1:] for i, rest in sweeps for v in rest]
        for overrides in variants:
            cfg = compose(config_name, overrides, hydra=True)
            with open_dict(cfg):
                del cfg["hydra"]
            OmegaConf.to_container(cfg, resolve=True)  # surfaces bad interpolations now, not mid-job
            validate(cfg, config_name)  # types and ranges (schema.py), one line per bad value
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InspError(f"bad override: {first_line}") from None
