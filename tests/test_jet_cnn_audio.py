"""The convolutional Pi on audio clips (``fusion.kind=conv`` with m = 1, ``filters.jet_cnn``): its dilated reach is
exactly the offsets it reads; decoding a clip's jet field equals the per-point path; the reversed / negated field
is the field of the reversed / negated INR (so the training windows show Pi true INRs); an untrained Pi is the
decoded clip; trained through the CLI it denoises held-out clips; bad settings are one line."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.filters.audio import denoise_clips, sample_jets
from insp_cli.filters.checkpoint import load_filter
from insp_cli.filters.context import neighbourhood
from insp_cli.filters.jet_cnn import ConvFusion, augment_fields, conv_reach, turn_clip
from insp_cli.inr.siren import SirenSpec, init_params, layout_views, siren_forward, grid_coords
from insp_cli.jobs.evaluate import run_eval
from insp_cli.jobs.train_filter import run_train_filter
from tests.filter_fixtures import randomise
from tests.test_audio_cli import audio  # noqa: F401  (the module fixture: tiny WAVs, their noisy INRs)

T = 40


def _setup(layers=2, dilation=2, order=2):
    spec = SirenSpec(1, 1, 16, 2, coord_scale=10.0)
    p = init_params(spec, 2, generator=torch.Generator().manual_seed(0))
    return spec, p, randomise(ConvFusion(1, order, m=1, hidden=5, layers=layers, dilation=dilation), 1, 0.3)


def _turned(spec, p, g: int) -> torch.Tensor:
    """Params of the SIREN reversed in time (bit 0 of g: Phi(-x), first-layer weights negated) and / or negated
    (bit 1: the last layer negated)."""
    q = p.clone()
    views = layout_views(spec, q)
    if g & 1:
        views["W0"].neg_()
    if g & 2:
        views[f"W{spec.depth}"].neg_()
        views[f"b{spec.depth}"].neg_()
    return q


@pytest.mark.parametrize("kernel, reach", [(3, 15), (9, 18)])
def test_the_dilated_reach_is_the_offsets_it_reads(kernel, reach):
    """3 hidden layers dilated 1, 2, 4 and the output one 8, the first of ``kernel`` taps: every jet within the
    reach moves the output, none beyond."""
    pi = randomise(ConvFusion(1, 2, m=1, hidden=4, layers=3, dilation=2, kernel=kernel), 0, 0.5)
    assert conv_reach(3, 2, kernel) == pi.pad == reach and pi.offsets == neighbourhood(reach, 1, 1)
    assert pi.body[0].weight.shape == (4, 3, kernel)
    assert conv_reach(3) == 4 and ConvFusion(3, 2, hidden=4, layers=3).pad == 4  # the plain 2-D stack as before
    field = torch.randn(8, 2 * reach + 3, 3, requires_grad=True)  # 3 outputs each (8 fields: no dead ReLU path)
    pi.on_field(field)[:, 0, 0].sum().backward()
    touched = field.grad.abs().sum((0, 2)) > 0
    assert touched[:2 * reach + 1].all() and not touched[2 * reach + 1:].any()


def test_decoding_a_clip_is_the_per_point_path():
    spec, p, pi = _setup()
    grid = denoise_clips(pi, spec, p, T)  # (2, T): one jet field per clip, convolved
    jets = sample_jets(spec, p, T, 2, pi.pad)  # (2, T + 2R, 3)
    at = torch.arange(0, T, 7)
    windows = torch.stack([jets[:, t:t + 2 * pi.pad + 1] for t in at], 1)  # (2, points, 2R + 1, 3)
    direct = pi(windows.reshape(2, len(at), -1))[..., 0]  # features offset major, per point
    assert grid.abs().max() > 0.1
    torch.testing.assert_close(grid[:, at], direct, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("g", range(4))
def test_the_turned_clip_field_is_the_field_of_the_turned_inr(g):
    """Reversed in time (bit 0: Phi(-x), each derivative of order k times (-1)^k) and / or negated (bit 1)."""
    spec, p, pi = _setup()
    q = _turned(spec, p, g)
    field, want = sample_jets(spec, p, T, 2, 3), sample_jets(spec, q, T, 2, 3)
    torch.testing.assert_close(turn_clip(field, g, 2), want, atol=2e-5, rtol=1e-4)
    clip = siren_forward(spec, p, grid_coords((T,)))
    torch.testing.assert_close(turn_clip(turn_clip(clip, g), g), clip)
    torch.testing.assert_close(turn_clip(clip, g), siren_forward(spec, q, grid_coords((T,))), atol=1e-5, rtol=1e-4)


def test_augmented_windows_keep_fields_and_targets_together():
    spec, p, pi = _setup()
    field = sample_jets(spec, p, T, 2, pi.pad)
    targets = field[:, pi.pad:-pi.pad, :1].clone()  # target = the clip's own amplitude
    x, y = augment_fields(field.repeat(4, 1, 1), targets.repeat(4, 1, 1), 2, torch.Generator().manual_seed(3))
    assert not torch.equal(x, field.repeat(4, 1, 1))
    torch.testing.assert_close(x[:, pi.pad:-pi.pad, :1], y)


def test_an_untrained_conv_pi_is_the_decoded_clip():
    spec, p, _ = _setup()
    out = denoise_clips(ConvFusion(1, 2, m=1, hidden=5, layers=2, dilation=2), spec, p, T)
    torch.testing.assert_close(out, siren_forward(spec, p, grid_coords((T,)))[..., 0], atol=1e-6, rtol=0)


TRAIN = ["task=denoise", "fusion.kind=conv", "fusion.order=2", "fusion.hidden=16", "fusion.layers=3",
         "fusion.dilation=2", "fusion.context=0", "train.steps=150", "train.batch_points=1024", "train.patch=256",
         "train.lr=2e-3", "train.stat_points=4096", "train.log_every=50"]


def test_a_trained_conv_pi_denoises_held_out_clips(audio, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    run_train_filter(compose("train_filter", TRAIN + [f"store={audio / 'train'}", f"filter={tmp_path / 'c.st'}"]),
                     tmp_path / "tf")
    filt, meta = load_filter(tmp_path / "c.st")
    assert isinstance(filt.fusion, ConvFusion) and filt.fusion.m == 1 and filt.fusion.pad == 15
    assert meta["fusion"]["kind"] == "conv" and meta["fusion"]["dilation"] == 2 and meta["train"]["augment"] is True
    assert meta["fusion"]["offsets"] == list(range(-15, 16))
    m = run_eval(compose("eval", [f"filter={tmp_path / 'c.st'}", f"store={audio / 'test'}", "audio_examples=0"]),
                 tmp_path / "ev")
    rows = m["rows"]
    assert rows["insp_net"]["snr"] > rows["input"]["snr"] + 0.3, rows
    assert m["scale"]["pi"] == "cnn 4x16 on the jet field (31 reach, dilated x2)"
    assert not list((tmp_path / "ev").glob("*.png"))  # audio_examples=0: no example pictures (was a crash)
    tf = json.loads((tmp_path / "tf" / "metrics.json").read_text())
    assert tf["features"] == 3


@pytest.mark.parametrize("extra, message", [
    (["fusion.context=8"], "fusion.kind=conv reads the jets of its own receptive field"),
    (["fusion.dilation=0"], "fusion.dilation"),
    (["fusion.kernel=4"], "an odd fusion.kernel"),
])
def test_bad_audio_conv_settings_are_one_line(audio, tmp_path, extra, message):  # noqa: F811
    r = CliRunner().invoke(app, ["train-filter", *TRAIN, *extra, f"store={audio / 'train'}",
                                 f"filter={tmp_path / 'x.st'}", f"hydra.run.dir={tmp_path / 'run'}"])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
    assert not (tmp_path / "x.st").exists()


def test_the_clip_self_ensemble_is_the_mean_of_the_turned_inrs_decodings():
    """2 / 4 views: Pi on the reversed / negated INR, turned back, averaged; equivariant under those maps."""
    spec, p, pi = _setup()
    views = [(_turned(spec, p, g), g) for g in range(4)]
    one = [turn_clip(denoise_clips(pi, spec, q, T)[..., None], g)[..., 0] for q, g in views]
    for count in (2, 4):
        got = denoise_clips(pi, spec, p, T, ensemble=count)
        torch.testing.assert_close(got, sum(one[:count]) / count, atol=2e-5, rtol=1e-4)
        for q, g in views[1:count]:  # the ensemble of the turned INR is the ensemble's output turned
            torch.testing.assert_close(denoise_clips(pi, spec, q, T, ensemble=count),
                                       turn_clip(got[..., None], g)[..., 0], atol=2e-5, rtol=1e-4)
    assert (denoise_clips(pi, spec, p, T, ensemble=4) - one[0]).abs().max() > 1e-3


def test_clip_self_ensembles_through_eval(audio, tmp_path, monkeypatch):  # noqa: F811
    """self_ensemble=4 with a conv Pi: recorded and noted in the table; 8, 3, or any with an MLP Pi: one line."""
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    run_train_filter(compose("train_filter", TRAIN + ["train.steps=20", f"store={audio / 'train'}",
                                                      f"filter={tmp_path / 'c.st'}"]), tmp_path / "tf")
    r = CliRunner().invoke(app, ["eval", f"filter={tmp_path / 'c.st'}", f"store={audio / 'test'}", "audio_examples=0",
                                 "self_ensemble=4", f"hydra.run.dir={tmp_path / 'ev'}"])
    assert r.exit_code == 0, r.stderr
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    m = m.get("metrics", m)
    assert m["self_ensemble"] == 4 and m["rows"]["insp_net"]["snr"] > m["rows"]["input"]["snr"]
    r = CliRunner().invoke(app, ["table", "table=audio", f"runs=[{tmp_path / 'ev'}]"])
    assert r.exit_code == 0 and "self-ensemble of 4 views" in r.stdout, r.stderr
    for filt, count, message in [(tmp_path / "c.st", 8, "self_ensemble=8"), (tmp_path / "c.st", 3, "self_ensemble=3"),
                                 (audio / "f.safetensors", 2, "convolutional Pi")]:
        r = CliRunner().invoke(app, ["eval", f"filter={filt}", f"store={audio / 'test'}", f"self_ensemble={count}",
                                     f"hydra.run.dir={tmp_path / f'bad{count}'}"])
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        assert r.exit_code != 0 and len(lines) == 1 and message in lines[0], r.stderr


def test_the_label_names_the_reach_the_first_layer_and_the_dilation():
    from insp_cli.modalities.base import pi_label

    meta = {"fusion": {"kind": "conv", "layers": 4, "hidden": 136, "dilation": 2, "kernel": 97}}
    meta["fusion"]["offsets"] = [o for (o,) in neighbourhood(conv_reach(4, 2, 97), 1, 1)]
    assert pi_label(meta) == "cnn 5x136 on the jet field (157 reach, first layer 97 taps, dilated x2)"
