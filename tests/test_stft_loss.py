"""The audio Pi's multi-resolution STFT magnitude loss (train.stft): its value against a hand-computed one, the
windows of contiguous samples it is computed on, and a short training run with it (and its refusal elsewhere)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.filters import PixelSampler
from insp_cli.filters.checkpoint import read_filter
from insp_cli.filters.stft_loss import EPS, stft_loss, stft_magnitude
from insp_cli.inr.siren import SirenSpec, init_params, pixel_spacing, siren_forward
from insp_cli.jobs.train_filter import run_train_filter

from test_audio_cli import TRAIN, audio  # noqa: F401  (the module's fixture: tiny noisy audio INRs)


def dft_magnitude(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    """|X_k| of each frame by the definition: X_k = sum_j w_j x_j exp(-2 pi i k j / n), periodic Hann w."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    frames = [x[s:s + n] for s in range(0, len(x) - n + 1, hop)]
    k = np.arange(n // 2 + 1)[:, None]
    basis = np.exp(-2j * np.pi * k * np.arange(n)[None] / n)
    return np.abs(np.stack([basis @ (w * f) for f in frames], axis=1))  # (n // 2 + 1, frames)


def test_stft_magnitude_is_the_windowed_dft_of_each_frame():
    # n = 4: Hann (0, 0.5, 1, 0.5); frame (1, 2, 3, 4) -> windowed (0, 1, 3, 2): X_0 = 6, X_1 = -3 + 1i
    # (|X_1| = sqrt 10), X_2 = 0 - 1 + 3 - 2 = 0
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 0.0]], dtype=torch.float64)
    s = stft_magnitude(x, 4)
    assert s.shape == (1, 3, 2)
    assert torch.allclose(s[0, :, 0], torch.tensor([6.0, math.sqrt(10), 0.0], dtype=torch.float64))
    rng = np.random.default_rng(0)
    y = rng.standard_normal(300)
    assert np.allclose(stft_magnitude(torch.from_numpy(y)[None], 64)[0].numpy(), dft_magnitude(y, 64, 16))
    with pytest.raises(InspError):
        stft_magnitude(x, 8)  # a window longer than the segment


def test_stft_loss_matches_a_hand_computed_value():
    rng = np.random.default_rng(1)
    clean, est = rng.standard_normal((3, 256)), rng.standard_normal((3, 256))
    want = 0.0
    for n in (32, 64):
        c = np.stack([dft_magnitude(v, n, n // 4) for v in clean])
        s = np.stack([dft_magnitude(v, n, n // 4) for v in est])
        want += np.linalg.norm(s - c) / np.linalg.norm(c) + np.abs(np.log(s + EPS) - np.log(c + EPS)).mean()
    got = stft_loss(torch.from_numpy(est), torch.from_numpy(clean), [32, 64])
    assert abs(float(got) - want / 2) < 1e-9
    # the same clip: 0; twice the clip: SC = 1 and LM = log 2 where the magnitudes are far above EPS
    c = torch.from_numpy(clean)
    assert float(stft_loss(c, c, [32, 64])) == 0.0
    loud = 1e3 * c
    assert abs(float(stft_loss(2 * loud, loud, [32])) - (1 + math.log(2))) < 1e-3
    with pytest.raises(InspError):
        stft_loss(c, c[:2], [32])


def test_windows_are_runs_of_contiguous_samples():
    spec = SirenSpec(in_features=1, out_features=1, hidden=16, depth=2, coord_scale=100.0)
    params = init_params(spec, 3, generator=torch.Generator().manual_seed(1))
    length, offsets = 40, [-2, -1, 0, 1, 2]
    decoded = siren_forward(spec, params, (torch.arange(length) * pixel_spacing(length) - 1.0).unsqueeze(1))[..., 0]
    for cache in (2e9, 0):  # the cached jets and the jets computed per batch give the same runs
        sampler = PixelSampler(spec, params, decoded[..., None], 2, (length,), offsets=offsets, intensity=False,
                               cache_bytes=cache)
        x, y = sampler.windows(4, 16, torch.Generator().manual_seed(5))
        gen = torch.Generator().manual_seed(5)
        clip, start = torch.randint(3, (4,), generator=gen), torch.randint(length - 16 + 1, (4,), generator=gen)
        assert x.shape == (64, 15) and y.shape == (64, 1)
        for r in range(4):
            want = decoded[clip[r], start[r]:start[r] + 16]
            assert torch.equal(y[16 * r:16 * (r + 1), 0], want)  # 16 consecutive samples of one clip
            assert torch.allclose(x[16 * r:16 * (r + 1), 2 * 3], want, atol=1e-4)  # the centre's order 0
    with pytest.raises(InspError):
        sampler.windows(1, length + 1, torch.Generator())


def test_training_with_the_stft_term(audio, tmp_path):  # noqa: F811
    """train.stft.weight > 0 trains on windows and records its settings; the logged PSNR is the squared error's."""
    f = tmp_path / "stft.safetensors"
    run_train_filter(compose("train_filter", TRAIN + ["train.steps=40", "train.stft.weight=0.01",
                                                      "train.stft.segment=256", f"store={audio / 'train'}",
                                                      f"filter={f}"]), tmp_path / "tf")
    meta, _ = read_filter(f)
    assert meta["complete"] and meta["train"]["stft"] == {"weight": 0.01, "ffts": [64, 128, 256], "segment": 256}
    assert 0 < meta["train"]["final_psnr"] < 60
    with pytest.raises(InspError, match="segments at least that long"):
        run_train_filter(compose("train_filter", TRAIN + ["train.steps=2", "train.stft.weight=0.01",
                                                          "train.stft.segment=32", f"store={audio / 'train'}",
                                                          f"filter={tmp_path / 'short.safetensors'}"]),
                         tmp_path / "tf2")


def test_stft_term_is_refused_for_images(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from insp_cli.cli import app
    from insp_cli.jobs.fit import run_fit
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    img = tmp_path / "img"
    run_fit(compose("fit", ["data=images", "data.size=16", "data.limit=2", "degradation=noise", "model.hidden=16",
                            "fit.steps=5", "samples=0", f"store={img}"]), tmp_path / "runs" / "fit-img")
    r = CliRunner().invoke(app, ["train-filter", "task=denoise", f"store={img}", "fusion.order=1", "fusion.hidden=8",
                                 "fusion.layers=1", "train.steps=2", "train.stat_points=256", "train.batch_points=64",
                                 "train.stft.weight=0.1", f"filter={tmp_path / 'x.safetensors'}"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "train.stft.weight=0.1 is for audio" in r.stderr
    assert not (tmp_path / "x.safetensors").exists()
