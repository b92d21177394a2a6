"""A cascade of two INSP-Nets (``fusion.prior``): Pi_2 reads Phi's jets and the first stage's output Psi_1 at its
offsets. Decoding on the grid (shared tables) equals the direct path at any x, 1x and 2x; the training sampler
hands Pi_2 the same features; an untrained cascade is its first stage; with an equivariant first stage the
cascade's self-ensemble is equivariant and is the mean of Pi_2 on the turned INRs; the pixel twin gets both
stages' parameters and steps; bad first stages are refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.filters import INSPFilter, LearnedFusion, PixelSampler
from insp_cli.filters.checkpoint import load_filter
from insp_cli.filters.context import neighbourhood
from insp_cli.filters.insp_net import MeanFusion, subpixel_grid
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params
from insp_cli.jets import grid_spacing
from insp_cli.jobs.evaluate import run_eval
from insp_cli.jobs.train_filter import run_train_filter
from tests.filter_fixtures import fit_and_train, randomise
from tests.test_self_ensemble import _back, _transformed

SIZE = (10, 10)


def _random(fusion, seed: int):
    """Weights far from the identity (``filter_fixtures.randomise``)."""
    return randomise(fusion, seed, 0.3)


def _setup(prior_ensemble=1, trained=True):
    spec = SirenSpec(2, 3, 24, 2)
    p = init_params(spec, 2, generator=torch.Generator().manual_seed(0))
    first = _random(LearnedFusion(3, 2, hidden=16, layers=2, offsets=neighbourhood(1, 1, 2)), 1)
    second = LearnedFusion(3, 1, hidden=16, layers=2, offsets=neighbourhood(1, 1, 2), prior=first,
                           prior_ensemble=prior_ensemble)
    return spec, p, first, (_random(second, 2) if trained else second)


@pytest.mark.parametrize("factor", [1, 2])
def test_decoding_on_the_grid_is_the_direct_path(factor):
    spec, p, _, second = _setup(prior_ensemble=8)
    assert second.extra == 1 and second.mlp[0].in_features == 9 * 3 * (3 + 1)
    filt = INSPFilter(second, 1, SIZE)
    grid = filt.decode(spec, p, SIZE, factor=factor, clamp=False)  # shared jet and Psi_1 tables
    coords = grid_coords(SIZE) if factor == 1 else subpixel_grid(SIZE, factor)
    direct = filt(spec, p, coords)  # jets and Psi_1 at each x + o h
    assert grid.abs().max() > 0.1
    torch.testing.assert_close(grid.reshape(2, -1, 3), direct, atol=2e-5, rtol=1e-4)


def test_an_untrained_cascade_is_its_first_stage():
    spec, p, first, second = _setup(prior_ensemble=8, trained=False)
    got = INSPFilter(second, 1, SIZE).decode(spec, p, SIZE, clamp=False)
    want = INSPFilter(first, 2, SIZE, ensemble=8).decode(spec, p, SIZE, clamp=True)  # Psi_1 is read clamped
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    assert (got - INSPFilter(first, 2, SIZE).decode(spec, p, SIZE)).abs().max() > 1e-3  # its views count


def test_the_training_sampler_reads_the_features_decoding_reads():
    spec, p, first, second = _setup(prior_ensemble=8)
    targets = torch.rand(2, SIZE[0] * SIZE[1], 3)
    stage = INSPFilter(first, 2, SIZE, ensemble=8)
    sampler = PixelSampler(spec, p, targets, 1, SIZE, offsets=second.offsets, prior=stage)
    assert sampler.cache is not None and sampler.num_features == second.mlp[0].in_features
    img, pix = torch.tensor([0, 1, 1]), torch.tensor([[0, 37, 99], [5, 50, 11], [90, 9, 42]])
    feats, tg = sampler._at(img, pix)
    filt = INSPFilter(second, 1, SIZE)
    step = torch.tensor(grid_spacing(SIZE))
    coords = grid_coords(SIZE)[pix]  # (3, 3, 2)
    want = torch.cat([filt.features(spec, p[img], coords + step * torch.tensor(o, dtype=torch.float32))
                      for o in second.offsets], dim=-1).reshape(9, -1)
    torch.testing.assert_close(feats, want, atol=2e-5, rtol=1e-4)
    assert torch.equal(tg, targets[img[:, None], pix].reshape(9, 3))
    uncached = PixelSampler(spec, p, targets, 1, SIZE, offsets=second.offsets, prior=stage, cache_bytes=0)
    torch.testing.assert_close(uncached._at(img, pix)[0], want, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("count", [8, 48])
def test_with_an_equivariant_first_stage_the_self_ensemble_is_equivariant(count):
    """Psi_1 with its 8 (48) views is exactly equivariant, so the flips (and colour permutations) of the cascade's
    features are those of the turned INR: its self-ensemble is the mean of Pi_2 on the turned INRs."""
    spec, p, _, second = _setup(prior_ensemble=count)
    p = p[:1]
    got = INSPFilter(second, 1, SIZE, ensemble=count).decode(spec, p, SIZE, clamp=False)
    plain = INSPFilter(second, 1, SIZE)
    perms = [(0, 1, 2), (2, 0, 1)] if count == 48 else [(0, 1, 2)]
    for g in (0, 3, 5):
        for perm in perms:  # the ensemble is equivariant
            turned = INSPFilter(second, 1, SIZE, ensemble=count).decode(spec, _transformed(spec, p, g, perm), SIZE,
                                                                         clamp=False)
            torch.testing.assert_close(_back(turned, g, perm), got, atol=3e-5, rtol=1e-4)
    if count == 8:
        want = torch.stack([_back(plain.decode(spec, _transformed(spec, p, g), SIZE, clamp=False), g)
                            for g in range(8)]).mean(0)
        torch.testing.assert_close(got, want, atol=3e-5, rtol=1e-4)
    assert (got - plain.decode(spec, p, SIZE, clamp=False)).abs().max() > 1e-2


def test_first_stages_that_cannot_be_one_are_refused():
    _, _, first, second = _setup()
    with pytest.raises(InspError, match="must be a one-stage filter"):
        LearnedFusion(3, 1, hidden=8, layers=1, offsets=neighbourhood(1, 1, 2), prior=second)
    with pytest.raises(InspError, match="one channel count"):
        LearnedFusion(1, 1, hidden=8, layers=1, prior=first)
    with pytest.raises(InspError, match="choose one of 1, 8, 48"):
        LearnedFusion(3, 1, hidden=8, layers=1, prior=first, prior_ensemble=6)
    with pytest.raises(InspError, match="an ensemble of cascades"):
        MeanFusion([second, second])


TRAIN = ["task=denoise", "fusion.order=2", "fusion.hidden=32", "fusion.layers=2", "train.steps=60",
         "train.batch_points=512", "train.lr=2e-3", "train.log_every=20", "train.save_every=30",
         "train.stat_points=2048", "fusion.context=1", "fusion.context_step=1"]
EVAL = ["lpips=false", "check_2x=false", "grid=0"]


@pytest.fixture(scope="module")
def cascade(tmp_path_factory):
    """Noisy 32x32 INRs (4 train, 2 test, 4 other train), a 3x3 first stage (seeds 0 and 1), a cascade on the
    first (8 views), and a first stage trained on the other INRs."""
    d = tmp_path_factory.mktemp("cascade")
    yield fit_and_train(d, ["train", "test", "other"], TRAIN,
                        [("first", "train", []), ("first1", "train", ["seed=1"]), ("other", "other", []),
                         ("second", "train", [f"fusion.prior={d / 'first.st'}", "fusion.prior_ensemble=8"])])


def test_a_trained_cascade_is_self_contained_and_beats_its_first_stage_on_train(cascade, tmp_path):
    d = cascade
    filt, meta = load_filter(d / "second.st")
    prior = meta["fusion"]["prior"]
    assert prior["file"] == str(d / "first.st") and prior["ensemble"] == 8 and prior["steps"] == 60
    first, _ = load_filter(d / "first.st")
    for a, b in zip(filt.fusion.prior.parameters(), first.fusion.parameters()):  # the first stage, untouched
        assert torch.equal(a, b)
    assert filt.first_stage.ensemble == 8
    (d / "moved.st").write_bytes((d / "second.st").read_bytes())
    (d / "first.st").rename(d / "first-away.st")  # the weights travel in the cascade's own file
    try:
        m = run_eval(compose("eval", [f"filter={d / 'moved.st'}", f"store={d / 'test'}", *EVAL,
                                      "baselines=[gaussian_filter]"]), tmp_path / "ev")
    finally:
        (d / "first-away.st").rename(d / "first.st")
    assert np.isfinite(m["rows"]["insp_net"]["psnr"])
    tf = json.loads((d / "runs" / "tf-second" / "metrics.json").read_text())
    tf1 = json.loads((d / "runs" / "tf-first" / "metrics.json").read_text())
    assert tf["features"] == 9 * 3 * 7 and tf["train_psnr"] > tf1["train_psnr"] - 0.5


def test_the_pixel_twin_of_a_cascade_has_both_stages_parameters_and_steps(cascade, tmp_path):
    d = cascade
    m = run_eval(compose("eval", [f"filter={d / 'second.st'}", f"store={d / 'test'}", *EVAL, "baselines=[dncnn]",
                                  f"twin.store={d / 'train'}", "twin.depth=3", "twin.patch=16"]), tmp_path / "tw")
    filt, _ = load_filter(d / "second.st")
    both = sum(p.numel() for p in filt.fusion.parameters())
    first = sum(p.numel() for p in filt.fusion.prior.parameters())
    tw = m["pixel_twin"]
    assert 0 < first < both and tw["pi_parameters"] == both and tw["steps"] == 120


@pytest.mark.parametrize("prior, message", [
    ("OTHER", "differs from this filter in trained_on: a cascade's first stage"),
    ("SECOND", "is itself a cascade"),
    ("MISSING", "does not exist"),
])
def test_bad_first_stages_are_refused_in_one_line(cascade, tmp_path, prior, message):
    d = cascade
    path = {"OTHER": d / "other.st", "SECOND": d / "second.st", "MISSING": d / "nope.st"}[prior]
    r = CliRunner().invoke(app, ["train-filter", *TRAIN, f"store={d / 'train'}", f"filter={tmp_path / 'x.st'}",
                                 f"fusion.prior={path}", f"hydra.run.dir={tmp_path / 'run'}"])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
    assert not (tmp_path / "x.st").exists()


def test_a_cascade_whose_first_stage_changed_is_refused(cascade, tmp_path):
    """The first stage's sha256 is part of the cascade's settings: rerunning its command after the first-stage
    file was replaced (here by one trained with another seed) is another filter, refused in one line."""
    d = cascade
    (tmp_path / "first.st").write_bytes((d / "first.st").read_bytes())
    args = TRAIN + [f"store={d / 'train'}", f"fusion.prior={tmp_path / 'first.st'}", f"filter={tmp_path / 'c.st'}"]
    run_train_filter(compose("train_filter", args), tmp_path / "run1")
    again = run_train_filter(compose("train_filter", args), tmp_path / "run2")  # finished: reported, not redone
    assert again["resumed_from"] == 60
    (tmp_path / "first.st").write_bytes((d / "first1.st").read_bytes())
    with pytest.raises(InspError, match=r"holds another filter \(fusion differ\)"):
        run_train_filter(compose("train_filter", args), tmp_path / "run3")
