"""The meta-learned initialisation file (`insp meta-learn` writes it, `insp fit fit.init=PATH` reads it).

One safetensors file written by ``training.save_checkpoint`` (format ``insp-meta-init``): the learned tensors
under ``meta.`` (weights mode: ``meta.init (P,)``; functa: ``meta.base (P,)``, ``meta.w_mod (d, S)``,
``meta.b_mod (S,)``, ``meta.lrs (d,)``), while unfinished also the optimizer and random state (a rerun resumes),
and JSON metadata ``insp``: mode, architecture (``spec.to_dict()``) and its one-line description, modality,
signal shape, source (dataset, split, index range), meta-learning settings and steps, seed, ``complete`` and, once
complete, ``sha256``: the sha256 of the learned tensors (``tensors_sha256``), checked on every load and recorded
in the header of every store fitted from the file. docs/meta.md describes it for users.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InspError
from ..files import describe_path
from ..training import model_state, read_checkpoint, save_checkpoint
from .backbones import describe, spec_from_dict
from .meta import MODES, Functa, MetaINR
from .siren import SirenSpec

FORMAT, VERSION, PREFIX = "insp-meta-init", 1, "meta."
WHAT, REMEDY = "meta-learned initialisation", "learn it again: rerun its `insp meta-learn` command with overwrite=true"


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors in name order: name, dtype, shape and raw bytes of each."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_meta(path: str | Path, model: MetaINR, meta: dict, optimizer=None, generator=None) -> None:
    """Write the file atomically; a complete one records the sha256 of its learned tensors."""
    meta = dict(meta)
    if meta.get("complete"):
        meta["sha256"] = tensors_sha256(dict(model.state_dict()))
    save_checkpoint(path, FORMAT, VERSION, meta, model, PREFIX, optimizer, generator,
                    hint="lower meta.outer_lr")


def read_meta(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) of an initialisation file; InspError (one line) for anything else."""
    path = Path(path)
    what = describe_path(path)
    if what != "is a file":
        raise InspError(f"initialisation file {path} {what}; learn one with `insp meta-learn`")
    return read_checkpoint(path, FORMAT, VERSION, WHAT, REMEDY)


@dataclass
class MetaInit:
    """A loaded, verified initialisation: ``init`` (P,) in weights mode, ``functa`` in functa mode."""

    path: Path
    meta: dict
    spec: SirenSpec
    mode: str
    sha256: str
    init: torch.Tensor | None = None
    functa: Functa | None = None

    def record(self) -> dict:
        """What a store header keeps of it (fit.init)."""
        return {"sha256": self.sha256, "mode": self.mode, "file": self.path.name,
                "source": self.meta.get("source"), "steps": self.meta.get("meta", {}).get("steps")}


def load_meta(path: str | Path) -> MetaInit:
    """Read, check complete and verify the sha256 of an initialisation file."""
    path = Path(path)
    meta, tensors = read_meta(path)
    if not meta.get("complete"):
        raise InspError(f"initialisation {path} is unfinished (step {meta.get('step')} of "
                        f"{meta.get('meta', {}).get('steps')}); rerun its `insp meta-learn` command to finish it")
    mode = meta.get("mode")
    if mode not in MODES:
        raise InspError(f"{path} is corrupt: mode {mode!r} is not one of {', '.join(MODES)}")
    try:
        spec = spec_from_dict(meta["architecture"])
    except (KeyError, TypeError, ValueError) as e:
        raise InspError(f"{path} is corrupt: unreadable architecture ({e})") from None
    if not isinstance(spec, SirenSpec):
        raise InspError(f"{path} holds a {describe(spec)}; meta-learned initialisations are SIRENs")
    state = {k: v.float() for k, v in model_state(tensors, PREFIX).items()}
    model = MetaINR(spec, mode, latent_dim=int(meta.get("meta", {}).get("latent_dim") or 1))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise InspError(f"{path} is corrupt: its tensors do not match its metadata "
                        f"({str(e).splitlines()[0]})") from None
    sha = tensors_sha256(dict(model.state_dict()))
    if sha != meta.get("sha256"):
        raise InspError(f"{path} is damaged: the sha256 of its tensors does not match the one recorded when it "
                        "was written; learn it again with `insp meta-learn`")
    model.requires_grad_(False)
    out = MetaInit(path=path, meta=meta, spec=spec, mode=mode, sha256=sha)
    if mode == "weights":
        out.init = model.init.detach()
    else:
        out.functa = model.functa()
    return out


def check_init_matches(mi: MetaInit, spec, modality: str, shape: tuple[int, ...]) -> None:
    """One line when the file was learned for another backbone, architecture, modality or signal shape."""
    want = {"architecture": spec.to_dict(), "modality": modality, "shape": [int(s) for s in shape]}
    have = {"architecture": mi.spec.to_dict(), "modality": mi.meta.get("modality"),
            "shape": [int(s) for s in mi.meta.get("shape") or []]}
    if want["architecture"] != have["architecture"]:
        raise InspError(f"initialisation {mi.path} was learned for {mi.meta.get('backbone') or describe(mi.spec)} "
                        f"({have['architecture']}), not this fit's {describe(spec)} ({want['architecture']}); "
                        "pass the same model settings or learn one for them with `insp meta-learn`")
    for key in ("modality", "shape"):
        if want[key] != have[key]:
            raise InspError(f"initialisation {mi.path} was learned on {key} {have[key]}, this fit's signals have "
                            f"{key} {want[key]}; learn one for them with `insp meta-learn`")
