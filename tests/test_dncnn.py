"""The DnCNN pixel twin of a denoising Pi (filters/baselines/dncnn.py): its parameter budget, its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.filters.baselines.dncnn import (DnCNN, TwinTraining, apply_twin, dncnn_for_budget, dncnn_parameters,
                                              parameter_count, train_twin)
from insp_cli.filters.context import neighbourhood
from insp_cli.filters.insp_net import LearnedFusion
from insp_cli.filters.jet_cnn import turn_image


@pytest.mark.parametrize("order,reach,hidden,layers,depth", [
    (2, 2, 256, 4, 17),  # the recipe's context Pi (5x5 jets of order 2), 314k parameters
    (4, 0, 256, 4, 17),  # the paper's pointwise Pi
    (2, 3, 512, 6, 17),  # a bigger Pi
    (2, 1, 32, 2, 5),    # a tiny one
    (2, 2, 256, 4, 5),   # the recipe's Pi and the default twin.depth: 5 layers x 107, 315,332 parameters
])
def test_the_twin_has_pis_parameter_budget_within_ten_percent(order, reach, hidden, layers, depth):
    pi = LearnedFusion(channels=3, order=order, m=2, hidden=hidden, layers=layers,
                       offsets=neighbourhood(reach, 1, 2))
    budget = parameter_count(pi)
    twin = dncnn_for_budget(3, budget, depth)
    assert twin.depth == depth and parameter_count(twin) == dncnn_parameters(3, twin.width, depth)
    assert abs(parameter_count(twin) - budget) <= 0.1 * budget, (parameter_count(twin), budget)
    # the closest width: one channel more or less is further from the budget
    for w in (twin.width - 1, twin.width + 1):
        if w >= 1:
            assert abs(dncnn_parameters(3, w, depth) - budget) >= abs(parameter_count(twin) - budget)
    if (order, reach, hidden, layers, depth) == (2, 2, 256, 4, 17):
        assert budget == 313_603 and twin.width == 48
    if (order, reach, hidden, layers, depth) == (2, 2, 256, 4, 5):
        assert parameter_count(twin) == 315_332 and twin.width == 107


def test_a_budget_below_the_smallest_dncnn_is_refused():
    with pytest.raises(InspError, match="below the smallest DnCNN"):
        dncnn_for_budget(3, 10, 17)


def test_an_untrained_twin_is_the_identity():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(DnCNN(3, 8, 4)(x), x)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((a.astype(np.float64) - b) ** 2)))


def _smooth_images(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth random RGB images (sums of a few low-frequency cosines) in [0, 1]: (n, size, size, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3))
    for i in range(n):
        for c in range(3):
            f = sum(rng.uniform(0.1, 0.3) * np.cos(2 * np.pi * (rng.integers(0, 3) * x + rng.integers(0, 3) * y)
                                                    + rng.uniform(0, 6)) for _ in range(3))
            out[i, ..., c] = f
    out -= out.min(axis=(1, 2), keepdims=True)
    return (0.1 + 0.8 * out / out.max(axis=(1, 2), keepdims=True)).astype(np.float32)


def test_the_twin_trains_above_the_noisy_input_on_held_out_images():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    clean = _smooth_images(10, 32, seed=1)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    train, test = slice(0, 8), slice(8, 10)
    torch.manual_seed(0)  # the initial weights (eval seeds torch once per run: seed_everything)
    model = dncnn_for_budget(3, 6000, depth=5)  # the default twin.depth
    t = TwinTraining(steps=150, pixels=1024, lr=3e-3, lr_final=1e-4, weight_decay=0.0, augment=True, seed=0,
                     patch=16)
    train_psnr = train_twin(model, noisy[train], clean[train], t)
    out = apply_twin(model, noisy[test])
    assert out.shape == noisy[test].shape and out.min() >= 0 and out.max() <= 1
    before = float(np.mean([psnr(noisy[i], clean[i]) for i in range(8, 10)]))
    after = float(np.mean([psnr(out[i - 8], clean[i]) for i in range(8, 10)]))
    assert after > before + 3.0, (before, after)
    assert train_psnr > before + 3.0
    # the same seeds give the same twin
    torch.manual_seed(0)
    again = dncnn_for_budget(3, 6000, depth=5)
    train_twin(again, noisy[train], clean[train], t)
    assert np.array_equal(apply_twin(again, noisy[test]), out)


@pytest.mark.parametrize("count", [8, 48])
def test_the_twins_self_ensemble_is_equivariant(count):
    """apply_twin's mean over the 8 flips / turns (and 6 colour permutations) commutes with them: the twin's
    output on a turned image is its output turned (``jet_cnn.turn_image``); one view does not."""
    torch.manual_seed(0)
    model = DnCNN(3, 8, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    image = np.random.default_rng(0).random((1, 12, 12, 3)).astype(np.float32) * 0.5 + 0.25
    out = apply_twin(model, image, ensemble=count)
    for g in (1, 5, 6):
        turned = turn_image(torch.from_numpy(image), g).numpy()
        want = turn_image(torch.from_numpy(out), g).numpy()
        np.testing.assert_allclose(apply_twin(model, turned, ensemble=count), want, atol=1e-5)
    if count == 48:
        perm = [2, 0, 1]
        np.testing.assert_allclose(apply_twin(model, image[..., perm], ensemble=48), out[..., perm], atol=1e-5)
    one = apply_twin(model, image)
    assert np.abs(apply_twin(model, turn_image(torch.from_numpy(image), 5).numpy())
                  - turn_image(torch.from_numpy(one), 5).numpy()).max() > 1e-3
