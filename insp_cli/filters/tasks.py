"""INSP-Net's tasks: which INRs each takes, and what Psi should output (its targets).

Learned tasks (denoise, blur, deblur, inpaint, inpaint_text) train Pi; hand-made ones (``insp_net.HANDMADE``:
edges, laplacian, unsharp) apply a fixed Pi. A task's config (conf/task/) names its inputs (the degradation of
the INRs it takes), its target (the clean image, or for blur the clean image through the task's blur) and its
classical baselines. The clean images come back from the store's header (its source), or from a .npy.
"""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig, OmegaConf

import logging
from pathlib import Path

from insp_cli.data import degrade, load_images
from insp_cli.errors import InspError
from insp_cli.files import describe_path
from insp_cli.filters.insp_net import HANDMADE
from insp_cli.inr.store import INRStore
from insp_cli.spellings import degradation_kind

log = logging.getLogger("insp")

LEARNED = ("denoise", "blur", "deblur", "inpaint", "inpaint_text")
SHAPE_TASKS = ("smooth", "denoise_shape")  # SDF INRs (filters.shapes)
TASKS = LEARNED + tuple(HANDMADE) + SHAPE_TASKS


def task_of(cfg_task) -> dict:
    """The task config as a plain dict, checked."""
    task = OmegaConf.to_container(cfg_task, resolve=True) if isinstance(cfg_task, DictConfig) else dict(cfg_task)
    if task.get("name") not in TASKS:
        raise InspError(f"unknown task {task.get('name')!r} (choose from {', '.join(TASKS)})")
    return task


def check_inputs(task: dict, store: INRStore, where: str) -> None:
    """The store's INRs are of the kind the task takes (e.g. denoise: INRs of noisy images)."""
    kind = store.header.degradation.get("kind", "clean")
    takes = [degradation_kind(k) for k in task.get("inputs") or ()]
    if takes and kind not in takes:
        raise InspError(f"task={task['name']} takes INRs of {' or '.join(takes)} signals, but {where} holds INRs "
                        f"of {kind} signals (fit them with the matching degradation=...)")


def clean_images(store: INRStore, data_root: str, where: str) -> np.ndarray:
    """The clean images the store's INRs were fitted from, reloaded from its header: (N, H, W, c) in [0, 1]."""
    src = store.header.source
    if not src.get("name") or not src.get("split"):
        raise InspError(f"{where} records no ground-truth source (dataset name and split) in its header; "
                        "pass targets=FILE.npy with the clean images")
    folder = src.get("path") if src.get("origin") == "folder" else None
    lo, hi = int(store.indices.min()), int(store.indices.max()) + 1
    h, w = store.size
    try:
        images = load_images(src["name"], split=src["split"], start=lo, limit=hi - lo, size=h,
                             channels=src.get("channels"), root=data_root, folder=folder,
                             train_count=int(src.get("train_count", 90)), crops=int(src.get("crops_per_photo", 1)))
    except InspError as e:
        raise InspError(f"cannot reload the clean images of {where}: {e}") from None
    pos = {int(j): i for i, j in enumerate(images.indices)}
    missing = [int(j) for j in store.indices if int(j) not in pos]
    if missing:
        raise InspError(f"the source of {where} no longer has images {missing[:5]} (it changed since the fit)")
    clean = images.images[[pos[int(j)] for j in store.indices]]
    check_targets(clean, store, where)
    return clean


def clean_clips(store: INRStore, data_root: str, where: str) -> np.ndarray:
    """The clean clips of an audio store's INRs, reloaded from its header: (N, T) amplitudes, in store order."""
    from insp_cli.data.audio import load_audio

    src = store.header.source
    lo, hi = int(store.indices.min()), int(store.indices.max()) + 1
    try:
        clips = load_audio(src.get("source", "speech"), split=src["split"], start=lo, limit=hi - lo,
                           length=int(src["length"]), rate=int(src["rate"]), root=data_root,
                           folder=src.get("path") if src.get("origin") == "folder" else None,
                           normalize=bool(src.get("normalize", True)), min_seconds=float(src.get("min_seconds", 0.5)))
    except (InspError, KeyError) as e:
        raise InspError(f"cannot reload the clean clips of {where}: {e}") from None
    pos = {int(j): i for i, j in enumerate(clips.indices)}
    missing = [int(j) for j in store.indices if int(j) not in pos]
    if missing:
        raise InspError(f"the source of {where} no longer has clips {missing[:5]} (it changed since the fit)")
    return clips.clips[[pos[int(j)] for j in store.indices]]


def check_targets(targets: np.ndarray, store: INRStore, where: str) -> None:
    h, w = store.size
    c = store.spec.out_features
    if targets.ndim != 4 or targets.shape != (len(store), h, w, c):
        raise InspError(f"targets {tuple(targets.shape)} do not match the {len(store)} INRs of {where} "
                        f"({h}x{w}, {c} channels): expected ({len(store)}, {h}, {w}, {c})")


def clean_targets(targets: str | None, data_root: str, store: INRStore, where: str) -> np.ndarray:
    """The clean images of the store's INRs: from ``targets`` (a .npy) when given, else reloaded from its source."""
    return load_targets(str(targets), store, where) if targets else clean_images(store, data_root, where)


def load_targets(path: str, store: INRStore, where: str) -> np.ndarray:
    """Clean images from a .npy (or .npz with one array): (N, H, W, c) floats in [0, 1], in store order."""
    what = describe_path(Path(path))
    if what != "is a file":  # /dev/full, a folder, a pipe: np.load would call its bytes "pickled data"
        raise InspError(f"targets {path} {what}; pass a .npy or .npz file of the clean images (N, H, W, C)")
    try:
        arr = np.load(path, allow_pickle=False)
        if isinstance(arr, np.lib.npyio.NpzFile):
            arr = arr[arr.files[0]]
    except ValueError as e:
        if "pickled" in str(e):  # numpy's words for any file without its .npy/.npz header
            raise InspError(f"targets {path} is not a .npy or .npz file (no numpy header); pass the clean images "
                            "(N, H, W, C) saved with numpy.save") from None
        raise InspError(f"cannot read targets {path}: {e}") from None
    except OSError as e:
        raise InspError(f"cannot read targets {path}: {e}") from None
    check_targets(arr, store, where)
    return arr.astype(np.float32)


def task_targets(task: dict, clean: np.ndarray) -> np.ndarray:
    """What Psi should output: the clean image, or for task=blur the clean image through the task's blur."""
    if task.get("target", "clean") == "clean":
        return clean
    if task["target"] == "blur":
        return degrade(clean, "blur", dict(task.get("blur") or {})).images
    raise InspError(f"task {task['name']}: unknown target {task['target']!r} (clean or blur)")


def held_out(trained_on: dict, store: INRStore) -> bool:
    """False when a test store may share items with the filter's training store (same source split, overlapping
    index ranges): a warning, since scores on training items are not held-out scores."""
    src = trained_on["source"]
    same = all(src.get(k) == store.header.source.get(k) for k in ("name", "split", "origin", "source"))
    lo, hi = int(store.indices.min()), int(store.indices.max())
    ok = not (same and trained_on["indices"][0] <= hi and lo <= trained_on["indices"][1])
    if not ok:
        log.warning("the test INRs may include training items of the filter (same split, overlapping indices)")
    return ok
