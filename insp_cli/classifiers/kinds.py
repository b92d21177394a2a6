"""Each torch classifier kind builds its model and its own inputs from a store: ``KINDS[kind](...)``.

A kind returns a ``Classifier``: the model, its forward (inputs -> logits), ``make(store)`` (rows, affine ->
input batch) and what one INR's inputs cost in bytes (so the caller decides whether to cache them). ``Inputs``
serves batches of a store's rows, from a cache when the same rows come back unaugmented every epoch.
``mc`` is the model's settings (conf/classifier/<kind>.yaml: a mapping).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from insp_cli.classifiers.convnet import InspConvNet
from insp_cli.classifiers.depthwise_cnn import DepthwiseCNN
from insp_cli.classifiers.weight_space import WeightMLP, WeightStandardizer
from insp_cli.errors import InspError
from insp_cli.inr.fit import decode_pixels
from insp_cli.inr.backbones import forward
from insp_cli.inr.siren import grid_coords
from insp_cli.inr.store import INRStore
from insp_cli.jets import compile_enabled, grid_spacing, jet_space
from insp_cli.progress import ProgressLog

log = logging.getLogger("insp")

Make = Callable[[np.ndarray, "tuple[torch.Tensor, torch.Tensor] | None"], torch.Tensor]


@dataclass
class Classifier:
    model: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]  # input batch -> logits (N, classes)
    make: Callable[[INRStore], Make]  # a store -> (rows, affine or None) -> input batch
    per_inr: int  # bytes of one INR's inputs
    what: str  # the inputs, in words


def _params(store: INRStore, rows, device) -> torch.Tensor:
    return store.params_at(rows).to(device)  # a compact functa store expands these rows alone


def _orders(order):
    """classifier.order: one K for every layer, or a list with one K per layer."""
    return int(order) if isinstance(order, (int, str)) else [int(k) for k in order]


def insp_convnet(mc, train: INRStore, classes: int, device, batch: int, max_memory_gb: float,
                 augment: bool) -> Classifier:
    """INSP-ConvNet on the INRs' pixel-unit jets at the grid points (or classifier.points per axis)."""
    m, c, size = train.spec.in_features, train.spec.out_features, train.size
    model = InspConvNet(c, classes, grid_spacing(size), layers=int(mc.layers), order=_orders(mc.order),
                        width=int(mc.width), pool=int(mc.pool), activation=str(mc.activation),
                        axis_order=None if mc.get("axis_order") is None else int(mc.axis_order))
    side = size if mc.points is None else (int(mc.points),) * m
    coords = grid_coords(side, device=device)
    m_in = jet_space(m, model.input_order).size
    per_inr = m_in * coords.shape[0] * c * 4
    need = model.activation_bytes(batch, coords.shape[0]) + per_inr * batch
    if need > max_memory_gb * 2**30:
        raise InspError(f"classifier.layers={len(model.convs)} with orders {list(model.orders)} needs derivatives up to "
                        f"order {model.input_order} (M={m_in} per channel): ~{need / 2**30:.1f} GiB per batch of "
                        f"{batch} INRs at {coords.shape[0]} points, over max_memory_gb={max_memory_gb:g}; lower "
                        "classifier.order, classifier.layers, classifier.width or batch_size")
    chunk = None if mc.chunk_size is None else int(mc.chunk_size)
    model = model.to(device)
    forward = lambda x: model(x, coords)  # noqa: E731
    if compile_enabled():
        # fused jet layers, ~1.6x faster forward + backward; one compilation per batch size and grad mode
        forward = torch.compile(forward, dynamic=False)

    def make(store: INRStore) -> Make:
        return lambda rows, affine: model.input_jet(store.spec, _params(store, rows, device), coords, affine=affine,
                                                    chunk_size=chunk)
    return Classifier(model, forward, make, per_inr,
                      f"jets of order {model.input_order} (M={m_in}) at {coords.shape[0]} points")


def depthwise_cnn(mc, train: INRStore, classes: int, device, batch: int, max_memory_gb: float,
                  augment: bool) -> Classifier:
    """The depthwise CNN on images decoded from the INRs (through x -> A x + t when augmented)."""
    c, size = train.spec.out_features, train.size
    model = DepthwiseCNN(c, classes, layers=int(mc.layers), kernel_size=int(mc.kernel_size), width=int(mc.width),
                         pool=int(mc.pool)).to(device)
    coords = grid_coords(size, device=device)

    def make(store: INRStore) -> Make:
        def decode(rows, affine):
            p = _params(store, rows, device)
            x = coords if affine is None else (coords @ affine[0].to(coords).transpose(1, 2)
                                               + affine[1].to(coords).unsqueeze(1))
            with torch.no_grad():
                img = decode_pixels(forward(store.spec, p, x))  # (n, Q, c); any backbone
            return img.transpose(1, 2).reshape(len(rows), c, *size)
        return decode
    return Classifier(model, model, make, coords.shape[0] * c * 4, f"images decoded at {size[0]}x{size[1]}")


def weight_mlp(mc, train: INRStore, classes: int, device, batch: int, max_memory_gb: float,
               augment: bool) -> Classifier:
    """An MLP on the standardised weight vectors."""
    if augment:
        raise InspError("augment.* applies to coordinates; classifier=weight_mlp sees weights only: set them to 0")
    p = train.spec.num_params
    model = WeightMLP(p, classes, hidden=int(mc.hidden), depth=int(mc.depth), dropout=float(mc.dropout)).to(device)
    standardize = WeightStandardizer(train.params)

    def make(store: INRStore) -> Make:
        return lambda rows, affine: standardize(_params(store, rows, device))
    return Classifier(model, model, make, p * 4, f"standardised weight vectors ({p} numbers)")


def functa_mlp(mc, train: INRStore, classes: int, device, batch: int, max_memory_gb: float,
               augment: bool) -> Classifier:
    """The functa paper's classifier: an MLP on the standardised latents of a functa store (``insp fit
    fit.init=FUNCTA fit.mode=functa``; docs/meta.md)."""
    if augment:
        raise InspError("augment.* applies to coordinates; classifier=functa_mlp sees latents only: set them to 0")

    def latents(store: INRStore) -> torch.Tensor:
        if store.latents is None:
            raise InspError(f"classifier=functa_mlp needs functa stores (insp fit fit.init=FUNCTA fit.mode=functa); "
                            f"{store.paths[0].parent} holds no latents")
        return torch.from_numpy(np.ascontiguousarray(store.latents))

    d = latents(train).shape[1]
    model = WeightMLP(d, classes, hidden=int(mc.hidden), depth=int(mc.depth), dropout=float(mc.dropout),
                      noise=float(mc.get("noise") or 0)).to(device)
    standardize = WeightStandardizer(latents(train))

    def make(store: INRStore) -> Make:
        z = latents(store)
        return lambda rows, affine: standardize(z[torch.as_tensor(np.asarray(rows))].to(device))
    return Classifier(model, model, make, d * 4, f"standardised functa latents ({d} numbers)")


KINDS = {"insp_convnet": insp_convnet, "depthwise_cnn": depthwise_cnn, "weight_mlp": weight_mlp,
         "functa_mlp": functa_mlp}


class Inputs:
    """What a torch classifier sees for rows of a store: ``batch(rows, affine) -> tensor``; cached when the
    same rows come back unaugmented every epoch."""

    def __init__(self, store: INRStore, make: Make, cache: bool, chunk: int, label: str):
        self.store, self.make, self.cached = store, make, None
        if cache:
            t0 = time.time()
            parts = []
            with ProgressLog("classify", len(store), "INR",  # a large store's jets take minutes
                             where=f"caching {label} 0/{len(store)} INRs") as progress:
                for s in range(0, len(store), chunk):
                    parts.append(make(np.arange(s, min(s + chunk, len(store))), None))
                    k = min(s + chunk, len(store))
                    progress.update(k, f"caching {label} {k}/{len(store)} INRs")
            self.cached = torch.cat(parts)
            self.seconds = time.time() - t0
            log.info("%s: cached %s in %.1f s", label, tuple(self.cached.shape), self.seconds)

    def batch(self, rows: np.ndarray, affine=None) -> torch.Tensor:
        if affine is None and self.cached is not None:
            return self.cached[torch.as_tensor(rows)]
        return self.make(rows, affine)


def inputs(clf: Classifier, train: INRStore, test: INRStore, cache: str, cache_gb: float, batch: int,
           augment: bool) -> tuple[Inputs, Inputs, dict]:
    """(train inputs, test inputs, a description) with the cache policy ``cache`` = auto | true | false:
    auto caches when all inputs fit in cache_gb GiB."""
    total = clf.per_inr * (len(train) + len(test))
    limit = cache_gb * 2**30
    if cache == "true" and total > limit:
        raise InspError(f"caching the inputs ({clf.what}) of {len(train) + len(test)} INRs needs "
                        f"~{total / 2**30:.2f} GiB, over cache_gb={cache_gb:g}; use cache_inputs=auto")
    use_cache = cache == "true" or (cache == "auto" and total <= limit)
    # augmented training batches are made fresh, so only the test inputs are worth caching then
    train_in = Inputs(train, clf.make(train), use_cache and not augment, batch, "train inputs")
    test_in = Inputs(test, clf.make(test), use_cache, batch, "test inputs")
    return train_in, test_in, {"inputs": clf.what, "cached": use_cache, "cache_gib": round(total / 2**30, 3)}
