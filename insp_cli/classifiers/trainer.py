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
    label_smoothing: float = 0.0  # cross-entropy against (1 - eps) one-hot + eps / classes
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
    """AdamW on cross-entropy (label-smoothed by ``s.label_smoothing``; the test loss is plain); evaluates on the
    test inputs after every epoch, writes history.csv and the checkpoint. Returns (test predictions, history,
    info)."""
    if s.epochs < 1 or s.batch_size < 1:
        raise InspError(f"epochs and batch_size must be >= 1 (got {s.epochs}, {s.batch_size})")
    if s.lr_schedule not in SCHEDULES:
        raise InspError(f"lr_schedule must be cosine or constant, not {s.lr_schedule!r}")
    model = clf.model
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    epochs = _Epochs(s, clf, opt, train_in, test_in, y_train, y_test, device, run_dir, fingerprint, log_row)
    start = 0
    if resume_from is not None:
        start, epochs.history = _resume(resume_from, model, opt, s.epochs)
    elif isinstance(model, InspConvNet):
        rows = np.random.default_rng(s.seed).permutation(len(y_train))[:s.batch_size]
        model.calibrate(train_in.batch(rows).to(device))
    per_epoch = epochs.per_epoch
    train_steps(model, opt, epochs.loss_at, start * per_epoch, s.epochs * per_epoch, epochs.lr_at,
                epochs.after_step, "classify", where=lambda step: f"epoch {step // per_epoch + 1}",
                hint=f"lower lr (now {s.lr:g})")
    history = epochs.history
    if start >= s.epochs:  # a finished checkpoint: only the final evaluation is missing
        write_history(run_dir / "history.csv", history)
    preds, _ = evaluate(clf, test_in, y_test, 2 * s.batch_size, device)
    info = {"epochs": s.epochs, "resumed_from": None if resume_from is None else str(resume_from),
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None}
    return preds, history, info


def _resume(path: Path, model: torch.nn.Module, opt, epochs: int) -> tuple[int, list[dict]]:
    """Restore the model and AdamW from a verified checkpoint: (the epoch it ended, the history so far)."""
    meta, tensors = read_checkpoint(path, FORMAT, VERSION, WHAT, REMEDY, FIELDS)
    if not all(isinstance(row, dict) for row in meta["history"]):
        raise InspError(f"{WHAT} {path} is damaged: field history holds a row that is not a JSON object; {REMEDY}")
    try:
        restore(meta, tensors, model, PREFIX, opt)
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
        raise InspError(f"cannot resume from {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
    start = int(meta["epoch"])
    log.info("resumed from %s at epoch %d", path, start)
    print(f"resumed from {path} (epoch {start}/{epochs})")
    return start, list(meta["history"])


class _Epochs:
    """The steps of ``training.train_steps`` grouped into epochs: each epoch's order of the training INRs and
    its augmentations depend on (seed, epoch) only; at its end a test evaluation, a history row and a
    checkpoint."""

    def __init__(self, s: Settings, clf: Classifier, opt, train_in: Inputs, test_in: Inputs, y_train: np.ndarray,
                 y_test: np.ndarray, device, run_dir: Path, fingerprint: str, log_row: Callable[[dict, int], None]):
        self.s, self.clf, self.opt, self.device = s, clf, opt, device
        self.train_in, self.test_in, self.y_train, self.y_test = train_in, test_in, y_train, y_test
        self.run_dir, self.fingerprint, self.log_row = run_dir, fingerprint, log_row
        self.per_epoch = math.ceil(len(y_train) / s.batch_size)
        self.total = s.epochs * self.per_epoch
        self.history: list[dict] = []
        self.state: dict = {}

    def lr_at(self, step: int) -> float:
        return self.s.lr * (cosine_factor(step, self.total) if self.s.lr_schedule == "cosine" else 1.0)

    def loss_at(self, step: int) -> torch.Tensor:
        s, st, batch = self.s, self.state, self.s.batch_size
        epoch, b = divmod(step, self.per_epoch)
        if b == 0:  # a new epoch: its order and augmentations depend on (seed, epoch) only
            self.clf.model.train()
            st.update(perm=np.random.default_rng([s.seed, epoch]).permutation(len(self.y_train)),
                      gen=torch.Generator().manual_seed(s.seed * 100_003 + epoch), loss=0.0, correct=0, t0=time.time())
        rows = st["perm"][b * batch:(b + 1) * batch]
        affine = None
        if s.augment:
            affine = tuple(t.to(self.device) for t in random_affines(len(rows), s.rotation, s.zoom, s.translate,
                                                                     generator=st["gen"]))
        y = torch.as_tensor(self.y_train[rows], device=self.device)
        logits = self.clf.forward(self.train_in.batch(rows, affine).to(self.device))
        loss = torch.nn.functional.cross_entropy(logits, y, label_smoothing=s.label_smoothing)
        st["loss"] += float(loss.detach()) * len(rows)
        st["correct"] += int((logits.argmax(1) == y).sum())
        return loss

    def after_step(self, done: int) -> str | None:
        if done % self.per_epoch:
            return None
        epoch, n, st = done // self.per_epoch, len(self.y_train), self.state
        preds, test_loss = evaluate(self.clf, self.test_in, self.y_test, 2 * self.s.batch_size, self.device)
        row = {"epoch": epoch, "train_loss": st["loss"] / n, "train_accuracy": st["correct"] / n,
               "test_loss": test_loss, "test_accuracy": float((preds == self.y_test).mean()), "lr": self.lr_at(done),
               "seconds": round(time.time() - st["t0"], 2)}
        self.history.append(row)
        write_history(self.run_dir / "history.csv", self.history)
        self.log_row(row, epoch)
        save_checkpoint(self.run_dir / CHECKPOINT, FORMAT, VERSION, {"epoch": epoch, "history": self.history,
                                                                    "fingerprint": self.fingerprint},
                        self.clf.model, PREFIX, self.opt)
        msg = (f"epoch {epoch}/{self.s.epochs}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | "
               f"test acc {row['test_accuracy']:.4f} ({row['seconds']:.1f} s)")
        log.info(msg)
        return msg


def write_history(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(history)
    atomic_write(path, buf.getvalue())


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(labels.astype(np.int64) * k + preds.astype(np.int64), minlength=k * k).reshape(k, k)
