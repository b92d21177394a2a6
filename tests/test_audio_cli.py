"""Audio through the CLI on a folder of tiny WAVs: fit data=audio, train-filter, eval, table=audio, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.data.audio import write_wav
from insp_cli.filters.checkpoint import read_filter
from insp_cli.inr.store import INRStore
from insp_cli.jobs.fit import run_fit
from insp_cli.jobs.train_filter import run_train_filter

from test_audio import speech_like

LENGTH = 2400  # 0.3 s: PESQ needs at least 0.25 s
FIT = ["data=audio", f"data.length={LENGTH}", "data.min_seconds=0.05", "degradation=noise", "model.hidden=24",
       "fit.steps=80", "fit.lr=3e-3", "samples=2"]
TRAIN = ["task=denoise", "fusion.order=7", "fusion.hidden=32", "fusion.layers=2", "fusion.context=8",
         "fusion.context_step=4", "train.steps=150", "train.batch_points=1024", "train.lr=2e-3",
         "train.stat_points=4096", "train.log_every=50"]


def insp_here(*args):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """A folder of 24 speech-like WAVs, noisy INRs of its train and test splits, and a trained audio filter."""
    d = tmp_path_factory.mktemp("audio")
    wavs = d / "wavs"
    wavs.mkdir()
    for i in range(24):
        write_wav(wavs / f"clip{i:02d}.wav", 0.8 * speech_like(0.3, seed=i), 8000)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        for split in ("train", "test"):
            run_fit(compose("fit", FIT + [f"data.folder={wavs}", f"data.split={split}", f"store={d / split}"]),
                    d / "runs" / f"fit-{split}")
        run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={d / 'f.safetensors'}"]),
                         d / "runs" / "train-filter")
        yield d


def test_audio_store_and_filter(audio):
    store = INRStore.open(audio / "train")
    src = store.header.source
    assert src["modality"] == "audio" and src["length"] == LENGTH and src["rate"] == 8000 and src["origin"] == "folder"
    assert store.spec.in_features == 1 and store.spec.coord_scale == 100.0 and store.spec.hidden == 24
    assert store.header.degradation == {"kind": "noise", "seed": 0, "sigma": 25.0, "clip": False}
    assert (audio / "runs" / "fit-train" / "samples.png").is_file()
    meta, tensors = read_filter(audio / "f.safetensors")
    assert meta["modality"] == "audio" and meta["units"] == [LENGTH] and meta["complete"]
    assert meta["fusion"]["offsets"] == [-8, -4, 0, 4, 8] and meta["train"]["augment"] is False
    assert tensors["fusion.scaler.mean"].shape == (5 * 8,)


def test_eval_and_table(audio, tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    code, out, err = insp_here("eval", f"filter={audio / 'f.safetensors'}", f"store={audio / 'test'}",
                               "audio_examples=1")
    assert code == 0, err
    run_dir = Path(out.split("run dir")[1].split()[0])
    m = json.loads((run_dir / "metrics.json").read_text())
    rows = m["rows"]
    assert m["modality"] == "audio" and m["held_out"] and m["task"] == "denoise"
    assert m["layout"] == 2 and m["model"].startswith("SIREN") and m["n_items"] == len(m["items"])
    assert m["baselines"] == ["scipy_wiener", "stft_wiener", "spectral_subtraction"]
    assert abs(np.mean(m["per_item"]["insp_net"]["snr"]) - m["rows"]["insp_net"]["snr"]) < 1e-9
    assert set(rows) == {"input", "scipy_wiener", "stft_wiener", "spectral_subtraction", "insp_net"}
    assert all(set(r) == {"snr", "si_sdr", "pesq", "stoi"} for r in rows.values())
    # Pi (150 steps on 17 tiny clips) must already beat the decoded noisy input on the held-out clips
    assert rows["insp_net"]["snr"] > rows["input"]["snr"] + 0.3, rows
    assert rows["insp_net"]["pesq"] > 1.0 and rows["insp_net"]["stoi"] is None  # 0.3 s: too short for STOI
    files = {p.name for p in run_dir.iterdir()}
    assert {"per_clip.csv", "audio.md", "audio.csv", "waveform.png", "spectrogram.png"} <= files
    wavs = sorted(p.name for p in (run_dir / "audio").iterdir())
    assert len(wavs) == 4 and any(w.endswith("-insp_net.wav") for w in wavs) and any("clean" in w for w in wavs)

    code, out, err = insp_here("table", "table=audio", f"runs=[{run_dir}]")
    assert code == 0, err
    assert "INSP-Net" in out and "STOI" in out and "Spectral subtraction" in out
    code, out, err = insp_here("table", "table=table2", f"runs=[{run_dir}]")
    assert code != 0 and "table2 needs eval runs" in err


def test_cross_modality_is_one_line(audio, tmp_path, monkeypatch):
    """An image filter on an audio store, and the audio filter on an image store: one error line each."""
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    img = tmp_path / "img"
    run_fit(compose("fit", ["data=images", "data.size=16", "data.limit=2", "degradation=noise", "model.hidden=16",
                            "fit.steps=5", "samples=0", f"store={img}"]), tmp_path / "runs" / "fit-img")
    run_train_filter(compose("train_filter", ["task=denoise", "fusion.order=1", "fusion.hidden=8", "fusion.layers=1",
                                              "train.steps=2", "train.stat_points=256", "train.batch_points=64",
                                              f"store={img}", f"filter={tmp_path / 'img.safetensors'}"]),
                     tmp_path / "runs" / "tf-img")
    code, out, err = insp_here("eval", f"filter={tmp_path / 'img.safetensors'}", f"store={audio / 'test'}")
    assert code == 2 and err.count("\n") == 1 and "trained on images INRs" in err and "holds audio INRs" in err
    code, out, err = insp_here("eval", f"filter={audio / 'f.safetensors'}", f"store={img}")
    assert code == 2 and err.count("\n") == 1 and "trained on audio INRs" in err and "holds images INRs" in err
    code, out, err = insp_here("eval", f"filter={audio / 'f.safetensors'}", f"store={audio / 'test'}",
                               "self_ensemble=8")  # flips and quarter turns of 2-D images only
    assert code == 2 and err.count("\n") == 1 and "self_ensemble=8" in err and "holds audio INRs" in err
    code, out, err = insp_here("train-filter", "task=denoise", f"store={img}", "fusion.context=6",
                               f"filter={tmp_path / 'x.safetensors'}")  # images take a context too, a valid one
    assert code == 2 and err.count("\n") == 1 and "multiple of fusion.context_step=4" in err


def test_bad_wav_in_fit_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    write_wav(wavs / "a.wav", speech_like(0.2), 16000)
    code, out, err = insp_here("fit", *FIT, f"data.folder={wavs}", "data.split=all", f"store={tmp_path / 's'}")
    assert code == 2 and err.count("\n") == 1 and "16000 Hz, not the 8000 Hz" in err
    code, out, err = insp_here("fit", *FIT, f"data.folder={wavs}", "data.rate=16000", "data.split=all",
                               "degradation=blur", f"store={tmp_path / 's'}")
    assert code == 2 and "audio takes clean or noise" in err
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").glob("shard-*"))
