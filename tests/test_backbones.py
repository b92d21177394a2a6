"""The INR backbones (SIREN, O-INR, WIRE, MFN): forward passes against plain torch references, parameter
budgets, batched fitting, and the store's architecture kind."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from insp_cli.errors import InspError
from insp_cli.inr.backbones import (KINDS, SPECS, forward, init_inrs, match_params, mse_and_grad, spec_from_cfg,
                                    spec_from_dict)
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.oinr import OINRSpec, encode, unflatten
from insp_cli.inr.siren import SirenSpec, grid_coords
from insp_cli.inr.store import INRStore, StoreHeader, prepare_store, write_shard
from insp_cli.inr.siren import layout_views as _views
from insp_cli.inr.wire import WireSpec


def _gens(n, base=0):
    return [torch.Generator().manual_seed(base + i) for i in range(n)]


def _spec(kind, **kw):
    return SPECS[kind](**({"size": (6, 5)} if kind == "oinr" else {}), out_features=2, **kw)


def test_oinr_forward_equals_nn_conv2d_per_inr():
    spec = OINRSpec(size=(6, 5), out_features=2, widths=(4, 3), frequencies=2)
    params = init_inrs(spec, _gens(3)).double()
    coords = grid_coords((6, 5), dtype=torch.float64)
    out = forward(spec, params, coords)  # (3, 30, 2)
    x = coords[:, 0].reshape(6, 5)
    y = coords[:, 1].reshape(6, 5)
    chans = [f(2 ** l * math.pi * v) for v in (x, y) for l in range(2) for f in (torch.sin, torch.cos)]
    pe = torch.stack(chans)[None]  # (1, 8, 6, 5)
    for i in range(3):
        k0, k1, k2 = unflatten(spec, params[i:i + 1])
        h = torch.sin(F.conv2d(pe, k0[0], padding=1))
        h = torch.sin(F.conv2d(h, k1[0], padding=1))
        ref = F.conv2d(h, k2[0], padding=1)[0]  # (2, 6, 5)
        assert torch.allclose(out[i], ref.reshape(2, 30).T, atol=1e-12)
    assert torch.allclose(encode(spec, coords).reshape(8, 6, 5), pe[0], atol=1e-12)


def test_oinr_per_inr_coordinates_and_wrong_grid():
    spec = OINRSpec(size=(4, 4), out_features=1, widths=(3,), frequencies=1)
    params = init_inrs(spec, _gens(2)).double()
    c = grid_coords((4, 4), dtype=torch.float64)
    shifted = torch.stack([c, c + 0.1])
    out = forward(spec, params, shifted)
    assert torch.allclose(out[0], forward(spec, params[:1], c)[0], atol=1e-12)
    assert torch.allclose(out[1], forward(spec, params[1:], c + 0.1)[0], atol=1e-12)
    with pytest.raises(ValueError, match="4x4 grid only"):
        forward(spec, params, grid_coords((5, 4), dtype=torch.float64))


def test_wire_forward_equals_complex_reference():
    spec = WireSpec(in_features=2, out_features=2, hidden=5, depth=3)
    params = init_inrs(spec, _gens(2)).double()
    x = torch.rand(7, 2, dtype=torch.float64) * 2 - 1
    out = forward(spec, params, x)
    v = _views(spec, params)
    for i in range(2):
        def psi(z):
            return torch.exp(1j * spec.omega0 * z - (spec.sigma0 * z.abs()) ** 2)
        h = psi((x @ v["W0"][i].T + v["b0"][i]).to(torch.complex128))
        for l in (1, 2):
            w = torch.complex(v[f"W{l}r"][i], v[f"W{l}i"][i])
            h = psi(h @ w.T + torch.complex(v[f"b{l}r"][i], v[f"b{l}i"][i]))
        ref = (h @ torch.complex(v["W3r"][i], v["W3i"][i]).T).real + v["b3"][i]
        assert torch.allclose(out[i], ref, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_budget_matching_and_layout(kind):
    spec = match_params(_spec(kind), 5000)
    assert abs(spec.num_params - 5000) / 5000 < 0.06, (kind, spec)
    assert sum(math.prod(s) for _, s, _ in spec.layout) == spec.num_params
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    p = init_inrs(spec, _gens(2))
    assert p.shape == (2, spec.num_params)
    assert torch.equal(p[1], init_inrs(spec, _gens(1, base=1))[0])  # row i from generator i alone


@pytest.mark.parametrize("kind", ["oinr", "wire", "mfn"])
def test_autograd_gradient_is_per_inr(kind):
    spec = _spec(kind, **({"widths": (3, 3)} if kind == "oinr" else {"hidden": 6}))
    params = init_inrs(spec, _gens(3)).double()
    coords = grid_coords((6, 5), dtype=torch.float64)
    targets = torch.rand(3, 30, 2, dtype=torch.float64) * 2 - 1
    mse, grad = mse_and_grad(spec, params, coords, targets)
    for i in range(3):
        m1, g1 = mse_and_grad(spec, params[i:i + 1], coords, targets[i:i + 1])
        assert torch.allclose(mse[i], m1[0]) and torch.allclose(grad[i], g1[0], atol=1e-12)
    # central difference along one direction
    d = torch.randn_like(params) * 1e-7
    m2, _ = mse_and_grad(spec, params + d, coords, targets)
    m0, _ = mse_and_grad(spec, params - d, coords, targets)
    assert torch.allclose((m2 - m0) / 2, (grad * d).sum(1), rtol=1e-5, atol=1e-16)


@pytest.fixture
def one_thread():
    """Small convolutions on a loaded 2-core machine run ~20x slower with 2 threads than with one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("kind, lr", [("oinr", 1e-2), ("wire", 5e-3), ("mfn", 5e-3)])
def test_each_backbone_fits_a_smooth_image(kind, lr, one_thread):
    h = w = 12
    c = grid_coords((h, w))
    img = (0.5 + 0.4 * torch.sin(2 * c[:, :1]) * torch.cos(3 * c[:, 1:])).expand(-1, 2)[None].contiguous()
    extra = {"size": (h, w)} if kind == "oinr" else {"omega0": 10.0} if kind == "wire" else {}
    spec = match_params(SPECS[kind](**extra, out_features=2), 2000)  # WIRE's omega0 20 suits detail, not this
    res = fit_inrs(spec, img, c, FitSettings(steps=150, lr=lr, lr_final=lr / 10), seed=1)
    assert bool(res.ok[0]) and float(res.psnr[0]) > 30, (kind, float(res.psnr[0]))


def test_spec_from_cfg_kinds_and_errors():
    base = {"hidden": 8, "depth": 2, "omega0": 30.0, "sigma0": 10.0, "input_scale": 64.0}
    assert spec_from_cfg(base, 2, 3, (4, 4)) == SirenSpec(out_features=3, hidden=8, depth=2)
    o = spec_from_cfg({**base, "kind": "oinr"}, 2, 3, (4, 5))
    assert o.size == (4, 5) and o.widths == (4, 4) and o.channels == 40
    assert spec_from_cfg({**base, "kind": "oinr", "hidden": 128, "depth": 4}, 2, 3, (4, 5)).widths == (64, 128, 128, 64)
    with pytest.raises(ValueError, match="2-D images"):
        spec_from_cfg({**base, "kind": "oinr"}, 1, 1, (100,))
    with pytest.raises(ValueError, match="unknown model.kind"):
        spec_from_cfg({**base, "kind": "nerf"}, 2, 3, (4, 4))
    assert spec_from_cfg({**base, "kind": "wire", "params": 3000}, 2, 3, (4, 4)).num_params == \
        match_params(WireSpec(out_features=3, hidden=8, depth=2), 3000).num_params


def test_store_kinds_old_headers_and_unknown(tmp_path):
    old = SirenSpec(out_features=1, hidden=4, depth=2).to_dict()
    del old["kind"]
    assert spec_from_dict(old) == SirenSpec(out_features=1, hidden=4, depth=2)  # stores before backbones
    spec = OINRSpec(size=(4, 4), out_features=1, widths=(2,), frequencies=1)
    header = StoreHeader(spec=spec, source={"name": "t", "size": [4, 4]}, degradation={"kind": "clean"}, fit={})
    d = prepare_store(tmp_path / "st", header)
    params = init_inrs(spec, _gens(2))
    write_shard(d, header, 0, 2, params, np.arange(2), np.zeros(2), np.ones(2, bool))
    store = INRStore.open(d)
    assert store.spec == spec and store.decode().shape == (2, 4, 4, 1)
    with pytest.raises(InspError, match="4x4 grid only, not at 8x8"):
        store.decode((8, 8))
    with pytest.raises(InspError, match="4x4 grid only, not at 2x8"):
        store.decode((2, 8))  # the same number of points, another grid
    j = json.loads((d / "store.json").read_text())
    j["architecture"]["kind"] = "nerf"
    (d / "store.json").write_text(json.dumps(j))
    with pytest.raises(InspError, match="unknown INR architecture kind 'nerf'"):
        INRStore.open(d)


def test_a_new_backbone_is_one_registration(monkeypatch):
    """A toy backbone (a linear map of the coordinates) registered from outside: config -> spec, header round trip,
    forward, autograd fitting gradient, describe, and the jets refusal all work with no other change."""
    from dataclasses import asdict, dataclass

    from insp_cli.inr import registry
    from insp_cli.inr.backbones import describe, name_of
    from insp_cli.jets.inr_jet import inr_jet

    @dataclass(frozen=True)
    class ToySpec:
        in_features: int = 2
        out_features: int = 1
        hidden: int = 1
        kind = "toy"
        pointwise = True

        @property
        def num_params(self) -> int:
            return self.in_features * self.out_features

        def to_dict(self) -> dict:
            return {"kind": "toy", **asdict(self)}

        @classmethod
        def from_dict(cls, d: dict) -> "ToySpec":
            return cls(**{k: v for k, v in d.items() if k != "kind"})

        def describe(self) -> str:
            return f"toy {self.in_features}->{self.out_features}"

    def fwd(spec, params, coords):
        w = params.view(-1, spec.out_features, spec.in_features)
        return coords @ w.transpose(1, 2) if coords.dim() == 3 else torch.einsum("qm,ncm->nqc", coords, w)

    toy = registry.Backbone(kind="toy", name="Toy", spec=ToySpec, forward=fwd,
                            init=lambda spec, n, generator=None: torch.randn(n, spec.num_params, generator=generator),
                            from_cfg=lambda model, m, c, shape: ToySpec(in_features=m, out_features=c))
    monkeypatch.setitem(registry.BACKBONES, "toy", toy)
    spec = spec_from_cfg({"kind": "toy", "hidden": 1, "depth": 1}, 2, 3, (4, 4))
    assert spec == ToySpec(2, 3) and spec_from_dict(spec.to_dict()) == spec
    assert describe(spec) == "toy 2->3" and name_of(spec) == "Toy"
    coords = grid_coords(4)
    params = init_inrs(spec, _gens(2))
    assert params.shape == (2, 6) and forward(spec, params, coords).shape == (2, 16, 3)
    target = forward(spec, torch.ones(2, 6), coords)
    mse, grad = mse_and_grad(spec, torch.zeros(2, 6), coords, target)
    assert mse.shape == (2,) and float(mse.min()) > 0 and float(grad.abs().max()) > 0
    with pytest.raises(InspError, match="Toy INRs have no jets in insp.*take FFN, O-INR, ReLU MLP or SIREN stores"):
        inr_jet(spec, params, coords, 1)
