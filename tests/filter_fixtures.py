"""What the filter tests' module fixtures share: noisy image INR stores fitted with `insp fit`, then filters trained
on them with `insp train-filter`, all under one temporary folder (test_filter_ensemble, test_cascade,
test_jet_cnn)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from insp_cli.config import compose
from insp_cli.jobs.fit import run_fit
from insp_cli.jobs.train_filter import run_train_filter

FIT = ["data=images", "data.size=32", "degradation=noise", "model.hidden=32", "fit.steps=60", "samples=0"]
SPLITS = {"train": ["data.split=train", "data.limit=4"], "test": ["data.split=test", "data.limit=2"],
          "other": ["data.split=train", "data.start=4", "data.limit=4"]}


def fit_and_train(d: Path, stores: list[str], train: list[str], filters) -> Path:
    """Fit the stores named (``SPLITS``: 4 train images, 2 test, 4 other train images, 32x32) into d / NAME, then
    train each filter (name, store, extra overrides) with the overrides ``train`` + extra into d / NAME.st, in that
    order (a later filter may name an earlier one's file). Run dirs under d / runs. Returns d."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        for name in stores:
            run_fit(compose("fit", FIT + SPLITS[name] + [f"store={d / name}"]), d / "runs" / f"fit-{name}")
        for name, store, extra in filters:
            run_train_filter(compose("train_filter", train + extra + [f"store={d / store}", f"filter={d / name}.st"]),
                             d / "runs" / f"tf-{name}")
    return d


def randomise(fusion, seed: int, scale: float):
    """A learned Pi (MLP or convolutional; a cascade's first stage untouched) with weights far from the identity (a
    residual Pi starts as one): N(0, scale^2) weights, N(0, 0.01) biases, and non-trivial feature statistics."""
    g = torch.Generator().manual_seed(seed)
    layers = fusion.mlp if hasattr(fusion, "mlp") else fusion.body
    with torch.no_grad():
        for mod in layers:
            if isinstance(mod, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * scale)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
        fusion.scaler.mean.copy_(torch.randn(fusion.scaler.mean.shape, generator=g) * 0.1)
        fusion.scaler.std.copy_(torch.rand(fusion.scaler.std.shape, generator=g) * 1.5 + 0.5)
    return fusion
