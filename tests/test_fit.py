"""Batched SIREN fitting: PSNR bounds on real data, batching changes nothing, NaN is flagged."""

import numpy as np
import torch

from insp_cli.data import load_images
from insp_cli.inr.fit import FitSettings, _fit_once, encode_pixels, fit_inrs, psnr_of_fit
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward


def test_mnist_digits_fit_above_35db():
    ims = load_images("mnist", "test", limit=64)
    pix = torch.from_numpy(ims.images).reshape(64, 784, 1)
    res = fit_inrs(SirenSpec(2, 1, 32, 3), pix, grid_coords(28), FitSettings())  # the default MNIST recipe
    assert res.ok.all()
    assert res.psnr.mean() >= 35.0, res.psnr
    assert np.percentile(res.psnr.numpy(), 5) >= 30.0


def test_bundled_rgb_images_fit_above_30db():
    ims = load_images("images", "train", limit=2, size=32)
    pix = torch.from_numpy(ims.images).reshape(2, 32 * 32, 3)
    res = fit_inrs(SirenSpec(2, 3, 64, 3), pix, grid_coords(32), FitSettings(steps=150, lr=2e-3, lr_final=1e-4))
    assert (res.psnr >= 30.0).all(), res.psnr


def test_batched_fit_equals_one_at_a_time():
    """The summed loss gives every INR its own gradient; Adam is elementwise: batching changes nothing."""
    spec = SirenSpec(2, 1, 16, 2)
    ims = load_images("mnist", "test", limit=3)
    y = encode_pixels(torch.from_numpy(ims.images).reshape(3, 784, 1)).double()
    p0 = init_params(spec, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = FitSettings(steps=15)
    gen = torch.Generator().manual_seed(1)
    together, _ = _fit_once(spec, y, grid_coords(28, dtype=torch.float64), None, s, p0, gen, None)
    for i in range(3):
        alone, _ = _fit_once(spec, y[i:i + 1], grid_coords(28, dtype=torch.float64), None, s, p0[i:i + 1], gen, None)
        torch.testing.assert_close(alone, together[i:i + 1], rtol=1e-9, atol=1e-9)


def test_masked_pixels_are_ignored():
    spec = SirenSpec(2, 1, 32, 3)
    ims = load_images("mnist", "test", limit=4)
    pix = torch.from_numpy(ims.images).reshape(4, 784, 1)
    mask = torch.rand(4, 784, generator=torch.Generator().manual_seed(0)) > 0.3
    corrupted = torch.where(mask[..., None], pix, torch.ones_like(pix))  # unobserved pixels are garbage
    res = fit_inrs(spec, corrupted, grid_coords(28), FitSettings(), mask=mask)
    assert (res.psnr > 35).all()  # measured on observed pixels only
    # the garbage (white) never leaks in: on all pixels the INR is far closer to the true image than the
    # corrupted input is (5.5-6.3 dB; measured 12.9-18.9 dB for the INRs, seed 0)
    full = psnr_of_fit(spec, res.params, grid_coords(28), pix)
    corrupted_psnr = -10 * torch.log10((corrupted - pix).pow(2).mean((1, 2)))
    assert (full > corrupted_psnr + 5).all() and (full > 12).all(), (full, corrupted_psnr)


def test_early_stop_at_target_psnr_saves_steps():
    ims = load_images("mnist", "test", limit=16)
    pix = torch.from_numpy(ims.images).reshape(16, 784, 1)
    res = fit_inrs(SirenSpec(2, 1, 32, 3), pix, grid_coords(28), FitSettings(steps=100, target_psnr=30.0))
    assert (res.steps < 100).all()
    assert (res.psnr >= 29.5).all()


def test_nan_loss_is_flagged_not_stored_as_fine():
    ims = load_images("mnist", "test", limit=2)
    pix = torch.from_numpy(ims.images).reshape(2, 784, 1)
    res = fit_inrs(SirenSpec(2, 1, 16, 2), pix, grid_coords(28), FitSettings(steps=5, lr=1e30, lr_final=1e30))
    assert not res.ok.any()
    assert torch.isnan(res.psnr).all()


def test_forward_accepts_per_inr_coordinates():
    spec = SirenSpec(2, 3, 8, 2)
    p = init_params(spec, 2)
    x = grid_coords(5)
    torch.testing.assert_close(siren_forward(spec, p, x), siren_forward(spec, p, x.expand(2, -1, -1)))


def test_hand_written_gradient_equals_autograd():
    from insp_cli.inr.siren import siren_mse_and_grad

    spec = SirenSpec(2, 3, 12, 3)
    p = init_params(spec, 4, dtype=torch.float64)
    x = grid_coords((5, 7), dtype=torch.float64)
    y = torch.rand(4, 35, 3, dtype=torch.float64)
    mask = torch.rand(4, 35) > 0.4
    for m in (None, mask):
        q = p.clone().requires_grad_()
        err = (siren_forward(spec, q, x) - y).pow(2)
        if m is None:
            ref = err.mean((1, 2))
        else:
            ref = (err.sum(-1) * m).sum(1) / (m.sum(1) * 3)
        g_ref, = torch.autograd.grad(ref.sum(), q)
        mse, g = siren_mse_and_grad(spec, p, x, y, m)
        torch.testing.assert_close(mse, ref.detach(), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)


def test_allocator_keeps_freed_memory_on_linux():
    import sys

    from insp_cli.allocator import keep_freed_memory

    assert keep_freed_memory() == sys.platform.startswith("linux")  # set once at import, idempotent


def test_batch_size_does_not_change_an_inr_bit_for_bit():
    """Each INR has its own generator (seed, index); a batch of one is computed as two (bmm's other kernel)."""
    ims = load_images("mnist", "test", limit=8)
    pix = torch.from_numpy(ims.images).reshape(8, 784, 1)
    spec, x = SirenSpec(2, 1, 16, 2), grid_coords(28)
    for s in (FitSettings(steps=15), FitSettings(steps=15, batch_pixels=200), FitSettings(steps=30, target_psnr=18)):
        whole = fit_inrs(spec, pix, x, s, seed=5, indices=range(8))
        for batch in (1, 3, 4):
            parts = [fit_inrs(spec, pix[a:a + batch], x, s, seed=5, indices=range(a, min(8, a + batch)))
                     for a in range(0, 8, batch)]
            assert torch.equal(torch.cat([r.params for r in parts]), whole.params), (s, batch)
            assert torch.equal(torch.cat([r.psnr for r in parts]), whole.psnr)


def test_inrs_worse_than_a_flat_gray_image_are_flagged():
    ims = load_images("mnist", "test", limit=4)
    pix = torch.from_numpy(ims.images).reshape(4, 784, 1)
    res = fit_inrs(SirenSpec(2, 1, 16, 2), pix, grid_coords(28), FitSettings(steps=20, lr=1e6, lr_final=1e6))
    assert not res.ok.any() and (res.psnr < res.floor).all()  # diverged, yet finite: flagged all the same
    good = fit_inrs(SirenSpec(2, 1, 16, 2), pix, grid_coords(28), FitSettings(steps=20))
    assert good.ok.all() and (good.psnr > good.floor + 3).all(), (good.psnr, good.floor)


def test_warmup_then_cosine_learning_rates():
    """fit.warmup: lr/w, 2 lr/w, ... up to lr, then the cosine from lr (at step w) to lr_final (at the last step)."""
    s = FitSettings(steps=12, lr=1e-2, lr_final=1e-3, warmup=3)
    lrs = [s.lr_at(k) for k in range(12)]
    np.testing.assert_allclose(lrs[:4], [1e-2 / 3, 2e-2 / 3, 1e-2, 1e-2], rtol=1e-12)
    np.testing.assert_allclose(lrs[-1], 1e-3, rtol=1e-12)
    np.testing.assert_allclose(lrs[7], 1e-3 + 9e-3 * 0.5, rtol=1e-12)  # half-way through the cosine steps 3..11
    assert all(a > b for a, b in zip(lrs[3:], lrs[4:]))
    np.testing.assert_allclose([FitSettings(steps=11, lr=1e-2, lr_final=1e-3).lr_at(k) for k in (0, 10)], [1e-2, 1e-3],
                               rtol=1e-12)  # no warm-up: the cosine from step 0


def test_batched_adam_with_betas_equals_torch_adam():
    """fit.beta1/beta2 reach the optimiser: each row is torch.optim.Adam with those betas, step for step."""
    from insp_cli.inr.fit import _BatchedAdam

    gen = torch.Generator().manual_seed(0)
    p = torch.randn(3, 7, generator=gen, dtype=torch.float64)
    ref = p.clone().requires_grad_()
    opt_ref = torch.optim.Adam([ref], lr=1e-2, betas=(0.8, 0.9))
    opt = _BatchedAdam(p, betas=(0.8, 0.9))
    for k in range(5):
        g = torch.randn(3, 7, generator=gen, dtype=torch.float64)
        ref.grad = g.clone()
        opt_ref.step()
        opt.step(p, g, 1e-2)
        torch.testing.assert_close(p, ref.detach(), rtol=1e-12, atol=1e-14)


def test_compiled_step_equals_eager_and_autograd_and_falls_back(monkeypatch, recwarn):
    """compile=true (torch.compile of the step): the same loss and gradient as the eager hand-written pass and as
    autograd (float32 tolerance), any batch size without error; a compiler failure warns once and fits eagerly."""
    import insp_cli.inr.fit as fit_mod
    from insp_cli.inr.fit import compile_enabled, set_compile, step_grad

    spec = SirenSpec(2, 1, 8, 3)
    x = grid_coords(6)
    try:
        set_compile(True)
        for n in (5, 3, 2):  # one compilation, then other batch sizes
            p = init_params(spec, n, generator=torch.Generator().manual_seed(n))
            y = torch.rand(n, 36, 1, generator=torch.Generator().manual_seed(n)) * 2 - 1
            mse, g = step_grad(spec, p, x, y)
            assert compile_enabled(), "torch.compile failed and fell back to eager"
            q = p.double().requires_grad_()
            ref = (siren_forward(spec, q, x.double()) - y.double()).pow(2).mean((1, 2))
            g_ref, = torch.autograd.grad(ref.sum(), q)
            torch.testing.assert_close(mse.double(), ref.detach(), rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(g.double(), g_ref, rtol=1e-4, atol=1e-5 * float(g_ref.abs().max()))
        res = fit_inrs(spec, torch.rand(4, 36, 1), x, FitSettings(steps=5, retries=0))
        assert torch.isfinite(res.params).all()

        def broken(*a, **k):
            raise RuntimeError("no C++ compiler")
        monkeypatch.setattr(fit_mod._STEP, "compiled", broken)
        monkeypatch.setattr(fit_mod._STEP, "enabled", True)
        p = init_params(spec, 3)
        y = torch.rand(3, 36, 1)
        mse, g = step_grad(spec, p, x, y)
        assert not compile_enabled()
        assert any("fitting eagerly" in str(w.message) for w in recwarn.list)
        from insp_cli.inr.siren import siren_mse_and_grad
        e_mse, e_g = siren_mse_and_grad(spec, p, x, y)
        assert torch.equal(mse, e_mse) and torch.equal(g, e_g)
    finally:
        set_compile(False)


def test_prox_adds_the_pull_to_the_start_to_each_adam_step():
    """fit.prox: two full-batch Adam steps by hand on mse + prox/2 ||theta - theta_0||^2 (the hand-written
    gradient of the data term, plus prox (theta - theta_0)) equal _fit_once's rows; prox 0 is the plain fit."""
    from insp_cli.inr.backbones import mse_and_grad
    from insp_cli.inr.fit import _BatchedAdam

    spec = SirenSpec(2, 1, 16, 2)
    ims = load_images("mnist", "test", limit=2)
    coords = grid_coords(28, dtype=torch.float64)
    y = encode_pixels(torch.from_numpy(ims.images).reshape(2, 784, 1)).double()
    p0 = init_params(spec, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = FitSettings(steps=3, lr=1e-2, lr_final=1e-2, prox=0.5)
    got, _ = _fit_once(spec, y, coords, None, s, p0, torch.Generator(), None)
    p, opt = p0.clone(), _BatchedAdam(p0.clone())
    for _ in range(3):
        _, g = mse_and_grad(spec, p, coords, y)
        opt.step(p, g + 0.5 * (p - p0), 1e-2)
    torch.testing.assert_close(got, p, rtol=1e-9, atol=1e-12)
    plain, _ = _fit_once(spec, y, coords, None, FitSettings(steps=3, lr=1e-2, lr_final=1e-2), p0, torch.Generator(),
                         None)
    assert (got - plain).abs().max() > 1e-6  # the pull changed the third step: the test can fail


def test_prox_with_early_stops_pulls_each_row_to_its_own_start():
    """With fit.target_psnr rows leave the batch at different steps; the pull's centres leave with them, so each
    row of the batched fit equals that row fitted alone (per-row Adam: the rows do not interact)."""
    spec = SirenSpec(2, 1, 16, 2)
    ims = load_images("mnist", "test", limit=3)
    coords = grid_coords(28, dtype=torch.float64)
    y = encode_pixels(torch.from_numpy(ims.images).reshape(3, 784, 1)).double()
    p0 = init_params(spec, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = FitSettings(steps=9, lr=1e-2, lr_final=1e-3, prox=0.5, target_psnr=10.5)
    got, steps = _fit_once(spec, y, coords, None, s, p0, torch.Generator(), None)
    assert len(set(steps.tolist())) == 3, steps  # three different stopping steps: rows left one by one
    for i in range(3):
        alone, _ = _fit_once(spec, y[i:i + 1], coords, None, s, p0[i:i + 1], torch.Generator(), None)
        torch.testing.assert_close(got[i:i + 1], alone, rtol=1e-9, atol=1e-12)


def test_prox_keeps_fits_near_their_start_at_a_cost_in_psnr():
    """A stronger pull leaves the INRs closer to where they started, and fits the digits less closely."""
    spec = SirenSpec(2, 1, 32, 3)
    pix = torch.from_numpy(load_images("mnist", "test", limit=8).images).reshape(8, 784, 1)
    start = init_params(spec, 1, generator=torch.Generator().manual_seed(3))[0]
    dist, psnr = [], []
    for prox in (0.0, 0.3, 3.0):
        res = fit_inrs(spec, pix, grid_coords(28), FitSettings(steps=40, lr=1e-2, prox=prox), start=start)
        dist.append(float((res.params - start).norm(dim=1).mean()))
        psnr.append(float(res.psnr.mean()))
    assert dist[0] > 1.2 * dist[1] > 1.2 * 1.2 * dist[2], dist
    assert psnr[0] > psnr[2] + 1.0, psnr
