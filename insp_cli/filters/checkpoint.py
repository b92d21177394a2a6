"""The filter file: one checkpoint (``training.save_checkpoint``, format ``insp-filter``) holding Pi's weights
and feature statistics (``fusion.*``), the AdamW state and the sampler's random state (so an interrupted run
resumes where it stopped), and JSON metadata: the task, the order K, the pixel grid of the units, the INR
architecture the filter expects (and ``modality: audio`` for an audio filter), Pi's offsets (``fusion.offsets``:
the neighbours whose jets it reads; absent in filters written before image filters had a context, which are
pointwise), what it was trained on, the training settings and whether it is complete.

Reading it back verifies the sha256 of its tensors and the type of every metadata field insp uses (``FIELDS``):
a damaged or foreign file is one line naming the file (and the field); a filter written before checksums
existed loads with one warning line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch

from insp_cli.errors import InspError
from insp_cli.files import describe_path
from insp_cli.filters.insp_net import INSPFilter, LearnedFusion, MeanFusion
from insp_cli.filters.jet_cnn import ConvFusion
from insp_cli.inr.backbones import describe, kind_of, name_of, spec_from_dict
from insp_cli.inr.store import INRStore
from insp_cli.schema import check_record
from insp_cli.spellings import degradation_kind
from insp_cli.training import model_state, read_checkpoint, save_checkpoint

FORMAT, VERSION = "insp-filter", 1
PREFIX = "fusion."
WHAT, REMEDY = "filter file", "train it again: rerun its `insp train-filter` command with overwrite=true"
FIELDS = {  # the metadata insp reads back, with the types it needs (schema.py's rules)
    "task": ("dict", None, None), "task.name": ("str", None, None),
    "order": ("int", 0, 16), "channels": ("int", 1, 4096), "m": ("?int", 1, 3), "modality": ("?str", None, None),
    "units": ("ints", 1, None),
    "fusion": ("dict", None, None), "fusion.hidden": ("int", 1, 1 << 16), "fusion.layers": ("int", 1, 64),
    "fusion.residual": ("bool", None, None), "fusion.offsets": ("?list", None, None),
    "fusion.kind": ("?str", None, None),
    "fusion.orders": ("?ints", 0, 16), "fusion.prior": ("?dict", None, None),
    "architecture": ("dict", None, None),
    "trained_on": ("dict", None, None), "trained_on.source": ("dict", None, None),
    "trained_on.degradation": ("dict", None, None), "trained_on.count": ("int", 1, None),
    "trained_on.indices": ("ints", 0, None), "trained_on.source.size": ("?order", 1, None),
    "train": ("dict", None, None), "train.step": ("int", 0, None), "train.steps": ("int", 1, None),
    "complete": ("bool", None, None),
}


def save_filter(path: Path, fusion: LearnedFusion, meta: dict, optimizer: torch.optim.Optimizer | None = None,
                generator: torch.Generator | None = None) -> None:
    """Write a filter checkpoint atomically (temporary name, then rename)."""
    save_checkpoint(path, FORMAT, VERSION, meta, fusion, PREFIX, optimizer, generator, hint="lower train.lr")


def read_filter(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) of a filter checkpoint; InspError for anything else."""
    path = Path(path)
    if not path.is_file():  # a folder or a device is named as such, not 'does not exist'
        what = describe_path(path)
        hint = "train one with `insp train-filter`" if what.startswith("does not exist") else \
            "pass the .safetensors file that `insp train-filter` wrote"
        raise InspError(f"filter {path} {what}; {hint}")
    meta, tensors = read_checkpoint(path, FORMAT, VERSION, WHAT, REMEDY, FIELDS)
    for o in meta["fusion"].get("offsets") or []:  # audio: ints; images: [dx, dy] pairs
        try:
            check_record({"fusion": {"offsets": o}}, {"fusion.offsets": ("order", None, None)})
        except InspError as e:
            raise InspError(f"{WHAT} {path} is damaged: {e}; {REMEDY}") from None
    return meta, tensors


def build_fusion(meta: dict, tensors: dict[str, torch.Tensor] | None = None) -> LearnedFusion:
    """Pi of any dimension m = len(units) (1: audio clips, 2: images, 3: SDF voxels). Offsets are lists of m
    ints, or plain ints for m = 1 (audio filters write them so); absent: pointwise (image filters written before
    image filters had a context). ``fusion.orders`` (a multi-scale context with lower orders at its coarse
    offsets): the derivative order Pi reads at each offset; absent: the filter's order everywhere.
    ``fusion.prior`` (a cascade, ``LearnedFusion``): the first stage's order, fusion settings, self-ensemble and
    file; its weights travel in this filter's tensors, or, with no tensors (a cascade about to be trained), come
    from that file. ``fusion.kind`` conv: a CNN on the jet field (``filters.jet_cnn.ConvFusion``); absent: mlp."""
    f = meta["fusion"]
    if f.get("kind", "mlp") == "conv":
        fusion = ConvFusion(channels=int(meta["channels"]), order=int(meta["order"]), m=len(meta["units"]),
                            hidden=int(f["hidden"]), layers=int(f["layers"]), residual=bool(f["residual"]),
                            dilation=int(f.get("dilation") or 1), kernel=int(f.get("kernel") or 3))
        return _load_weights(fusion, tensors)
    if f.get("kind", "mlp") != "mlp":
        raise InspError(f"fusion.kind={f['kind']!r} is not a Pi insp knows (mlp, conv)")
    offsets = [tuple(int(v) for v in o) if isinstance(o, list) else (int(o),) for o in f["offsets"]] \
        if f.get("offsets") else None
    p = f.get("prior")
    prior = None if not p else build_fusion(
        {"channels": meta["channels"], "order": p["order"], "units": meta["units"], "fusion": p["fusion"]},
        None if tensors is not None else read_filter(p["file"])[1])
    fusion = LearnedFusion(channels=int(meta["channels"]), order=int(meta["order"]), m=len(meta["units"]),
                           hidden=int(f["hidden"]), layers=int(f["layers"]), residual=bool(f["residual"]),
                           offsets=offsets, orders=f.get("orders"), prior=prior,
                           prior_ensemble=int(p["ensemble"]) if p else 1)
    return _load_weights(fusion, tensors)


def _load_weights(fusion, tensors: dict[str, torch.Tensor] | None):
    """``fusion`` with the filter's weights loaded (as built, with no tensors)."""
    if tensors is not None:
        try:
            fusion.load_state_dict(model_state(tensors, PREFIX))
        except RuntimeError as e:
            raise InspError(f"filter weights do not match its metadata ({str(e).splitlines()[0]})") from None
    return fusion


def load_filter(path: str | Path) -> tuple[INSPFilter, dict]:
    """A trained filter ready to apply, whatever its modality, and its metadata. Refuses an unfinished
    checkpoint."""
    meta, tensors = read_filter(path)
    if not meta.get("complete"):
        raise InspError(f"filter {path} is unfinished ({meta['train']['step']}/{meta['train']['steps']} steps); "
                        "rerun its `insp train-filter` command to resume")
    fusion = build_fusion(meta, tensors).eval()
    return INSPFilter(fusion=fusion, order=int(meta["order"]), units=tuple(meta["units"])), meta


# what the filters of one ensemble (``load_filters``) must share: one task on the same INRs, the same jets
SAME_IN_ENSEMBLE = ("task", "modality", "m", "channels", "units", "architecture", "trained_on", "order",
                    "fusion.offsets", "fusion.orders", "fusion.prior", "fusion.kind")


def load_filters(paths) -> tuple[INSPFilter, dict]:
    """One filter (a path, or a list of one path: ``load_filter`` itself), or the ensemble of several: a filter
    whose Pi is the mean of theirs (``MeanFusion``; each keeps its own feature statistics), with the first one's
    metadata plus ``ensemble``: {filters (their paths), count, seeds, train_psnr (each one's), pi_parameters
    (each one's)}. The filters must share ``SAME_IN_ENSEMBLE`` (refused in one line naming the first that
    differs and how); a path may repeat."""
    paths = [str(p) for p in paths] if isinstance(paths, Sequence) and not isinstance(paths, str) else [str(paths)]
    if not paths:
        raise InspError("filter=[]: name at least one filter checkpoint")
    if len(paths) == 1:
        return load_filter(paths[0])
    loaded = [load_filter(p) for p in paths]
    first = loaded[0][1]
    for p, (_, meta) in zip(paths[1:], loaded[1:]):
        differ = [k for k in SAME_IN_ENSEMBLE if _field(meta, k) != _field(first, k)]
        if differ:
            raise InspError(f"filter {p} differs from {paths[0]} in {', '.join(differ)}: an ensemble averages "
                            "filters of one task, trained on the same INRs, that read the same jets")
    fusion = MeanFusion([f.fusion for f, _ in loaded]).eval()
    meta = {**first, "ensemble": {
        "filters": paths, "count": len(paths), "seeds": [m["train"].get("seed") for _, m in loaded],
        "train_psnr": [m["train"].get("final_psnr") for _, m in loaded],
        "pi_parameters": [sum(p.numel() for p in f.fusion.parameters()) for f, _ in loaded]}}
    return INSPFilter(fusion=fusion, order=int(first["order"]), units=tuple(first["units"])), meta


def _field(meta: dict, key: str):
    """A dotted field of a filter's metadata (None where absent)."""
    for k in key.split("."):
        meta = meta.get(k) if isinstance(meta, dict) else None
    return meta


def check_filter_fits(meta: dict, store: INRStore, where: str) -> None:
    """The filter was trained on INRs of this architecture, channel count and degradation kind (its modality:
    ``modalities.base.check_filter_modality``)."""
    try:
        spec = spec_from_dict(meta["architecture"])
    except (TypeError, ValueError) as e:
        raise InspError(f"the filter's INR architecture is unusable: {e}") from None
    if kind_of(spec) != kind_of(store.spec):
        raise InspError(f"the filter was trained on {name_of(spec)} INRs ({describe(spec)}) but {where} holds "
                        f"{name_of(store.spec)} INRs ({describe(store.spec)}); train a filter on this store")
    if spec != store.spec:
        raise InspError(f"the filter expects {describe(spec)} INRs ({spec.out_features} channels) but {where} holds "
                        f"{describe(store.spec)} ({store.spec.out_features} channels)")
    trained = (meta["trained_on"].get("source") or {}).get("size")
    size = store.header.source.get("size")
    if trained and size and list(trained) != list(size):
        raise InspError(f"the filter was trained on INRs of {trained[0]}x{trained[1]} images but {where} holds INRs "
                        f"of {size[0]}x{size[1]} images (its derivative units are per pixel of that size); fit the "
                        "INRs at the filter's size or train a filter at theirs")
    want = degradation_kind(meta["trained_on"]["degradation"].get("kind"))  # filters of before the rename
    have = store.header.degradation.get("kind")
    if want != have:
        raise InspError(f"the filter was trained on INRs of {want} images but {where} holds INRs of {have} images")


# what a cascade's first stage (``fusion.prior``) must share with the stage trained on top of it
SAME_IN_CASCADE = ("task", "channels", "units", "architecture", "trained_on")


def prior_record(path: str, ensemble: int, meta: dict) -> dict:
    """``meta["fusion"]["prior"]`` of a cascade trained on top of the finished one-stage image filter at
    ``path`` (``insp_net.LearnedFusion``'s prior), read with ``ensemble`` views: {file, sha256 of its tensors,
    order, fusion (its settings), ensemble, steps, train_psnr}. Refuses, in one line, a first stage of another
    task, grid, INR or training store, a cascade, or an audio / shape filter."""
    first, old = load_filter(path)
    differ = [k for k in SAME_IN_CASCADE if _field(old, k) != _field(meta, k)]
    if old.get("modality") not in (None, "images") or len(old["units"]) != 2:
        differ.insert(0, "modality")
    if differ:
        raise InspError(f"fusion.prior={path} differs from this filter in {', '.join(differ)}: a cascade's first "
                        "stage is an image filter of the same task trained on the same store")
    if old["fusion"].get("prior"):
        raise InspError(f"fusion.prior={path} is itself a cascade; name a one-stage filter")
    return {"file": str(path), "sha256": _file_sha256(path), "order": int(old["order"]), "fusion": old["fusion"],
            "ensemble": int(ensemble), "steps": int(old["train"]["steps"]),
            "train_psnr": old["train"].get("final_psnr")}


def first_stage(meta: dict) -> INSPFilter | None:
    """A cascade's first stage (``fusion.prior``) as a filter with its self-ensemble, read from its file; None
    for a one-stage Pi."""
    p = meta["fusion"].get("prior")
    if not p:
        return None
    if _file_sha256(p["file"]) != p["sha256"]:
        raise InspError(f"fusion.prior={p['file']} has changed since this cascade was started (sha256); "
                        "retrain the cascade with overwrite=true")
    fusion = build_fusion({"channels": meta["channels"], "order": p["order"], "units": meta["units"],
                           "fusion": p["fusion"]}, read_filter(p["file"])[1]).eval().requires_grad_(False)
    return INSPFilter(fusion=fusion, order=int(p["order"]), units=tuple(meta["units"]), ensemble=int(p["ensemble"]))


def _file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
