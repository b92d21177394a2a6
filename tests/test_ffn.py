"""Fourier-feature MLPs and plain ReLU MLPs (``model=ffn``, ``model=relu``): the forward pass against a plain
torch reference, the recorded Fourier matrix, closed-form jets against nested autograd at orders 1-3, batched
fitting, and `insp fit` / `insp train-filter` / `insp eval` on their stores with the one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.backbones import forward, init_inrs, match_params, spec_from_cfg, spec_from_dict
from insp_cli.inr.ffn import FFNSpec, ReluSpec, draw_b
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.siren import grid_coords, layout_views
from insp_cli.inr.store import INRStore
from insp_cli.jets.ffn_jet import mlp_jet
from insp_cli.jets.inr_jet import inr_jet
from insp_cli.jets.reference import jet_relative_error, nested_autograd_jet
from insp_cli.jobs.fit import run_fit

FFN = FFNSpec(out_features=2, hidden=12, depth=3, features=10, sigma=2.0, b_seed=3)
RELU = ReluSpec(out_features=2, hidden=12, depth=3)


def _params(spec, n=2, dtype=torch.float64):
    return init_inrs(spec, [torch.Generator().manual_seed(i) for i in range(n)]).to(dtype)


def test_forward_equals_nn_layers_and_b_is_recorded():
    p = _params(FFN)
    x = torch.rand(7, 2, dtype=torch.float64) * 2 - 1
    out = forward(FFN, p, x)
    b = torch.tensor(FFN.B, dtype=torch.float64)
    assert b.shape == (10, 2) and 1.0 < b.std() < 3.0  # N(0, sigma^2), sigma 2
    v = layout_views(FFN, p)
    for i in range(2):
        h = torch.cat([torch.cos(2 * math.pi * x @ b.T), torch.sin(2 * math.pi * x @ b.T)], dim=1)
        for l in range(3):
            h = torch.relu(torch.nn.functional.linear(h, v[f"W{l}"][i], v[f"b{l}"][i]))
        ref = torch.nn.functional.linear(h, v["W3"][i], v["b3"][i])
        assert torch.allclose(out[i], ref, atol=1e-12)
    # B is one draw of b_seed, recorded value by value: the header rebuilds the same spec, even if the
    # generator were to draw otherwise later (a tampered seed does not change a recorded B)
    d = json.loads(json.dumps(FFN.to_dict()))
    assert d["kind"] == "ffn" and len(d["B"]) == 10 and spec_from_dict(d) == FFN
    assert spec_from_dict({**d, "b_seed": 99}).B == FFN.B
    assert FFNSpec(out_features=2, hidden=12, depth=3, features=10, sigma=2.0, b_seed=4).B != FFN.B
    assert FFN.num_params == 12 * 20 + 12 + 2 * (12 * 12 + 12) + 2 * 13  # B is not a parameter
    assert RELU.num_params == 12 * 2 + 12 + 2 * (12 * 12 + 12) + 2 * 13
    assert match_params(FFN, 3000).B == FFN.B  # a budget changes the width only


@pytest.mark.parametrize("spec", [FFN, RELU], ids=["ffn", "relu"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_jets_equal_nested_autograd(spec, order):
    p = _params(spec)
    x = torch.rand(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    x = torch.cat([x.expand(2, -1, -1), torch.rand(2, 4, 2, dtype=torch.float64) * 2 - 1], dim=1)  # (2, 16, 2)
    ref = nested_autograd_jet(lambda c: forward(spec, p, c), x, order)
    assert jet_relative_error(mlp_jet(spec, p, x, order), ref) < 1e-12
    assert jet_relative_error(mlp_jet(spec, p.float(), x.float(), order), ref) < 1e-5
    # points shared by the INRs, in chunks, through the backbone dispatch
    assert jet_relative_error(inr_jet(spec, p, x[0, :12], order, chunk_size=5), ref[:, :, :12]) < 1e-12
    top = ref[:, -(order + 1):]  # the order-`order` partials
    if spec.kind == "relu" and order > 1:  # a ReLU MLP's second and higher derivatives vanish (a.e.)
        assert top.abs().max() == 0 and mlp_jet(spec, p, x, order)[:, 3:].abs().max() == 0
    else:  # an FFN's do not: they come through gamma, growing like (2 pi sigma)^order
        assert top.abs().max() > (2 * math.pi) ** order * 0.05


@pytest.mark.parametrize("spec", [FFN, RELU], ids=["ffn", "relu"])
def test_jets_of_coordinate_maps_and_gradients(spec):
    p = _params(spec)
    x = torch.rand(2, 20, 2, dtype=torch.float64) * 2 - 1
    a = torch.tensor([[[0.8, -0.3], [0.3, 0.8]], [[1.1, 0.0], [0.2, 0.9]]], dtype=torch.float64)
    t = torch.tensor([[0.1, -0.2], [0.0, 0.05]], dtype=torch.float64)
    ref = nested_autograd_jet(lambda c: forward(spec, p, c @ a.transpose(1, 2) + t.unsqueeze(1)), x, 3)
    assert jet_relative_error(mlp_jet(spec, p, x, 3, affine=(a, t)), ref) < 1e-12
    # differentiable with respect to the parameters (what training a Pi on top would need)
    q = p.clone().requires_grad_(True)
    mlp_jet(spec, q, x, 2)[:, 1:3].pow(2).sum().backward()
    assert q.grad is not None and q.grad.abs().max() > 0


def test_bad_specs_and_jet_inputs():
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        FFNSpec(sigma=0.0)
    with pytest.raises(ValueError, match="at least 1 Fourier feature"):
        FFNSpec(features=0)
    with pytest.raises(ValueError, match="must record its Fourier matrix B"):
        spec_from_dict({**FFN.to_dict(), "B": []})
    with pytest.raises(ValueError, match="10x2 finite numbers"):
        spec_from_dict({**FFN.to_dict(), "B": [[1.0, 2.0]]})
    with pytest.raises(InspError, match="non-negative integer"):
        mlp_jet(FFN, _params(FFN), torch.zeros(3, 2, dtype=torch.float64), -1)
    with pytest.raises(InspError, match="coords must be"):
        mlp_jet(RELU, _params(RELU), torch.zeros(3, 3, dtype=torch.float64), 1)
    base = {"hidden": 8, "depth": 2, "features": 4, "sigma": 3.0}
    s = spec_from_cfg({**base, "kind": "ffn"}, 2, 3, (4, 4))
    assert (s.features, s.sigma, s.b_seed, s.input_width) == (4, 3.0, 0, 8) and s.B == draw_b(4, 2, 3.0, 0)
    assert spec_from_cfg({**base, "kind": "relu"}, 2, 3, (4, 4)) == ReluSpec(out_features=3, hidden=8, depth=2)


def test_batched_fit_spectral_bias_in_miniature():
    """Twelve-pixel-period stripes: the FFN fits them, the plain ReLU MLP at the same budget and steps does not."""
    torch.set_num_threads(1)
    c = grid_coords((24, 24))
    img = (0.5 + 0.4 * torch.sin(6 * math.pi * c[:, :1]) * torch.cos(4 * math.pi * c[:, 1:]))[None]
    img = torch.cat([img, 1 - img])  # two INRs in one batch
    settings = FitSettings(steps=200, lr=3e-3, lr_final=3e-4)
    ffn = match_params(FFNSpec(out_features=1, depth=2, features=32, sigma=2.0), 3000)
    relu = match_params(ReluSpec(out_features=1, depth=2), 3000)
    psnr_ffn = fit_inrs(ffn, img, c, settings, seed=1).psnr
    psnr_relu = fit_inrs(relu, img, c, settings, seed=1).psnr
    assert (psnr_ffn > 22).all() and (psnr_relu < 16).all() and (psnr_ffn - psnr_relu > 8).all(), \
        (psnr_ffn, psnr_relu)


FIT = ["data=images", "data.size=16", "degradation=noise", "fit.steps=40", "samples=0", "model.hidden=16",
       "fit.lr=3e-3"]
MODEL = {"ffn": ["model=ffn", "model.features=16", "model.sigma=2"], "relu": ["model=relu"]}
TRAIN = ["task=denoise", "fusion.order=2", "fusion.hidden=16", "fusion.layers=2", "train.steps=30",
         "train.batch_points=256", "train.lr=2e-3", "train.log_every=10", "train.save_every=30",
         "train.stat_points=512"]


def insp_here(*args):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def one_error_line(code, err, message):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err


@pytest.mark.parametrize("kind", ["ffn", "relu"])
def test_fit_train_filter_and_eval_on_the_store(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("INSP_THREADS", "1")
    for split, limit in (("train", 3), ("test", 1)):
        run_fit(compose("fit", FIT + MODEL[kind] + [f"data.split={split}", f"data.limit={limit}",
                                      f"store={tmp_path / split}"]), tmp_path / "runs" / f"fit-{split}")
    store = INRStore.open(tmp_path / "test")
    header = json.loads((tmp_path / "test" / "store.json").read_text())
    assert header["architecture"]["kind"] == kind and store.spec.kind == kind
    if kind == "ffn":  # B recorded: the decoded image is the fitted one, bit for bit
        assert store.spec.B == draw_b(16, 2, 2.0, 0) and len(header["architecture"]["B"]) == 16
    dec = store.decode()
    assert dec.shape == (1, 16, 16, 3) and torch.equal(dec, INRStore.open(tmp_path / "test").decode())
    ckpt = tmp_path / "f.safetensors"
    code, out, err = insp_here("train-filter", *TRAIN, f"store={tmp_path / 'train'}", f"filter={ckpt}")
    assert code == 0, err
    code, out, err = insp_here("eval", f"filter={ckpt}", f"store={tmp_path / 'test'}", "grid=1", "lpips=false")
    assert code == 0, err
    m = json.loads((Path(out.split("run dir")[1].split()[0]) / "metrics.json").read_text())
    assert m["status"] == "complete" and 5 < m["rows"]["insp_net"]["psnr"] < 60
    assert m["model"].startswith("FFN 16 Fourier" if kind == "ffn" else "ReLU MLP 3x16")


@pytest.mark.parametrize("model, message", [
    (["model=ffn", "model.sigma=0"], "model.sigma=0"),
    (["model=ffn", "model.sigma=-1"], "model.sigma=-1"),
    (["model=ffn", "model.features=0"], "model.features=0"),
    (["model=relu", "fit.reg=tv", "fit.batch_pixels=null"], "regularises SIRENs only"),
])
def test_bad_model_settings(workdir, model, message):
    code, _, err = insp_here("fit", "data.split=test", "data.limit=2", "fit.steps=2", *model,
                             f"store={workdir}/x")
    one_error_line(code, err, message)


def test_audio_jets_through_the_backbone_dispatch():
    """1-D FFN INRs (audio) get their jets in sample units; a backbone without jets is one InspError (it was an
    AttributeError when audio called the SIREN jets directly)."""
    from insp_cli.filters.audio import sample_jets
    from insp_cli.inr.wire import WireSpec

    spec = FFNSpec(in_features=1, out_features=1, hidden=8, depth=2, features=4, sigma=2.0)
    p = _params(spec, n=1, dtype=torch.float32)
    jets = sample_jets(spec, p, 50, 2, pad=2)  # (1, 54, 3): value, first and second derivative per sample
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)
    ref = nested_autograd_jet(lambda c: forward(spec, p.double(), c), x.view(1, -1, 1), 2)[0, :, :, 0].T
    h = 2 / 49  # sample spacing: derivatives per sample
    assert jets.shape == (1, 54, 3)
    assert torch.allclose(jets[0, 2:-2].double(), ref * torch.tensor([1, h, h * h], dtype=torch.float64), atol=1e-4)
    wire = WireSpec(in_features=1, hidden=4, depth=2)
    with pytest.raises(InspError, match="WIRE INRs have no jets"):
        sample_jets(wire, init_inrs(wire, [torch.Generator().manual_seed(0)]), 50, 2)
