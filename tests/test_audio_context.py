"""Audio Pi's context of neighbouring samples (fusion.context / fusion.context_step), at the recipe's step 1."""

import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.filters import PixelSampler
from insp_cli.filters.audio import denoise_clips, gather, sample_jets
from insp_cli.filters.context import context_offsets
from insp_cli.filters.insp_net import LearnedFusion
from insp_cli.inr.siren import SirenSpec, init_params, pixel_spacing, siren_forward


def test_context_offsets():
    offs = context_offsets(96, 1)  # the fig15 recipe: every sample within +-96
    assert offs == list(range(-96, 97)) and len(offs) == 193 and offs[96] == 0
    assert context_offsets(64, 4) == list(range(-64, 65, 4)) and len(context_offsets(64, 4)) == 33
    assert context_offsets(0, 1) == [0]
    for reach, step in ((6, 4), (-2, 1), (4, 0)):
        with pytest.raises(InspError):
            context_offsets(reach, step)


def test_step_one_features_are_the_jets_at_each_neighbouring_sample():
    spec = SirenSpec(in_features=1, out_features=1, hidden=16, depth=2, coord_scale=100.0)
    params = init_params(spec, 2, generator=torch.Generator().manual_seed(0))
    length, order, offsets = 50, 2, context_offsets(5, 1)
    jets = sample_jets(spec, params, length, order, pad=5)  # (2, 60, 3)
    assert jets.shape == (2, length + 10, order + 1)
    clip, pos = torch.tensor([0, 1, 1]), torch.tensor([0, 17, length - 1])  # both ends reach past the clip
    f = gather(jets, clip, pos, torch.tensor(offsets), 5).reshape(3, len(offsets), order + 1)
    h = pixel_spacing(length)
    for b in range(3):
        # the samples x + o h, o = -5..5, placed in float64 and rounded once, as sample_jets places them
        x = ((pos[b] + torch.tensor(offsets)).double() * h - 1.0).float().unsqueeze(1)
        value = siren_forward(spec, params[clip[b]:clip[b] + 1], x)[0, :, 0]
        assert torch.allclose(f[b, :, 0], value, atol=1e-5)  # order 0 at every offset = Phi there
    # order 1 in per-sample units is h dPhi/dx (autograd) at x + o h, here sample 17 + 3 of clip 1
    x = torch.tensor([[(17 + 3) * h - 1.0]], dtype=torch.float64).float().requires_grad_()
    (grad,) = torch.autograd.grad(siren_forward(spec, params[1:2], x).sum(), x)
    assert torch.allclose(f[1, 5 + 3, 1], h * grad[0, 0], rtol=1e-4, atol=1e-5)


def test_step_one_pi_starts_as_the_decoded_clip_and_samples_match():
    spec = SirenSpec(in_features=1, out_features=1, hidden=16, depth=2, coord_scale=100.0)
    params = init_params(spec, 3, generator=torch.Generator().manual_seed(1))
    length, offsets = 40, context_offsets(8, 1)
    fusion = LearnedFusion(channels=1, order=2, m=1, offsets=[(o,) for o in offsets], hidden=8, layers=2)
    assert fusion.pad == 8 and fusion.value == 8 * 3
    decoded = siren_forward(spec, params, (torch.arange(length) * pixel_spacing(length) - 1.0).unsqueeze(1))[..., 0]
    assert torch.allclose(denoise_clips(fusion, spec, params, length), decoded, atol=1e-5)  # residual, last layer 0
    jets = sample_jets(spec, params, length, 2, pad=8)
    sampler = PixelSampler(spec, params, decoded[..., None], 2, (length,), offsets=offsets, intensity=False)
    assert torch.equal(sampler.cache, jets.float())  # the one sampler caches the clips' sample jets
    x, y = sampler.sample(64, torch.Generator().manual_seed(2))
    assert x.shape == (64, 17 * 3) and sampler.num_features == 51
    assert y.shape == (64, 1) and torch.allclose(x[:, fusion.value], y[:, 0], atol=1e-5)  # the centre's order 0 is the target's decoded value
    gen = torch.Generator().manual_seed(2)  # the draws the clip sampler made before: a clip, then a sample
    clip, pos = torch.randint(3, (64,), generator=gen), torch.randint(length, (64,), generator=gen)
    assert torch.equal(x, gather(jets.float(), clip, pos, torch.tensor(offsets), 8))
    assert torch.equal(y[:, 0], decoded[clip, pos])
    lazy = PixelSampler(spec, params, decoded[..., None], 2, (length,), offsets=offsets, intensity=False,
                        cache_bytes=0, images_per_batch=2)  # without the cache: jets at x + o h of each batch
    x2, y2 = lazy.sample(10, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    clip, pos = torch.randint(3, (2,), generator=gen), torch.randint(length, (2, 5), generator=gen)
    clip = clip[:, None].expand(2, 5).reshape(-1)
    want = gather(jets.float(), clip, pos.reshape(-1), torch.tensor(offsets), 8)
    # coordinates placed in float32 (x + o h) instead of float64: close at omega0 x 100, not bit-equal
    torch.testing.assert_close(x2, want, atol=1e-3 * float(want.abs().max()), rtol=1e-2)
    assert torch.equal(y2[:, 0], decoded[clip, pos.reshape(-1)])
