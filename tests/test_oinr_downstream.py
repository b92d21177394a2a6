"""INSP-Net filters and INSP-ConvNet on O-INR stores (jets with respect to a grid shift), the weight-space kNN,
and the one-line refusals of a filter trained on another backbone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.store import INRStore
from insp_cli.jets.inr_jet import inr_jet
from insp_cli.jets.oinr_jet import grid_indices
from insp_cli.jets.oinr_jet import oinr_jet
from insp_cli.inr.siren import grid_coords
from insp_cli.jobs.classify import run_classify
from insp_cli.jobs.fit import run_fit

OINR = ["model=oinr", "model.widths=[4,8,4]", "model.frequencies=4", "fit.lr=1e-2", "fit.lr_final=1e-3"]
FIT = ["data=images", "data.size=16", "degradation=noise", "fit.steps=40", "samples=0"]
TRAIN = ["task=denoise", "fusion.order=2", "fusion.hidden=16", "fusion.layers=2", "train.steps=40",
         "train.batch_points=256", "train.lr=2e-3", "train.log_every=20", "train.save_every=40",
         "train.stat_points=512"]
MNIST = ["data=mnist", "data.size=14", "fit.steps=40", "samples=0", "fit.shared_init=true"]


def insp_here(*args):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("oinr")
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # small grouped convolutions: one thread is far faster on a loaded machine
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        mp.setenv("INSP_FILTERS", str(d / "filters"))
        for name, extra in (("o-train", FIT + OINR + ["data.split=train", "data.limit=3"]),
                            ("o-test", FIT + OINR + ["data.split=test", "data.limit=1"]),
                            ("s-test", FIT + ["data.split=test", "data.limit=1", "model.hidden=16"]),
                            ("m-train", MNIST + OINR + ["data.split=train", "data.limit=60"]),
                            ("m-test", MNIST + OINR + ["data.split=test", "data.limit=20"])):
            run_fit(compose("fit", extra + [f"store={d / name}"]), d / "runs" / f"fit-{name}")
        yield d
    torch.set_num_threads(n)


def test_inr_jet_reads_the_oinr_grid(stores):
    store = INRStore.open(stores / "o-test")
    p = store.params.double()
    coords = grid_coords((16, 16), dtype=torch.float64)
    full = oinr_jet(store.spec, p, 2)
    pick = torch.tensor([0, 17, 255])
    assert torch.equal(inr_jet(store.spec, p, coords[pick], 2), full[:, :, pick])
    assert torch.equal(grid_indices(store.spec, coords[pick]), pick)
    with pytest.raises(InspError, match="16x16 grid only"):
        inr_jet(store.spec, p, coords[:3] + 0.01, 2)
    with pytest.raises(InspError, match="coordinate augmentation"):
        inr_jet(store.spec, p, coords, 2, affine=(torch.eye(2)[None].double(), torch.zeros(1, 2).double()))


def test_train_filter_on_oinr_and_refused_across_backbones(stores):
    d = stores
    ckpt = d / "o-denoise.safetensors"
    code, out, err = insp_here("train-filter", *TRAIN, f"store={d / 'o-train'}", f"filter={ckpt}")
    assert code == 0, err
    run_dir = Path(out.split("run dir")[1].split()[0])
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "complete" and m["train_psnr"] > 12
    code, _, err = insp_here("eval", f"filter={ckpt}", f"store={d / 's-test'}", "grid=1")
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and "trained on O-INR INRs" in lines[0] and "holds SIREN INRs" in lines[0]
    # eval's 2x sub-pixel check asks an O-INR for points off its grid: one line; without it the filter runs
    code, _, err = insp_here("eval", f"filter={ckpt}", f"store={d / 'o-test'}", "grid=1", "lpips=false")
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and "16x16 grid only" in lines[0], err
    code, out, err = insp_here("eval", f"filter={ckpt}", f"store={d / 'o-test'}", "grid=1", "lpips=false",
                               "check_2x=false")
    assert code == 0, err
    m = json.loads((Path(out.split("run dir")[1].split()[0]) / "metrics.json").read_text())
    assert 10 < m["rows"]["insp_net"]["psnr"] < 60 and "O-INR" in m["model"]


def test_siren_filter_on_an_oinr_store_is_refused(stores):
    from insp_cli.filters.checkpoint import check_filter_fits

    siren = INRStore.open(stores / "s-test")
    meta = {"modality": "images", "architecture": siren.spec.to_dict(),
            "trained_on": {"source": {"size": [16, 16]}, "degradation": {"kind": "gaussian_noise"}}}
    with pytest.raises(InspError, match="trained on SIREN INRs .* holds O-INR INRs"):
        check_filter_fits(meta, INRStore.open(stores / "o-test"), "store o-test")


def test_knn_on_weights_and_insp_convnet_on_oinr_mnist(stores, tmp_path):
    base = [f"train_store={stores / 'm-train'}", f"test_store={stores / 'm-test'}", "batch_size=16", "scale=test"]
    h = json.loads((stores / "m-train" / "store.json").read_text())
    assert h["fit"]["shared_init"] is True and h["architecture"]["kind"] == "oinr"
    acc = run_classify(compose("classify", base + ["classifier=weight_knn"]), tmp_path / "knn")
    assert acc > 0.3  # chance is 0.1 (60 training digits)
    acc = run_classify(compose("classify", base + ["classifier=insp_convnet", "epochs=3", "classifier.width=8",
                                                   "classifier.order=1", "classifier.layers=2", "lr=1e-2"]), tmp_path / "cnn")
    m = json.loads((tmp_path / "cnn" / "metrics.json").read_text())
    assert m["status"] == "complete" and "O-INR" in m["inr"] and acc > 0.1
