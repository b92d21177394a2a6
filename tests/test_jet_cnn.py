"""A convolutional Pi over the jet field (``fusion.kind=conv``, ``filters.jet_cnn``). Decoding on the grid (one
jet field, phases for 2x) equals the per-point path at any x; its field self-ensemble equals the per-point
self-ensemble and is equivariant; the turned field is the field of the turned INR (so the training
augmentation shows Pi true INRs); an untrained Pi is the decoded input; trained through the CLI it denoises held-out
INRs, and its pixel twin has its depth and parameter count; bad settings are one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.filters import INSPFilter, LearnedFusion
from insp_cli.filters.checkpoint import load_filter, load_filters
from insp_cli.filters.context import axes_coords, neighbourhood, padded_axes
from insp_cli.filters.insp_net import MeanFusion, jet_features, pixel_jets, subpixel_grid
from insp_cli.filters.jet_cnn import ConvFusion, augment_fields, field_ensemble, turn_field, turn_image
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params
from insp_cli.jobs.evaluate import run_eval
from insp_cli.jobs.train_filter import run_train_filter
from tests.filter_fixtures import fit_and_train, randomise
from tests.test_self_ensemble import _back, _transformed

SIZE = (9, 9)


def _random(fusion, seed: int):
    """Weights far from the identity (``filter_fixtures.randomise``)."""
    return randomise(fusion, seed, 0.2)


def _setup(order=2, layers=2):
    spec = SirenSpec(2, 3, 24, 2)
    p = init_params(spec, 2, generator=torch.Generator().manual_seed(0))
    return spec, p, _random(ConvFusion(3, order, hidden=6, layers=layers), 1)


def test_the_reach_is_the_square_of_offsets_and_the_parameters_match_a_dncnn():
    pi = ConvFusion(3, 2, hidden=10, layers=3)
    assert pi.pad == 4 and len(pi.offsets) == 81 and pi.offsets[0] == (-4, -4) and pi.offsets[1] == (-3, -4)
    # a DnCNN of depth layers + 1 on 3 channels differs only in its first convolution (18 jets in, not 3 pixels)
    from insp_cli.filters.baselines.dncnn import dncnn_parameters
    assert sum(p.numel() for p in pi.parameters()) - dncnn_parameters(3, 10, 4) == 9 * 10 * (18 - 3)


@pytest.mark.parametrize("factor", [1, 2])
def test_decoding_on_the_grid_is_the_direct_path(factor):
    spec, p, pi = _setup()
    filt = INSPFilter(pi, 2, SIZE)
    grid = filt.decode(spec, p, SIZE, factor=factor, clamp=False)  # one jet field (per phase), convolved
    coords = grid_coords(SIZE) if factor == 1 else subpixel_grid(SIZE, factor)
    direct = filt(spec, p, coords[::3])  # the jets at each x + o h of the 7x7 square, per point
    assert grid.abs().max() > 0.1
    torch.testing.assert_close(grid.reshape(2, -1, 3)[:, ::3], direct, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("count", [8, 48])
def test_the_field_self_ensemble_is_the_per_point_one_and_equivariant(count):
    spec, p, pi = _setup()
    p = p[:1]
    got = INSPFilter(pi, 2, SIZE, ensemble=count).decode(spec, p, SIZE, clamp=False)
    direct = INSPFilter(pi, 2, SIZE, ensemble=count)(spec, p, grid_coords(SIZE)[::4])  # insp_net.self_ensemble
    torch.testing.assert_close(got.reshape(1, -1, 3)[:, ::4], direct, atol=3e-5, rtol=1e-4)
    perms = [(0, 1, 2), (2, 0, 1)] if count == 48 else [(0, 1, 2)]
    for g in (3, 5, 6):
        for perm in perms:
            turned = INSPFilter(pi, 2, SIZE, ensemble=count).decode(spec, _transformed(spec, p, g, perm), SIZE,
                                                                    clamp=False)
            torch.testing.assert_close(_back(turned, g, perm), got, atol=3e-5, rtol=1e-4)
    assert (got - INSPFilter(pi, 2, SIZE).decode(spec, p, SIZE, clamp=False)).abs().max() > 1e-2


def _field(spec, p, size, pad, order=2):
    axes = padded_axes(size, pad)
    table = jet_features(pixel_jets(spec, p, axes_coords(axes), order, size))
    return table.reshape(p.shape[0], *[len(a) for a in axes], -1)


@pytest.mark.parametrize("g", range(8))
def test_the_turned_field_is_the_field_of_the_turned_inr(g):
    """``turn_field`` (the augmentation and the self-ensemble) moves the points and transforms each jet exactly
    as the INR Phi(A_g x) has them; the images turn with it (``turn_image``)."""
    spec, p, _ = _setup()
    p = p[:1]
    field = _field(spec, p, SIZE, 2)
    want = _field(spec, _transformed(spec, p, g), SIZE, 2)
    torch.testing.assert_close(turn_field(field, g, 2, 3), want, atol=2e-5, rtol=1e-4)
    img = field[:, 2:-2, 2:-2, ::6]  # the pixel values
    torch.testing.assert_close(_back(turn_image(img, g), g), img)


def test_augmented_patches_keep_fields_and_targets_together():
    spec, p, pi = _setup()
    field = _field(spec, p, SIZE, pi.pad)
    targets = field[:, pi.pad:-pi.pad, pi.pad:-pi.pad, ::6].clone()  # target = the input's own pixel values
    x, y = augment_fields(field, targets, 2, torch.Generator().manual_seed(3))
    assert not torch.equal(x, field)
    torch.testing.assert_close(x[:, pi.pad:-pi.pad, pi.pad:-pi.pad, ::6], y)


def test_an_untrained_conv_pi_is_the_decoded_input():
    spec, p, _ = _setup()
    pi = ConvFusion(3, 2, hidden=6, layers=2)
    out = INSPFilter(pi, 2, SIZE, ensemble=8).decode(spec, p, SIZE, clamp=False)
    field = _field(spec, p, SIZE, 0)
    torch.testing.assert_close(out, field[..., ::6], atol=1e-6, rtol=0)
    torch.testing.assert_close(field_ensemble(pi, _field(spec, p, SIZE, 3), 2, 3, 48), field[..., ::6],
                               atol=1e-6, rtol=0)


def test_mixed_ensembles_are_refused():
    with pytest.raises(InspError, match="mixes convolutional and MLP"):
        MeanFusion([ConvFusion(3, 2, hidden=4, layers=1),
                    LearnedFusion(3, 2, hidden=4, layers=1, offsets=neighbourhood(2, 1, 2))])
    with pytest.raises(InspError, match="must be an MLP Pi"):
        LearnedFusion(3, 2, hidden=4, layers=1, prior=ConvFusion(3, 2, hidden=4, layers=1))
    with pytest.raises(InspError, match="convolves 1-D .audio. or 2-D .image. jet fields; these INRs are 3-D"):
        ConvFusion(1, 2, m=3)


TRAIN = ["task=denoise", "fusion.kind=conv", "fusion.order=2", "fusion.hidden=12", "fusion.layers=2",
         "train.steps=150", "train.batch_points=1024", "train.patch=16", "train.lr=2e-3", "train.log_every=20",
         "train.save_every=50", "train.stat_points=2048", "fusion.context=0"]
EVAL = ["lpips=false", "grid=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Noisy 32x32 INRs (4 train, 2 test) and a conv Pi trained on the train ones (two seeds)."""
    yield fit_and_train(tmp_path_factory.mktemp("jetcnn"), ["train", "test"], TRAIN,
                        [(f"f{seed}", "train", [f"seed={seed}"]) for seed in (0, 1)])


def test_a_trained_conv_pi_denoises_held_out_inrs_and_its_twin_has_its_budget(trained, tmp_path):
    d = trained
    filt, meta = load_filter(d / "f0.st")
    assert isinstance(filt.fusion, ConvFusion) and meta["fusion"]["kind"] == "conv"
    assert len(meta["fusion"]["offsets"]) == 49  # the 7x7 reach of 3 convolutions
    m = run_eval(compose("eval", [f"filter={d / 'f0.st'}", f"store={d / 'test'}", *EVAL, "self_ensemble=8",
                                  "baselines=[dncnn]", f"twin.store={d / 'train'}", "twin.depth=3",
                                  "twin.patch=16"]), tmp_path / "ev")
    rows = m["rows"]
    assert rows["insp_net"]["psnr"] > rows["input"]["psnr"] + 0.5, rows
    assert abs(m["decode_2x"]["delta_db"]) < 0.5  # 2x decoding (phases) box-averaged back
    tw = m["pixel_twin"]
    assert tw["architecture"].startswith("DnCNN 3 layers x ")  # Pi's depth; the width that matches its budget
    assert abs(tw["parameters"] - tw["pi_parameters"]) <= 0.05 * tw["pi_parameters"]
    assert m["scale"]["pi"] == "cnn 3x12 on the jet field (7x7 reach)"
    tf = json.loads((d / "runs" / "tf-f0" / "metrics.json").read_text())
    assert tf["features"] == 18 and np.isfinite(tf["train_psnr"])


def test_an_ensemble_of_conv_pis_is_the_mean_of_their_fields(trained):
    d = trained
    spec = SirenSpec(2, 3, 32, 3)
    p = init_params(spec, 1, generator=torch.Generator().manual_seed(5))
    both, _ = load_filters([d / "f0.st", d / "f1.st"])
    a, _ = load_filter(d / "f0.st")
    b, _ = load_filter(d / "f1.st")
    want = (a.decode(spec, p, (32, 32), clamp=False) + b.decode(spec, p, (32, 32), clamp=False)) / 2
    torch.testing.assert_close(both.decode(spec, p, (32, 32), clamp=False), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("extra, message", [
    (["fusion.context=2"], "fusion.kind=conv reads the jets of its own receptive field"),
    (["fusion.kind=cnn"], "fusion.kind"),
])
def test_bad_conv_settings_are_one_line(trained, tmp_path, extra, message):
    r = CliRunner().invoke(app, ["train-filter", *TRAIN, *extra, f"store={trained / 'train'}",
                                 f"filter={tmp_path / 'x.st'}", f"hydra.run.dir={tmp_path / 'run'}"])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
    assert not (tmp_path / "x.st").exists()


def test_an_mlp_filter_saved_before_train_patch_existed_is_the_same_filter(trained, tmp_path):
    """train.patch (new with the conv Pi) is not part of an MLP Pi's settings: rerunning the command of an MLP
    filter written without it reports it trained, not 'another filter'."""
    from insp_cli.filters.checkpoint import build_fusion, read_filter, save_filter

    args = [a for a in TRAIN if not a.startswith(("fusion.kind", "fusion.hidden", "train.patch"))]
    args += ["fusion.kind=mlp", "fusion.hidden=8", "train.steps=20", f"store={trained / 'train'}",
             f"filter={tmp_path / 'm.st'}"]
    run_train_filter(compose("train_filter", args), tmp_path / "a")
    meta, tensors = read_filter(tmp_path / "m.st")
    del meta["train"]["patch"]
    save_filter(tmp_path / "m.st", build_fusion(meta, tensors), meta)
    again = run_train_filter(compose("train_filter", args), tmp_path / "b")
    assert again["resumed_from"] == 20
