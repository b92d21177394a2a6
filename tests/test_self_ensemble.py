"""Test-time self-ensemble (issue 27): Pi on the turned / colour-permuted jets of an INR equals Pi on the INR whose
coordinates (first-layer weights) or outputs (last-layer rows) were turned / permuted; ensemble 1 is Pi alone,
bit for bit; the pixel twin's ensemble is equivariant under the same flips, turns and permutations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.filters import INSPFilter, LearnedFusion, jet_features, pixel_jets
from insp_cli.filters.baselines.dncnn import DnCNN, apply_twin
from insp_cli.filters.context import (axes_coords, dihedral, gather, neighbourhood, offset_orders, offsets_tensor,
                                      padded_axes)
from insp_cli.filters.insp_net import self_ensemble
from insp_cli.inr.siren import SirenSpec, init_params, layout_views

SIZE = (12, 12)


def _group(g: int) -> tuple[bool, float, float]:
    """(swap, s_x, s_y) of element g, ``dihedral_tables`` order."""
    return g >= 4, (-1.0) ** (g // 2 % 2), (-1.0) ** (g % 2)


def _setup(seed=0, hidden=16, offsets=None, orders=None):
    torch.manual_seed(seed)
    spec = SirenSpec(2, 3, 24, 2)
    p = init_params(spec, 1, generator=torch.Generator().manual_seed(seed))
    fusion = LearnedFusion(3, 2, hidden=hidden, layers=2, offsets=offsets or neighbourhood(1, 1, 2), orders=orders)
    with torch.no_grad():  # a Pi that is far from the identity and from any symmetry
        for mod in fusion.mlp:
            if isinstance(mod, torch.nn.Linear):
                torch.nn.init.normal_(mod.weight, std=0.3)
                torch.nn.init.normal_(mod.bias, std=0.1)
        fusion.scaler.mean.normal_(0, 0.1)
        fusion.scaler.std.uniform_(0.5, 2.0)
    return spec, p, fusion


def _transformed(spec, p, g: int, perm=(0, 1, 2)) -> torch.Tensor:
    """Params of Phi'(x) = P Phi(A_g x): first-layer weights W0 A_g, last layer's rows permuted by perm."""
    swap, sx, sy = _group(g)
    a = torch.tensor([[0.0, sy], [sx, 0.0]] if swap else [[sx, 0.0], [0.0, sy]])
    q = p.clone()
    views = layout_views(spec, q)
    views["W0"].copy_(views["W0"] @ a)
    last = spec.depth
    for name in (f"W{last}", f"b{last}"):
        views[name].copy_(views[name][:, list(perm)])
    return q


def _back(img: torch.Tensor, g: int, perm=(0, 1, 2)) -> torch.Tensor:
    """Image (1, H, W, c) of Phi' = P Phi(A_g x) -> the image on Phi's own pixels and channels:
    J(p) = I(A_g^-1 p), channel perm[k] from channel k."""
    swap, sx, sy = _group(g)
    if swap:
        img = img.transpose(1, 2)
        dims = [d for d, s in ((1, sx), (2, sy)) if s < 0]
    else:
        dims = [d for d, s in ((2, sx), (1, sy)) if s < 0]
    img = img.flip(dims) if dims else img
    inv = [list(perm).index(k) for k in range(len(perm))]
    return img[..., inv]


class _Turned(torch.nn.Module):
    """Pi reading the features as ``dihedral`` turns them by g (a filter whose Pi sees the turned jets)."""

    def __init__(self, fusion: LearnedFusion, g: int):
        super().__init__()
        self.fusion, self.g = fusion, g
        self.offsets, self.channels, self.pad = fusion.offsets, fusion.channels, fusion.pad

    def forward(self, f):
        g = torch.full((f.shape[0],), self.g, dtype=torch.long)
        return self.fusion(dihedral(f, g, 2, self.channels, self.offsets))


@pytest.mark.parametrize("g", range(8))
def test_pi_on_the_turned_jets_is_pi_on_the_inr_with_turned_coordinates(g):
    spec, p, fusion = _setup()
    got = INSPFilter(_Turned(fusion, g), 2, SIZE).decode(spec, p, SIZE, clamp=False)
    want = _back(INSPFilter(fusion, 2, SIZE).decode(spec, _transformed(spec, p, g), SIZE, clamp=False), g)
    assert got.abs().max() > 0.1
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    if g:  # a real change: Pi is not symmetric, so the turned view differs from Pi alone
        plain = INSPFilter(fusion, 2, SIZE).decode(spec, p, SIZE, clamp=False)
        assert (got - plain).abs().max() > 1e-2


@pytest.mark.parametrize("count", [8, 48])
def test_self_ensemble_is_the_mean_of_pi_on_the_turned_and_permuted_inrs(count):
    spec, p, fusion = _setup(seed=1)
    got = INSPFilter(fusion, 2, SIZE, ensemble=count).decode(spec, p, SIZE, clamp=False)
    perms = list(itertools.permutations(range(3))) if count == 48 else [(0, 1, 2)]
    plain = INSPFilter(fusion, 2, SIZE)
    want = torch.stack([_back(plain.decode(spec, _transformed(spec, p, g, perm), SIZE, clamp=False), g, perm)
                        for g in range(8) for perm in perms]).mean(0)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    assert (got - plain.decode(spec, p, SIZE, clamp=False)).abs().max() > 1e-2
    # the ensembled filter is equivariant: on a turned INR it gives the turned image
    turned = INSPFilter(fusion, 2, SIZE, ensemble=count).decode(spec, _transformed(spec, p, 5), SIZE, clamp=False)
    torch.testing.assert_close(_back(turned, 5), got, atol=2e-5, rtol=1e-4)
    # the direct path (jets at each x + o h, any grid) takes the same ensemble
    coords = axes_coords(padded_axes(SIZE, 0))
    torch.testing.assert_close(INSPFilter(fusion, 2, SIZE, ensemble=count)(spec, p, coords),
                               got.reshape(1, -1, 3), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("offsets, orders", [
    (neighbourhood(2, 2, 2), None),  # dilated: 3x3 points of step 2
    (neighbourhood(1, 1, 2, 2, 2), offset_orders(1, 1, 2, 2, 2, 2, 0)),  # 3x3 pixels + step-2 ring, values only
])
def test_dilated_and_multiscale_self_ensemble_is_equivariant(offsets, orders):
    """The 8-view ensemble of a dilated or multi-scale Pi (lower orders at the coarse offsets) is the mean of Pi
    on the turned INRs and gives the turned image on a turned INR."""
    spec, p, fusion = _setup(seed=3, offsets=offsets, orders=orders)
    assert fusion.pad == 2
    got = INSPFilter(fusion, 2, SIZE, ensemble=8).decode(spec, p, SIZE, clamp=False)
    plain = INSPFilter(fusion, 2, SIZE)
    want = torch.stack([_back(plain.decode(spec, _transformed(spec, p, g), SIZE, clamp=False), g)
                        for g in range(8)]).mean(0)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    assert (got - plain.decode(spec, p, SIZE, clamp=False)).abs().max() > 1e-2
    for g in (3, 6):
        turned = INSPFilter(fusion, 2, SIZE, ensemble=8).decode(spec, _transformed(spec, p, g), SIZE, clamp=False)
        torch.testing.assert_close(_back(turned, g), got, atol=2e-5, rtol=1e-4)


def test_ensemble_of_one_is_pi_alone_bit_for_bit():
    spec, p, fusion = _setup(seed=2)
    got = INSPFilter(fusion, 2, SIZE, ensemble=1).decode(spec, p, SIZE, clamp=False)
    # the decode path as written before the ensemble: jets on the padded grid, gathered, Pi
    axes = padded_axes(SIZE, fusion.pad)
    table = jet_features(pixel_jets(spec, p, axes_coords(axes), 2, SIZE)).reshape(1, *[len(a) for a in axes], -1)
    pos = torch.cartesian_prod(*[torch.arange(s) for s in SIZE])
    with torch.no_grad():
        want = fusion(gather(table, torch.zeros(len(pos), dtype=torch.long), pos, offsets_tensor(fusion.offsets),
                             fusion.pad))
    assert torch.equal(got.reshape(-1, 3), want)
    f = torch.randn(5, 9 * 3 * 6)
    with torch.no_grad():
        assert torch.equal(self_ensemble(fusion, f, 2, 3, fusion.offsets, 1), fusion(f))


def test_bad_ensemble_sizes_are_refused():
    _, _, fusion = _setup()
    f = torch.randn(4, 9 * 3 * 6)
    with pytest.raises(InspError, match="choose one of 1, 8, 48"):
        self_ensemble(fusion, f, 2, 3, fusion.offsets, 6)
    grey = LearnedFusion(1, 2, hidden=8, layers=1)
    with pytest.raises(InspError, match="3 colour channels"):
        self_ensemble(grey, torch.randn(4, 6), 2, 1, grey.offsets, 48)
    model = DnCNN(1, 8, 3)
    with pytest.raises(InspError, match="3 colour channels"):
        apply_twin(model, np.zeros((1, 8, 8, 1), np.float32), ensemble=48)
    with pytest.raises(InspError, match="choose one of"):
        apply_twin(model, np.zeros((1, 8, 8, 1), np.float32), ensemble=2)


@pytest.mark.parametrize("count", [8, 48])
def test_the_twins_ensemble_is_equivariant_and_not_the_twin_alone(count):
    torch.manual_seed(0)
    model = DnCNN(3, 8, 3)
    with torch.no_grad():
        for prm in model.parameters():
            prm.normal_(0, 0.3)
    x = np.random.default_rng(0).uniform(0.3, 0.7, (2, 10, 10, 3)).astype(np.float32)
    alone = apply_twin(model, x)
    with torch.no_grad():
        direct = model(torch.from_numpy(x).permute(0, 3, 1, 2)).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(alone, direct)
    ens = apply_twin(model, x, ensemble=count)
    assert np.abs(ens - alone).max() > 1e-2
    turned = np.ascontiguousarray(np.flip(x.transpose(0, 2, 1, 3), 1))  # a quarter turn
    np.testing.assert_allclose(apply_twin(model, turned, ensemble=count),
                               np.flip(ens.transpose(0, 2, 1, 3), 1), atol=1e-5)
    if count == 48:
        swapped = np.ascontiguousarray(x[..., [2, 0, 1]])
        np.testing.assert_allclose(apply_twin(model, swapped, ensemble=48), ens[..., [2, 0, 1]], atol=1e-5)
