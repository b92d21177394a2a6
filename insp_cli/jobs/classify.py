"""`insp classify`: train a classifier on a labelled INR store and test it on another (paper Sec. 5.3, Table 1).

classifier=insp_convnet (on the INRs' derivatives), depthwise_cnn (on images decoded from the INRs), pca_svm and
weight_mlp (on the flattened INR weights). Per epoch: accuracy to the run directory (history.csv) and W&B, a
checkpoint (checkpoint.safetensors) that a rerun of the same command resumes from; at the end metrics.json (the
summary ``insp table`` reads) and confusion.png. The library: ``insp_cli.classifiers``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..classifiers.kinds import KINDS, inputs
from ..classifiers.splits import arch, check_disjoint, check_pair, not_a_result, open_split
from ..classifiers.trainer import Settings, confusion_matrix, find_checkpoint, train_classifier
from ..config import hydra_run_dir, jets_compile, pick_device, seed_everything, threads_from_env
from ..errors import InspError
from ..schema import typed_values
from ..tracking import Run, run_job
from ..viz import save_confusion

log = logging.getLogger("insp")

MODELS = tuple(KINDS) + ("pca_svm", "weight_knn")


def classify_job(cfg: DictConfig) -> float | None:
    return run_classify(cfg, hydra_run_dir())


def run_classify(cfg: DictConfig, run_dir: str | Path) -> float:
    """Train and test the classifier ``cfg`` asks for; write the run directory. Returns the test accuracy."""
    return run_job(cfg, run_dir, "classify", _classify)["test_accuracy"]


def fingerprint(cfg: DictConfig) -> str:
    """What a checkpoint must agree on to be resumed: everything but bookkeeping and the epoch count."""
    d = OmegaConf.to_container(cfg, resolve=True)
    for k in ("resume", "tracking", "device", "compile", "epochs", "scale"):
        d.pop(k, None)
    if "classifier" in d:  # the key was ``model`` when the first checkpoints were written: they still resume
        d["model"] = d.pop("classifier")
    for k, node in (("label_smoothing", d), ("noise", d.get("model") or {})):  # added later, off = as before
        if not node.get(k):
            node.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _paths(x) -> list[str]:
    return [str(p) for p in x] if isinstance(x, (list, tuple)) or OmegaConf.is_list(x) else [str(x)]


def _rows(cfg: DictConfig, what: str, n: int) -> list[int]:
    """[first, last + 1] of the n INRs read from the ``what`` (train | test) store(s)."""
    offset = int(cfg.get(f"{what}_offset") or 0)
    return [offset, offset + n]


def _classify(cfg: DictConfig, run: Run) -> dict:
    if not isinstance(cfg.get("classifier"), DictConfig) or cfg.classifier.get("kind") not in MODELS:
        got = cfg.get("classifier")
        got = got.get("kind") if isinstance(got, DictConfig) else got
        raise InspError(f"classifier={got} is not a classifier; choose one of {', '.join(MODELS)}")
    cache = str(cfg.cache_inputs).lower()
    if cache not in ("auto", "true", "false"):
        raise InspError(f"cache_inputs must be auto, true or false, not {cfg.cache_inputs!r}")
    augment = ("rotation", "zoom", "translate")  # checked and typed by schema.py's rules, as the command line is
    top = [f.name for f in fields(Settings) if f.name not in augment]
    settings = Settings(**typed_values(cfg, "", top, "classify"), **typed_values(cfg.augment, "augment", augment,
                                                                                  "classify"))
    seed_everything(int(cfg.seed))
    threads_from_env()
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    t_start = time.time()
    split = {w: open_split(_paths(cfg[f"{w}_store"]), cfg[f"{w}_limit"], _rows(cfg, w, 0)[0], w)
             for w in ("train", "test")}
    train, test = split["train"], split["test"]
    classes = check_pair(train, test)
    check_disjoint(train, test)
    kind = str(cfg.classifier.kind)
    src = train.header.source
    log.info("classify %s: %d train / %d test %s INRs (%s), %d classes, %s", kind, len(train), len(test),
             src.get("name"), arch(train.spec), len(classes), device)

    if kind in ("pca_svm", "weight_knn"):
        preds, info = _weight_space(cfg, kind, settings, train, test)
    else:
        preds, info = _torch_classifier(cfg, kind, settings, train, test, len(classes), cache, device, run)

    acc = float((preds == test.labels).mean())
    conf = confusion_matrix(test.labels, preds, len(classes))
    path = save_confusion(conf, classes, run.dir / "confusion.png",
                          f"{kind} on {src.get('name')}: test accuracy {100 * acc:.2f}%")
    run.log_image("confusion_matrix", path, caption=f"rows: true class, columns: predicted ({len(test)} INRs)")
    per_class = (np.diag(conf) / conf.sum(axis=1).clip(min=1)).tolist()
    run.log_table("per_class_accuracy", ["class", "accuracy", "count"],
                  [[c, float(a), int(n)] for c, a, n in zip(classes, per_class, conf.sum(axis=1))])
    metrics = {
        "model": kind, "dataset": src.get("name"), "train_count": len(train), "test_count": len(test),
        "test_accuracy": acc, "scale": str(cfg.scale), "classes": classes, "per_class_accuracy": per_class,
        "confusion": conf.tolist(), "train_store": _paths(cfg.train_store), "test_store": _paths(cfg.test_store),
        "train_rows": _rows(cfg, "train", len(train)), "test_rows": _rows(cfg, "test", len(test)),
        "inr": arch(train.spec), "device": str(device), "seconds": round(time.time() - t_start, 2), **info,
    }
    note = not_a_result(train, test)
    if note:
        metrics["not_a_result"] = note
    print(f"classify {kind} ({src.get('name')}, {len(train)} train / {len(test)} test INRs): "
          f"test accuracy {100 * acc:.2f}%" + (f"  [not a result: {note}]" if note else "")
          + f"\n  run dir {run.dir}")
    return metrics


def _weight_space(cfg: DictConfig, kind: str, settings: Settings, train, test) -> tuple[np.ndarray, dict]:
    """PCA + SVM or k-NN on the flattened weights: (test predictions, info)."""
    from ..classifiers.weight_space import pca_svm, weight_knn

    if settings.augment:
        raise InspError(f"augment.* applies to coordinates; classifier={kind} sees weights only: set them to 0")
    t0 = time.time()
    if kind == "pca_svm":
        clf = pca_svm(train.params.numpy(), train.labels, components=int(cfg.classifier.components),
                      c=float(cfg.classifier.C), seed=int(cfg.seed))
    else:
        clf = weight_knn(train.params.numpy(), train.labels, k=int(cfg.classifier.k),
                         standardize=bool(cfg.classifier.standardize))
    preds = clf.predict(test.params.numpy())
    train_acc = float((clf.predict(train.params.numpy()) == train.labels).mean())
    return preds, {"train_accuracy": train_acc, "fit_seconds": round(time.time() - t0, 2)}


def _torch_classifier(cfg: DictConfig, kind: str, settings: Settings, train, test, n_classes: int, cache: str,
                      device, run: Run) -> tuple[np.ndarray, dict]:
    """A torch classifier kind (``classifiers.kinds``) trained and tested: (test predictions, info)."""
    if train.size is None:
        raise InspError("the stores do not record their image size; refit them with `insp fit`")
    model = KINDS[kind](cfg.classifier, train, n_classes, device, settings.batch_size, float(cfg.max_memory_gb),
                        settings.augment)
    train_in, test_in, info = inputs(model, train, test, cache, float(cfg.cache_gb), settings.batch_size,
                                     settings.augment)
    info = dict(info)
    fp = fingerprint(cfg)
    preds, history, more = train_classifier(settings, model, train_in, test_in, train.labels, test.labels,
                                            device, run.dir, find_checkpoint(cfg.resume, run.dir, fp), fp,
                                            lambda row, step: run.log(row, step=step))
    info.update(more)
    if history:
        info["train_accuracy"] = history[-1]["train_accuracy"]
        best = max(history, key=lambda h: h["test_accuracy"])
        info["best_test_accuracy"], info["best_epoch"] = best["test_accuracy"], best["epoch"]
    return preds, info
