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
    """``compile=true|false`` (conf/common.yaml): run the jets' sin/cos recurrence and the INR fitting step
    (``inr/fit.py``) through torch.compile."""
    import logging

    from insp_cli.inr.fit import set_compile as set_fit_compile
    from insp_cli.jets import set_compile

    on = bool(cfg.get("compile", False))
    set_compile(on)
    set_fit_compile(on)
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

    overrides: list[str] = []
    try:
        base, sweeps = first_of_each_sweep(argv)
        variants = [base] + [base[:i] + [v] + base[i + 1:] for i, rest in sweeps for v in rest]
        for overrides in variants:
            cfg = compose(config_name, overrides, hydra=True)
            check_added_keys(config_name, overrides, cfg)
            with open_dict(cfg):
                del cfg["hydra"]
            OmegaConf.to_container(cfg, resolve=True)  # surfaces bad interpolations now, not mid-job
            validate(cfg, config_name)  # types and ranges (schema.py), one line per bad value
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        hint = unknown_key_message(config_name, overrides, e)
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InspError(hint or f"bad override: {first_line}") from None


# ------------------------------------------------------------------------------------- unknown keys: did you mean


def _keys_of(cfg) -> list[str]:
    """Every dotted key of a composed config (groups and leaves), without resolving, without ``hydra``."""
    from omegaconf import OmegaConf

    def walk(node, prefix: str):
        for k, v in node.items():
            key = f"{prefix}{k}"
            yield key
            if isinstance(v, dict):
                yield from walk(v, key + ".")

    tree = OmegaConf.to_container(cfg, resolve=False)
    return [k for k in walk(tree, "") if k != "hydra" and not k.startswith("hydra.")]


def _groups(config_name: str, cfg) -> dict[str, str]:
    """{name a user types: its config group} for the groups of this command, plus ``experiment`` (the
    ``+experiment=`` recipes)."""
    names = {g: g for g in cfg.hydra.runtime.choices if not str(g).startswith("hydra/")}
    names["experiment"] = "experiment"
    return names


def _options(group: str) -> list[str]:
    """The options of a config group, those of its sub-groups as ``sub/option`` (experiment/table1_classification/...)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()

        def walk(g: str, prefix: str) -> list[str]:
            found = [prefix + o for o in loader.get_group_options(g)]
            for sub in loader.list_groups(g):
                found += walk(f"{g}/{sub}", f"{prefix}{sub}/")
            return found

        return walk(group, "")


def closest(key: str, candidates: list[str], n: int = 3) -> list[str]:
    """The candidates nearest ``key``: beside a key of the same parent the last parts are compared
    (``data.limt`` -> ``data.limit``, not ``data.split``), else the whole keys (``dta`` -> ``data``,
    ``trian.steps`` -> ``train.steps``); a candidate whose last part is ``key``'s last part counts as close
    (``hidden`` -> ``model.hidden``)."""
    from difflib import SequenceMatcher

    parent, _, tail = key.rpartition(".")

    def score(c: str) -> float:
        c_parent, _, c_tail = c.rpartition(".")
        if c_parent == parent:
            return SequenceMatcher(None, tail, c_tail).ratio()
        return max(SequenceMatcher(None, key, c).ratio(), 0.9 if c_tail == tail else 0.0)

    scored = sorted(((score(c), c) for c in set(candidates) if c != key), key=lambda sc: (-sc[0], sc[1]))
    if not scored or scored[0][0] < 0.75:
        return []
    best = scored[0][0]
    return [c for s, c in scored if s >= max(0.75, best - 0.05)][:n]


def _other_options_with(config_name: str, key: str, groups: dict[str, str], chosen: dict) -> list[str]:
    """``group=option`` for each option of the group that ``key`` sits in (by package) whose config has
    ``key`` (``data.crops`` -> data=images, data=photos when data=mnist is chosen)."""
    head = key.split(".")[0]
    found = []
    for shown, group in groups.items():
        if group == "experiment" or (shown != head and group != head):
            continue
        for option in _options(group):
            if option == chosen.get(group):
                continue
            try:
                cfg = compose(config_name, [f"{group}={option}"])
            except Exception:  # noqa: BLE001 - an option that composes only with others: not a candidate
                continue
            if key in _keys_of(cfg):
                found.append(f"{shown}={option}")
    return found


def _base_config(config_name: str, overrides: list[str], leave_out: str | None = None):
    """The composed config of the other overrides (the command's defaults where those fail too)."""
    others = [o for o in overrides if o != leave_out]
    for attempt in (others, []):
        try:
            return compose(config_name, attempt, hydra=True)
        except Exception:  # noqa: BLE001 - another bad override: fall back to the defaults
            continue
    return None


def unknown_key_message(config_name: str, overrides: list[str], e: Exception) -> str | None:
    """One line for Hydra's "Could not override 'K'" / "Could not find 'G/O'" / "'K' does not exist": the key
    or option is unknown, with the closest valid ones; None for other errors."""
    import re

    text = str(e)
    m = re.search(r"Could not find '([^'/]+)/([^']+)'", text)
    if m:  # data=mnsit, +experiment=table1_classification/insp_convnt
        group, option = m.groups()
        cfg = _base_config(config_name, [o for o in overrides if not o.lstrip("+").startswith(f"{group}=")])
        shown = {g: s for s, g in (_groups(config_name, cfg) if cfg is not None else {}).items()}.get(group, group)
        options = _options(group)
        near = closest(option, options)
        return (f"unknown option {shown}={option}" + (f" (did you mean {' or '.join(f'{shown}={o}' for o in near)}?)"
                                                      if near else "")
                + (f"; choose {' | '.join(options)}" if 0 < len(options) <= 12 else
                   f"; the options are the files under conf/{group}/" if options else ""))
    m = re.search(r"Could not override '([^']+)'", text) or re.search(r"'([^']+)' does not exist", text)
    if not m:
        return None
    key = m.group(1)
    typed = next((o for o in overrides if o.lstrip("~+").split("=")[0] == key), None)
    cfg = _base_config(config_name, overrides, leave_out=typed)
    if cfg is None:
        return None
    return _unknown(config_name, key, typed, cfg)


def _unknown(config_name: str, key: str, typed: str | None, cfg) -> str:
    command = config_name.replace("_", "-")
    groups = _groups(config_name, cfg)
    chosen = {g: str(v) for g, v in cfg.hydra.runtime.choices.items()}
    elsewhere = _other_options_with(config_name, key, groups, chosen) if "." in key else []
    if elsewhere:  # data.crops with data=mnist: a key of data=photos
        head = key.split(".")[0]
        return (f"unknown key '{key}' for {head}={chosen.get(groups.get(head, head), '?')} (it is a key of "
                f"{', '.join(elsewhere)})")
    value = typed.split("=", 1)[1] if typed and "=" in typed else None
    near = []
    parents = {key.rsplit(".", i)[0] for i in range(1, key.count(".") + 1)}  # classifier.widht: not "classifier"
    for c in closest(key, [k for k in _keys_of(cfg) + list(groups) if k not in parents]):
        if c in groups and value is not None:  # a group: dta=mnist -> data=mnist
            near.append(f"{c}={value}" if value in _options(groups[c]) else c)
        else:
            near.append(c)
    near = list(dict.fromkeys(near))
    if near:
        return f"unknown key '{key}' (did you mean {' or '.join(near)}?)"
    return f"unknown key '{key}' (insp {command} --cfg job lists every key)"


def check_added_keys(config_name: str, overrides: list[str], cfg) -> None:
    """``+key=value`` adds a key that Hydra cannot check: one that no config of this command has is a typo
    every job would ignore (``+data.limt=3``); refused like an unknown key. Group choices (``+experiment=``)
    and ``hydra.`` keys pass."""
    groups = _groups(config_name, cfg)

    def added_key(o: str) -> str | None:
        key = o.lstrip("+").split("=", 1)[0]
        plain = o.startswith("+") and key not in groups and "/" not in key and not key.startswith("hydra.")
        return key if plain else None

    added = [o for o in overrides if added_key(o)]
    if not added:
        return
    base = _base_config(config_name, [o for o in overrides if o not in added])
    if base is None:
        return
    known = set(_keys_of(base))
    for o in added:
        if added_key(o) not in known:
            raise InspError(_unknown(config_name, added_key(o), o, base))
