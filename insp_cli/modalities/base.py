"""The modality protocol and its one registry.

A modality (images, audio clips, shapes) is everything that differs between signals of one kind: how `insp fit`
loads its clean and degraded signals and their INR coordinates (``signals``), which stores hold it
(``check_store``), the training data of its Pi (``pi_meta``, ``pi_data``), and how `insp eval` scores a filter
against its classical baselines and draws its pictures (``evaluate``). Jobs read the modality once — from the
data source (`fit`), the store header (`train-filter`, `eval`) or a filter's metadata — and call its methods;
they never test a modality's name. A new modality is one module that registers a ``Modality`` here (plus its
config and tests).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..data.degrade import degrade
from ..errors import InspError
from ..files import atomic_write
from ..filters.context import neighbourhood, offset_orders
from ..filters.insp_net import ENSEMBLES, ensemble_views
from ..filters.tasks import held_out
from ..inr.backbones import describe, spec_from_cfg
from ..inr.store import INRStore
from ..report.table_kit import EVAL_LAYOUT

MODALITIES: dict[str, "Modality"] = {}
DEFAULT = "images"  # stores written before modalities were recorded hold images


class Modality:
    """The protocol each modality module implements (methods raise until it does)."""

    name: str = ""
    datasets: tuple[str, ...] = ()  # data.name values (conf/data/) whose signals are of this modality
    summary_keys: tuple[str, ...] = ()  # store header source fields a filter records of its training store
    flat: str = ""  # the trivial signal a failed fit is compared with ('a flat mid-gray image')
    pi_tasks: bool = False  # True: takes the SDF tasks (smooth, denoise_shape); False: the image/audio tasks
    # True: its signals are fitted by their own loop (``Signals.fit_batch``), not the batched SIREN fit of
    # inr/fit.py, so what acts inside that fit (fit.prox, fit.init, `insp meta-learn`) is refused for it
    own_fit: bool = False
    self_ensemble: bool = False  # `insp eval self_ensemble=8|48` (flips / quarter turns of 2-D jets) applies to it

    def signals(self, cfg: DictConfig) -> "Signals":
        """The clean and degraded signals of cfg.data, their INR coordinates and spec (`insp fit`)."""
        raise NotImplementedError

    def log_samples(self, cfg: DictConfig, run, store: INRStore) -> None:
        """Pictures of the first fitted INRs in the fit's run directory (none by default)."""

    def check_store(self, store: INRStore, where: str) -> None:
        """InspError when the store's INRs are not of this modality's shape."""
        raise NotImplementedError

    def check_self_ensemble(self, filt, store: INRStore, where: str) -> None:
        """InspError when `insp eval self_ensemble=filt.ensemble` has no views here: 8 / 48 flips and turns of
        2-D images where ``self_ensemble``, else 1 alone (audio: ``filters.jet_cnn.CLIP_ENSEMBLES`` too)."""
        if filt.ensemble in ENSEMBLES[1:] and not self.self_ensemble:
            raise InspError(f"self_ensemble={filt.ensemble}: the test-time self-ensemble flips and turns 2-D images; "
                            f"{where} holds {self.name} INRs (use self_ensemble=1)")
        ensemble_views(filt.ensemble, store.spec.out_features, f"the INRs of {where}")

    def pi_meta(self, cfg: DictConfig, store: INRStore, fz: dict, meta: dict) -> None:
        """Add this modality's fields to a new filter's metadata (units, m, offsets, modality)."""
        raise NotImplementedError

    def pi_data(self, cfg: DictConfig, store: INRStore, task: dict, meta: dict, device):
        """The Pi training data (``filters.train_pi.PiData``)."""
        raise NotImplementedError

    def evaluate(self, cfg: DictConfig, run, filt, meta: dict, store: INRStore, where: str, device) -> dict:
        """Score the filter on the store against the clean signals and the classical baselines; write the run
        directory's tables and pictures; return the metrics."""
        raise NotImplementedError


def register(modality: Modality) -> Modality:
    MODALITIES[modality.name] = modality
    return modality


def of_store(store: INRStore) -> Modality:
    """The modality of a store, read from its header (``source.modality``; images when absent)."""
    return MODALITIES.get(store.header.source.get("modality") or DEFAULT, MODALITIES[DEFAULT])


def of_filter(meta: dict) -> Modality:
    """The modality a filter was trained on (its metadata's ``modality``; images when absent)."""
    return MODALITIES.get(meta.get("modality") or DEFAULT, MODALITIES[DEFAULT])


def of_data(name: str) -> Modality:
    """The modality of the data source ``data.name`` (images for every image dataset)."""
    for m in MODALITIES.values():
        if name in m.datasets:
            return m
    return MODALITIES[DEFAULT]


@dataclass
class Signals:
    """What a fit needs from a data source, whatever the modality.

    targets: (N, Q, c) fit targets in pixel units [0, 1] (``encode_pixels`` maps them to the INR's [-1, 1]);
    masks: (N, Q) True where observed, or None; coords: (Q, m) in [-1, 1]; indices, labels: (N,) from the source;
    shape: the grid (H, W) or (T,) with prod(shape) = Q; clean: (N, Q, c) the undegraded signal (masked images:
    the fit is also scored against it), names: (N,) item names.
    """

    targets: np.ndarray
    masks: np.ndarray | None
    coords: torch.Tensor
    indices: np.ndarray
    labels: np.ndarray | None
    spec: object  # the INR architecture (inr.backbones.Spec)
    source: dict
    degradation: dict
    shape: tuple[int, ...]
    clean: np.ndarray | None = None
    names: list[str] | None = None
    fit_batch: Callable | None = None  # (rows, settings, seed, on_step, device) -> FitResult, instead of fit_inrs
    fit_extra: dict | None = None  # recorded in the store header's fit (shapes: loss, points, sampling)


def spec_for(cfg: DictConfig, m: int, c: int, shape: tuple[int, ...]):
    """The INR architecture of cfg.model (model.kind: any registered backbone) for m-D signals of c channels."""
    try:
        return spec_from_cfg(OmegaConf.to_container(cfg.model, resolve=True), m, c, shape)
    except (TypeError, ValueError) as e:
        raise InspError(f"bad model settings: {e}") from None


def degraded(cfg: DictConfig, x: np.ndarray, indices: np.ndarray, name: str, clip: bool | None = None,
             items: tuple[str, str] = ("images", "pixels")):
    """cfg.degradation applied to x (N, H, W, c) with the run's seed, checked finite."""
    deg = OmegaConf.to_container(cfg.degradation, resolve=True)
    kind = deg.pop("kind")
    if clip is not None and "clip" in deg:
        deg["clip"] = clip
    out = degrade(x, kind, deg, seed=int(cfg.seed), indices=indices)
    check_finite_input(x, out.images, indices, name, kind, items)
    return out


def check_finite_input(clean: np.ndarray, degraded: np.ndarray, indices: np.ndarray, name: str, kind: str,
                       items: tuple[str, str] | None = None) -> None:
    """NaN or inf in the pixels is a fault of the data or its degradation, not of the fit: say which.
    items: what the signals and their values are called (('clips', 'samples') for audio)."""
    items, values = items or (("clips", "samples") if name.startswith("audio") else ("images", "pixels"))
    for what, arr in ((f"the {items}", clean), (f"the degraded {items} (degradation={kind})", degraded)):
        bad = ~np.isfinite(arr).reshape(len(arr), -1).all(1)
        if bad.any():
            raise InspError(f"{what} of {name} contain NaN or inf {values} ({int(bad.sum())} {items}, first index "
                            f"{int(indices[np.argmax(bad)])}): fix the data or the degradation's parameters")


def fmt(v) -> str:
    return "" if v is None or not np.isfinite(v) else f"{float(v):.4f}"


def write_scores_csv(path: Path, indices: np.ndarray, scores: dict, keys) -> None:
    """One CSV row per item and method: index, method, the scores ``keys`` (blank where missing)."""
    keys = list(keys)
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["index", "method"] + keys)
    for m, s in scores.items():
        for i, j in enumerate(indices):
            wr.writerow([int(j), m] + [fmt(s[k][i]) if k in s else "" for k in keys])
    atomic_write(path, buf.getvalue())


def summary_means(scores: dict) -> dict:
    """{method: {score: mean over finite items, None when none}}."""
    return {m: {k: float(np.nanmean(v)) if np.isfinite(v).any() else None for k, v in s.items()}
            for m, s in scores.items()}


def pi_label(meta: dict) -> str:
    """'mlp 4x256' of a filter's Pi, with its context where it has one ('mlp 4x256, jets at 5x5 points (step 1)';
    a clip's: '... at 33 points (step 4)'; voxels: '... at 3x3x3 points (step 2)'; a fine + coarse one:
    'mlp 4x256, jets at 65 points over 13x13 (fine + coarse; order 0 at 16 of them)'); an ensemble of N filters
    (``filters.checkpoint.load_filters``) adds ', mean of N filters'."""
    mean = f", mean of {meta['ensemble']['count']} filters" if "ensemble" in meta else ""
    return _one_pi(meta) + mean


def _one_pi(meta: dict) -> str:
    offs = [o if isinstance(o, (list, tuple)) else [o] for o in meta["fusion"].get("offsets") or [[0]]]
    if meta["fusion"].get("kind") == "conv":  # filters.jet_cnn: 'cnn 5x181 on the jet field (11x11 reach)'
        side = 2 * max(abs(v) for o in offs for v in o) + 1
        dilated = f", dilated x{meta['fusion']['dilation']}" if meta["fusion"].get("dilation", 1) != 1 else ""
        if meta["fusion"].get("kernel", 3) != 3:
            dilated = f", first layer {meta['fusion']['kernel']} taps" + dilated
        return (f"cnn {int(meta['fusion']['layers']) + 1}x{meta['fusion']['hidden']} on the jet field "
                f"({'x'.join([str(side)] * len(offs[0]))} reach{dilated})")
    pi = f"mlp {meta['fusion']['layers']}x{meta['fusion']['hidden']}"
    if len(offs) == 1:
        return pi
    xs = sorted({o[0] for o in offs})
    orders = meta["fusion"].get("orders")
    low = f"; order {min(orders)} at {sum(k < max(orders) for k in orders)} of them" \
        if orders and min(orders) < max(orders) else ""
    if len(xs) ** len(offs[0]) == len(offs):  # a regular neighbourhood: a cube of len(xs) points a side
        shape = "x".join([str(len(xs))] * len(offs[0]))
        return f"{pi}, jets at {shape} points (step {xs[1] - xs[0]}{low})"
    span = "x".join([str(xs[-1] - xs[0] + 1)] * len(offs[0]))
    return f"{pi}, jets at {len(offs)} points over {span} (fine + coarse{low})"


def pi_context(fz: dict, m: int, meta: dict) -> list[tuple[int, ...]]:
    """Write a learned Pi's context into ``meta["fusion"]`` from the fusion.* settings: ``offsets``, the fine square
    of fusion.context / context_step plus the coarse one of fusion.coarse_context / coarse_step
    (``filters.context.neighbourhood``), and ``orders`` only where fusion.coarse_order lowers the order at the
    coarse offsets (``offset_orders``). Returns the offsets (m-tuples); the modality writes them in its layout."""
    ints = [int(fz.get(k) or d) for k, d in (("context", 0), ("context_step", 1), ("coarse_context", 0),
                                               ("coarse_step", 1))]
    offsets = neighbourhood(ints[0], ints[1], m, ints[2], ints[3])
    low = fz.get("coarse_order")
    orders = offset_orders(ints[0], ints[1], m, int(meta["order"]), ints[2], ints[3],
                           None if low is None else int(low))
    if orders is not None:
        meta["fusion"]["orders"] = orders
    return offsets


def _finite_list(v) -> list:
    """Per-item scores for JSON: None where not finite (a NaN would read as a diverged run)."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(v, dtype=np.float64)]


def eval_record(cfg: DictConfig, meta: dict, store: INRStore, scores: dict, methods: list[str],
                setting: dict, seconds: float, **extra) -> dict:
    """The one metrics.json layout of `insp eval`, whatever the modality (``report.table_kit.eval_view`` reads it
    and the older layouts):

    layout (EVAL_LAYOUT), task, modality, model (the INR backbone's ``describe``), n_items, items (N store
    indices), per_item {method: {score: (N,) values, None where not finite}} (every scored method, checks
    included), rows {method: {score: mean}} (the compared ``methods``), baselines (the classical methods among
    them), held_out, scale {label, the modality's ``setting``, order, pi, n_train, train_steps}, filter (its path,
    or an ensemble's list of paths), store, degradation, inr_reg (the inputs' fitting prior), trained_on,
    eval_seconds, ensemble (an ensemble's ``filters.checkpoint.load_filters`` record); then the modality's
    ``extra``.
    """
    return {
        "layout": EVAL_LAYOUT, "task": meta["task"]["name"], "modality": of_store(store).name,
        "model": describe(store.spec), "n_items": len(store), "items": [int(j) for j in store.indices],
        "per_item": {m: {k: _finite_list(v) for k, v in s.items()} for m, s in scores.items()},
        "rows": summary_means({m: scores[m] for m in methods}),
        "baselines": [m for m in methods if m not in ("input", "insp_net")],
        "held_out": held_out(meta["trained_on"], store),
        "scale": {"label": str(cfg.scale), **setting, "order": int(meta["order"]), "pi": pi_label(meta),
                  "n_train": int(meta["trained_on"]["count"]), "train_steps": int(meta["train"]["steps"])},
        "filter": _filters(meta, cfg), "store": str(cfg.store), "degradation": store.header.degradation,
        "inr_reg": str((store.header.fit.get("reg") or {}).get("kind", "none")),
        "trained_on": meta["trained_on"], "eval_seconds": round(seconds, 2),
        **({"ensemble": meta["ensemble"]} if "ensemble" in meta else {}), **extra,
    }


def _filters(meta: dict, cfg: DictConfig):
    """What metrics.json names as the filter: its path, or the list of an ensemble's paths."""
    if "ensemble" in meta:
        return list(meta["ensemble"]["filters"])
    f = cfg.filter
    return str(f[0]) if isinstance(f, Sequence) and not isinstance(f, str) else str(f)  # a list of one: its path


def open_store(paths) -> tuple[INRStore, Modality]:
    """The INR store at ``paths`` (one folder or a list of parts) and its modality, whose shape it is checked
    against; InspError for anything else."""
    paths = list(paths) if isinstance(paths, (list, tuple)) or OmegaConf.is_list(paths) else [paths]
    store = INRStore.open(paths)
    modality = of_store(store)
    modality.check_store(store, f"store {paths[0]}")
    return store, modality


def store_summary(store: INRStore) -> dict:
    """What a filter records of its training store: the source fields its modality names, the degradation,
    the count and the index range."""
    h = store.header
    return {"source": {k: h.source.get(k) for k in of_store(store).summary_keys},
            "degradation": h.degradation, "count": len(store),
            "indices": [int(store.indices.min()), int(store.indices.max())]}


def check_task(task: dict, store: INRStore, where: str, shape_tasks: tuple[str, ...]) -> None:
    """SDF tasks take SDF INRs and the other tasks image or audio INRs."""
    modality = of_store(store)
    shape_task = task["name"] in shape_tasks
    if shape_task != modality.pi_tasks:
        raise InspError(f"task={task['name']} takes {'SDF INRs of meshes' if shape_task else 'image or audio INRs'}, "
                        f"but {where} holds {modality.name} INRs")


def check_filter_modality(meta: dict, store: INRStore, where: str) -> None:
    """The filter was trained on INRs of the store's modality."""
    want, have = of_filter(meta).name, of_store(store).name
    if want != have:
        raise InspError(f"the filter was trained on {want} INRs but {where} holds {have} INRs; train one on "
                        f"{have} with `insp train-filter store=...`")
