"""Types and ranges of every config value a user sets, checked where the config is composed.

Hydra composes YAML without types, so ``data.limit=abc`` or ``model.hidden=0`` used to reach the math as a
string or a zero and end in a traceback. ``validate(cfg, command)`` checks the composed config against the
rules below and raises one ``InspError`` line naming the key, the value and what it must be. It knows nothing
of Hydra: it reads a plain mapping (an OmegaConf ``DictConfig`` works), so tests call it directly.

A rule is ``(kind, low, high)``:
- kind: ``int``, ``float``, ``+float`` (strictly above ``low``), ``bool``, ``str``, ``order`` (an int or a list
  of ints), ``ints`` (a list of ints), ``list``, ``dict`` (a JSON object), ``path`` (one file or folder name: a
  list there used to become a file named ``['a', 'b']``), ``paths`` (a path or a list of paths: store parts), or a
  tuple of allowed strings; a leading ``?`` makes the value optional (null allowed).
- low / high: inclusive bounds for numbers (None = unbounded).

``settings(cls, node, prefix, command)`` builds a job's settings dataclass from a config node through the same
rules (checked and typed: no job parses its config by hand).

``check_record(record, rules)`` checks the metadata insp reads back from its own files (filter and classifier
checkpoints, store headers) with the same rules: a field a rule names must be there unless its kind is optional.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Mapping

from .errors import InspError

Rule = tuple  # (kind, low, high)


def optional(rule: Rule) -> Rule:
    """The same rule with null allowed."""
    kind = rule[0]
    return (kind if not isinstance(kind, str) or kind.startswith("?") else "?" + kind, *rule[1:])


MODES = (("weights", "functa"), None, None)  # fit.mode and meta.mode: plain weights or functa latents
REGULARISERS = ("none", "tv", "l2", "air", "inrr")  # fit.reg (inr/regularisers.py reads its KINDS from here)

COMMON: dict[str, Rule] = {
    "seed": ("int", 0, None),
    "device": ("str", None, None),
    "compile": ("bool", None, None),
    "progress.every_s": ("?float", 0, None),
    "tracking.mode": (("offline", "online", "disabled"), None, None),
}

FIT: dict[str, Rule] = {
    "data.name": ("str", None, None),
    "data.split": ("str", None, None),
    "data.start": ("int", 0, None),
    "data.limit": ("?int", 1, None),
    "data.shard": ("int", 0, None),
    "data.num_shards": ("int", 1, None),
    "data.size": ("?int", 1, 8192),
    "data.channels": ("?int", 1, 3),
    "data.download": ("bool", None, None),
    "data.train_count": ("int", 1, None),
    "data.length": ("int", 2, None),
    "data.rate": ("int", 1, None),
    "data.min_seconds": ("float", 0, None),
    "data.crops": ("int", 1, 1000),
    "data.points": ("int", 16, None),
    "data.repair": ("bool", None, None),
    "data.loss": (("regression", "pointcloud"), None, None),
    "model.hidden": ("int", 1, 4096),
    "model.depth": ("int", 1, 64),
    "model.omega0": ("+float", 0, None),
    "model.coord_scale": ("+float", 0, None),
    "model.params": ("?int", 1, None),  # other backbones (docs/backbones.md): budget, O-INR, WIRE, MFN settings
    "model.frequencies": ("int", 1, 30),
    "model.kernel": ("int", 1, 31),
    "model.sigma0": ("+float", 0, None),
    "model.input_scale": ("+float", 0, None),
    "model.features": ("int", 1, 1 << 16),  # FFN: Fourier features and their scale
    "model.sigma": ("+float", 0, None),
    "model.b_seed": ("int", 0, None),
    "fit.shared_init": ("bool", None, None),
    "fit.mode": MODES,
    "fit.init": ("?path", None, None),
    "fit.steps": ("int", 1, None),
    "fit.lr": ("+float", 0, None),
    "fit.lr_final": ("+float", 0, None),
    "fit.warmup": ("int", 0, None),
    "fit.prox": ("float", 0, None),
    "fit.beta1": ("float", 0, 0.999999),
    "fit.beta2": ("float", 0, 0.999999),
    "fit.batch_size": ("int", 1, None),
    "fit.batch_pixels": ("?int", 1, None),
    "fit.target_psnr": ("?+float", 0, None),
    "fit.retries": ("int", 0, 20),
    "fit.shard_size": ("int", 1, None),
    "fit.reg": (REGULARISERS, None, None),
    **{f"fit.reg_weights.{k}": ("float", 0, None) for k in REGULARISERS if k != "none"},
    "fit.reg_opts.lr": ("+float", 0, None),
    "fit.reg_opts.tv_p": ("+float", 0, None),
    "fit.reg_opts.g_hidden": ("int", 1, 4096),
    "fit.reg_opts.g_depth": ("int", 1, 64),
    "fit.reg_opts.g_omega0": ("+float", 0, None),
    "fit.reg_opts.g_rank": ("?int", 1, 65536),
    "fit.reg_opts.g_norm": (("embed", "row", "global"), None, None),
    "samples": ("int", 0, 1024),
    "store": ("path", None, None),
    "data.root": ("path", None, None),
    "data.folder": ("?path", None, None),
}

CLASSIFY: dict[str, Rule] = {
    "train_limit": ("?int", 1, None),
    "test_limit": ("?int", 1, None),
    "train_offset": ("int", 0, None),
    "test_offset": ("int", 0, None),
    "epochs": ("int", 1, None),
    "batch_size": ("int", 1, None),
    "lr": ("+float", 0, None),
    "lr_schedule": (("cosine", "constant"), None, None),
    "weight_decay": ("float", 0, None),
    "label_smoothing": ("float", 0, 0.99),
    "augment.rotation": ("float", 0, 180),
    "augment.zoom": ("float", 0, 0.99),
    "augment.translate": ("float", 0, 1),
    "cache_gb": ("float", 0, None),
    "max_memory_gb": ("+float", 0, None),
    "classifier.layers": ("int", 1, 16),
    "classifier.order": ("order", 0, 16),
    "classifier.width": ("int", 1, 4096),
    "classifier.axis_order": ("?int", 0, 16),
    "classifier.pool": ("int", 1, 64),
    "classifier.activation": (("relu", "softplus"), None, None),
    "classifier.points": ("?int", 2, 4096),
    "classifier.chunk_size": ("?int", 1, None),
    "classifier.kernel_size": ("int", 1, 31),
    "classifier.components": ("int", 1, None),
    "classifier.C": ("+float", 0, None),
    "classifier.hidden": ("int", 1, 1 << 16),
    "classifier.depth": ("int", 1, 64),
    "classifier.dropout": ("float", 0, 0.99),
    "classifier.noise": ("float", 0, None),
    "train_store": ("paths", None, None),
    "test_store": ("paths", None, None),
}

FILES_OF_A_FILTER: dict[str, Rule] = {  # train-filter and eval: the INRs, the filter file, the targets
    "store": ("paths", None, None),
    "filter": ("path", None, None),
    "targets": ("?path", None, None),
    "data_root": ("path", None, None),
}

TRAIN_FILTER: dict[str, Rule] = {
    "fusion.kind": (("mlp", "conv"), None, None),
    "fusion.dilation": ("int", 1, 16),
    "fusion.kernel": ("int", 1, 1 << 12),
    "fusion.order": ("int", 0, 16),
    "fusion.hidden": ("int", 1, 1 << 16),
    "fusion.layers": ("int", 1, 64),
    "fusion.residual": ("bool", None, None),
    "fusion.context": ("int", 0, 1 << 16),
    "fusion.context_step": ("int", 1, 1 << 16),
    "fusion.coarse_context": ("int", 0, 1 << 16),
    "fusion.coarse_step": ("int", 1, 1 << 16),
    "fusion.coarse_order": ("?int", 0, 16),
    "fusion.prior": ("?path", None, None),
    "fusion.prior_ensemble": ("int", 1, 48),
    "overwrite": ("bool", None, None),
    "train.steps": ("int", 1, None),
    "train.batch_points": ("int", 1, None),
    "train.patch": ("int", 1, 1 << 16),
    "train.lr": ("+float", 0, None),
    "train.lr_final": ("?+float", 0, None),
    "train.weight_decay": ("float", 0, None),
    "train.augment": ("bool", None, None),
    "train.stft.weight": ("float", 0, None),
    "train.stft.ffts": ("ints", 4, 1 << 16),
    "train.stft.segment": ("int", 4, None),
    "train.feature_cache_gb": ("float", 0, None),
    "train.images_per_batch": ("int", 1, None),
    "train.stat_points": ("int", 1, None),
    "train.log_every": ("int", 1, None),
    "train.save_every": ("int", 1, None),
    "decode.size": ("?int", 2, 8192),
    "decode.samples": ("int", 0, 1024),
    **FILES_OF_A_FILTER,
}

EVAL: dict[str, Rule] = {
    "twin.store": ("?path", None, None),
    "twin.depth": ("int", 2, 256),
    "twin.patch": ("int", 4, 4096),
    "wiener_balance": ("+float", 0, None),
    "lpips": ("bool", None, None),
    "check_2x": ("bool", None, None),
    "self_ensemble": ("int", 1, 48),
    "grid": ("int", 0, 1024),
    "batch_inrs": ("int", 1, None),
    "audio_examples": ("int", 0, 1024),
    "shapes.resolution": ("int", 8, None),
    "shapes.band": ("+float", 0, None),
    "shapes.psi_band": ("+float", 0, None),
    "shapes.chamfer_points": ("int", 1, None),
    "shapes.max_grid_gb": ("+float", 0, None),
    "shapes.render": ("int", 0, 1024),
    "shapes.render_size": ("int", 8, 4096),
    **FILES_OF_A_FILTER,
    "filter": ("paths", None, None),  # a list: the ensemble of those filters (the mean of their outputs)
}

BLEND: dict[str, Rule] = {
    "mode": (("blend", "reconstruct"), None, None),
    "store": ("paths", None, None),
    "store2": ("?paths", None, None),
    "out": ("path", None, None),
    "alpha": ("float", 0, 1),
    "mask.shape": ("str", None, None),
    **{k: optional(FIT[k]) for k in ("model.hidden", "model.depth", "model.omega0")},  # null: the stores' own
    **{k: FIT[k] for k in ("fit.steps", "fit.lr", "fit.lr_final", "fit.batch_size", "samples")},
    "fit.batch_points": ("int", 1, None),
    "fit.pool_points": ("int", 1, None),
    "fit.value_weight": ("float", 0, None),
    "fit.path_weight": ("float", 0, None),
    "fit.path_pairs": ("int", 1, None),
    "fit.path_length": ("+float", 0, 2.83),
}


META_LEARN: dict[str, Rule] = {
    **{k: v for k, v in FIT.items() if k.startswith(("data.", "model."))},
    "overwrite": ("bool", None, None),
    "init": ("path", None, None),
    "meta.mode": MODES,
    "meta.steps": ("int", 1, None),
    "meta.batch_size": ("int", 1, None),
    "meta.inner_steps": ("int", 1, 1000),
    "meta.inner_lr": ("+float", 0, None),
    "meta.inner_lr_final": ("+float", 0, None),
    "meta.inner_warmup": ("int", 0, None),
    "meta.inner_beta1": ("float", 0, 0.999999),
    "meta.inner_beta2": ("float", 0, 0.999999),
    "meta.outer_lr": ("+float", 0, None),
    "meta.outer_lr_final": ("+float", 0, None),
    "meta.latent_dim": ("int", 0, 1 << 16),
    "meta.augment": (("none", "flips"), None, None),  # inr/meta.py AUGMENTS
    "meta.val": ("int", 0, None),
    "meta.log_every": ("int", 1, None),
    "meta.save_every": ("int", 1, None),
}


TABLE: dict[str, Rule] = {  # table's other options are checked by the table job itself (mixed_scales, table=...)
    "runs": ("?paths", None, None),
    "out": ("?path", None, None),
    "experiments": ("path", None, None),
}

RULES: dict[str, dict[str, Rule]] = {
    "fit": {**COMMON, **FIT},
    "classify": {**COMMON, **CLASSIFY},
    "train_filter": {**COMMON, **TRAIN_FILTER},
    "eval": {**COMMON, **EVAL},
    "table": {**COMMON, **TABLE},
    "blend": {**COMMON, **BLEND},
    "meta_learn": {**COMMON, **META_LEARN},
}

_MISSING = object()


def _lookup(cfg: Mapping, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        try:
            if part not in node:
                return _MISSING
            node = node[part]
        except TypeError:  # a scalar where a group was expected
            return _MISSING
        except Exception:  # noqa: BLE001 - OmegaConf's ??? (MissingMandatoryValue): the job asks for it by name
            return _MISSING
    return node


def _as_number(value: Any, kind: str) -> float | int | None:
    """The value as an int or float if it is one (YAML's 1e-3 is a str to OmegaConf: accept numeric strings)."""
    if isinstance(value, bool):
        return None
    if kind == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _describe(kind: str, low, high, strict: bool) -> str:
    what = {"int": "an integer", "float": "a number"}[kind]
    if low is not None and high is not None:
        return f"{what} in [{low}, {high}]"
    if low is not None:
        return f"{what} {'>' if strict else '>='} {low}"
    return what


def _shown(value: Any) -> str:
    """A value as the user typed it: lists and mappings of a DictConfig as plain Python ones."""
    if hasattr(value, "items") and not isinstance(value, dict):
        value = dict(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, (str, list)):
        value = list(value)
    return repr(value)


def check_value(key: str, value: Any, rule: Rule) -> None:
    """Raise one InspError line if ``value`` breaks ``rule``."""
    kind, low, high = rule
    optional = isinstance(kind, str) and kind.startswith("?")
    if optional:
        kind = kind[1:]
    if value is None:
        if optional:
            return
        raise InspError(f"bad value: {key}=null; it must be set")
    if isinstance(kind, tuple):
        if value not in kind:
            raise InspError(f"bad value: {key}={value!r}; choose {' | '.join(kind)}")
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise InspError(f"bad value: {key}={value!r}; it must be true or false")
        return
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise InspError(f"bad value: {key}={value!r}; it must be a non-empty string")
        return
    if kind in ("path", "paths"):
        many = isinstance(value, Sequence) and not isinstance(value, str)
        if many and kind == "path":
            raise InspError(f"bad value: {key}={_shown(value)}; it must be one path, not a list")
        for v in (value if many else [value]):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)) or str(v) == "":
                raise InspError(f"bad value: {key}={_shown(value)}; it must be a path"
                                + (" or a list of paths" if kind == "paths" else ""))
        if many and not value:
            raise InspError(f"bad value: {key}=[]; it must name at least one path")
        return
    if kind == "order":
        for v in (value if isinstance(value, Sequence) and not isinstance(value, str) else [value]):
            check_value(key, v, ("int", low, high))
        return
    if kind == "dict":
        if not isinstance(value, Mapping):
            raise InspError(f"bad value: {key}={value!r}; it must be a JSON object")
        return
    if kind in ("list", "ints"):
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise InspError(f"bad value: {key}={value!r}; it must be a list{' of integers' if kind == 'ints' else ''}")
        for v in value if kind == "ints" else ():
            check_value(key, v, ("int", low, high))
        return
    strict = kind.startswith("+")
    base = kind.lstrip("+")
    number = _as_number(value, base)
    if number is None or (base == "float" and not math.isfinite(number)):
        raise InspError(f"bad value: {key}={value!r}; it must be {_describe(base, low, high, strict)}")
    if (low is not None and (number <= low if strict else number < low)) or (high is not None and number > high):
        raise InspError(f"bad value: {key}={value!r}; it must be {_describe(base, low, high, strict)}")


def typed(key: str, value: Any, rule: Rule) -> Any:
    """``value`` checked against ``rule`` and returned as the Python type the rule names: int, float, bool or
    str (YAML's ``1e-3`` is a str to OmegaConf; an int where a float is asked becomes a float), None where
    allowed, anything else (lists, paths ...) as it is."""
    check_value(key, value, rule)
    kind = rule[0].lstrip("?") if isinstance(rule[0], str) else rule[0]
    if value is None:
        return None
    if isinstance(kind, tuple) or kind == "str":
        return str(value)
    if kind == "int":
        return int(_as_number(value, "int"))
    if kind in ("float", "+float"):
        return float(value)
    return bool(value) if kind == "bool" else value


def typed_values(node: Mapping, prefix: str, names, command: str) -> dict:
    """{name: node[name] checked and typed by the rule ``RULES[command][prefix.name]``} (``name`` alone where
    prefix is empty) for each name the node holds. A name without a rule is a defect of this table, not of the
    config."""
    rules, values = RULES[command], {}
    for name in names:
        key = f"{prefix}.{name}" if prefix else name
        if _lookup(node, name) is _MISSING:
            continue
        if key not in rules:
            raise KeyError(f"schema.py has no rule for {key}")
        values[name] = typed(key, node[name], rules[key])
    return values


def settings(cls, node: Mapping, prefix: str, command: str, skip: tuple[str, ...] = ()):
    """A settings dataclass ``cls`` from the config ``node`` at ``prefix``: each field the node holds is checked
    and typed by its rule (``typed_values``: the one place the config's types and ranges are written); fields the
    node leaves out, or named in ``skip``, keep their defaults."""
    import dataclasses

    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    return cls(**typed_values(node, prefix, names, command))


def validate(cfg: Mapping, command: str) -> None:
    """Check every rule of ``command`` whose key the composed config has (keys of other groups are skipped)."""
    for key, rule in RULES.get(command, {}).items():
        value = _lookup(cfg, key)
        if value is not _MISSING:
            check_value(key, value, rule)


def check_record(record: Mapping, rules: dict[str, Rule]) -> None:
    """Check the fields of metadata read from a file (``rules`` in the order given: an object before its fields).
    One InspError line naming the field: ``field order='two'; it must be an integer in [0, 16]`` or ``field
    fusion is missing``; the caller adds which file."""
    for key, rule in rules.items():
        value = _lookup(record, key)
        if value is _MISSING:
            if isinstance(rule[0], str) and rule[0].startswith("?"):
                continue
            raise InspError(f"field {key} is missing")
        try:
            check_value(key, value, rule)
        except InspError as e:
            raise InspError(f"field {str(e).removeprefix('bad value: ')}") from None
