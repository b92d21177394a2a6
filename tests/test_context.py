"""Context Pi (filters.context): jets at x + o h gathered from a padded grid, for images (and audio's 1-D case)."""

from __future__ import annotations

import math

import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.filters import (
    INSPFilter,
    LearnedFusion,
    PixelSampler,
    augment,
    jet_features,
    pixel_jet,
    pixel_jets,
)
from insp_cli.data.blur import gaussian_filter
from insp_cli.filters.context import (
    axes_coords,
    centre_index,
    context_offsets,
    dihedral,
    dihedral_offsets,
    gather,
    neighbourhood,
    offset_orders,
    offsets_pad,
    offsets_tensor,
    padded_axes,
)
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.jets import grid_spacing, siren_jet
from insp_cli.jets.reference import siren_jet_reference
from insp_cli.training import cosine_factor, train_steps


def _siren(out=3, hidden=24, seed=1, n=1):
    spec = SirenSpec(2, out, hidden, 2)
    return spec, init_params(spec, n, generator=torch.Generator().manual_seed(seed)).double()


def test_neighbourhood_layout_and_bad_reach():
    assert neighbourhood(0, 4, 2) == [(0, 0)]
    nb = neighbourhood(2, 2, 2)
    assert len(nb) == 9 and nb[0] == (-2, -2) and nb[1] == (0, -2) and nb[4] == (0, 0)  # x fastest
    assert [o for (o,) in neighbourhood(3, 1, 1)] == context_offsets(3, 1) == [-3, -2, -1, 0, 1, 2, 3]
    with pytest.raises(InspError, match="multiple"):
        neighbourhood(3, 2, 2)
    with pytest.raises(InspError, match="closed"):
        dihedral_offsets([(0, 0), (1, 0)])
    with pytest.raises(InspError, match="include 0"):
        LearnedFusion(3, 1, offsets=[(1, 0), (-1, 0)])


def test_padded_axes_extend_the_pixel_and_subpixel_grids():
    from insp_cli.filters import subpixel_grid

    size = (5, 7)
    torch.testing.assert_close(axes_coords(padded_axes(size, 0)), grid_coords(size))
    torch.testing.assert_close(axes_coords(padded_axes(size, 0, factor=2)), subpixel_grid(size, 2))
    ax = padded_axes(size, 2, dtype=torch.float64)
    assert [len(a) for a in ax] == [9, 11]
    torch.testing.assert_close(ax[1][:3], torch.tensor([-1 - 2 / 3, -1 - 1 / 3, -1.0], dtype=torch.float64))


# the 5x5 pixels; a dilated 3x3 of step 2 and a 5x5 of step 2 (9x9 span); multi-scale: 3x3 pixels + a step-3 ring
NEIGHBOURHOODS = [(2, 1, 0, 1), (2, 2, 0, 1), (4, 2, 0, 1), (1, 1, 3, 3)]


@pytest.mark.parametrize("reach, step, coarse, coarse_step", NEIGHBOURHOODS)
def test_gathered_context_features_are_the_jets_at_the_neighbours(reach, step, coarse, coarse_step):
    """On a non-square grid: gather from the padded table = nested-autograd jets at x + o h (o in pixels, x first),
    for dilated (step > 1) and multi-scale (fine + coarse) neighbourhoods too."""
    spec, p = _siren()
    size, order = (9, 13), 2
    offsets = neighbourhood(reach, step, 2, coarse, coarse_step)
    pad = offsets_pad(offsets)
    assert pad == max(reach, coarse)
    offs = offsets_tensor(offsets)
    grid = axes_coords(padded_axes(size, pad, dtype=torch.float64))
    tab = jet_features(pixel_jets(spec, p, grid, order, size)).reshape(1, size[0] + 2 * pad, size[1] + 2 * pad, -1)
    pos = torch.tensor([[0, 0], [4, 7], [8, 12], [3, 0]])  # (row, col): corners and borders read beyond [-1, 1]
    got = gather(tab, torch.zeros(4, dtype=torch.long), pos, offs, pad).reshape(4, len(offsets), -1)
    h = torch.tensor(grid_spacing(size), dtype=torch.float64)  # (h_x, h_y)
    centre = torch.stack([-1 + pos[:, 1] * h[0], -1 + pos[:, 0] * h[1]], dim=1)
    for k, o in enumerate(offsets):
        at = centre + h * torch.tensor(o, dtype=torch.float64)
        want = jet_features(pixel_jet(siren_jet_reference(spec, p, at, order), size))[0]
        torch.testing.assert_close(got[:, k], want)
    c = centre_index(offsets)  # and the zero offset is the pixel's own jet
    assert offsets[c] == (0, 0)
    torch.testing.assert_close(got[:, c, 0], 0.5 * siren_forward(spec, p, centre[None])[0, :, 0] + 0.5)


def test_dilated_and_multiscale_neighbourhoods():
    """Step 2 spreads the 7x7 offsets over 13x13 pixels; a coarse square adds only the offsets the fine one lacks,
    after it; coarse 0 is the single square, bit for bit; the coarse offsets may read lower orders."""
    d = neighbourhood(6, 2, 2)
    assert len(d) == 49 and {v for o in d for v in o} == set(range(-6, 7, 2))
    assert neighbourhood(3, 1, 2) == neighbourhood(3, 1, 2, 0, 3)
    assert neighbourhood(2, 1, 1) == neighbourhood(2, 1, 1, 0)
    ms = neighbourhood(3, 1, 2, 6, 3)
    assert ms[:49] == neighbourhood(3, 1, 2) and len(ms) == 65 and len(set(ms)) == 65
    assert all(max(map(abs, o)) == 6 and o[0] % 3 == 0 and o[1] % 3 == 0 for o in ms[49:])
    assert len(neighbourhood(3, 1, 2, 9, 3)) == 49 + 49 - 9 and len(neighbourhood(1, 1, 3, 2, 2)) == 27 + 26
    assert len({tuple(r.tolist()) for r in dihedral_offsets(ms)}) == 8  # closed under flips and turns
    assert offset_orders(3, 1, 2, 2) is None and offset_orders(3, 1, 2, 2, 6, 3) is None
    assert offset_orders(3, 1, 2, 2, 6, 3, 2) is None  # the same order everywhere: nothing to record
    assert offset_orders(3, 1, 2, 2, 6, 3, 0) == [2] * 49 + [0] * 16
    with pytest.raises(InspError, match="coarse_context=5 must be >= 0 and a multiple of fusion.coarse_step=3"):
        neighbourhood(3, 1, 2, 5, 3)
    with pytest.raises(InspError, match="coarse_order=3 must be between 0 and fusion.order=2"):
        offset_orders(3, 1, 2, 2, 6, 3, 3)


def test_lower_orders_at_the_coarse_offsets_drop_exactly_those_features():
    """orders: the MLP reads f, fx, fy (K' = 1) at the coarse offsets and the whole K = 2 jet at the fine ones;
    the dropped derivatives change nothing, the kept ones do; all offsets at K is Pi without orders, bit for bit."""
    offs = neighbourhood(1, 1, 2, 2, 2)  # the 3x3 pixels + the 8 other points of the step-2 3x3 square
    orders = offset_orders(1, 1, 2, 2, 2, 2, 1)
    assert len(offs) == 17 and orders == [2] * 9 + [1] * 8
    torch.manual_seed(0)
    f = LearnedFusion(3, 2, hidden=16, layers=1, residual=True, offsets=offs, orders=orders)
    assert f.mlp[0].in_features == 9 * 3 * 6 + 8 * 3 * 3
    with torch.no_grad():
        f.mlp[-1].weight.normal_()
    x = torch.randn(7, 17 * 3 * 6)
    with torch.no_grad():
        y = f(x)
        high = x.clone().reshape(7, 17, 3, 6)
        high[:, 9:, :, 3:] += 5.0  # the second derivatives at the coarse offsets
        assert torch.equal(f(high.reshape(7, -1)), y)
        low = x.clone().reshape(7, 17, 3, 6)
        low[:, 9:, :, 1] += 5.0  # f_x at the coarse offsets: read
        assert (f(low.reshape(7, -1)) - y).abs().max() > 1e-3
    g = LearnedFusion(3, 2, hidden=16, layers=1, offsets=offs, orders=[2] * 17)
    h = LearnedFusion(3, 2, hidden=16, layers=1, offsets=offs)
    h.load_state_dict(g.state_dict())
    with torch.no_grad():
        h.mlp[-1].weight.normal_()
        g.mlp[-1].weight.copy_(h.mlp[-1].weight)
        assert torch.equal(g(x), h(x))
    with pytest.raises(InspError, match="per-offset orders"):
        LearnedFusion(3, 2, offsets=offs, orders=[2] * 16)


def test_context_zero_reproduces_the_pointwise_features_exactly():
    spec, p = _siren(n=3)
    p = p.float()
    size = (8, 8)
    targets = torch.rand(3, 64, 3)
    old = PixelSampler(spec, p, targets, 2, size)
    new = PixelSampler(spec, p, targets, 2, size, offsets=neighbourhood(0, 4, 2))
    direct = jet_features(pixel_jets(spec, p, grid_coords(size), 2, size)).float()  # (3, 64, 18)
    assert torch.equal(new.cache.reshape(3, 64, 18), direct) and torch.equal(old.cache, new.cache)
    for cache in (True, False):
        if not cache:
            old.cache = new.cache = None
        a = old.sample(100, torch.Generator().manual_seed(5))
        b = new.sample(100, torch.Generator().manual_seed(5))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[0].shape == (100, 18)
        gen = torch.Generator().manual_seed(5)
        img, pix = torch.randint(3, (100,), generator=gen), torch.randint(64, (100,), generator=gen)
        if cache:  # the same draws as before image filters had a context: the rows of the pixels drawn
            assert torch.equal(a[0], direct[img, pix]) and torch.equal(a[1], targets[img, pix])
    f = LearnedFusion(3, 2, hidden=16, layers=1)
    assert f.offsets == [(0, 0)] and f.mlp[0].in_features == 18
    filt = INSPFilter(fusion=f, order=2, units=size)
    torch.testing.assert_close(filt.decode(spec, p, size, clamp=False).reshape(3, 64, 3), f(direct))


def test_context_decode_gathers_what_direct_evaluation_gives_at_1x_and_2x():
    spec, p = _siren(n=2, seed=3)
    p = p.float()
    size = (10, 12)
    torch.manual_seed(0)
    f = LearnedFusion(3, 2, hidden=16, layers=1, residual=False, offsets=neighbourhood(2, 2, 2))
    filt = INSPFilter(fusion=f, order=2, units=size)
    from insp_cli.filters import subpixel_grid

    for factor, coords in ((1, grid_coords(size)), (2, subpixel_grid(size, 2))):
        got = filt.decode(spec, p, size, factor=factor, clamp=False).reshape(2, -1, 3)
        want = filt(spec, p, coords)  # jets computed at each x + o h directly
        torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
    # decoding on another grid (offsets fall between its points) takes the direct path and stays finite
    assert torch.isfinite(filt.decode(spec, p, (7, 7))).all()


@pytest.mark.parametrize("g", range(8))
@pytest.mark.parametrize("reach, step, coarse, coarse_step", NEIGHBOURHOODS)
def test_a_flip_or_turn_of_the_image_permutes_the_context_features(g, reach, step, coarse, coarse_step):
    """Features of Phi' = Phi(A x) at x (jets at x + o h) = ``dihedral`` of Phi's features at A x: dilated and
    multi-scale neighbourhoods too."""
    spec, p = _siren(out=1, seed=2)
    size, order = (16, 16), 3
    offsets = neighbourhood(reach, step, 2, coarse, coarse_step)
    h = torch.tensor(grid_spacing(size), dtype=torch.float64)
    swap, sx, sy = g >= 4, (-1.0) ** (g // 2 % 2), (-1.0) ** (g % 2)
    a = torch.tensor([[0.0, sy], [sx, 0.0]] if swap else [[sx, 0.0], [0.0, sy]], dtype=torch.float64)
    x = torch.tensor([[0.3, -0.2], [-0.7, 0.1]], dtype=torch.float64)

    def feats(at_points, affine=None):
        return torch.cat([jet_features(pixel_jet(siren_jet(spec, p, at_points + h * torch.tensor(o, dtype=h.dtype),
                                                           order, affine=affine), size))[0] for o in offsets], 1)

    turned = feats(x, (a[None], torch.zeros(1, 2, dtype=torch.float64)))
    original = feats(x @ a.T)
    torch.testing.assert_close(dihedral(original, torch.full((2,), g), order, 1, offsets), turned)


def test_augment_moves_every_offsets_channels_with_the_target():
    offsets = neighbourhood(1, 1, 2)
    feats = torch.randn(64, 9, 3, 6)
    feats[:, :, :, 0] = torch.arange(3.0)  # the value of channel k is k at every offset
    fa, ta = augment(feats.reshape(64, -1), torch.arange(3.0).expand(64, 3), 2, torch.Generator().manual_seed(0),
                     offsets)
    fa = fa.reshape(64, 9, 3, 6)
    torch.testing.assert_close(fa[:, :, :, 0], ta[:, None, :].expand(64, 9, 3))
    # the centre stays the centre, and the 8 group elements all occur (the corners go to 4 different places)
    torch.testing.assert_close(fa[:, 4].abs().sum(), feats[:, 4].abs().sum())
    assert len({tuple(r.tolist()) for r in dihedral_offsets(offsets)}) == 8


def _rough_inrs(n: int, side: int = 16):
    """SIRENs at their random init with omega0 = 30: textures that vary at the pixel scale."""
    spec = SirenSpec(2, 1, 32, 2)
    return spec, init_params(spec, n, generator=torch.Generator().manual_seed(7))


def _train(spec, params, targets, size, offsets, steps=300):
    torch.manual_seed(0)
    sampler = PixelSampler(spec, params, targets, 1, size, offsets=offsets)
    fusion = LearnedFusion(1, 1, hidden=64, layers=2, offsets=offsets)
    gen = torch.Generator().manual_seed(0)
    fusion.scaler.fit(sampler.sample(4096, gen)[0], channels=len(fusion.offsets))
    opt = torch.optim.AdamW(fusion.parameters(), lr=3e-3)

    def loss_at(i):
        x, y = sampler.sample(512, gen)
        return (fusion(x) - y).pow(2).mean()

    train_steps(fusion, opt, loss_at, 0, steps, lambda i: 1e-4 + 3e-3 * cosine_factor(i, steps), lambda d: None,
                "test", where=str, hint="")
    return fusion


def test_a_context_pi_learns_the_3x3_gaussian_a_pointwise_pi_cannot():
    """Fig. 6's task on rough INRs: the target is the 3x3 Gaussian of the decoded grid, a function of the 3x3
    neighbourhood. Pi on the 3x3 jets (K = 1) learns it; the paper's pointwise Pi (K = 1) cannot."""
    size = (16, 16)
    spec, params = _rough_inrs(5)
    decoded = (0.5 * siren_forward(spec, params, grid_coords(size)) + 0.5).reshape(5, 16, 16, 1)
    blurred = torch.from_numpy(__import__("numpy").stack([gaussian_filter(d.numpy().astype("float64"), 1.0, 3)
                                                         for d in decoded])).float().reshape(5, 256, 1)
    scores = {}
    for name, offsets in (("pointwise", None), ("3x3", neighbourhood(1, 1, 2))):
        fusion = _train(spec, params[:4], blurred[:4], size, offsets)
        filt = INSPFilter(fusion=fusion, order=1, units=size)
        out = filt.decode(spec, params[4:], size, clamp=False).reshape(1, 256, 1)
        scores[name] = -10 * math.log10(float((out - blurred[4:]).pow(2).mean()))
    assert scores["3x3"] > scores["pointwise"] + 6, scores


def test_context_sampler_without_the_cache_computes_the_same_neighbour_jets():
    """When the padded table does not fit train.feature_cache_gb each batch computes its points' jets at x + o h."""
    spec, p = _siren(n=3, seed=4)
    p = p.float()
    size, offsets = (8, 10), neighbourhood(1, 1, 2)
    targets = torch.rand(3, 80, 3)
    cached = PixelSampler(spec, p, targets, 2, size, offsets=offsets)
    direct = PixelSampler(spec, p, targets, 2, size, offsets=offsets, cache_bytes=0, images_per_batch=3)
    assert cached.cache is not None and direct.cache is None and cached.num_features == 9 * 18
    x, y = direct.sample(30, torch.Generator().manual_seed(2))
    gen = torch.Generator().manual_seed(2)  # the draws of the batch: 3 INRs, 10 pixels each
    img, pix = torch.randint(3, (3,), generator=gen), torch.randint(80, (3, 10), generator=gen)
    img, pix = img[:, None].expand(3, 10).reshape(-1), pix.reshape(-1)
    want = gather(cached.cache, img, torch.stack([pix // 10, pix % 10], 1), offsets_tensor(offsets), 1)
    torch.testing.assert_close(x, want, atol=1e-5, rtol=1e-4)
    assert torch.equal(y, targets[img, pix])
