"""`insp eval filter=[A,B,...]`: an ensemble of filters is the mean of their outputs (after each one's
self-ensemble), scored as one filter; a filter with itself is that filter; lists of filters that do not read the
same jets of the same INRs are refused in one line; the pixel twin gets all their parameters together."""

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
from insp_cli.filters.baselines.dncnn import parameter_count
from insp_cli.filters.checkpoint import load_filter, load_filters
from insp_cli.filters.context import neighbourhood
from insp_cli.filters.insp_net import MeanFusion
from insp_cli.inr.siren import SirenSpec, init_params
from insp_cli.inr.store import INRStore
from insp_cli.jobs.evaluate import run_eval
from tests.filter_fixtures import fit_and_train

TRAIN = ["task=denoise", "fusion.order=2", "fusion.hidden=32", "fusion.layers=2", "train.steps=60",
         "train.batch_points=512", "train.lr=2e-3", "train.log_every=20", "train.save_every=60",
         "train.stat_points=2048", "fusion.context=1", "fusion.context_step=1"]
EVAL = ["lpips=false", "check_2x=false", "grid=0", "baselines=[gaussian_filter]"]


def _fusion(seed: int, offsets=None) -> LearnedFusion:
    torch.manual_seed(seed)
    f = LearnedFusion(3, 2, hidden=16, layers=2, offsets=offsets or neighbourhood(1, 1, 2))
    with torch.no_grad():  # far from the identity, different per seed
        for mod in f.mlp:
            if isinstance(mod, torch.nn.Linear):
                torch.nn.init.normal_(mod.weight, std=0.3)
                torch.nn.init.normal_(mod.bias, std=0.1)
    return f.eval()


@pytest.mark.parametrize("count", [1, 8, 48])
def test_the_mean_of_pis_is_the_mean_of_each_ones_self_ensembled_output(count):
    """Psi of MeanFusion([a, b]) decoded with a self-ensemble = the mean of a's and b's self-ensembled decodings;
    [a, a] is a; the ensemble differs from each member."""
    spec = SirenSpec(2, 3, 24, 2)
    p = init_params(spec, 2, generator=torch.Generator().manual_seed(0))
    a, b = _fusion(1), _fusion(2)
    size = (10, 10)

    def psi(fusion):
        return INSPFilter(fusion, 2, size, ensemble=count).decode(spec, p, size, clamp=False)

    pa, pb, pab, paa = psi(a), psi(b), psi(MeanFusion([a, b])), psi(MeanFusion([a, a]))
    assert pab.shape == (2, 10, 10, 3)
    assert torch.allclose(pab, (pa + pb) / 2, atol=1e-5) and torch.allclose(paa, pa, atol=1e-6)
    assert (pab - pa).abs().mean() > 1e-2 and (pab - pb).abs().mean() > 1e-2
    assert parameter_count(MeanFusion([a, b])) == 2 * parameter_count(a)  # the twin's budget: both Pi


def test_pis_that_read_other_jets_are_refused():
    with pytest.raises(InspError, match="must read the same jets"):
        MeanFusion([_fusion(1), _fusion(2, offsets=neighbourhood(2, 1, 2))])
    with pytest.raises(InspError, match="at least one"):
        MeanFusion([])


@pytest.fixture(scope="module")
def filters(tmp_path_factory):
    """Noisy 32x32 INRs (4 train images, 2 test, 4 other train images) and 3x3-context filters: seeds 0 and 1
    on the train INRs, one pointwise, one trained on the other INRs."""
    yield fit_and_train(tmp_path_factory.mktemp("ensemble"), ["train", "test", "other"], TRAIN,
                        [("s0", "train", ["seed=0"]), ("s1", "train", ["seed=1"]),
                         ("pw", "train", ["fusion.context=0"]), ("other", "other", [])])


def test_an_ensemble_of_a_filter_with_itself_is_that_filter(filters, tmp_path):
    d = filters
    one = run_eval(compose("eval", [f"filter={d / 's0.st'}", f"store={d / 'test'}", "self_ensemble=8", *EVAL]),
                   tmp_path / "one")
    two = run_eval(compose("eval", [f"filter=[{d / 's0.st'},{d / 's0.st'}]", f"store={d / 'test'}",
                                    "self_ensemble=8", *EVAL]), tmp_path / "two")
    listed = run_eval(compose("eval", [f"filter=[{d / 's0.st'}]", f"store={d / 'test'}", "self_ensemble=8", *EVAL]),
                      tmp_path / "listed")
    assert np.allclose(two["per_item"]["insp_net"]["psnr"], one["per_item"]["insp_net"]["psnr"], atol=1e-4)
    assert np.allclose(two["per_item"]["insp_net_alone"]["psnr"], one["per_item"]["insp_net_alone"]["psnr"],
                       atol=1e-4)
    assert two["filter"] == [str(d / "s0.st")] * 2 and two["ensemble"]["count"] == 2
    assert two["scale"]["pi"] == "mlp 2x32, jets at 3x3 points (step 1), mean of 2 filters"
    # a single path (or a list of one) is recorded and scored exactly as before
    assert one["filter"] == listed["filter"] == str(d / "s0.st") and "ensemble" not in one
    assert one["rows"] == listed["rows"] and one["scale"]["pi"] == "mlp 2x32, jets at 3x3 points (step 1)"


def test_an_ensemble_of_two_is_their_mean_and_differs_from_each(filters, tmp_path):
    d = filters
    store = INRStore.open(d / "test")
    params = store.params_at(np.arange(2))
    (fa, _), (fb, _) = load_filter(d / "s0.st"), load_filter(d / "s1.st")
    ens, meta = load_filters([str(d / "s0.st"), str(d / "s1.st")])
    for f in (fa, fb, ens):
        f.ensemble = 8
    out = ens.decode(store.spec, params, store.size)
    a, b = (f.decode(store.spec, params, store.size, clamp=False) for f in (fa, fb))
    assert torch.allclose(out, ((a + b) / 2).clamp(0, 1), atol=1e-5)
    assert (out - a.clamp(0, 1)).abs().mean() > 1e-3 and (out - b.clamp(0, 1)).abs().mean() > 1e-3
    assert meta["ensemble"]["seeds"] == [0, 1] and meta["ensemble"]["count"] == 2

    runs = {k: run_eval(compose("eval", [f"filter={f}", f"store={d / 'test'}", *EVAL]), tmp_path / k)
            for k, f in (("a", d / "s0.st"), ("b", d / "s1.st"), ("ab", f"[{d / 's0.st'},{d / 's1.st'}]"))}
    psnr = {k: m["rows"]["insp_net"]["psnr"] for k, m in runs.items()}
    assert abs(psnr["ab"] - psnr["a"]) > 1e-3 and abs(psnr["ab"] - psnr["b"]) > 1e-3
    assert runs["ab"]["rows"]["gaussian_filter"] == runs["a"]["rows"]["gaussian_filter"]
    assert json.loads((tmp_path / "ab" / "metrics.json").read_text())["filter"] == \
        [str(d / "s0.st"), str(d / "s1.st")]


def test_the_pixel_twin_of_an_ensemble_has_all_their_parameters(filters, tmp_path):
    d = filters
    m = run_eval(compose("eval", [f"filter=[{d / 's0.st'},{d / 's1.st'}]", f"store={d / 'test'}", "lpips=false",
                                  "check_2x=false", "grid=0", "baselines=[dncnn]", f"twin.store={d / 'train'}",
                                  "twin.depth=3", "twin.patch=16"]), tmp_path / "tw")
    one = parameter_count(load_filter(d / "s0.st")[0].fusion)
    tw = m["pixel_twin"]
    assert tw["pi_parameters"] == 2 * one and abs(tw["parameters"] - 2 * one) <= 0.1 * 2 * one
    assert np.isfinite(m["rows"]["dncnn"]["psnr"])


@pytest.mark.parametrize("listed, message", [
    ("[S0,PW]", "differs from S0 in fusion.offsets: an ensemble averages filters"),
    ("[S0,OTHER]", "differs from S0 in trained_on"),
    ("[]", "must name at least one path"),
    ("[S0,[S1]]", "must be a path or a list of paths"),
])
def test_bad_lists_of_filters_are_refused_in_one_line(filters, listed, message):
    d = filters
    subs = {"S0": str(d / "s0.st"), "S1": str(d / "s1.st"), "PW": str(d / "pw.st"), "OTHER": str(d / "other.st")}
    for k, v in subs.items():
        listed, message = listed.replace(k, v), message.replace(k, v)
    r = CliRunner().invoke(app, ["eval", f"filter={listed}", f"store={d / 'test'}", "lpips=false", "grid=0"])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
