"""Training a torch classifier: AdamW on cross-entropy through ``training.train_steps``, a test evaluation and a
checkpoint (``training.save_checkpoint``, format ``insp-classifier``: the model, AdamW's state, the epoch, the
history and the fingerprint of the settings) after every epoch, and resuming from such a checkpoint once its
checksum and metadata are verified (a damaged one is one error line, never resumed).

The order of the training INRs and the augmentations of an epoch depend on (seed, epoch) only, so a resumed run
is the same run.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from insp_cli.classifiers.convnet import InspConvNet, random_affines
from insp_cli.classifiers.kinds import Classifier, Inputs
from insp_cli.errors import InspError
from insp_cli.files import atomic_write
from insp_cli.training import cosine_factor, read_checkpoint, restore, save_checkpoint, train_steps

log = logging.getLogger("insp")

CHECKPOINT = "checkpoint.safetensors"
FORMAT, VERSION, PREFIX = "insp-classifier", 1, "model."
WHAT, REMEDY = "classifier checkpoint", "pass resume=false to train afresh (or delete it)"
FIELDS = {"epoch": ("int", 0, None), "history": ("list", None, None), "fingerprint": ("str", None, None),
          "optimizer_groups": ("?list", None, None)}  # what a resume reads (schema.py's rules)
SCHEDULES = ("cosine", "constant")


@dataclass
class Settings:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    lr_schedule: str  # cosine | constant
    seed: int
    rotation: float = 0.0  # augmentation by x -> A x + t (convnet.random_affines)
    zoom: float = 0.0
    translate: float = 0.0

    @property
    def augment(self) -> bool:
        return any(v != 0 for v in (self.rotation, self.zoom, self.translate))


def find_checkpoint(resume, run_dir: Path, fingerprint: str) -> Path | None:
    """resume = a run directory or checkpoint file; auto: the newest sibling run of the same settings
    (``fingerprint``) that did not complete; false / none / no: none."""
    if resume is None or str(resume).lower() in ("false", "none", "no"):
        return None
    if str(resume).lower() != "auto":
        p = Path(str(resume))
        p = p / CHECKPOINT if p.is_dir() else p
        if not p.is_file():
            raise InspError(f"resume={resume}: no checkpoint there (expected {p})")
        return p
    for d in sorted(run_dir.parent.glob("*"), reverse=True):
        ck, met = d / CHECKPOINT, d / "metrics.json"
        if d == run_dir or not ck.is_file():
            continue
        try:
            done = met.is_file() and json.loads(met.read_text()).get("status") == "complete"
            meta, _ = read_checkpoint(ck, FORMAT, VERSION, WHAT, REMEDY, FIELDS, verify=False)  # verified on resume
        except (OSError, ValueError, InspError):
            continue
        if not done and meta.get("fingerprint") == fingerprint:
            return ck
    return None


def evaluate(clf: Classifier, inputs: Inputs, labels: np.ndarray, batch: int, device) -> tuple[np.ndarray, float]:
    """Predicted classes (N,) and the mean cross-entropy."""
    clf.model.eval()
    preds, loss = [], 0.0
    with torch.no_grad():
        for s in range(0, len(labels), batch):
            rows = np.arange(s, min(s + batch, len(labels)))
            logits = clf.forward(inputs.batch(rows).to(device))
            y = torch.as_tensor(labels[rows], device=device)
            loss += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            preds.append(logits.argmax(dim=1).cpu().numpy())
    return np.concatenate(preds), loss / len(labels)


def train_classifier(s: Settings, clf: Classifier, train_in: Inputs, test_in: Inputs, y_train: np.ndarray,
                     y_test: np.ndarray, device, run_dir: Path, resume_from: Path | None, fingerprint: str,
                     log_row: Callable[[dict, int], None]) -> tuple[np.ndarray, list[dict], dict]:
    """AdamW on cross-entropy; evaluates on the test inputs after every epoch, writes history.csv and the
    checkpoint. Returns (test predictions, history, info)."""
    if s.epochs < 1 or s.batch_size < 1:
        raise InspError(f"epochs and batch_size must be >= 1 (got {s.epochs}, {s.batch_size})")
    if s.lr_schedule not in SCHEDULES:
        raise InspError(f"lr_schedule must be cosine or constant, not {s.lr_schedule!r}")
    model, batch = clf.model, s.batch_size
    per_epoch = math.ceil(len(y_train) / batch)
    total = s.epochs * per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)

    def lr_at(step: int) -> float:
        return s.lr * (cosine_factor(step, total) if s.lr_schedule == "cosine" else 1.0)

    start, history = 0, []
    if resume_from is not None:
        meta, tensors = read_checkpoint(resume_from, FORMAT, VERSION, WHAT, REMEDY, FIELDS)
        if not all(isinstance(row, dict) for row in meta["history"]):
            raise InspError(f"{WHAT} {resume_from} is damaged: field history holds a row that is not a JSON object; "
                            f"{REMEDY}")
        try:
            restore(meta, tensors, model, PREFIX, opt)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
            raise InspError(f"cannot resume from {resume_from}: {type(e).__name__}: {e}".splitlines()[0]) from None
        start, history = int(meta["epoch"]), list(meta["history"])
        log.info("resumed from %s at epoch %d", resume_from, start)
        print(f"resumed from {resume_from} (epoch {start}/{s.epochs})")
    elif isinstance(model, InspConvNet):
        rows = np.random.default_rng(s.seed).permutation(len(y_train))[:batch]
        model.calibrate(train_in.batch(rows).to(device))

    epoch_state: dict = {}

    def loss_at(step: int) -> torch.Tensor:
        epoch, b = divmod(step, per_epoch)
        if b == 0:  # a new epoch: its order and augmentations depend on (seed, epoch) only
            model.train()
            epoch_state.update(perm=np.random.default_rng([s.seed, epoch]).permutation(len(y_train)),
                               gen=torch.Generator().manual_seed(s.seed * 100_003 + epoch), loss=0.0, correct=0,
                               t0=time.time())
        rows = epoch_state["perm"][b * batch:(b + 1) * batch]
        affine = None
        if s.augment:
            affine = tuple(t.to(device) for t in random_affines(len(rows), s.rotation, s.zoom, s.translate,
                                                                generator=epoch_state["gen"]))
        y = torch.as_tensor(y_train[rows], device=device)
        logits = clf.forward(train_in.batch(rows, affine).to(device))
        loss = torch.nn.functional.cross_entropy(logits, y)
        epoch_state["loss"] += float(loss.detach()) * len(rows)
        epoch_state["correct"] += int((logits.argmax(1) == y).sum())
        return loss

    def after_step(done: int) -> str | None:
        if done % per_epoch:
            return None
        epoch = done // per_epoch
        preds, test_loss = evaluate(clf, test_in, y_test, 2 * batch, device)
        row = {"epoch": epoch, "train_loss": epoch_state["loss"] / len(y_train),
               "train_accuracy": epoch_state["correct"] / len(y_train), "test_loss": test_loss,
               "test_accuracy": float((preds == y_test).mean()), "lr": lr_at(done),
               "seconds": round(time.time() - epoch_state["t0"], 2)}
        history.append(row)
        write_history(run_dir / "history.csv", history)
        log_row(row, epoch)
        save_checkpoint(run_dir / CHECKPOINT, FORMAT, VERSION, {"epoch": epoch, "history": history,
                                                               "fingerprint": fingerprint}, model, PREFIX, opt)
        msg = (f"epoch {epoch}/{s.epochs}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | "
               f"test acc {row['test_accuracy']:.4f} ({row['seconds']:.1f} s)")
        log.info(msg)
        return msg

    train_steps(model, opt, loss_at, start * per_epoch, total, lr_at, after_step, "classify",
                where=lambda step: f"epoch {step // per_epoch + 1}", hint=f"lower lr (now {s.lr:g})")
    if start >= s.epochs:  # a finished checkpoint: only the final evaluation is missing
        write_history(run_dir / "history.csv", history)
    preds, _ = evaluate(clf, test_in, y_test, 2 * batch, device)
    info = {"epochs": s.epochs, "resumed_from": None if resume_from is None else str(resume_from),
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None}
    return preds, history, info


def write_history(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(history)
    atomic_write(path, buf.getvalue())


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(labels.astype(np.int64) * k + preds.astype(np.int64), minlength=k * k).reshape(k, k)
