"""Gradient-domain editing of INRs (`insp blend`): target gradients from jets, the discrete Poisson solver, a tiny
reconstruction, the command end to end, and its one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.filters.baselines.poisson import alpha_blend, poisson_blend, poisson_reconstruct, seam_error
from insp_cli.filters.gradient_domain import (GradientFitSettings, Mask, fit_to_gradients, guidance, path_integrals,
                                              segments)
from insp_cli.inr.siren import SirenSpec, grid_coords, init_params, siren_forward
from insp_cli.inr.store import INRStore
from insp_cli.jobs.blend import run_blend
from insp_cli.jobs.fit import run_fit
from insp_cli.schema import validate
from insp_cli.jets.reference import siren_jet_reference
from insp_cli.jets.scale import grid_spacing
from insp_cli.metrics.images import psnr_up_to_constant

ROOT = Path(__file__).resolve().parents[1]
TINY_FIT = ["data=images", "data.split=test", "data.limit=3", "data.size=16", "model.hidden=16", "fit.steps=40",
            "samples=0"]
TINY_BLEND = ["fit.steps=20", "fit.batch_points=256", "fit.pool_points=1024", "samples=2"]


def insp(*args):
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "INSP_THREADS": "1"}, cwd=ROOT, timeout=600)


def one_error_line(r, message):
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_guidance_from_jets_equals_autograd_of_the_inrs():
    """The blend's target field (order-1 jets, per pixel, mixed inside the mask) is autograd's gradient of the
    decoded INRs combined the same way."""
    spec = SirenSpec(2, 3, 16, 3, 30.0)
    f1 = init_params(spec, 2, torch.Generator().manual_seed(0))
    f2 = init_params(spec, 2, torch.Generator().manual_seed(1))
    x = torch.rand(50, 2, generator=torch.Generator().manual_seed(2)) * 2 - 1
    mask = Mask.disc(0.1, -0.2, 0.5)
    inside = mask.inside(x)
    assert 5 < int(inside.sum()) < 45
    g, v = guidance(spec, f1, f2, x, inside, 0.3, grid_spacing((20, 40)))

    def grad(params):  # nested autograd on the decoded INR (jets/reference.py): (N, Q, C, 2)
        return siren_jet_reference(spec, params, x, 1)[:, 1:3].permute(0, 2, 3, 1)

    a, b = grad(f1), grad(f2)
    k = inside.view(1, -1, 1, 1).float() * 0.7
    ref = (a + k * (b - a)) * torch.tensor([2 / 39, 2 / 19])  # per pixel of a 20 x 40 grid: (x, y) pitch
    assert torch.allclose(g, ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))
    assert torch.allclose(v, siren_forward(spec, f1, x), atol=1e-6)


def test_path_integrals_of_jets_are_differences_of_values():
    """The reconstruction's path term: integrals of the jets' gradients along segments equal f(b) - f(a)."""
    spec = SirenSpec(2, 2, 16, 3, 30.0)
    f = init_params(spec, 2, torch.Generator().manual_seed(4))
    f[:, -34:] *= 10  # the output layer (W 2x16, b 2) x 10: differences of ~0.3
    a, b = segments(64, 1.0, torch.Generator().manual_seed(5), "cpu")
    assert (b - a).norm(dim=1).max() <= 1.0 + 1e-6 and b.abs().max() <= 1 and (b - a).norm(dim=1).min() > 0
    got = path_integrals(spec, f, a, b, 256)  # (N, S, C)
    ref = siren_forward(spec, f, b) - siren_forward(spec, f, a)
    assert ref.abs().mean() > 0.1 and (got - ref).abs().max() < 1e-3 * ref.abs().max() + 1e-4


def test_discrete_poisson_integrates_a_smooth_function_and_blends_seamlessly():
    h, w = 40, 48
    yy, xx = np.mgrid[0:h, 0:w] / 40.0
    f = np.stack([np.sin(3 * xx) * np.cos(2 * yy), xx * yy + 0.3 * np.exp(-xx)], -1)  # (H, W, 2)
    rec = poisson_reconstruct(f)
    assert np.abs(rec - f).max() < 1e-8
    # cloning g into f with g = f + a smooth bump inside the mask: the guidance is f's + the bump's gradient,
    # so the exact answer is known when the bump vanishes on the boundary
    mask = Mask.disc(0.0, 0.0, 0.6).grid((h, w))
    r2 = (xx - 0.6) ** 2 + (yy - 0.5) ** 2
    bump = (np.clip(0.04 - r2, 0, None) ** 2 * 100)[..., None]  # zero outside radius 0.2 (8 pixels), in the mask
    assert not (bump[..., 0] > 0)[~mask].any()
    g = f + bump
    out = poisson_blend(f, g, mask, 0.0)
    assert np.abs(out - g).max() < 1e-8
    # a constant offset inside the mask: Poisson removes the seam that alpha blending shows
    off = f + 0.5
    pb, ab = poisson_blend(f, off, mask, 0.0), alpha_blend(f, off, mask, 0.0)
    assert seam_error(pb, f, off, mask, 0.0) < 1e-8 and seam_error(ab, f, off, mask, 0.0) > 0.4


@pytest.fixture
def one_thread():
    """Small batched products run far faster on one thread of a shared CPU (INSP_THREADS in the jobs)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_reconstruction_from_gradients_reaches_a_psnr_bound(one_thread):
    """A small SIREN is rebuilt from its gradients alone (read from its jets) to > 33 dB up to the constant."""
    torch.manual_seed(0)
    spec = SirenSpec(2, 1, 16, 2, 10.0)
    f = init_params(spec, 2, torch.Generator().manual_seed(3))
    f[:, -17:] *= 4  # a stronger signal (output layer x 4): pixel values spread over ~0.4
    res = fit_to_gradients(spec, spec, f, None, None, 1.0, (32, 32),
                           GradientFitSettings(steps=80, lr=5e-3, lr_final=1e-4, batch_points=256, pool_points=2048,
                                               path_weight=0.0))  # the plain gradient loss (1)
    assert res.ok.all()
    g = grid_coords(32)
    a = siren_forward(spec, res.params, g).reshape(2, 32, 32, 1).numpy() * 0.5
    b = siren_forward(spec, f, g).reshape(2, 32, 32, 1).numpy() * 0.5
    assert psnr_up_to_constant(a, b).min() > 33  # 36.9 and 37.5 dB when written
    assert np.abs(a.mean((1, 2, 3))).max() < 1e-3  # centred: the free constant set to mid-gray
    # a flat image is far from it: the bound is not met by chance
    assert psnr_up_to_constant(np.zeros_like(b), b).max() < 20


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """Four tiny stores fitted in-process: RGB 16x16 (the one blended), RGB 20x20, MFN, gray 16x16."""
    d = tmp_path_factory.mktemp("blend")
    for name, extra in (("s16", []), ("s20", ["data.size=20"]), ("mfn", ["model=mfn"]),
                        ("gray", ["data.channels=1"])):
        run_fit(compose("fit", TINY_FIT + extra + [f"store={d}/{name}", "tracking.mode=disabled"]), d / "runs" / name)
    return d


def test_cli_blend_and_reconstruct_end_to_end(tiny_store, workdir):
    run = workdir / "run"
    r = insp("blend", f"store={tiny_store}/s16", "pairs=[[0,1],[2,0]]", "mask.radius=[0.5,0.5]", *TINY_BLEND,
             f"out={workdir}/b", f"hydra.run.dir={run}")
    assert r.returncode == 0, r.stderr
    m = json.loads((run / "metrics.json").read_text())
    assert m["status"] == "complete" and m["count"] == 2 and len(m["per_pair"]) == 2
    for key in ("psnr_vs_poisson", "seam_inr", "seam_poisson", "seam_alpha"):
        assert all(np.isfinite(p[key]) for p in m["per_pair"])
    assert (run / "blend.png").exists() and (run / "mask.png").exists()
    store = INRStore.open(workdir / "b")  # an ordinary SIREN store: decodes at any resolution
    assert len(store) == 2 and store.spec.hidden == 16 and store.decode(40).shape == (2, 40, 40, 3)
    assert store.header.source["mode"] == "blend" and store.header.source["pairs"] == [[0, 1], [2, 0]]
    run2 = workdir / "run2"
    r = insp("blend", "mode=reconstruct", f"store={tiny_store}/s16", "pairs=[1]", *TINY_BLEND,
             f"out={workdir}/r", f"hydra.run.dir={run2}")
    assert r.returncode == 0, r.stderr
    m = json.loads((run2 / "metrics.json").read_text())
    assert m["count"] == 1 and np.isfinite(m["psnr_mean"]) and m["psnr_discrete_poisson_mean"] > 100
    assert len(INRStore.open(workdir / "r")) == 1 and (run2 / "reconstruct.png").exists()
    # the output store is not overwritten
    one_error_line(insp("blend", f"store={tiny_store}/s16", "pairs=[[0,1]]", *TINY_BLEND, f"out={workdir}/b"),
                   "already holds INRs")


def _png(path, size, value=255):
    from PIL import Image

    a = np.zeros(size, np.uint8)
    a[size[0] // 4:size[0] // 2, size[1] // 4:size[1] // 2] = value
    Image.fromarray(a).save(path)
    return path


def test_cli_png_mask(tiny_store, workdir):
    png = _png(workdir / "m.png", (16, 16))
    r = insp("blend", f"store={tiny_store}/s16", "pairs=[[0,1]]", f"mask.shape={png}", *TINY_BLEND,
             f"out={workdir}/p", f"hydra.run.dir={workdir}/run")
    assert r.returncode == 0, r.stderr
    assert json.loads((workdir / "run" / "metrics.json").read_text())["count"] == 1


BAD = [
    (["store2={d}/s20", "pairs=[[0,1]]"], "different sizes (16x16 and 20x20)"),
    (["store2={d}/gray", "pairs=[[0,1]]"], "different channels (3 and 1)"),
    (["store2={d}/mfn", "pairs=[[0,1]]"], "different backbones"),
    (["pairs=[[0,1]]", "mask.shape={w}/wrong.png"], "is 8x12, the images are 16x16"),
    (["pairs=[[0,1]]", "mask.shape=star"], "neither a built-in shape"),
    (["pairs=[[0,1]]", "mask.radius=[0,0.5]"], "radius > 0"),
    (["pairs=[[0,1]]", "mask.centre=[5,5]"], "covers no pixel"),
    (["pairs=[[0,1]]", "alpha=1.5"], "alpha=1.5; it must be a number in [0, 1]"),
    (["pairs=[[0,1]]", "alpha=-0.1"], "alpha=-0.1"),
    (["pairs=[[0,3]]"], "index 3 is out of range for the second store (3 INRs: 0..2)"),
    (["pairs=[[7,0]]"], "index 7 is out of range for the first store"),
    (["pairs=[[0]]"], "must be a pair [i, j]"),
    (["mode=reconstruct", "pairs=[5]"], "index 5 is out of range"),
    (["mode=mix"], "mode='mix'"),
    (["store={d}/mfn", "mode=reconstruct"], "MFN INRs have no jets"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_clear_error(tiny_store, tmp_path, args, message):
    """Every bad input stops with an InspError of one line (composed and validated as the CLI does)."""
    _png(tmp_path / "wrong.png", (8, 12))
    args = [a.format(d=tiny_store, w=tmp_path) for a in args]
    with pytest.raises(InspError) as e:
        cfg = compose("blend", [f"store={tiny_store}/s16", *args, *TINY_BLEND, f"out={tmp_path}/x",
                                "tracking.mode=disabled"])
        validate(cfg, "blend")
        run_blend(cfg, tmp_path / "run")
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").glob("shard-*"))  # nothing half-written


@pytest.mark.parametrize("args, message", [BAD[0], BAD[7], BAD[9]])
def test_bad_input_through_the_cli_is_one_line(tiny_store, workdir, args, message):
    args = [a.format(d=tiny_store, w=workdir) for a in args]
    one_error_line(insp("blend", f"store={tiny_store}/s16", *args, *TINY_BLEND, f"out={workdir}/x"), message)
