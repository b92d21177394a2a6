"""Shapes through the CLI on a folder of tiny meshes: fit data=meshes, train-filter smooth / denoise_shape, eval,
table=geometry, and bad input as one line each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.filters.checkpoint import read_filter
from insp_cli.inr.store import INRStore
from insp_cli.jobs.fit import run_fit
from insp_cli.jobs.train_filter import run_train_filter

FIT = ["data=meshes", "data.train_count=3", "data.points=2000", "model.hidden=24", "model.depth=2", "fit.steps=60",
       "fit.batch_pixels=1024"]
TRAIN = ["fusion.order=2", "fusion.hidden=32", "fusion.layers=2", "train.steps=40", "train.batch_points=1024",
         "train.lr=1e-3", "train.stat_points=2000", "task.sampling.grid=20", "task.sampling.band_points=800",
         "task.sampling.uniform_points=200"]
EVAL = ["shapes.resolution=24", "shapes.chamfer_points=1000", "shapes.render=1", "shapes.render_size=48"]


def insp_here(*args):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def tiny_meshes(folder):
    folder.mkdir()
    shapes = [trimesh.creation.icosphere(2, 0.6), trimesh.creation.box((1, 0.7, 0.5)),
              trimesh.creation.capsule(0.8, 0.3), trimesh.creation.cylinder(0.4, 1.0, sections=24),
              trimesh.creation.icosphere(1, 0.5)]
    for i, m in enumerate(shapes):
        m.export(folder / f"s{i}.{'off' if i % 2 else 'ply'}")
    return folder


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    d = tmp_path_factory.mktemp("shapes")
    folder = tiny_meshes(d / "meshes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        for deg in ("clean", "vertex_noise"):
            for split in ("train", "test"):
                run_fit(compose("fit", FIT + [f"data.folder={folder}", f"data.split={split}", f"degradation={deg}",
                                              f"store={d / deg / split}"]), d / "runs" / f"fit-{deg}-{split}")
        for task, deg in (("smooth", "clean"), ("denoise_shape", "vertex_noise")):
            run_train_filter(compose("train_filter", TRAIN + [f"task={task}", f"store={d / deg / 'train'}",
                                                              f"filter={d / f'{task}.safetensors'}"]),
                             d / "runs" / f"train-{task}")
            code, _, err = insp_here("eval", *EVAL, f"filter={d / f'{task}.safetensors'}", f"store={d / deg / 'test'}",
                                     "tracking.mode=disabled", f"hydra.run.dir={d / 'runs' / f'eval-{task}'}")
            assert code == 0, err
        yield d


def test_shape_store_and_filter(shapes):
    store = INRStore.open(shapes / "vertex_noise" / "train")
    src = store.header.source
    assert src["modality"] == "shapes" and src["origin"] == "folder" and src["shapes"] == ["s0", "s1", "s2"]
    assert "[-0.9, 0.9]" in src["normalisation"] and store.header.fit["loss"] == "regression"
    assert store.header.degradation == {"kind": "vertex_noise", "sigma": 0.005, "seed": 0}
    assert len(store) == 3 and store.spec.in_features == 3 and (store.psnr > 20).all()
    assert len(INRStore.open(shapes / "clean" / "test")) == 2
    meta, _ = read_filter(shapes / "smooth.safetensors")
    assert meta["modality"] == "shapes" and meta["m"] == 3 and meta["units"] == [20, 20, 20] and meta["complete"]


def test_shape_eval_outputs(shapes):
    for task in ("smooth", "denoise_shape"):
        run = shapes / "runs" / f"eval-{task}"
        m = json.loads((run / "metrics.json").read_text())
        m = m.get("metrics", m)
        rows = m["rows"]
        assert set(rows) == {"input", "gaussian", "taubin", "laplacian", "insp_net"} and m["held_out"]
        assert m["layout"] == 2 and m["modality"] == "shapes" and m["model"].startswith("SIREN")
        assert m["baselines"] == ["gaussian", "taubin", "laplacian"] and m["n_items"] == len(m["items"]) == 2
        cd = [v for v in m["per_item"]["insp_net"]["chamfer_l1"] if v is not None]
        assert abs(sum(cd) / len(cd) - rows["insp_net"]["chamfer_l1"]) < 1e-9
        for k in rows:
            assert 0 < rows[k]["chamfer_l1"] < 0.2 and 0.5 < rows[k]["normal_consistency"] <= 1.0
        assert rows["taubin"]["psnr_band"] is None and rows["input"]["psnr_band"] > 15
        assert (run / "renders.png").is_file() and (run / "shapes.md").is_file()
        assert (run / "meshes" / "s3-insp_net.ply").is_file() and (run / "meshes" / "s4-target.ply").is_file()
        v = trimesh.load(run / "meshes" / "s3-input.ply")
        assert np.abs(v.vertices).max() <= 1.0 and len(v.faces) > 50
    smooth = json.loads((shapes / "runs" / "eval-smooth" / "metrics.json").read_text())
    smooth = smooth.get("metrics", smooth)
    assert smooth["rows"]["insp_net"]["psnr_vs_filter"] > 20 and smooth["scale"]["resolution"] == 24


def test_geometry_table(shapes, tmp_path):
    runs = f"runs=[{shapes / 'runs' / 'eval-smooth'},{shapes / 'runs' / 'eval-denoise_shape'}]"
    code, md, err = insp_here("table", "table=geometry", runs, "tracking.mode=disabled",
                              f"hydra.run.dir={tmp_path / 't'}")
    assert code == 0, err
    assert "denoise_shape" in md and "smooth" in md and "Taubin" in md and "no number" in md
    assert "Target (smooth" in md and "Target (denoise_shape" in md


def test_context_pi_through_the_cli_beside_the_pointwise_one(shapes, tmp_path):
    """fusion.context=2 fusion.context_step=2: Pi reads the jets at 3x3x3 voxels (27 offsets x 10 features), is
    saved with them, evaluated at 24^3 (not a multiple of the 20^3 training grid) and tabled as its own INSP-Net row
    beside the pointwise Pi of the same task."""
    filt = tmp_path / "smooth-context.safetensors"
    run_train_filter(compose("train_filter", TRAIN + ["task=smooth", f"store={shapes / 'clean' / 'train'}",
                                                      f"filter={filt}", "fusion.context=2", "fusion.context_step=2",
                                                      "tracking.mode=disabled"]), tmp_path / "train")
    meta, _ = read_filter(filt)
    assert len(meta["fusion"]["offsets"]) == 27 and [2, 2, 2] in meta["fusion"]["offsets"]
    code, _, err = insp_here("eval", *EVAL, f"filter={filt}", f"store={shapes / 'clean' / 'test'}",
                             "tracking.mode=disabled", f"hydra.run.dir={tmp_path / 'eval'}")
    assert code == 0, err
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    m = m.get("metrics", m)
    assert m["scale"]["pi"] == "mlp 2x32, jets at 3x3x3 points (step 2)"
    assert 0 < m["rows"]["insp_net"]["chamfer_l1"] < 0.2 and m["rows"]["insp_net"]["psnr_vs_filter"] > 20
    runs = f"runs=[{shapes / 'runs' / 'eval-smooth'},{tmp_path / 'eval'}]"
    code, md, err = insp_here("table", "table=geometry", runs, "tracking.mode=disabled",
                              f"hydra.run.dir={tmp_path / 't'}")
    assert code == 0, err
    assert "| INSP-Net, Pi mlp 2x32 (pointwise) |" in md
    assert "| INSP-Net, Pi mlp 2x32, jets at 3x3x3 points (step 2) |" in md
    assert md.count("| Gaussian") == 1 and md.count("Target (smooth") == 2


@pytest.mark.parametrize("case", ["open", "empty_folder", "grid", "task", "init", "meta_learn"])
def test_shape_bad_input_is_one_line(shapes, tmp_path, case):
    if case == "open":
        folder = tmp_path / "open"
        folder.mkdir()
        box = trimesh.creation.box()
        trimesh.Trimesh(box.vertices, box.faces[1:]).export(folder / "a.off")
        args = ["fit", "data=meshes", f"data.folder={folder}", "data.split=all", f"store={tmp_path / 's'}"]
        want = "is not watertight (3 boundary edges): signed distance needs a closed surface; pass data.repair=true"
    elif case == "empty_folder":
        (tmp_path / "none").mkdir()
        args = ["fit", "data=meshes", f"data.folder={tmp_path / 'none'}", f"store={tmp_path / 's'}"]
        want = "no OFF / PLY / OBJ / STL files in"
    elif case == "grid":
        args = ["eval", f"filter={shapes / 'smooth.safetensors'}", f"store={shapes / 'clean' / 'test'}",
                "shapes.resolution=4096"]
        want = "4096^3 grid needs about 1536.0 GB"
    elif case == "task":
        args = ["train-filter", "task=smooth", f"store={shapes / 'vertex_noise' / 'train'}"]
        want = "task=smooth takes INRs of clean signals"
    elif case == "init":  # shapes fit with their own loop (Modality.own_fit): no learned start
        args = ["fit", *FIT, f"data.folder={shapes / 'meshes'}", f"fit.init={tmp_path / 'x.safetensors'}",
                f"store={tmp_path / 's'}"]
        want = "fit.init works for images and audio, not meshes"
    else:
        args = ["meta-learn", "data=meshes", f"data.folder={shapes / 'meshes'}", f"init={tmp_path / 'x.safetensors'}"]
        want = "meta-learning takes images or audio"
    code, out, err = insp_here(*args, "tracking.mode=disabled", f"hydra.run.dir={tmp_path / 'run'}")
    assert code != 0 and want in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
