"""The one training loop of insp (filters, classifiers, and whatever trains next), with its checkpoint format.

``train_steps`` runs optimizer steps ``start .. stop - 1`` of a loss the caller computes: it sets the learning
rate of each step, stops with one clear line (``InspError``, exit code 3) as soon as the loss or a weight is not
finite, shows one progress bar and calls the caller back after each step (logging, evaluation, checkpoints).
A checkpoint is one safetensors file: the model's state dict under a prefix, the optimizer's per-parameter state
(``optim.<i>.<name>``), a random generator's state (``rng``) and JSON metadata (``insp``: format, version,
the caller's fields, the optimizer's parameter groups; ``insp_sha256``: the sha256 of the tensor data bytes,
inr/integrity.py). Written atomically; loads without pickle. Reading it back checks the checksum (a mismatch is
one line naming the file: the file is damaged), the format and version, and the caller's metadata fields
(``schema.check_record``); a checkpoint written before checksums existed loads with one warning line.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import nn

from .errors import InspError
from .files import atomic_write
from .inr.integrity import SHA_KEY, checksummed, data_sha256, warn_once
from .progress import step_progress
from .schema import Rule, check_record


def cosine_factor(step: int, span: int) -> float:
    """The cosine decay 1 -> 0 over ``span`` steps (and 0 after it): lr(step) = lr_final + (lr - lr_final) *
    cosine_factor(step, span)."""
    return 0.5 * (1 + math.cos(math.pi * min(step, span) / span))


def check_finite_weights(model: nn.Module, where: str, hint: str) -> None:
    """InspError (exit 3) when a parameter or buffer of ``model`` holds NaN or infinity."""
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise InspError(f"the weights became non-finite ({name}) at {where}; {hint}", exit_code=3)


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, loss_at: Callable[[int], torch.Tensor],
                start: int, stop: int, lr_at: Callable[[int], float], after_step: Callable[[int], str | None],
                label: str, where: Callable[[int], str], hint: str) -> None:
    """Optimizer steps ``start .. stop - 1``. Step i: lr_at(i) into every parameter group, loss = loss_at(i)
    (the caller's forward pass), backward, optimizer step, then ``after_step(i + 1)``, whose text (if any) the
    progress bar shows. ``where(i)`` names step i in error messages ("epoch 3", "step 120"), ``hint`` says
    what to change. The weights are checked once the loop ends (and by ``save_checkpoint`` before any write)."""
    with step_progress(label, total=stop, completed=start) as bar:
        for i in range(start, stop):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(i)
            loss = loss_at(i)
            if not torch.isfinite(loss):
                raise InspError(f"the training loss became {float(loss.detach())} at {where(i)}; {hint}", exit_code=3)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update(i + 1, after_step(i + 1))
    if stop > start:
        check_finite_weights(model, where(stop - 1), hint)


# ------------------------------------------------------------------------------------------------ checkpoint


def save_checkpoint(path: str | Path, fmt: str, version: int, meta: dict, model: nn.Module, prefix: str,
                    optimizer: torch.optim.Optimizer | None = None, generator: torch.Generator | None = None,
                    hint: str = "lower the learning rate") -> None:
    """Write a checkpoint (module docstring) atomically. Refuses non-finite weights: a checkpoint that exists
    is one worth resuming from."""
    check_finite_weights(model, f"the checkpoint {Path(path).name}", hint)
    tensors = {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    groups = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        for i, state in sd["state"].items():
            for k, v in state.items():
                tensors[f"optim.{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
        groups = sd["param_groups"]
    if generator is not None:
        tensors["rng"] = generator.get_state()
    meta = {"format": fmt, "version": version, **meta, "optimizer_groups": groups}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, checksummed(save, tensors, {"insp": json.dumps(meta, sort_keys=True)}))


def read_checkpoint(path: str | Path, fmt: str, version: int, what: str, remedy: str,
                    fields: dict[str, Rule] | None = None, verify: bool = True) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) of a checkpoint of format ``fmt``, ``what`` it is for messages ("filter file").
    One InspError line naming the file, and ``remedy`` where it is damaged, for: not a safetensors file of that
    format, a newer version, a metadata field that breaks ``fields`` (schema rules), tensor data whose sha256
    differs from the recorded one (``verify``; False only to peek at the metadata). A checkpoint without a
    checksum (written by insp before checksums) loads with one warning line."""
    path = Path(path)
    try:
        blob = path.read_bytes()
        tensors = load(blob)  # checks the header and every tensor's byte range
        head = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
        raw = head.get("__metadata__") or {}
        meta = json.loads(raw.get("insp") or "null")
    except (OSError, SafetensorError, ValueError, TypeError, AttributeError) as e:
        raise InspError(f"{path} is not an insp {what} ({type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise InspError(f"{path} is not an insp {what}")

    def check_fields(rules: dict[str, Rule]) -> None:
        try:
            check_record(meta, rules)
        except InspError as e:
            raise InspError(f"{what} {path} is damaged: {e}; {remedy}") from None

    check_fields({"version": ("int", 1, None)})
    if int(meta["version"]) > version:
        raise InspError(f"{path} was written by a newer insp ({fmt} format {meta['version']}); upgrade insp")
    recorded = raw.get(SHA_KEY)
    if verify and recorded is not None and data_sha256(blob) != recorded:
        raise InspError(f"{what} {path} is damaged (checksum mismatch: its tensors are not the bytes insp wrote); "
                        f"{remedy}")
    check_fields(fields or {})
    if verify and recorded is None:
        warn_once(f"no-checksum:{path.resolve()}", f"{what} {path} has no checksum (an older insp wrote it), so "
                  "damage inside it cannot be detected; it is used as it is")
    return meta, tensors


def model_state(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The model's state dict out of a checkpoint's tensors."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def restore(meta: dict, tensors: dict[str, torch.Tensor], model: nn.Module, prefix: str,
            optimizer: torch.optim.Optimizer | None = None, generator: torch.Generator | None = None) -> None:
    """Load a checkpoint's model, optimizer and generator state in place (resume)."""
    model.load_state_dict(model_state(tensors, prefix))
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    if optimizer is not None and state:
        optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_groups"]})
    if generator is not None and "rng" in tensors:
        generator.set_state(tensors["rng"])


def resume_or_refuse(path: Path, read: Callable[[Path], tuple[dict, dict[str, torch.Tensor]]],
                     differ: Callable[[dict], list[str]], what: str, option: str, model: nn.Module, prefix: str,
                     optimizer: torch.optim.Optimizer, generator: torch.Generator, step_of: Callable[[dict], int],
                     overwrite: bool) -> tuple[int | None, dict | None]:
    """Where a run that writes its checkpoint to ``path`` starts: (0, None) fresh (no file, or ``overwrite``);
    (k, old) an unfinished checkpoint of the same run, restored in place (model, optimizer, generator) at step
    k = ``step_of(old)``; (None, old) a finished one, to report, not redo. ``read(path)`` -> (metadata, tensors);
    ``differ(old)`` lists the settings in which the file is another run's: refused in one line naming them, the
    ``what`` it holds and the ``option`` that picks another file."""
    if overwrite or not path.exists():
        return 0, None
    old, tensors = read(path)
    diff = differ(old)
    if diff:
        raise InspError(f"{path} holds another {what} ({', '.join(diff)} differ); pass another {option}=PATH or "
                        "overwrite=true")
    if old.get("complete"):
        return None, old
    restore(old, tensors, model, prefix, optimizer, generator)
    step = int(step_of(old))
    logging.getLogger("insp").info("resuming %s at step %d", path, step)
    return step, old


def differing(old: dict, new: dict, keys) -> list[str]:
    """The ``keys`` whose values differ between two checkpoints' metadata."""
    return [k for k in keys if old.get(k) != new.get(k)]
