"""The labelled INR stores a classifier trains and tests on: ranges of rows, and the checks that make a pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from insp_cli.errors import InspError
from insp_cli.inr.store import INRStore


def open_split(paths: list[str], limit: int | None, offset: int, what: str) -> INRStore:
    """The labelled INRs ``offset .. offset + limit`` (limit None: to the end) of the store(s) ``paths``;
    what = train | test (for messages)."""
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


def check_disjoint(train_paths: list[str], test_paths: list[str], train_rows: list[int], test_rows: list[int]
                   ) -> None:
    """InspError when train and test read the same store(s) and their row ranges [first, last + 1] overlap (a
    validation split taken from the training store must not share INRs with the training part)."""
    def norm(paths):
        return [str(Path(x).resolve()) for x in paths]

    if norm(train_paths) != norm(test_paths):
        return
    (a0, a1), (b0, b1) = train_rows, test_rows
    lo, hi = max(a0, b0), min(a1, b1)
    if lo < hi:
        raise InspError(f"train and test read the same store and share INRs {lo}..{hi - 1}; give them disjoint "
                        "ranges with train_offset/train_limit and test_offset/test_limit")


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
    return f"SIREN {spec.in_features}->{spec.out_features}, {spec.depth}x{spec.hidden}, omega0 {spec.omega0:g}"


def not_a_result(train: INRStore, test: INRStore) -> str | None:
    """Why this accuracy must not be reported as a benchmark number (bundled samples, fixtures), if so."""
    for store in (train, test):
        s = store.header.source
        if s.get("note") or "foolbox" in str(s.get("origin", "")):
            return f"{s.get('name')} {s.get('split')} is a bundled sample ({s.get('note') or s.get('origin')})"
        if s.get("official") is False:
            return f"{s.get('name')} {s.get('split')} is not the official dataset (a CIFAR-format fixture?)"
    return None
