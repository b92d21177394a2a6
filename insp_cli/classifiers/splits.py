"""The labelled INR stores a classifier trains and tests on: ranges of rows, and the checks that make a pair."""

from __future__ import annotations

import numpy as np

from insp_cli.errors import InspError
from insp_cli.inr.store import INRStore


def open_split(paths: list[str], limit: int | None, offset: int, what: str) -> INRStore:
    """The labelled INRs ``offset .. offset + limit`` (limit None: to the end) of the store(s) ``paths``;
    what = train | test (for messages). INRs flagged as failed fits are left out (and counted in the message
    when nothing is left)."""
    where = ", ".join(map(str, paths))
    every = INRStore.open(paths, only_ok=False)
    store = every.subset(np.nonzero(every.ok)[0]) if not every.ok.all() else every
    if store.labels is None:
        raise InspError(f"{what} store {where} has no labels; classification needs INRs "
                        "fitted from a labelled dataset (mnist, fashion_mnist, cifar10)")
    if len(store) == 0:
        raise InspError(f"{what} store {where} holds no usable INRs: all {len(every)} are flagged as failed fits "
                        "(ok=0); refit them (docs/fit.md, PSNR floor)")
    if limit is not None and int(limit) < 1:
        raise InspError(f"{what}_limit must be >= 1, got {limit}")
    if offset < 0 or offset >= len(store):
        flagged = f" ({len(every) - len(store)} more are flagged as failed fits)" if len(every) > len(store) else ""
        raise InspError(f"{what}_offset={offset} is outside the {len(store)} usable INRs of {where}{flagged}")
    end = len(store) if limit is None else min(offset + int(limit), len(store))
    if offset or end < len(store):
        store = store.subset(np.arange(offset, end))
    return store


def source_identity(store: INRStore) -> tuple:
    """What makes two stores' source indices comparable: the dataset, its split and where its files came from
    (a folder of photos, a package). Degradation and fit settings do not matter: a noisy and a clean INR of
    one image are the same image for a train/test split."""
    s = store.header.source
    return tuple(str(s.get(k)) for k in ("name", "split", "folder", "origin"))


def check_disjoint(train: INRStore, test: INRStore) -> None:
    """InspError when train and test hold INRs of the same source images, whatever the store paths: the same
    store read twice with overlapping ranges, or two stores fitted from one split (a validation split taken
    from the training data must not share images with the training part)."""
    if source_identity(train) != source_identity(test):
        return
    shared = np.intersect1d(train.indices, test.indices)
    if len(shared):
        s = train.header.source
        raise InspError(f"train and test share {len(shared)} source images of {s.get('name')} {s.get('split')} "
                        f"(indices {', '.join(map(str, shared[:3]))}{', ...' if len(shared) > 3 else ''}); give "
                        "them disjoint ranges with train_offset/train_limit and test_offset/test_limit, or other data")


def check_pair(train: INRStore, test: INRStore) -> list[str]:
    """The class names; InspError unless both stores hold INRs of one architecture, dataset and image size."""
    if train.spec != test.spec:
        raise InspError(f"train and test stores hold different INR architectures ({arch(train.spec)} vs "
                        f"{arch(test.spec)}); fit both with the same model settings")
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


def arch(spec) -> str:
    """One line naming the architecture and its channels: 'SIREN 3x64 omega0 30, 2->1'."""
    from insp_cli.inr.backbones import describe

    return f"{describe(spec)}, {spec.in_features}->{spec.out_features}"


def not_a_result(train: INRStore, test: INRStore) -> str | None:
    """Why this accuracy must not be reported as a benchmark number (bundled samples, fixtures), if so."""
    for store in (train, test):
        s = store.header.source
        if s.get("note") or "foolbox" in str(s.get("origin", "")):
            return f"{s.get('name')} {s.get('split')} is a bundled sample ({s.get('note') or s.get('origin')})"
        if s.get("official") is False:
            return f"{s.get('name')} {s.get('split')} is not the official dataset (a CIFAR-format fixture?)"
    return None
