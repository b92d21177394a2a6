"""Audio: WAV reading and its errors, clip splits, the audio metrics, the classical baselines, 1-D jets."""

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from insp_cli.filters.baselines import audio as B
from insp_cli.metrics.audio import audio_metrics, pesq_nb, si_sdr, snr, stoi
from insp_cli.data.audio import (PACKAGES, SPEAKER_SPLITS, fit_length, load_audio, phrase_of, phrase_split, read_wav,
                                 write_wav)
from insp_cli.errors import InspError
from insp_cli.inr.siren import SirenSpec, init_params, siren_forward, siren_mse_and_grad
from insp_cli.jets import jet_space, siren_jet
from insp_cli.jets.reference import jet_relative_error, siren_jet_reference

RATE = 8000
SIGMA = 25 / 255


def speech_like(seconds=1.5, rate=RATE, seed=0):
    """A voiced-speech stand-in: harmonics of a gliding pitch under syllable envelopes with pauses, peak 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(rng.uniform(0.2, 1) / k * np.sin(k * phase + rng.uniform(0, 6)) for k in range(1, 16))
    env = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2  # syllables and pauses
    x = x * env
    return (x / np.abs(x).max()).astype(np.float64)


def write_raw_wav(path: Path, data: bytes, channels=1, rate=RATE, bits=16, tag=1):
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


# ----------------------------------------------------------------------------------------------------- WAV


def test_read_wav_roundtrip(tmp_path):
    x = speech_like(0.25)
    write_wav(tmp_path / "a.wav", 0.5 * x, RATE)
    y = read_wav(tmp_path / "a.wav", RATE)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - 0.5 * x).max() < 1.5 / 32768  # 16-bit rounding
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("case, message", [
    ("stereo", "2 channels"), ("24bit", "24-bit PCM"), ("float", "32-bit float"), ("empty", "empty WAV"),
    ("rate", "sampled at 16000 Hz"), ("notwav", "not a WAV file"), ("truncated", "no fmt chunk"),
])
def test_bad_wavs_give_one_line(tmp_path, case, message):
    p = tmp_path / "bad.wav"
    if case == "stereo":
        wavfile.write(p, RATE, np.zeros((100, 2), np.int16))
    elif case == "24bit":
        write_raw_wav(p, b"\0\0\0" * 100, bits=24)
    elif case == "float":
        wavfile.write(p, RATE, np.zeros(100, np.float32))
    elif case == "empty":
        wavfile.write(p, RATE, np.zeros(0, np.int16))
    elif case == "rate":
        wavfile.write(p, 16000, np.zeros(100, np.int16))
    elif case == "notwav":
        p.write_bytes(b"ID3\x03 an mp3 pretending to be a wav")
    else:
        p.write_bytes(b"RIFF\x10\0\0\0WAVE")
    with pytest.raises(InspError) as e:
        read_wav(p, RATE)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_folder_splits_are_fixed_and_disjoint_by_phrase(tmp_path):
    names = [f"p{i:02d}" for i in range(40)] + ["conf-menu-12", "conf-menu-7", "sub/q"]
    for i, n in enumerate(names):
        (tmp_path / n).parent.mkdir(parents=True, exist_ok=True)
        write_wav(tmp_path / f"{n}.wav", 0.3 * speech_like(0.6 + 0.01 * i, seed=i), RATE)
    (tmp_path / "README.txt").write_text("not audio, ignored")
    write_wav(tmp_path / "tiny.wav", 0.3 * speech_like(0.1), RATE)  # shorter than min_seconds: left out
    sets = {s: load_audio(folder=tmp_path, split=s, length=6000) for s in ("train", "val", "test", "all")}
    got = {s: set(a.names) for s, a in sets.items()}
    assert got["train"] | got["val"] | got["test"] == got["all"] == set(names)
    assert not (got["train"] & got["val"]) and not (got["train"] & got["test"]) and not (got["val"] & got["test"])
    assert all(len(got[s]) > 0 for s in ("train", "test"))
    # one phrase, one split; and the rule is the sha256 one (stable when files are added)
    menu = [s for s in ("train", "val", "test") if "conf-menu-12" in got[s]]
    assert "conf-menu-7" in got[menu[0]] and phrase_of("conf-menu-7.wav") == "conf-menu"
    assert all(phrase_split(phrase_of(n)) == s for s in ("train", "val", "test") for n in got[s])
    a = sets["all"]
    assert a.clips.shape == (len(names), 6000) and a.clips.dtype == np.float32
    assert np.allclose(np.abs(a.clips).max(1), 1.0)  # peak-normalised
    i = a.names.index("p00")  # 0.6 s = 4800 samples, zero-padded to 6000
    assert a.lengths[i] == 4800 and not a.clips[i, 4800:].any()
    again = load_audio(folder=tmp_path, split="test", length=6000, start=1, limit=2)
    assert again.names == sets["test"].names[1:3] and np.array_equal(again.clips, sets["test"].clips[1:3])


def fake_speakers(root: Path, files: int = 3) -> None:
    """root/debian/<package>/<voice folder>/ of the four asterisk-core-sounds packages, as dpkg -x leaves them:
    ``files`` prompts each (the same names in every language, as the packages have) and a silence/ file."""
    for k, (pkg, inside, _) in ((k, PACKAGES[k]) for k in ("speech", "speech-es", "speech-fr", "speech-it")):
        voice = root / "debian" / pkg / inside
        for i in range(files):
            (voice / "digits").mkdir(parents=True, exist_ok=True)
            write_wav(voice / "digits" / f"{i}.wav", 0.3 * speech_like(0.6 + 0.05 * i, seed=i + 10 * len(k)), RATE)
        (voice / "silence").mkdir(exist_ok=True)
        write_wav(voice / "silence" / "1.wav", 0.3 * speech_like(0.7), RATE)
        (root / "debian" / pkg / "DEBIAN_VERSION").write_text("1.6.1-1\n")


@pytest.mark.skipif(Path("/usr/share/asterisk/sounds").exists(), reason="the packages are installed system-wide")
def test_speaker_splits_share_no_voice(tmp_path, monkeypatch):
    """source=speakers: train = Allison (en_US + es_MX), val = June (fr_CA), test = Carlo (it_IT); the same
    prompt names in every language, yet no voice in two splits; silence/ left out; a mix of both train languages
    in a limit; a missing package without apt-get is one line."""
    fake_speakers(tmp_path)
    sets = {s: load_audio("speakers", split=s, length=6000, root=tmp_path) for s in ("train", "val", "test")}
    voices = {s: {n.split("/")[0] for n in a.names} for s, a in sets.items()}
    assert voices == {"train": {"en_US_f_Allison", "es_MX_f_Allison"}, "val": {"fr_CA_f_June"},
                      "test": {"it_IT_m_Carlo"}}
    assert [len(a) for a in sets.values()] == [6, 3, 3]
    assert not any("silence" in n for a in sets.values() for n in a.names)
    assert sets["test"].meta["speakers"] == ["it_IT_m_Carlo"] and "by speaker" in sets["test"].meta["rule"]
    assert sets["val"].meta["version"] == {"asterisk-core-sounds-fr-wav": "1.6.1-1"}
    first = load_audio("speakers", split="train", length=6000, root=tmp_path, limit=4)
    assert {n.split("/")[0] for n in first.names} == voices["train"]  # sha256 order mixes the two languages
    assert np.array_equal(first.clips, sets["train"].clips[:4]) and SPEAKER_SPLITS["all"][0] == "speech"
    import shutil
    shutil.rmtree(tmp_path / "debian" / "asterisk-core-sounds-it-wav")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InspError, match="asterisk-core-sounds-it-wav is needed and this machine has no apt-get"):
        load_audio("speakers", split="test", root=tmp_path)


def test_folder_errors(tmp_path):
    with pytest.raises(InspError, match="does not exist"):
        load_audio(folder=tmp_path / "nope")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InspError, match="no .wav files"):
        load_audio(folder=tmp_path)
    wavfile.write(tmp_path / "s.wav", 16000, (1000 * speech_like(1.0, 16000)).astype(np.int16))
    with pytest.raises(InspError, match="16000 Hz"):
        load_audio(folder=tmp_path, split="all")
    assert load_audio(folder=tmp_path, split="all", rate=16000).rate == 16000
    with pytest.raises(InspError, match="unknown audio split"):
        load_audio(folder=tmp_path, split="dev")
    with pytest.raises(InspError, match="unknown audio source"):
        load_audio("birdsong")


def test_fit_length_cuts_and_pads():
    x = np.arange(1, 11, dtype=np.float32)
    assert fit_length(x, 4)[1] == 4 and np.array_equal(fit_length(x, 4)[0], x[:4])
    y, real = fit_length(x, 12)
    assert real == 10 and np.array_equal(y[:10], x) and not y[10:].any()


def _installed(name):
    root = Path(os.environ.get("INSP_DATA", "data"))
    package, inside, _ = PACKAGES[name]
    return (Path("/") / inside).is_dir() or (root / "debian" / package / inside).is_dir()


@pytest.mark.skipif(not _installed("speech"), reason="asterisk-core-sounds-en-wav not unpacked (no network in tests)")
def test_speech_clips_and_splits():
    root = os.environ.get("INSP_DATA", "data")
    sets = {s: load_audio("speech", s, root=root) for s in ("train", "val", "test")}
    assert [len(sets[s]) for s in ("train", "val", "test")] == [354, 57, 141]
    names = [set(sets[s].names) for s in sets]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert sets["test"].clips.shape[1] == 12000 and sets["test"].meta["version"]


# ------------------------------------------------------------------------------------------------- metrics


def test_snr_and_si_sdr_by_hand():
    clean = np.array([1.0, -2.0, 3.0, 0.0])
    est = clean + np.array([0.1, 0.0, -0.2, 0.1])
    assert snr(clean, est) == pytest.approx(10 * np.log10(14 / 0.06))
    # SI-SDR: zero-mean both, project the estimate on the clean signal
    c, e = clean - clean.mean(), est - est.mean()
    a = (e @ c) / (c @ c)
    assert si_sdr(clean, est) == pytest.approx(10 * np.log10((a * a * (c @ c)) / ((e - a * c) @ (e - a * c))))
    assert si_sdr(clean, 3.7 * est) == pytest.approx(si_sdr(clean, est))  # gain-invariant; SNR is not
    assert snr(clean, 3.7 * est) < 0
    batch = snr(np.stack([clean, clean]), np.stack([est, clean + 1]))
    assert batch.shape == (2,) and batch[0] == pytest.approx(snr(clean, est))
    assert snr(clean, clean) > 150  # no division by zero
    with pytest.raises(InspError, match="one shape"):
        snr(clean, est[:3])


def test_pesq_and_stoi_fall_with_noise():
    clean = speech_like(2.0)
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(clean.shape)
    p = [pesq_nb(clean, clean + s * noise, RATE) for s in (0.0, 0.02, 0.1, 0.3)]
    q = [stoi(clean, clean + s * noise, RATE) for s in (0.0, 0.02, 0.1, 0.3)]
    assert p[0] > 4.4 and q[0] > 0.99
    assert p == sorted(p, reverse=True) and q == sorted(q, reverse=True)
    assert p[-1] < 2.0 and q[-1] < q[0] - 0.1
    m = audio_metrics(np.stack([clean, clean]), np.stack([clean, clean + 0.1 * noise]), RATE)
    assert set(m) == {"snr", "si_sdr", "pesq", "stoi"} and all(v.shape == (2,) for v in m.values())
    assert np.isnan(pesq_nb(np.zeros(16000), np.zeros(16000), RATE))  # no utterance: NaN, not an exception
    assert np.isnan(pesq_nb(clean[:1000], clean[:1000], RATE))  # under 0.25 s: NaN
    assert np.isnan(stoi(clean[:1000], clean[:1000], RATE))  # under 30 frames: NaN, not pystoi's 1e-5


# ----------------------------------------------------------------------------------------------- baselines


def _clips_for_baselines():
    if _installed("speech"):
        return load_audio("speech", "test", limit=4, root=os.environ.get("INSP_DATA", "data")).clips
    return np.stack([speech_like(1.5, seed=s) for s in range(3)])


def test_baselines_improve_snr_on_noisy_clips():
    clean = _clips_for_baselines().astype(np.float64)
    noisy = clean + SIGMA * np.random.default_rng(0).standard_normal(clean.shape)
    before = snr(clean, noisy)
    assert np.array_equal(B.identity(noisy), noisy)
    gains = {}
    for name in ("scipy_wiener", "stft_wiener", "spectral_subtraction"):
        out = B.BASELINES[name](noisy, SIGMA)
        assert out.shape == noisy.shape
        gains[name] = snr(clean, out) - before
        assert (gains[name] > 2.0).all(), (name, gains[name])
    assert gains["spectral_subtraction"].mean() > gains["scipy_wiener"].mean()
    one = B.stft_wiener(noisy[0], SIGMA)  # a single clip (T,) works too
    assert one.shape == noisy[0].shape and np.allclose(one, B.stft_wiener(noisy, SIGMA)[0])


# ------------------------------------------------------------------------------------------------ 1-D jets


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_audio_jets_order_8_match_nested_autograd(scale):
    """m = 1 jets up to order 8 of a SIREN with the audio recipe's coordinate scale (first-layer omega0 30 s)."""
    spec = SirenSpec(in_features=1, out_features=1, hidden=16, depth=3, coord_scale=scale)
    g = torch.Generator().manual_seed(0)
    params = init_params(spec, 2, generator=g, dtype=torch.float64)
    coords = torch.rand(9, 1, generator=g, dtype=torch.float64) * 2 - 1
    ref = siren_jet_reference(spec, params, coords, 8)
    jet = siren_jet(spec, params, coords, 8)
    assert jet.shape == (2, jet_space(1, 8).size, 9, 1) == (2, 9, 9, 1)
    assert jet_relative_error(jet, ref) < 1e-8
    # the same SIREN without the scale, at scaled coordinates: D^k differ by s^k exactly
    plain = siren_jet(SirenSpec(in_features=1, out_features=1, hidden=16, depth=3), params, coords * scale, 8)
    powers = torch.tensor([scale ** k for k in range(9)], dtype=torch.float64).view(1, -1, 1, 1)
    assert jet_relative_error(jet, plain * powers) < 1e-10


def test_coord_scale_forward_and_gradient():
    spec = SirenSpec(in_features=1, out_features=1, hidden=8, depth=2, coord_scale=100.0)
    assert "coord_scale" in spec.to_dict() and SirenSpec.from_dict(spec.to_dict()) == spec
    assert "coord_scale" not in SirenSpec().to_dict()  # image stores keep their header
    g = torch.Generator().manual_seed(1)
    params = init_params(spec, 3, generator=g, dtype=torch.float64)
    x = torch.linspace(-1, 1, 50, dtype=torch.float64).unsqueeze(1)
    plain = SirenSpec(in_features=1, out_features=1, hidden=8, depth=2)
    assert torch.allclose(siren_forward(spec, params, x), siren_forward(plain, params, 100 * x), atol=1e-12)
    target = torch.randn(3, 50, 1, generator=g, dtype=torch.float64)
    mse, grad = siren_mse_and_grad(spec, params, x, target)
    p = params.clone().requires_grad_(True)
    ((siren_forward(spec, p, x) - target) ** 2).mean(dim=(1, 2)).sum().backward()
    assert torch.allclose(grad, p.grad, rtol=1e-9, atol=1e-12)
