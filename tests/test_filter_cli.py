"""`insp train-filter` and `insp eval` end to end on tiny stores: files, metrics.json, resume, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.store import INRStore, StoreHeader, prepare_store, write_shard
from insp_cli.jobs.evaluate import run_eval
from insp_cli.jobs.fit import run_fit
from insp_cli.filters.checkpoint import read_filter
from insp_cli.jobs.train_filter import run_train_filter

ROOT = Path(__file__).resolve().parents[1]
FIT = ["data=images", "data.size=32", "degradation=noise", "model.hidden=32", "fit.steps=60", "samples=0"]
TRAIN = ["task=denoise", "fusion.order=2", "fusion.hidden=32", "fusion.layers=2", "train.steps=120",
         "train.batch_points=512", "train.lr=2e-3", "train.log_every=20", "train.save_every=60",
         "train.stat_points=2048"]


def insp(*args):
    """The real `insp` script in a subprocess."""
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True,
                          env={**os.environ}, cwd=ROOT, timeout=600)


def insp_here(*args):
    """The same command in-process (no second torch import); returns (exit code, stdout, stderr)."""
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Noisy 32x32 INRs: 4 train images, 2 held-out test images, and 1 test INR of another width."""
    d = tmp_path_factory.mktemp("filters")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        mp.setenv("INSP_FILTERS", str(d / "filters"))
        for name, extra in (("train", ["data.split=train", "data.limit=4"]),
                            ("test", ["data.split=test", "data.limit=2"]),
                            ("wide", ["data.split=test", "data.limit=1", "model.hidden=16", "fit.steps=5"]),
                            ("small", ["data.split=test", "data.limit=1", "data.size=16", "fit.steps=5"])):
            run_fit(compose("fit", FIT + extra + [f"store={d / name}"]), d / "runs" / f"fit-{name}")
        yield d


def test_train_filter_then_eval_end_to_end(stores):
    d = stores
    ckpt = d / "denoise.safetensors"
    code, out, err = insp_here("train-filter", *TRAIN, f"store={d / 'train'}", f"filter={ckpt}")
    assert code == 0, err
    run_dir = Path(out.split("run dir")[1].split()[0])
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "complete" and m["steps"] == 120 and m["train_psnr"] > 15
    meta, tensors = read_filter(ckpt)
    assert meta["complete"] and meta["order"] == 2 and meta["units"] == [32, 32] and meta["task"]["name"] == "denoise"
    assert meta["architecture"]["hidden"] == 32 and "fusion.scaler.mean" in tensors and "rng" in tensors

    code, out, err = insp_here("eval", f"filter={ckpt}", f"store={d / 'test'}", "grid=2")
    assert code == 0, err
    run_dir = Path(out.split("run dir")[1].split()[0])
    files = {p.name for p in run_dir.iterdir()}
    assert {"per_image.csv", "table2.md", "table2.csv", "grid.png", "metrics.json"} <= files
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["task"] == "denoise" and m["n_items"] == 2 and m["scale"]["image_size"] == [32, 32] and m["held_out"]
    assert set(m["rows"]) == {"input", "mean_filter", "median_filter", "gaussian_filter", "insp_net"}
    # the one eval layout: modality, the backbone's description, per-item scores whose means are the rows
    assert m["layout"] == 2 and m["modality"] == "images" and m["model"].startswith("SIREN")
    assert m["baselines"] == ["mean_filter", "median_filter", "gaussian_filter"] and len(m["items"]) == 2
    for meth, row in m["rows"].items():
        assert abs(sum(m["per_item"][meth]["psnr"]) / 2 - row["psnr"]) < 1e-9
    assert set(m["per_item"]) == set(m["rows"]) | {"insp_net_2x_down"}
    for row in m["rows"].values():
        assert 5 < row["psnr"] < 50 and 0 < row["ssim"] <= 1 and 0 <= row["lpips"] < 1
    assert abs(m["decode_2x"]["delta_db"]) < 1.0
    assert "INSP-Net" in (run_dir / "table2.md").read_text() and "(paper)" in (run_dir / "table2.md").read_text()
    lines = (run_dir / "per_image.csv").read_text().splitlines()
    assert lines[0].startswith("index,method,psnr") and len(lines) == 1 + 2 * 6  # 5 methods + the 2x check
    w = m["wins_vs_best_3x3"]  # INSP-Net against the best 3x3 filter, per image: wins.csv and wins.png
    best = max(("mean_filter", "median_filter", "gaussian_filter"), key=lambda k: m["rows"][k]["psnr"])
    assert w["best_3x3"] == best and w["n"] == 2 and 0 <= w["wins"] <= 2 and (run_dir / "wins.png").exists()
    rows = (run_dir / "wins.csv").read_text().splitlines()
    assert rows[0].startswith("image,insp_net_psnr") and rows[-1].endswith(f"{w['wins']}/2") and len(rows) == 4
    deltas = [float(r.split(",")[3]) for r in rows[1:3]]
    assert abs(np.mean(deltas) - w["mean_delta_db"]) < 1e-3
    assert abs(w["mean_delta_db"] - (m["rows"]["insp_net"]["psnr"] - m["rows"][best]["psnr"])) < 1e-3

    # the same command again: already trained, nothing retrained
    code, out, _ = insp_here("train-filter", *TRAIN, f"store={d / 'train'}", f"filter={ckpt}")
    assert code == 0 and "already trained" in out


def test_interrupted_training_resumes_to_the_same_filter(stores, tmp_path, monkeypatch):
    from insp_cli.filters.checkpoint import load_filter
    from insp_cli.filters import train_pi as tf  # the train-filter loop, whose lr schedule the kill is hooked on

    d = stores
    full, part = tmp_path / "full.safetensors", tmp_path / "part.safetensors"
    run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={full}"]), tmp_path / "r1")
    cfg = compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={part}"])

    class Killed(Exception):
        pass

    lr_at = tf.lr_at

    def killed_after_first_checkpoint(t, step):  # the run dies right after its step-60 checkpoint
        if step == 60:
            raise Killed
        return lr_at(t, step)

    monkeypatch.setattr(tf, "lr_at", killed_after_first_checkpoint)
    with pytest.raises(Killed):
        run_train_filter(cfg, tmp_path / "r2")
    monkeypatch.setattr(tf, "lr_at", lr_at)
    meta, _ = read_filter(part)
    assert meta["train"]["step"] == 60 and not meta["complete"]
    with pytest.raises(InspError, match="unfinished"):
        load_filter(part)
    assert run_train_filter(cfg, tmp_path / "r3")["resumed_from"] == 60
    a, b = read_filter(full)[1], read_filter(part)[1]
    for k in a:
        if k.startswith("fusion."):
            np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-5, atol=1e-6)


def test_context_filter_records_its_offsets_and_old_pointwise_filters_still_apply(stores, tmp_path):
    """fusion.context=1 fusion.context_step=1: Pi on the jets at the 3x3 pixels around x; the checkpoint lists the
    offsets, eval labels Pi; with fusion.coarse_* also the per-offset orders. A pointwise filter written before
    offsets existed (no fusion.offsets) scores the same."""
    import torch
    from safetensors.torch import save_file

    d = stores
    ctx = tmp_path / "ctx.safetensors"
    run_train_filter(compose("train_filter", TRAIN + ["train.steps=40", "fusion.context=1", "fusion.context_step=1",
                                                      f"store={d / 'train'}", f"filter={ctx}"]), tmp_path / "r-ctx")
    meta, tensors = read_filter(ctx)
    assert meta["fusion"]["offsets"] == [[x, y] for y in (-1, 0, 1) for x in (-1, 0, 1)]
    assert tuple(tensors["fusion.mlp.0.weight"].shape) == (32, 9 * 3 * 6)  # 9 offsets x 3 channels x M(K=2) = 6
    m = run_eval(compose("eval", [f"filter={ctx}", f"store={d / 'test'}", "lpips=false"]), tmp_path / "e-ctx")
    assert m["scale"]["pi"] == "mlp 2x32, jets at 3x3 points (step 1)"
    assert 10 < m["rows"]["insp_net"]["psnr"] < 50 and abs(m["decode_2x"]["delta_db"]) < 1.0

    # multi-scale: the 3x3 pixels and the 8 other points of the step-2 3x3 square, values only (order 0) there
    ms = tmp_path / "ms.safetensors"
    multi = ["fusion.context=1", "fusion.context_step=1", "fusion.coarse_context=2", "fusion.coarse_step=2",
             "fusion.coarse_order=0"]
    tm = run_train_filter(compose("train_filter", TRAIN + ["train.steps=40", *multi, f"store={d / 'train'}",
                                                           f"filter={ms}"]), tmp_path / "r-ms")
    assert tm["features"] == 17 * 3 * 6 and tm["features_read"] == 9 * 3 * 6 + 8 * 3
    meta, tensors = read_filter(ms)
    assert meta["fusion"]["offsets"][9:] == [[x, y] for y in (-2, 0, 2) for x in (-2, 0, 2) if (x, y) != (0, 0)]
    assert meta["fusion"]["orders"] == [2] * 9 + [0] * 8
    assert tuple(tensors["fusion.mlp.0.weight"].shape) == (32, 9 * 3 * 6 + 8 * 3)
    m = run_eval(compose("eval", [f"filter={ms}", f"store={d / 'test'}", "lpips=false", "self_ensemble=8"]),
                 tmp_path / "e-ms")
    assert m["scale"]["pi"] == "mlp 2x32, jets at 17 points over 5x5 (fine + coarse; order 0 at 8 of them)"
    assert 10 < m["rows"]["insp_net"]["psnr"] < 50 and abs(m["decode_2x"]["delta_db"]) < 1.0
    assert "orders" not in read_filter(ctx)[0]["fusion"]  # a single square records none

    pw = tmp_path / "pw.safetensors"
    run_train_filter(compose("train_filter", TRAIN + ["train.steps=20", f"store={d / 'train'}", f"filter={pw}"]),
                     tmp_path / "r-pw")
    meta, tensors = read_filter(pw)
    assert meta["fusion"]["offsets"] == [[0, 0]]
    del meta["fusion"]["offsets"]
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata={"insp": json.dumps(meta)})
    scores = [run_eval(compose("eval", [f"filter={f}", f"store={d / 'test'}", "lpips=false", "check_2x=false"]),
                       tmp_path / f"e-{f.stem}")["rows"]["insp_net"]["psnr"] for f in (pw, old)]
    assert scores[0] == scores[1] and torch.isfinite(torch.tensor(scores)).all()


def test_edges_and_unsharp_write_grids(stores, tmp_path):
    d = stores
    cfg = compose("train_filter", ["task=edges", f"store={d / 'test'}", "decode.size=64", "decode.samples=2"])
    m = run_train_filter(cfg, tmp_path / "edges")
    assert (tmp_path / "edges" / "edges.png").exists() and m["decode_size"] == [64, 64]
    assert np.load(tmp_path / "edges" / "edges.npz")["insp"].shape == (2, 64, 64, 1)
    assert m["pearson_vs_sobel"] > 0.5
    cfg = compose("train_filter", ["task=unsharp", f"store={d / 'test'}", "decode.samples=2"])
    m = run_train_filter(cfg, tmp_path / "unsharp")
    assert (tmp_path / "unsharp" / "unsharp.png").exists() and m["pearson_vs_discrete_unsharp"] > 0.8


@pytest.mark.parametrize("command, args, message", [
    ("train-filter", ["task=sharpen_everything", "store=S_TRAIN"], "unknown option task=sharpen_everything"),
    ("eval", ["filter=CKPT", "store=S_NONE"], "does not exist"),
    ("train-filter", ["task=deblur", "store=S_TRAIN"], "takes INRs of blur"),
    ("train-filter", ["task=denoise", "store=S_TRAIN", "targets=BADNPY"], "do not match"),
    ("train-filter", ["task=denoise"], "pass store="),
    ("eval", ["filter=CKPT", "store=S_WIDE"], "expects SIREN 3x32 omega0 30 INRs"),
    ("eval", ["filter=CKPT", "store=S_SMALL"], "trained on INRs of 32x32 images but store"),
    ("eval", ["filter=CKPT", "store=S_NOSRC"], "no ground-truth source"),
    ("eval", ["filter=S_TRAIN/store.json", "store=S_TEST"], "not an insp filter"),
    ("eval", ["filter=CKPT", "store=S_TEST", "self_ensemble=6"], "self_ensemble=6: choose one of 1, 8, 48"),
    ("train-filter", ["task=denoise", "store=S_TRAIN", "fusion.context=1", "fusion.context_step=1",
                      "fusion.coarse_context=5", "fusion.coarse_step=3"],
     "fusion.coarse_context=5 must be >= 0 and a multiple of"),
    ("train-filter", ["task=denoise", "store=S_TRAIN", "fusion.order=2", "fusion.context=1", "fusion.context_step=1",
                      "fusion.coarse_context=2", "fusion.coarse_step=2", "fusion.coarse_order=3"],
     "coarse_order=3 must be between 0 and"),
])
def test_bad_input_gives_one_line_and_nonzero_exit(stores, tmp_path, command, args, message):
    d = stores
    ckpt = d / "denoise.safetensors"
    if not ckpt.exists():
        run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={ckpt}"]), d / "runs" / "tf")
    np.save(tmp_path / "bad.npy", np.zeros((3, 32, 32, 3), np.float32))  # 3 images for 4 INRs
    nosrc = tmp_path / "nosrc"
    test = INRStore.open(d / "test")
    header = StoreHeader(spec=test.spec, source={"size": [32, 32], "channels": 3},  # no dataset name or split
                         degradation=test.header.degradation, fit=test.header.fit)
    prepare_store(nosrc, header)
    write_shard(nosrc, header, 0, 2, test.params, test.indices, test.psnr, test.ok)
    subs = {"S_TRAIN": str(d / "train"), "S_TEST": str(d / "test"), "S_WIDE": str(d / "wide"),
            "S_SMALL": str(d / "small"), "CKPT": str(ckpt),
            "S_NOSRC": str(nosrc), "BADNPY": str(tmp_path / "bad.npy"), "S_NONE": str(tmp_path / "none")}
    for k, v in subs.items():
        args = [a.replace(k, v) for a in args]
    code, _, err = insp_here(command, *args)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err


def test_the_pixel_twin_is_scored_beside_pi_with_its_budget(stores, tmp_path):
    """baselines=[...,dncnn]: a DnCNN with Pi's parameter count, trained with Pi's steps and pixels per step on
    the decoded INRs of Pi's training store, is a row of the eval beside INSP-Net."""
    d = stores
    ckpt = d / "denoise.safetensors"
    if not ckpt.exists():
        run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={ckpt}"]), d / "runs" / "tf")
    m = run_eval(compose("eval", [f"filter={ckpt}", f"store={d / 'test'}", "lpips=false", "check_2x=false",
                                  "baselines=[gaussian_filter,dncnn]", f"twin.store={d / 'train'}", "twin.depth=5",
                                  "twin.patch=16", "grid=0", "self_ensemble=8"]), tmp_path / "ev")
    assert set(m["rows"]) == {"input", "gaussian_filter", "dncnn", "insp_net"}
    # with self_ensemble=8 the twin is ensembled too, and scored alone beside it (the same trained twin)
    assert set(m["without_self_ensemble"]) == {"insp_net", "dncnn"}
    assert abs(m["without_self_ensemble"]["dncnn"]["psnr"] - m["rows"]["dncnn"]["psnr"]) > 1e-4
    tw = m["pixel_twin"]
    assert abs(tw["parameters"] - tw["pi_parameters"]) <= 0.1 * tw["pi_parameters"]
    assert tw["steps"] == 120 and tw["pixels_per_step"] == 512 and tw["train_inrs"] == 4
    assert tw["architecture"].startswith("DnCNN 5 layers")
    assert m["rows"]["dncnn"]["psnr"] > m["rows"]["input"]["psnr"]  # 120 steps already denoise
    lines = (tmp_path / "ev" / "per_image.csv").read_text().splitlines()
    assert sum(ln.split(",")[1] == "dncnn" for ln in lines) == 2
    assert sum(ln.split(",")[1] == "dncnn_alone" for ln in lines) == 2


def test_self_ensemble_is_recorded_and_changes_only_the_learned_rows(stores, tmp_path):
    """self_ensemble=8: Pi averaged over the flips / turns; the classical rows and the input are the same as
    with Pi alone; metrics.json says so (the table's note: tests/test_table.py)."""
    d = stores
    ckpt = d / "denoise.safetensors"
    if not ckpt.exists():
        run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={ckpt}"]), d / "runs" / "tf")
    base = [f"filter={ckpt}", f"store={d / 'test'}", "lpips=false", "check_2x=false", "grid=0",
            "baselines=[gaussian_filter]"]
    one = run_eval(compose("eval", base), tmp_path / "e1")
    eight = run_eval(compose("eval", base + ["self_ensemble=8"]), tmp_path / "e8")
    assert one["self_ensemble"] == 1 and eight["self_ensemble"] == 8
    for m in ("input", "gaussian_filter"):
        assert one["rows"][m] == eight["rows"][m]
    assert abs(one["rows"]["insp_net"]["psnr"] - eight["rows"]["insp_net"]["psnr"]) > 1e-4
    assert eight["rows"]["insp_net"]["psnr"] > eight["rows"]["input"]["psnr"]
    # Pi alone is scored beside its ensemble in the same run: exactly the self_ensemble=1 run's numbers
    assert eight["without_self_ensemble"]["insp_net"] == one["rows"]["insp_net"] and "without_self_ensemble" not in one
    assert eight["per_item"]["insp_net_alone"]["psnr"] == one["per_item"]["insp_net"]["psnr"]


@pytest.mark.parametrize("twin,message", [
    (None, "pass twin.store=STORE"),
    ("S_TEST", "is not the store this filter was trained on"),
])
def test_the_pixel_twin_needs_pis_training_store(stores, tmp_path, twin, message):
    d = stores
    ckpt = d / "denoise.safetensors"
    if not ckpt.exists():
        run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={ckpt}"]), d / "runs" / "tf")
    args = [f"filter={ckpt}", f"store={d / 'test'}", "baselines=[dncnn]", "lpips=false", "grid=0"]
    if twin:
        args.append(f"twin.store={d / 'test'}")
    code, _, err = insp_here("eval", *args)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err


def test_bad_input_from_the_real_script():
    r = insp("train-filter", "task=sharpen_everything", "store=nowhere")
    assert r.returncode == 2 and r.stderr.strip().startswith("error: unknown option task=sharpen_everything; choose")
    assert len(r.stderr.strip().splitlines()) == 1


def test_run_eval_direct_matches_paths(stores, tmp_path):
    """The plain job function (what `insp table` and notebooks call) gives the documented summary."""
    d = stores
    ckpt = d / "denoise.safetensors"
    if not ckpt.exists():
        run_train_filter(compose("train_filter", TRAIN + [f"store={d / 'train'}", f"filter={ckpt}"]), d / "runs" / "tf")
    m = run_eval(compose("eval", [f"filter={ckpt}", f"store={d / 'test'}", "lpips=false", "check_2x=false",
                                  "scale=tiny"]), tmp_path / "ev")
    assert m["scale"]["label"] == "tiny" and m["decode_2x"] is None and m["rows"]["insp_net"]["lpips"] is None
    assert m["rows"]["insp_net"]["psnr"] > m["rows"]["input"]["psnr"] - 1.0


def test_a_diverging_filter_ends_failed_and_writes_no_filter(stores, tmp_path):
    out = tmp_path / "diverged.safetensors"
    with pytest.raises(InspError, match="(?i)nan|inf|non-finite") as e:
        run_train_filter(compose("train_filter", TRAIN + [f"store={stores / 'train'}", f"filter={out}",
                                                          "train.lr=1e30", "train.steps=40"]), tmp_path / "run")
    assert e.value.exit_code != 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


def test_a_folder_or_device_given_as_filter_is_named_as_such(tmp_path):
    """The battery (scripts/battery.py) gave `insp eval filter=<a folder>` 'does not exist'."""
    for path, want in ((tmp_path, f"filter {tmp_path} is a directory; pass the .safetensors file that `insp "
                                  "train-filter` wrote"),
                       (Path("/dev/null"), "filter /dev/null is not a regular file (a device, pipe or socket); pass"),
                       (tmp_path / "no.safetensors", f"filter {tmp_path / 'no.safetensors'} does not exist; train "
                                                     "one with `insp train-filter`")):
        with pytest.raises(InspError) as e:
            read_filter(path)
        assert str(e.value).startswith(want), str(e.value)
