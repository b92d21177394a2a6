"""INSP-Net math: pixel units, hand-made fusions, a learned Pi, decoding at other resolutions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data, transform

from insp_cli.filters.baselines.images import gaussian_filter, sobel
from insp_cli.errors import InspError
from insp_cli.filters import (HANDMADE, FeatureScaler, INSPFilter, LearnedFusion, PixelSampler, box_downsample,
                              augment, dihedral_tables, gradient_magnitude, jet_features, pixel_jets,
                              subpixel_grid)
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.jets import grid_spacing

SIDE = 32


@pytest.fixture(scope="module")
def fitted():
    """Four SIRENs (3x48) fitted to real photos resized to 32x32: (spec, params (4, P), images (4, 32, 32, 3))."""
    torch.manual_seed(0)
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    imgs = np.stack([transform.resize(p, (SIDE, SIDE), anti_aliasing=True) for p in photos])
    imgs = imgs.astype(np.float32)
    spec = SirenSpec(in_features=2, out_features=3, hidden=48, depth=3)
    res = fit_inrs(spec, torch.from_numpy(imgs).reshape(4, -1, 3), grid_coords(SIDE),
                   FitSettings(steps=200, lr=2e-3, lr_final=1e-4), seed=0)
    assert float(res.psnr.min()) > 28  # the INRs hold the images
    return spec, res.params, imgs


def test_pixel_units_match_finite_differences():
    spec = SirenSpec(2, 3, 32, 3)
    p = init_params(spec, 2, generator=torch.Generator().manual_seed(0)).double()
    x = torch.tensor([[0.1, -0.3], [0.5, 0.2], [-0.7, 0.9]], dtype=torch.float64)
    size = (40, 64)  # H, W: x steps are 2/63, y steps 2/39
    pj = pixel_jets(spec, p, x, 2, size)
    f = lambda c: 0.5 * siren_forward(spec, p, c) + 0.5  # noqa: E731
    e, hx, hy = 1e-4, 2 / 63, 2 / 39
    dx, dy = torch.tensor([e, 0.0], dtype=torch.float64), torch.tensor([0.0, e], dtype=torch.float64)
    torch.testing.assert_close(pj[:, 0], f(x), atol=1e-12, rtol=0)
    torch.testing.assert_close(pj[:, 1], (f(x + dx) - f(x - dx)) / (2 * e) * hx, atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(pj[:, 2], (f(x + dy) - f(x - dy)) / (2 * e) * hy, atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(pj[:, 5], (f(x + dy) - 2 * f(x) + f(x - dy)) / e**2 * hy**2, atol=1e-6, rtol=1e-3)
    torch.testing.assert_close(pj[:, 4], (f(x + dx + dy) - f(x + dx - dy) - f(x - dx + dy) + f(x - dx - dy))
                               / (4 * e * e) * hx * hy, atol=1e-6, rtol=1e-3)
    assert grid_spacing(size) == pytest.approx([hx, hy])
    with pytest.raises(InspError):
        grid_spacing((1, 5))


def test_scaler_standardises_and_residual_fusion_starts_as_identity():
    feats = torch.randn(5000, 18, dtype=torch.float64) * torch.logspace(-3, 6, 18, dtype=torch.float64) + 3.0
    sc = FeatureScaler(18).fit(feats, channels=3)
    z = sc(feats.float())
    assert z.mean(0).abs().max() < 1e-3 and (z.std(0) - 1).abs().max() < 1e-3
    fusion = LearnedFusion(channels=3, order=2)  # M = 6 per channel, features channel-major
    x = torch.randn(7, 18)
    torch.testing.assert_close(fusion(x), x[:, ::6])


def test_edges_gradient_magnitude_tracks_finite_differences(fitted):
    """|grad| of the INR vs central differences of its decoding: nearly equal on a 4x finer decoding (the
    derivative is right); at 1x still correlated, but less (a 2-pixel difference quotient sees the mean slope
    between pixels, the INR's derivative the slope at the centre, and a SIREN wiggles between samples)."""
    spec, params, _ = fitted
    filt = INSPFilter(fusion=gradient_magnitude, order=1, units=(SIDE, SIDE))
    luma = torch.tensor([0.2125, 0.7154, 0.0721])
    corr = {}
    for s in (4, 1):
        side = SIDE * s
        edges = filt.decode(spec, params, side).numpy()[..., 0]
        lum = ((0.5 * siren_forward(spec, params, grid_coords(side)) + 0.5) @ luma).reshape(-1, side, side).numpy()
        corr[s] = []
        for i in range(len(params)):
            gy, gx = np.gradient(lum[i] * (side - 1) / (SIDE - 1))  # per fitted pixel, as the INSP units
            fd = np.clip(math.sqrt(2) * np.hypot(gx, gy), 0, 1)
            corr[s].append(np.corrcoef(edges[i][2:-2, 2:-2].ravel(), fd[2:-2, 2:-2].ravel())[0, 1])
    img = (0.5 * siren_forward(spec, params, grid_coords(SIDE)) + 0.5).clamp(0, 1).reshape(-1, SIDE, SIDE, 3)
    corr["sobel"] = [np.corrcoef(edges[i].ravel(), sobel(img[i].numpy()).ravel())[0, 1] for i in range(len(params))]
    assert min(corr[4]) > 0.97 and np.mean(corr[1]) > 0.4 and np.mean(corr["sobel"]) > 0.4, corr


def test_laplacian_and_unsharp_are_consistent(fitted):
    spec, params, _ = fitted
    coords = grid_coords(SIDE)[:100]
    pj = pixel_jets(spec, params, coords, 2, (SIDE, SIDE))
    lap = HANDMADE["laplacian"][0](pj)
    torch.testing.assert_close(HANDMADE["unsharp"][0](pj, 0.3), pj[:, 0] - 0.3 * lap)
    assert lap.shape == (len(params), 100, 3)


def test_learned_pi_reproduces_a_blur_better_than_identity(fitted):
    """Theorem 2 in practice: a Gaussian blur is (nearly) a linear combination of derivatives."""
    spec, params, imgs = fitted
    target = np.stack([gaussian_filter(im, 1.0, 3) for im in imgs])
    tg = torch.from_numpy(target).reshape(4, -1, 3)
    torch.manual_seed(0)
    fusion = LearnedFusion(channels=3, order=2, hidden=64, layers=2)
    sampler = PixelSampler(spec, params, tg, 2, (SIDE, SIDE))
    gen = torch.Generator().manual_seed(0)
    fusion.scaler.fit(sampler.sample(4096, gen)[0], channels=3)
    opt = torch.optim.AdamW(fusion.parameters(), lr=3e-3)
    for _ in range(300):
        x, y = sampler.sample(1024, gen)
        loss = (fusion(x) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    filt = INSPFilter(fusion=fusion.eval(), order=2, units=(SIDE, SIDE))
    psi = filt.decode(spec, params, SIDE).numpy()
    ident = INSPFilter(fusion=lambda pj: pj[:, 0], order=0, units=(SIDE, SIDE)).decode(spec, params, SIDE).numpy()

    def db(a):
        return -10 * np.log10(np.mean((a - target) ** 2))

    assert db(psi) > db(ident) + 3.0, (db(psi), db(ident))
    # the same sampler without the feature cache draws the same kind of batch
    lazy = PixelSampler(spec, params, tg, 2, (SIDE, SIDE), cache_bytes=0, images_per_batch=2)
    assert lazy.cache is None and sampler.cache is not None
    x, y = lazy.sample(100, gen)
    assert x.shape == (100, 18) and y.shape == (100, 3)
    with torch.no_grad():
        assert -10 * math.log10(float((fusion(x) - y).pow(2).mean())) > db(ident)


def test_psi_decodes_at_any_resolution(fitted):
    spec, params, _ = fitted
    fusion = LearnedFusion(channels=3, order=2, hidden=16, layers=1)
    torch.nn.init.normal_(fusion.mlp[-1].weight, std=0.01)  # not the identity
    filt = INSPFilter(fusion=fusion.eval(), order=2, units=(SIDE, SIDE))
    one = filt.decode(spec, params, SIDE)
    two = box_downsample(filt.decode(spec, params, SIDE, factor=2), 2)
    assert filt.decode(spec, params, (48, 40)).shape == (4, 48, 40, 3)
    mse = float((one - two).pow(2).mean())
    assert -10 * math.log10(mse) > 30  # Psi is one smooth function: pixel-area averages ~ centre values
    g = subpixel_grid((3, 5), 2)  # each 2x2 block averages to the 1x pixel centre
    block = g.reshape(6, 10, 2).reshape(3, 2, 5, 2, 2).mean(dim=(1, 3))
    torch.testing.assert_close(block.reshape(-1, 2), grid_coords((3, 5)))
    assert jet_features(torch.zeros(2, 6, 5, 3)).shape == (2, 5, 18)


def test_dihedral_augmentation_is_the_jet_of_the_flipped_inr():
    """Table entry (swap, s_x, s_y) = the jet of x -> Phi(A x) with A = diag(s_x, s_y) or [[0, s_y], [s_x, 0]]."""
    from insp_cli.jets import siren_jet

    spec = SirenSpec(2, 1, 16, 2)
    p = init_params(spec, 1, generator=torch.Generator().manual_seed(1)).double()
    x = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    index, sign = dihedral_tables(3)
    k = 0
    for swap in (False, True):
        for sx in (1.0, -1.0):
            for sy in (1.0, -1.0):
                a = torch.tensor([[0.0, sy], [sx, 0.0]] if swap else [[sx, 0.0], [0.0, sy]], dtype=torch.float64)
                want = siren_jet(spec, p, x, 3, affine=(a[None], torch.zeros(1, 2, dtype=torch.float64)))[0, :, 0, 0]
                at = siren_jet(spec, p, x @ a.T, 3)[0, :, 0, 0]
                torch.testing.assert_close(sign[k].double() * at[index[k]], want)
                k += 1
    # a channel permutation moves a channel's jet together with its target; values (order 0) never flip sign
    feats = torch.randn(50, 3, 10)
    feats[:, :, 0] = torch.arange(3.0)
    fa, ta = augment(feats.reshape(50, 30), torch.arange(3.0).expand(50, 3), 3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(fa.view(50, 3, 10)[:, :, 0], ta)
    assert len({tuple(t.tolist()) for t in ta}) == 6  # all six permutations occur

@pytest.mark.parametrize("kind", ["images_pointwise_v0", "images_context", "audio", "shapes"])
def test_old_filter_files_of_every_kind_load_as_one_inspfilter(tmp_path, kind):
    """Filter files written before Pi was one class (the audio Pi was ``AudioFusion``: features -> (B,) amplitudes;
    image filters before contexts had no offsets) load as an ``INSPFilter`` whose Pi computes what the old one did:
    mlp(scaler(x)) + the centre's value."""
    from insp_cli.filters.checkpoint import load_filter, save_filter
    from insp_cli.filters.context import centre_index
    from insp_cli.filters.insp_net import fusion_mlp
    from insp_cli.jets import jet_space

    order, hidden, layers = 2, 8, 2
    metas = {  # the recorded metadata of each kind (fields as train-filter wrote them)
        "images_pointwise_v0": dict(channels=3, units=[16, 16], offsets=None, m=2),
        "images_context": dict(channels=3, units=[16, 16], offsets=[[-1, 0], [0, 0], [1, 0]], m=2),
        "audio": dict(channels=1, units=[40], offsets=[-2, -1, 0, 1, 2], m=1, modality="audio"),
        "shapes": dict(channels=1, units=[24, 24, 24], offsets=None, m=3, modality="shapes", meta_m=3),
    }
    k = metas[kind]
    fusion_meta = {"hidden": hidden, "layers": layers, "residual": True}
    if k["offsets"] is not None:
        fusion_meta["offsets"] = k["offsets"]
    meta = {"task": {"name": "denoise"}, "order": order, "channels": k["channels"], "units": k["units"],
            "fusion": fusion_meta, "architecture": SirenSpec(k["m"], k["channels"], 8, 2).to_dict(),
            "trained_on": {"source": {}, "degradation": {"kind": "gaussian_noise"}, "count": 2, "indices": [0, 1]},
            "train": {"step": 10, "steps": 10}, "complete": True}
    if "modality" in k:
        meta["modality"] = k["modality"]
    if "meta_m" in k:
        meta["m"] = k["meta_m"]
    n_off = len(k["offsets"] or [0])
    M = jet_space(k["m"], order).size
    nf = n_off * k["channels"] * M
    old = torch.nn.Module()  # the old module layout: scaler.{mean,std}, mlp.<i>.{weight,bias}
    old.scaler = FeatureScaler(nf)
    old.mlp = fusion_mlp(nf, hidden, layers, k["channels"], zero_last=False)
    g = torch.Generator().manual_seed(0)
    old.scaler.mean.copy_(torch.randn(nf, generator=g))
    old.scaler.std.copy_(torch.rand(nf, generator=g) + 0.5)
    save_filter(tmp_path / "f.pt", old, meta)
    filt, back = load_filter(tmp_path / "f.pt")
    assert isinstance(filt, INSPFilter) and isinstance(filt.fusion, LearnedFusion) and filt.fusion.m == k["m"]
    assert filt.order == order and list(filt.units) == k["units"]
    x = torch.randn(5, nf, generator=g)
    offs = [tuple(o) if isinstance(o, list) else (o,) for o in (k["offsets"] or [[0] * k["m"]])]
    value = centre_index(offs) * k["channels"] * M
    want = old.mlp(old.scaler(x)) + x[:, value:value + k["channels"] * M:M]
    assert torch.allclose(filt.fusion(x), want, atol=1e-6)
