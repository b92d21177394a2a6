"""`insp classify`: train a classifier on a labelled INR store and test it on another (paper Sec. 5.3, Table 1).

model=insp_convnet (on the INRs' derivatives), depthwise_cnn (on images decoded from the INRs), pca_svm and
weight_mlp (on the flattened INR weights). Per epoch: accuracy to the run directory (history.csv) and W&B, a
checkpoint (checkpoint.pt) that a rerun of the same command resumes from; at the end metrics.json (the
summary ``insp table`` reads) and confusion.png.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import jets_compile, pick_device, seed_everything, threads_from_env
from ..convnet import InspConvNet, pixel_spacings, random_affines
from ..errors import InspError
from ..inr.fit import decode_pixels
from ..inr.siren import grid_coords, siren_forward
from ..inr.store import INRStore
from ..jets import compile_enabled, jet_space
from ..tracking import Run
from . import hydra_run_dir

log = logging.getLogger("insp")

KINDS = ("insp_convnet", "depthwise_cnn", "pca_svm", "weight_mlp")
CHECKPOINT = "checkpoint.pt"


def model_alias(argv: list[str]) -> list[str]:
    """`model=NAME` on the command line selects the classifier: Hydra's group is ``classifier`` (conf/model/ is
    the SIREN group of `insp fit`), placed at ``model`` so that its settings read model.width=..."""
    return [f"classifier={a[len('model='):]}" if a.startswith("model=") else a for a in argv]


def classify_job(cfg: DictConfig) -> float | None:
    return run_classify(cfg, hydra_run_dir())


def run_classify(cfg: DictConfig, run_dir: str | Path) -> float:
    """Train and test the classifier ``cfg`` asks for; write the run directory. Returns the test accuracy."""
    with Run(cfg, run_dir, job="classify") as run:
        metrics = _classify(cfg, run)
        run.finish(metrics)
    return metrics["test_accuracy"]


# ----------------------------------------------------------------------------------------------- data

def open_split(cfg: DictConfig, what: str) -> INRStore:
    """The labelled INRs ``<what>_offset .. + <what>_limit`` (limit None: to the end) of the store(s)
    ``<what>_store``, what = train | test."""
    paths, limit, offset = _as_list(cfg[f"{what}_store"]), cfg[f"{what}_limit"], _offset(cfg, what)
    store = INRStore.open(paths)
    if store.labels is None:
        raise InspError(f"{what} store {', '.join(map(str, paths))} has no labels; classification needs INRs "
                        "fitted from a labelled dataset (mnist, fashion_mnist, cifar10)")
    if limit is not None and int(limit) < 1:
        raise InspError(f"{what}_limit must be >= 1, got {limit}")
    if offset < 0 or offset >= len(store):
        raise InspError(f"{what}_offset={offset} is outside the {len(store)} INRs of {', '.join(map(str, paths))}")
    end = len(store) if limit is None else min(offset + int(limit), len(store))
    if offset or end < len(store):
        store = store.subset(np.arange(offset, end))
    return store


def _offset(cfg: DictConfig, what: str) -> int:
    return int(cfg.get(f"{what}_offset") or 0)


def _split_rows(cfg: DictConfig, what: str, n: int) -> list[int]:
    """[first, last + 1] of the n INRs read from the ``what`` (train | test) store(s)."""
    return [_offset(cfg, what), _offset(cfg, what) + n]


def check_disjoint(cfg: DictConfig, n_train: int, n_test: int) -> None:
    """InspError when train and test read the same store(s) and their INR ranges overlap (a validation split
    taken from the training store must not share INRs with the training part)."""
    def norm(p):
        return [str(Path(x).resolve()) for x in _as_list(p)]

    if norm(cfg.train_store) != norm(cfg.test_store):
        return
    (a0, a1), (b0, b1) = _split_rows(cfg, "train", n_train), _split_rows(cfg, "test", n_test)
    lo, hi = max(a0, b0), min(a1, b1)
    if lo < hi:
        raise InspError(f"train and test read the same store and share INRs {lo}..{hi - 1}; give them disjoint "
                        "ranges with train_offset/train_limit and test_offset/test_limit")


def check_pair(train: INRStore, test: INRStore) -> list[str]:
    """The class names; InspError unless both stores hold INRs of one architecture, dataset and image size."""
    if train.spec != test.spec:
        raise InspError(f"train and test stores hold different INR architectures ({_arch(train.spec)} vs "
                        f"{_arch(test.spec)}); fit both with the same model settings")
    a, b = train.header.source, test.header.source
    if a.get("name") != b.get("name") or train.size != test.size:
        raise InspError(f"train and test stores come from different data ({a.get('name')} {train.size} vs "
                        f"{b.get('name')} {test.size})")
    classes = [str(c) for c in (a.get("classes") or [])]
    if classes != [str(c) for c in (b.get("classes") or [])]:
        raise InspError("train and test stores name different classes")
    if not classes:
        classes = [str(i) for i in range(int(max(train.labels.max(), test.labels.max())) + 1)]
    for store, what in ((train, "train"), (test, "test")):
        bad = (store.labels < 0) | (store.labels >= len(classes))
        if bad.any():
            raise InspError(f"{what} store has labels outside [0, {len(classes)}) (e.g. {int(store.labels[bad][0])}"
                            f" for INR {int(store.indices[bad][0])}); the dataset has {len(classes)} classes")
    return classes


def _arch(spec) -> str:
    return f"SIREN {spec.in_features}->{spec.out_features}, {spec.depth}x{spec.hidden}, omega0 {spec.omega0:g}"


class Inputs:
    """What a torch classifier sees for rows of a store: ``batch(rows, affine) -> tensor``; cached when the
    same rows come back unaugmented every epoch."""

    def __init__(self, store: INRStore, make, cache: bool, chunk: int, label: str):
        self.store, self.make, self.cached = store, make, None
        if cache:
            parts, t0 = [], time.time()
            for s in range(0, len(store), chunk):
                parts.append(make(np.arange(s, min(s + chunk, len(store))), None))
                _status(f"{label}: {min(s + chunk, len(store))}/{len(store)} INRs")
            self.cached = torch.cat(parts)
            self.seconds = time.time() - t0
            log.info("%s: cached %s in %.1f s", label, tuple(self.cached.shape), self.seconds)

    def batch(self, rows: np.ndarray, affine=None) -> torch.Tensor:
        if affine is None and self.cached is not None:
            return self.cached[torch.as_tensor(rows)]
        return self.make(rows, affine)


def _status(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{text}   ", end="", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- models

def _params(store: INRStore, rows, device) -> torch.Tensor:
    return store.params[torch.as_tensor(np.asarray(rows))].to(device)


def build(cfg: DictConfig, train: INRStore, test: INRStore, classes: list[str], device):
    """(model, forward: inputs -> logits, train inputs, test inputs, description) for a torch classifier."""
    mc = cfg.model
    c = train.spec.out_features
    size = train.size
    if size is None:
        raise InspError("the stores do not record their image size; refit them with `insp fit`")
    cache = str(cfg.cache_inputs).lower()
    augment = _augmenting(cfg)
    if mc.kind == "insp_convnet":
        model = InspConvNet(c, len(classes), pixel_spacings(size), layers=int(mc.layers), order=_orders(mc.order),
                            width=int(mc.width), pool=int(mc.pool), activation=str(mc.activation),
                            axis_order=None if mc.get("axis_order") is None else int(mc.axis_order))
        side = size if mc.points is None else (int(mc.points), int(mc.points))
        coords = grid_coords(side, device=device)
        m_in = jet_space(2, model.input_order).size
        per_inr = m_in * coords.shape[0] * c * 4
        _check_memory(cfg, model, coords.shape[0], per_inr)
        chunk = None if mc.chunk_size is None else int(mc.chunk_size)

        def make(store):
            return lambda rows, affine: model.input_jet(store.spec, _params(store, rows, device), coords,
                                                        affine=affine, chunk_size=chunk)
        what = f"jets of order {model.input_order} (M={m_in}) at {coords.shape[0]} points"
    elif mc.kind == "depthwise_cnn":
        from ..baselines.depthwise_cnn import DepthwiseCNN

        model = DepthwiseCNN(c, len(classes), layers=int(mc.layers), kernel_size=int(mc.kernel_size),
                             width=int(mc.width), pool=int(mc.pool))
        coords = grid_coords(size, device=device)
        per_inr = coords.shape[0] * c * 4

        def make(store):
            def decode(rows, affine):
                p = _params(store, rows, device)
                x = coords if affine is None else (coords @ affine[0].to(coords).transpose(1, 2)
                                                   + affine[1].to(coords).unsqueeze(1))
                with torch.no_grad():
                    img = decode_pixels(siren_forward(store.spec, p, x))  # (n, Q, c)
                return img.transpose(1, 2).reshape(len(rows), c, *size)
            return decode
        what = f"images decoded at {size[0]}x{size[1]}"
    elif mc.kind == "weight_mlp":
        from ..baselines.weight_space import WeightMLP, WeightStandardizer

        if augment:
            raise InspError("augment.* applies to coordinates; model=weight_mlp sees weights only: set them to 0")
        model = WeightMLP(train.spec.num_params, len(classes), hidden=int(mc.hidden), depth=int(mc.depth),
                          dropout=float(mc.dropout))
        standardize = WeightStandardizer(train.params)
        per_inr = train.spec.num_params * 4

        def make(store):
            return lambda rows, affine: standardize(_params(store, rows, device))
        what = f"standardised weight vectors ({train.spec.num_params} numbers)"
    else:
        raise InspError(f"model kind {mc.kind!r} is not a torch classifier")

    total = per_inr * (len(train) + len(test))
    if cache not in ("auto", "true", "false"):
        raise InspError(f"cache_inputs must be auto, true or false, not {cfg.cache_inputs!r}")
    limit = float(cfg.cache_gb) * 2**30
    if cache == "true" and total > limit:
        raise InspError(f"caching the inputs ({what}) of {len(train) + len(test)} INRs needs "
                        f"~{total / 2**30:.2f} GiB, over cache_gb={cfg.cache_gb}; use cache_inputs=auto")
    use_cache = cache == "true" or (cache == "auto" and total <= limit)
    chunk = int(cfg.batch_size)
    # augmented training batches are made fresh, so only the test inputs are worth caching then
    train_in = Inputs(train, make(train), use_cache and not augment, chunk, "train inputs")
    test_in = Inputs(test, make(test), use_cache, chunk, "test inputs")
    desc = {"inputs": what, "cached": use_cache, "cache_gib": round(total / 2**30, 3)}
    model = model.to(device)
    if mc.kind == "insp_convnet":
        forward = lambda x: model(x, coords)  # noqa: E731
        if compile_enabled():
            # fused jet layers, ~1.6x faster forward + backward; one compilation per batch size and grad mode
            forward = torch.compile(forward, dynamic=False)
        return model, forward, train_in, test_in, desc
    return model, model, train_in, test_in, desc


def _orders(order):
    """model.order: one K for every layer, or a list with one K per layer."""
    if isinstance(order, (list, tuple)) or OmegaConf.is_list(order):
        return [int(k) for k in order]
    return int(order)


def _check_memory(cfg: DictConfig, model: InspConvNet, points: int, per_inr: int) -> None:
    batch = int(cfg.batch_size)
    need = model.activation_bytes(batch, points) + per_inr * batch
    limit = float(cfg.max_memory_gb) * 2**30
    if need > limit:
        raise InspError(f"model.layers={len(model.convs)} with orders {list(model.orders)} needs derivatives up to "
                        f"order {model.input_order} (M={jet_space(2, model.input_order).size} per channel): "
                        f"~{need / 2**30:.1f} GiB per batch of {batch} INRs at {points} points, over "
                        f"max_memory_gb={cfg.max_memory_gb}; lower model.order, model.layers, model.width or "
                        f"batch_size")


def _augmenting(cfg: DictConfig) -> bool:
    a = cfg.augment
    return any(float(a[k]) != 0 for k in ("rotation", "zoom", "translate"))


# ----------------------------------------------------------------------------------------------- training

def fingerprint(cfg: DictConfig) -> str:
    """What a checkpoint must agree on to be resumed: everything but bookkeeping and the epoch count."""
    d = OmegaConf.to_container(cfg, resolve=True)
    for k in ("resume", "tracking", "device", "compile", "epochs", "scale"):
        d.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def find_checkpoint(cfg: DictConfig, run_dir: Path) -> Path | None:
    r = cfg.resume
    if r is None or str(r).lower() in ("false", "none", "no"):
        return None
    if str(r).lower() != "auto":
        p = Path(str(r))
        p = p / CHECKPOINT if p.is_dir() else p
        if not p.is_file():
            raise InspError(f"resume={r}: no checkpoint there (expected {p})")
        return p
    # auto: the newest sibling run of the same configuration that did not complete
    fp = fingerprint(cfg)
    for d in sorted(run_dir.parent.glob("*"), reverse=True):
        ck, met = d / CHECKPOINT, d / "metrics.json"
        if d == run_dir or not ck.is_file():
            continue
        try:
            done = met.is_file() and json.loads(met.read_text()).get("status") == "complete"
            state = torch.load(ck, map_location="cpu", weights_only=True)
        except Exception:
            continue
        if not done and state.get("fingerprint") == fp:
            return ck
    return None


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def evaluate(model, forward, inputs: Inputs, labels: np.ndarray, batch: int, device) -> tuple[np.ndarray, float]:
    """Predicted classes (N,) and the mean cross-entropy."""
    model.eval()
    preds, loss = [], 0.0
    with torch.no_grad():
        for s in range(0, len(labels), batch):
            rows = np.arange(s, min(s + batch, len(labels)))
            logits = forward(inputs.batch(rows).to(device))
            y = torch.as_tensor(labels[rows], device=device)
            loss += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            preds.append(logits.argmax(dim=1).cpu().numpy())
    return np.concatenate(preds), loss / len(labels)


def train_torch(cfg: DictConfig, run: Run, model, forward, train_in: Inputs, test_in: Inputs, y_train: np.ndarray,
                y_test: np.ndarray, device) -> tuple[np.ndarray, list[dict], dict]:
    """AdamW on cross-entropy; evaluates on the test store after every epoch. Returns (test predictions,
    history, info)."""
    epochs, batch, seed = int(cfg.epochs), int(cfg.batch_size), int(cfg.seed)
    if epochs < 1 or batch < 1:
        raise InspError(f"epochs and batch_size must be >= 1 (got {epochs}, {batch})")
    steps_per_epoch = math.ceil(len(y_train) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg.lr), weight_decay=float(cfg.weight_decay))
    total = epochs * steps_per_epoch
    if cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    elif cfg.lr_schedule == "constant":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    else:
        raise InspError(f"lr_schedule must be cosine or constant, not {cfg.lr_schedule!r}")
    ck_path = run.dir / CHECKPOINT
    start, history = 0, []
    resume_from = find_checkpoint(cfg, run.dir)
    if resume_from is not None:
        try:
            state = torch.load(resume_from, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
        except Exception as e:
            raise InspError(f"cannot resume from {resume_from}: {type(e).__name__}: {e}".splitlines()[0]) from None
        start, history = int(state["epoch"]), list(state["history"])
        log.info("resumed from %s at epoch %d", resume_from, start)
        print(f"resumed from {resume_from} (epoch {start}/{epochs})")
    elif isinstance(model, InspConvNet):
        rows = np.random.default_rng(seed).permutation(len(y_train))[:batch]
        model.calibrate(train_in.batch(rows).to(device))
    augment = _augmenting(cfg)
    a = cfg.augment
    fp = fingerprint(cfg)
    for epoch in range(start, epochs):
        t0 = time.time()
        model.train()
        # the order and the augmentations of an epoch depend on (seed, epoch) only: a resumed run is the same run
        perm = np.random.default_rng([seed, epoch]).permutation(len(y_train))
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        loss_sum, correct = 0.0, 0
        for b in range(steps_per_epoch):
            rows = perm[b * batch:(b + 1) * batch]
            affine = None
            if augment:
                affine = tuple(t.to(device) for t in random_affines(
                    len(rows), float(a.rotation), float(a.zoom), float(a.translate), generator=gen))
            x = train_in.batch(rows, affine).to(device)
            y = torch.as_tensor(y_train[rows], device=device)
            logits = forward(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                raise InspError(f"the training loss became {float(loss)} at epoch {epoch + 1}; lower lr "
                                f"(now {cfg.lr})", exit_code=3)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(rows)
            correct += int((logits.argmax(1) == y).sum())
            _status(f"epoch {epoch + 1}/{epochs} batch {b + 1}/{steps_per_epoch} loss {loss_sum / ((b * batch) + len(rows)):.3f}")
        preds, test_loss = evaluate(model, forward, test_in, y_test, 2 * batch, device)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / len(y_train), "train_accuracy": correct / len(y_train),
               "test_loss": test_loss, "test_accuracy": float((preds == y_test).mean()),
               "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 2)}
        history.append(row)
        _write_history(run.dir / "history.csv", history)
        run.log(row, step=epoch + 1)
        _save_checkpoint(ck_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "epoch": epoch + 1, "history": history,
                                   "fingerprint": fp})
        msg = (f"epoch {epoch + 1}/{epochs}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | "
               f"test acc {row['test_accuracy']:.4f} ({row['seconds']:.1f} s)")
        log.info(msg)
        if sys.stderr.isatty():
            print("\r" + msg, file=sys.stderr)
    if start >= epochs:  # a finished checkpoint: only the final evaluation is missing
        _write_history(run.dir / "history.csv", history)
    preds, _ = evaluate(model, forward, test_in, y_test, 2 * batch, device)
    info = {"epochs": epochs, "resumed_from": None if resume_from is None else str(resume_from),
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None}
    return preds, history, info


def _write_history(path: Path, history: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- the job

def _classify(cfg: DictConfig, run: Run) -> dict:
    if not isinstance(cfg.get("model"), DictConfig) or cfg.model.get("kind") not in KINDS:
        got = cfg.get("model")
        got = got.get("kind") if isinstance(got, DictConfig) else got
        raise InspError(f"model={got} is not a classifier; choose one of {', '.join(KINDS)} "
                        "(on the command line model=NAME; in Hydra terms classifier=NAME)")
    seed_everything(int(cfg.seed))
    threads_from_env()
    device = pick_device(str(cfg.device))
    jets_compile(cfg)
    t_start = time.time()
    train, test = open_split(cfg, "train"), open_split(cfg, "test")
    check_disjoint(cfg, len(train), len(test))
    classes = check_pair(train, test)
    kind = str(cfg.model.kind)
    src = train.header.source
    log.info("classify %s: %d train / %d test %s INRs (%s), %d classes, %s", kind, len(train), len(test),
             src.get("name"), _arch(train.spec), len(classes), device)

    history, info = [], {}
    if kind == "pca_svm":
        from ..baselines.weight_space import pca_svm

        if _augmenting(cfg):
            raise InspError("augment.* applies to coordinates; model=pca_svm sees weights only: set them to 0")
        t0 = time.time()
        clf = pca_svm(train.params.numpy(), train.labels, components=int(cfg.model.components),
                      c=float(cfg.model.C), seed=int(cfg.seed))
        preds = clf.predict(test.params.numpy())
        train_acc = float((clf.predict(train.params.numpy()) == train.labels).mean())
        info = {"train_accuracy": train_acc, "fit_seconds": round(time.time() - t0, 2)}
    else:
        model, forward, train_in, test_in, desc = build(cfg, train, test, classes, device)
        info.update(desc)
        preds, history, more = train_torch(cfg, run, model, forward, train_in, test_in, train.labels, test.labels,
                                           device)
        info.update(more)
        if history:
            info["train_accuracy"] = history[-1]["train_accuracy"]
            best = max(history, key=lambda h: h["test_accuracy"])
            info["best_test_accuracy"], info["best_epoch"] = best["test_accuracy"], best["epoch"]

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
        "confusion": conf.tolist(), "train_store": _as_list(cfg.train_store), "test_store": _as_list(cfg.test_store),
        "train_rows": _split_rows(cfg, "train", len(train)), "test_rows": _split_rows(cfg, "test", len(test)),
        "inr": _arch(train.spec), "device": str(device), "seconds": round(time.time() - t_start, 2), **info,
    }
    note = _not_a_result(train, test)
    if note:
        metrics["not_a_result"] = note
    print(f"classify {kind} ({src.get('name')}, {len(train)} train / {len(test)} test INRs): "
          f"test accuracy {100 * acc:.2f}%" + (f"  [not a result: {note}]" if note else "")
          + f"\n  run dir {run.dir}")
    return metrics


def _as_list(x) -> list[str]:
    return [str(p) for p in x] if isinstance(x, (list, tuple)) or OmegaConf.is_list(x) else [str(x)]


def _not_a_result(train: INRStore, test: INRStore) -> str | None:
    """Why this accuracy must not be reported as a benchmark number (bundled samples, fixtures), if so."""
    for store in (train, test):
        s = store.header.source
        if s.get("note") or "foolbox" in str(s.get("origin", "")):
            return f"{s.get('name')} {s.get('split')} is a bundled sample ({s.get('note') or s.get('origin')})"
        if s.get("official") is False:
            return f"{s.get('name')} {s.get('split')} is not the official dataset (a CIFAR-format fixture?)"
    return None


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(labels.astype(np.int64) * k + preds.astype(np.int64), minlength=k * k).reshape(k, k)


def save_confusion(conf: np.ndarray, classes: list[str], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * k, 1.0 + 0.5 * k), dpi=100)
    rates = conf / conf.sum(axis=1, keepdims=True).clip(min=1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(conf[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=90 if max(map(len, classes)) > 2 else 0, fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path
