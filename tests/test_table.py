"""`insp table`: the paper's tables from run directories written here in the real layout (.hydra/config.yaml,
overrides.yaml, metrics.json): numbers, the paper's columns, failed runs, mixed scales, old configs, recorded
tables rebuilt with no hand edits, one-line CLI errors."""

import csv
import io
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.jobs.table import run_table
from insp_cli.report import build_tables, find_runs, read_run, sweep_failures, to_csv, to_markdown


def make_run(path: Path, job: str, config: dict, metrics: dict | None, overrides=(), status="complete"):
    """A run directory as insp writes it (metrics None = the job died before writing metrics.json)."""
    (path / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(config), path / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), path / ".hydra" / "overrides.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": {"job": {"name": job}, "launcher": {"name": "${hydra.job.name}"}}}),
                   path / ".hydra" / "hydra.yaml")
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps({"job": job, "status": status, "seconds": 1.0, **metrics}))
    return path


def classify_run(root, name, model, dataset, acc, scale="cpu", seed=0, train=1000, test=200):
    cfg = {"seed": seed, "scale": scale, "model": {"kind": model}, "train_store": "stores/a", "epochs": 3}
    m = {"model": model, "dataset": dataset, "train_count": train, "test_count": test, "test_accuracy": acc,
         "scale": scale}
    return make_run(root / name, "classify", cfg, m, [f"model={model}", f"seed={seed}", f"scale={scale}"])


def eval_run(root, name, rows, task="denoise", scale="cpu", n=8, **extra):
    cfg = {"seed": 0, "scale": scale, "filter": "f.safetensors", "store": "stores/t"}
    m = {"task": task, "n_images": n, "rows": rows, **extra,
         "scale": {"label": scale, "image_size": [32, 32], "channels": 3, "order": 2, "n_train": 16}}
    return make_run(root / name, "eval", cfg, m, ["filter=f.safetensors"])


def rows_of(csv_text):
    return list(csv.DictReader(io.StringIO(csv_text)))


@pytest.fixture
def table1_runs(tmp_path):
    root = tmp_path / "runs" / "classify-multirun" / "2026-01-01_00-00-00"
    classify_run(root, "0_model=insp_convnet,seed=0", "insp_convnet", "mnist", 0.80, seed=0)
    classify_run(root, "1_model=insp_convnet,seed=1", "insp_convnet", "mnist", 0.90, seed=1)
    classify_run(root, "2_model=depthwise_cnn", "depthwise_cnn", "mnist", 0.85)
    classify_run(root, "3_model=pca_svm", "pca_svm", "mnist", 0.25)
    make_run(root / "4_model=weight_mlp", "classify", {"scale": "cpu", "model": {"kind": "weight_mlp"}},
             {"error": "NaN loss in epoch 2"}, ["model=weight_mlp"], status="failed")
    make_run(root / "5_model=weight_mlp,seed=1", "classify", {"scale": "cpu", "model": {"kind": "weight_mlp"}},
             None, ["model=weight_mlp", "seed=1"])
    (root.parent.parent / "fit" / "2026").mkdir(parents=True)  # a root also holds runs of other commands
    make_run(root.parent.parent / "fit" / "2026" / "x", "fit", {"seed": 0}, {"psnr_mean": 30.0})
    return root


def test_table1_numbers_paper_columns_failed_runs_and_files(table1_runs, tmp_path, workdir):
    cfg = compose("table", ["table=table1", f"runs=[{table1_runs.parent.parent}]"])
    m = run_table(cfg, tmp_path / "out")
    assert m["runs"] == 6 and m["failed"] == 2 and m["scales"] == ["cpu"]
    rows = rows_of((tmp_path / "out" / "table1.csv").read_text())
    by = {(r["dataset"], r["method"]): r for r in rows}
    assert len(rows) == 8  # MNIST and CIFAR-10 x the paper's four methods
    ic = by[("MNIST", "INSP-ConvNet")]
    assert float(ic["ours_accuracy"]) == pytest.approx(85.0) and float(ic["ours_std"]) == pytest.approx(7.0711, 1e-3)
    assert float(ic["paper_accuracy"]) == 88.1 and ic["runs"] == "2" and ic["scale"] == "cpu"
    assert float(by[("MNIST", "PCA + SVM")]["ours_accuracy"]) == pytest.approx(25.0)
    assert by[("MNIST", "PCA + SVM")]["paper_accuracy"] == "11.3"
    cifar = by[("CIFAR-10", "INSP-ConvNet")]
    assert cifar["ours_accuracy"] == "" and cifar["paper_accuracy"] == "62.5"
    assert by[("MNIST", "MLP classifier")]["ours_accuracy"] == "" and by[("MNIST", "MLP classifier")]["runs"] == "0"
    md = (tmp_path / "out" / "table1.md").read_text()
    assert "| MNIST | INSP-ConvNet | 85.00 ± 7.07 | 88.1 |" in md
    assert "Ours: test accuracy (%)" in md and "Paper: test accuracy (%)" in md
    assert "**2 run(s) did not complete**" in md and "NaN loss in epoch 2" in md and "no metrics.json" in md
    assert (tmp_path / "out" / "table1.png").stat().st_size > 5000
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["status"] == "complete"


def test_mixed_scales_are_refused_or_separated(tmp_path):
    classify_run(tmp_path / "r", "a", "insp_convnet", "mnist", 0.8, scale="cpu")
    classify_run(tmp_path / "r", "b", "insp_convnet", "mnist", 0.9, scale="paper")
    recs = [read_run(d) for d in find_runs([tmp_path / "r"])]
    with pytest.raises(InspError, match=r"mixed scales.*cpu: 1 runs, paper: 1 runs.*scale=LABEL"):
        build_tables("table1", recs)
    tables = build_tables("table1", recs, mixed="separate")
    assert [t.scale for t in tables] == ["cpu", "paper"]
    assert [t.rows[3]["ours_accuracy"] for t in tables] == [pytest.approx(80.0), pytest.approx(90.0)]
    only = build_tables("table1", recs, scale="paper")
    assert len(only) == 1 and only[0].rows[3]["ours_accuracy"] == pytest.approx(90.0)
    classify_run(tmp_path / "r", "c", "insp_convnet", "mnist", 0.9, scale="cpu", train=5000)
    with pytest.raises(InspError, match="differ in size"):  # one cell, two settings of one scale
        build_tables("table1", [read_run(d) for d in find_runs([tmp_path / "r"])], scale="cpu")


def test_table1_functa_row_has_no_paper_number_and_says_why(tmp_path):
    classify_run(tmp_path / "r", "f", "functa_mlp", "mnist", 0.975, scale="full-functa", train=60000, test=10000)
    t = build_tables("table1", [read_run(d) for d in find_runs([tmp_path / "r"])])[0]
    row = next(r for r in t.rows if r["method"] == "Functa MLP (on latents)")
    assert row["ours_accuracy"] == pytest.approx(97.5) and row["paper_accuracy"] is None
    assert (row["train_inrs"], row["test_inrs"]) == (60000, 10000)
    assert any("not in the INSP paper" in n for n in t.notes)
    assert [r["method"] for r in t.rows if r["dataset"] == "MNIST"][-1] == "Functa MLP (on latents)"


def test_table2_rows_paper_columns_and_other_tasks(tmp_path):
    r = {"input": {"psnr": 20.0, "ssim": 0.5, "lpips": 0.4},
         "mean_filter": {"psnr": 22.0, "ssim": 0.6, "lpips": None},
         "median_filter": {"psnr": 21.0, "ssim": 0.55, "lpips": 0.45},
         "insp_net": {"psnr": 24.0, "ssim": 0.7, "lpips": 0.3}}
    eval_run(tmp_path / "r", "a", r)
    r2 = json.loads(json.dumps(r))
    r2["insp_net"]["psnr"] = 26.0
    eval_run(tmp_path / "r", "b", r2)
    eval_run(tmp_path / "r", "c", r, task="deblur")
    (t,) = build_tables("table2", [read_run(d) for d in find_runs([tmp_path / "r"])])
    by = {row["method"]: row for row in t.rows}
    assert list(by)[:5] == ["Input (decoded from INR)", "MPRNet", "MAXIM", "Mean filter", "INSP-Net"]
    assert by["INSP-Net"]["ours_psnr"] == pytest.approx(25.0) and by["INSP-Net"]["paper_psnr"] == 23.86
    assert by["INSP-Net"]["paper_lpips"] == 0.38 and by["Input (decoded from INR)"]["paper_ssim"] == 0.47
    assert by["MPRNet"]["ours_psnr"] is None and by["MPRNet"]["runs"] == 0
    assert by["Median filter"]["paper_psnr"] is None and by["Median filter"]["ours_ssim"] == pytest.approx(0.55)
    assert by["Mean filter"]["ours_lpips"] is None
    assert any("deblur: 1" in n for n in t.notes) and any("8 test INRs of 32x32" in n for n in t.notes)
    assert not any("self-ensemble" in n for n in t.notes)  # runs before it (no self_ensemble key): Pi alone
    eval_run(tmp_path / "e", "a", r, self_ensemble=48)
    (t,) = build_tables("table2", [read_run(d) for d in find_runs([tmp_path / "e"])])
    assert any("self-ensemble" in n and "48 (flips, quarter turns, colour permutations)" in n for n in t.notes)

    # table=tasks keeps every task: one block of rows each, the paper's numbers on the denoising rows only
    (t,) = build_tables("tasks", [read_run(d) for d in find_runs([tmp_path / "r"])])
    rows = {(row["task"], row["method"]): row for row in t.rows}
    assert [k for k in rows if k[1] == "INSP-Net"] == [("denoise", "INSP-Net"), ("deblur", "INSP-Net")]
    assert rows["denoise", "INSP-Net"]["ours_psnr"] == pytest.approx(25.0) and rows["denoise", "INSP-Net"]["runs"] == 2
    assert rows["denoise", "INSP-Net"]["paper_psnr"] == 23.86 and rows["deblur", "INSP-Net"]["paper_psnr"] is None
    assert rows["deblur", "INSP-Net"]["ours_psnr"] == 24.0 and ("deblur", "MPRNet") not in rows

    # the same filter on INRs fitted with a prior (fit.reg=inrr) is its own block, after the plain one
    r3 = json.loads(json.dumps(r))
    r3["input"]["psnr"] = 21.5
    eval_run(tmp_path / "r", "d", r3, task="deblur", inr_reg="inrr")
    eval_run(tmp_path / "r", "e", r, task="inpaint", inr_reg="none")
    (t,) = build_tables("tasks", [read_run(d) for d in find_runs([tmp_path / "r"])])
    order = list(dict.fromkeys(row["task"] for row in t.rows))
    assert order == ["denoise", "deblur", "deblur (INR + INRR)", "inpaint"]
    rows = {(row["task"], row["method"]): row for row in t.rows}
    assert rows["deblur (INR + INRR)", "Input (decoded from INR)"]["ours_psnr"] == 21.5
    assert rows["deblur", "Input (decoded from INR)"]["ours_psnr"] == 20.0


def _new_layout(old: dict) -> dict:
    """An eval metrics.json of layout 2 (modalities.base.eval_record) holding what an old-layout one holds."""
    scale = dict(old["scale"])
    model = scale.pop("inr")
    n = old["n_images"]
    return {**{k: v for k, v in old.items() if k not in ("n_images", "scale", "decode_seconds")}, "layout": 2,
            "modality": old.get("modality", "images"), "model": model, "n_items": n, "items": list(range(n)),
            "per_item": {m: {k: [v] * n for k, v in r.items()} for m, r in old["rows"].items()},
            "baselines": [m for m in old["rows"] if m not in ("input", "insp_net")], "scale": scale,
            "eval_seconds": 1.0}


@pytest.mark.parametrize("table, old", [
    ("table2", {"task": "denoise", "n_images": 4, "decode_seconds": 2.0,
                "rows": {"input": {"psnr": 20.0, "ssim": 0.5, "lpips": 0.4},
                         "mean_filter": {"psnr": 22.0, "ssim": 0.6, "lpips": 0.45},
                         "insp_net": {"psnr": 24.0, "ssim": 0.7, "lpips": 0.3}},
                "wins_vs_best_3x3": {"best_3x3": "mean_filter", "wins": 3, "n": 4, "mean_delta_db": 1.5},
                "scale": {"channels": 3, "image_size": [32, 32], "inr": "SIREN 3x64 omega0 30", "label": "cpu",
                          "n_train": 16, "order": 2, "pi": "mlp 4x64", "train_steps": 100}}),
    ("tasks", {"task": "deblur", "n_images": 4, "inr_reg": "inrr",
               "rows": {"input": {"psnr": 20.0, "ssim": 0.5, "lpips": 0.4},
                        "insp_net": {"psnr": 23.0, "ssim": 0.7, "lpips": 0.3}},
               "scale": {"channels": 3, "image_size": [32, 32], "inr": "SIREN 3x64 omega0 30", "label": "cpu"}}),
    ("audio", {"task": "denoise", "modality": "audio", "n_images": 3, "held_out": True,
               "degradation": {"kind": "gaussian_noise", "sigma": 25}, "best_baseline": "stft_wiener",
               "rows": {"input": {"snr": 5.0, "si_sdr": 4.0, "pesq": 1.2, "stoi": None},
                        "stft_wiener": {"snr": 7.0, "si_sdr": 6.5, "pesq": 1.5, "stoi": None},
                        "insp_net": {"snr": 9.0, "si_sdr": 8.0, "pesq": 1.9, "stoi": None}},
               "scale": {"clip_samples": 4096, "context": [-4, 0, 4], "inr": "siren 3x64 omega0 3000 x1",
                         "label": "cpu", "n_train": 16, "order": 2, "pi": "mlp 4x64", "rate": 8000,
                         "train_steps": 100}}),
    ("geometry", {"task": "smooth", "modality": "shapes", "n_images": 2, "held_out": True, "eval_seconds": 3.0,
                  "rows": {"input": {"chamfer_l1": 0.004, "normal_consistency": 0.9, "psnr_band": 30.0},
                           "gaussian": {"chamfer_l1": 0.005, "normal_consistency": 0.92, "psnr_band": 31.0},
                           "insp_net": {"chamfer_l1": 0.0045, "normal_consistency": 0.91, "psnr_band": 30.5,
                                        "psnr_vs_filter": 35.0}},
                  "scale": {"inr": "siren 3x128 omega0 30", "label": "cpu", "n_train": 4, "order": 2,
                            "pi": "mlp 4x64", "resolution": 32, "sigma": 0.02, "train_grid": 24,
                            "train_steps": 100}}),
])
def test_eval_tables_read_the_old_layouts_and_the_new_one_alike(table, old, tmp_path):
    """A table of eval runs is the same whether they wrote an old per-modality metrics.json (the ones recorded
    in experiments/) or the one layout every modality writes now."""
    eval_run(tmp_path / "old", "a", None)  # the config only: its metrics.json is rewritten below
    eval_run(tmp_path / "new", "a", None)
    for name, m in (("old", old), ("new", _new_layout(old))):
        (tmp_path / name / "a" / "metrics.json").write_text(json.dumps({"job": "eval", "status": "complete",
                                                                      "seconds": 1.0, **m}, sort_keys=True))
    old_t, new_t = (build_tables(table, [read_run(tmp_path / name / "a")]) for name in ("old", "new"))
    assert to_markdown(new_t) == to_markdown(old_t) and to_csv(new_t) == to_csv(old_t)
    text = to_markdown(new_t)
    assert str(old["scale"]["inr"]) in text or table == "tasks"  # the INR's description reaches the notes
    ours = [row for row in new_t[0].rows if row["method"] == "INSP-Net"][0]
    first = next(iter(old["rows"]["insp_net"].values()))
    assert first * (1e3 if table == "geometry" else 1) in [v for v in ours.values() if isinstance(v, float)]


def test_tasks_never_average_runs_of_different_pi(tmp_path):
    """Two recorded Pi of one task (the recipe and a variant kept beside it) are two blocks; runs of one Pi
    (seeds) still average into one."""
    def run(name, pi, steps, psnr, rows_extra=None, n_train=95):
        cfg = {"seed": 0, "scale": "cpu", "filter": "f.safetensors", "store": "stores/t"}
        rows = {"input": {"psnr": 20.0, "ssim": 0.5, "lpips": 0.4}, "insp_net": {"psnr": psnr, "ssim": 0.7,
                                                                                "lpips": 0.3}, **(rows_extra or {})}
        m = {"task": "denoise", "n_images": 8, "rows": rows,
             "scale": {"label": "cpu", "image_size": [32, 32], "order": 2, "pi": pi, "train_steps": steps,
                       "n_train": n_train}}
        make_run(tmp_path / "r" / name, "eval", cfg, m, ["filter=f.safetensors"])

    run("a", "mlp 4x256, jets at 5x5 points (step 1)", 1200, 28.0)
    run("b", "mlp 4x256, jets at 5x5 points (step 1)", 1200, 28.5)
    (t,) = build_tables("tasks", [read_run(d) for d in find_runs([tmp_path / "r"])])
    assert {row["task"] for row in t.rows} == {"denoise"}
    assert [row["ours_psnr"] for row in t.rows if row["method"] == "INSP-Net"] == [pytest.approx(28.25)]
    run("c", "mlp 6x256, jets at 7x7 points (step 1)", 4800, 29.0, {"dncnn": {"psnr": 28.8, "ssim": 0.8,
                                                                               "lpips": 0.2}})
    (t,) = build_tables("tasks", [read_run(d) for d in find_runs([tmp_path / "r"])])
    rows = {(row["task"], row["method"]): row for row in t.rows}
    old = "denoise (mlp 4x256, jets at 5x5 points (step 1), K=2, 1200 steps, 95 train INRs)"
    new = "denoise (mlp 6x256, jets at 7x7 points (step 1), K=2, 4800 steps, 95 train INRs)"
    assert rows[old, "INSP-Net"]["ours_psnr"] == pytest.approx(28.25) and rows[old, "INSP-Net"]["runs"] == 2
    assert rows[new, "INSP-Net"]["ours_psnr"] == 29.0 and rows[new, "INSP-Net"]["runs"] == 1
    assert rows[new, "DnCNN pixel twin (Π's budget)"]["ours_psnr"] == 28.8 and (old, "DnCNN pixel twin (Π's budget)") \
        not in rows
    assert rows[new, "INSP-Net"]["paper_psnr"] == 23.86  # still the denoising block: the paper's numbers beside
    # the same Pi trained on other INRs (19 instead of 95) is another Pi
    run("d", "mlp 6x256, jets at 7x7 points (step 1)", 4800, 27.0, n_train=19)
    (t,) = build_tables("tasks", [read_run(d) for d in find_runs([tmp_path / "r"])])
    blocks = {row["task"] for row in t.rows}
    assert new in blocks and new.replace("95 train", "19 train") in blocks and len(blocks) == 3


def test_grid_sweep_with_failed_point_and_plot(tmp_path, workdir):
    root = tmp_path / "runs" / "fit-multirun" / "2026"
    for i, (steps, seed, psnr) in enumerate([(20, 0, 25.0), (20, 1, 27.0), (80, 0, 35.0), (160, 0, None)]):
        make_run(root / f"{i}_fit.steps={steps},seed={seed}", "fit", {"seed": seed, "fit": {"steps": steps}},
                 {"psnr_mean": psnr} if psnr else {"error": "3 INRs did not converge"},
                 status="complete" if psnr else "failed")
    cfg = compose("table", ["table=grid", f"runs=[{root}]", "grid.x=fit.steps", "grid.y=psnr_mean"])
    run_table(cfg, tmp_path / "out")
    rows = rows_of((tmp_path / "out" / "grid.csv").read_text())
    assert [(r["x"], r["y"], r["runs"], r["failed"]) for r in rows] == [
        ("20", "26.0", "2", "0"), ("80", "35.0", "1", "0"), ("160", "", "0", "1")]
    assert (tmp_path / "out" / "grid.png").stat().st_size > 5000
    with pytest.raises(InspError, match="has no model.order"):
        build_tables("grid", [read_run(d) for d in find_runs([root])], grid={"x": "model.order", "y": "psnr_mean"})


@pytest.mark.parametrize("table, job, config, label", [
    ("table1", "classify", {"model": {"kind": "weight_mlp"}}, "MLP classifier"),  # recorded before the rename
    ("table1", "classify", {"classifier": {"kind": "weight_mlp"}}, "MLP classifier"),
    ("table2", "eval", {"store": "stores/photos"}, "eval"),
    ("tasks", "eval", {"store": "stores/photos"}, "eval"),
    ("audio", "eval", {"store": "stores/audio-test"}, "eval"),
    ("geometry", "eval", {"store": "stores/meshes-test"}, "eval"),
    ("inrr", "fit", {"fit": {"reg": "inrr"}}, "reg=inrr"),
    ("oinr", "fit", {"model": {"kind": "oinr"}}, "model=oinr"),
])
def test_every_table_lists_a_failed_run_and_keeps_it_out(table, job, config, label, tmp_path):
    """A run that died (metrics.json says failed, or there is none) is one line under its table, named by what it
    was running, and never a number; the table of a modality it is not of refuses it in one line."""
    make_run(tmp_path / "r" / "a", job, {"scale": "cpu", **config}, {"error": "NaN loss at step 7"}, status="failed")
    make_run(tmp_path / "r" / "b", job, {"scale": "cpu", **config}, None)
    t, = build_tables(table, [read_run(d) for d in find_runs([tmp_path / "r"])])
    died = "no metrics.json (the job crashed, was killed or is still running)"
    assert sorted(t.failed) == [f"failed: {tmp_path / 'r' / 'a'} ({label}): NaN loss at step 7",
                                f"unfinished: {tmp_path / 'r' / 'b'} ({label}): {died}"]
    assert not any(isinstance(v, float) for row in t.rows for k, v in row.items() if k.startswith("ours"))
    if table in ("audio", "geometry"):
        with pytest.raises(InspError, match=f"{table} needs eval runs of .*; the eval runs given are of images"):
            build_tables(table, [read_run(make_run(tmp_path / "img", "eval", {"store": "stores/photos"}, None))])


def test_old_config_and_bad_input_are_one_line_errors(tmp_path):
    make_run(tmp_path / "old", "eval", {"seed": 0}, {"psnr": 20.0})  # an eval run from before `rows`
    with pytest.raises(InspError, match=r"old.*no task, rows, n_items \(written by an older insp eval"):
        build_tables("table2", [read_run(tmp_path / "old")])
    with pytest.raises(InspError, match="unknown table 'table9'"):
        build_tables("table9", [])
    with pytest.raises(InspError, match="is not a run directory"):
        read_run(tmp_path)
    with pytest.raises(InspError, match="holds no run directories"):
        find_runs([tmp_path / "old" / ".hydra"])
    with pytest.raises(InspError, match="table1 needs classify runs"):
        build_tables("table1", [read_run(tmp_path / "old")])


def test_recorded_table_rebuilds_identically_with_readme(table1_runs, tmp_path, workdir):
    exp = tmp_path / "experiments"
    (exp / "table1_classification").mkdir(parents=True)
    (exp / "table1_classification" / "README.md").write_text("notes of the engineer\n")
    cfg = compose("table", ["table=table1", f"runs=[{table1_runs}]", f"out={exp}/table1_classification",
                            f"experiments={exp}"])
    run_table(cfg, tmp_path / "t1")
    folder = exp / "table1_classification"
    spec = json.loads((folder / "table.json").read_text())
    assert spec["table"] == "table1" and len(spec["runs"]) == 6
    assert all((folder / n / ".hydra" / "config.yaml").is_file() and n.startswith("runs/") for n in spec["runs"])
    assert "insp classify model=insp_convnet seed=0 scale=cpu" in spec["commands"]
    files = {p: p.read_bytes() for p in (folder / "table1.md", folder / "table1.csv", folder / "table1.png",
                                         exp / "README.md")}
    assert str(tmp_path) not in files[folder / "table1.md"].decode()  # no machine paths in recorded files
    for p in files:
        p.unlink()
    run_table(compose("table", [f"experiments={exp}"]), tmp_path / "t2")  # plain `insp table`: table=all
    assert {p: p.read_bytes() for p in files} == files
    readme = (exp / "README.md").read_text()
    assert "## Table 1: classification of INRs" in readme and "| MNIST | INSP-ConvNet | 85.00 ± 7.07 | 88.1 |" in readme
    assert "table1_classification/README.md" in readme and "**Scale:** cpu (6 runs)" in readme
    assert "## Table 2: denoising" in readme and "Not recorded yet." in readme
    assert (folder / "README.md").read_text() == "notes of the engineer\n"  # others' files are left alone


def test_two_runs_of_one_folder_name_are_both_recorded(tmp_path, workdir):
    """A recipe's denoise/eval and a variant's denoise/eval (two Pi) are copied side by side, not onto each other,
    and the recorded table rebuilds from them identically."""
    exp = tmp_path / "experiments"
    rows = {"input": {"psnr": 20.0, "ssim": 0.5, "lpips": 0.4}, "insp_net": {"psnr": 28.0, "ssim": 0.8, "lpips": 0.1}}
    eval_run(tmp_path / "a" / "cpu" / "denoise", "eval", rows)
    rows2 = json.loads(json.dumps(rows))
    rows2["insp_net"]["psnr"] = 29.0
    eval_run(tmp_path / "b" / "variant" / "cpu" / "denoise", "eval", rows2)
    with open(tmp_path / "b" / "variant" / "cpu" / "denoise" / "eval" / "metrics.json") as f:
        m = json.load(f)
    m["scale"]["pi"] = "mlp 4x256, jets at 5x5 points (step 1)"
    (tmp_path / "b" / "variant" / "cpu" / "denoise" / "eval" / "metrics.json").write_text(json.dumps(m))
    folder = exp / "table2_tasks"
    run_table(compose("table", ["table=tasks", f"runs=[{tmp_path / 'a'},{tmp_path / 'b'}]", f"out={folder}",
                                f"experiments={exp}"]), tmp_path / "t1")
    spec = json.loads((folder / "table.json").read_text())
    assert len(spec["runs"]) == 2 and len(set(spec["runs"])) == 2, spec["runs"]
    assert "runs/denoise_eval" in spec["runs"] and any(n.endswith("cpu_denoise_eval") for n in spec["runs"])
    md = (folder / "tasks.md").read_text()
    assert "| 28.00 |" in md and "| 29.00 |" in md  # two blocks, not one mean
    (folder / "tasks.md").unlink()
    run_table(compose("table", [f"experiments={exp}"]), tmp_path / "t2")
    assert (folder / "tasks.md").read_text() == md


def test_sweep_failures_lists_each_failed_job(table1_runs):
    n, failed = sweep_failures(table1_runs)
    assert n == 6 and len(failed) == 2
    assert failed[0].endswith("failed: NaN loss in epoch 2") and "no metrics.json" in failed[1]


@pytest.mark.parametrize("args, message", [
    (["table=table9"], "error: unknown table 'table9'; choose table1, table2, tasks, audio, geometry, grid, inrr, oinr or all"),
    (["table=table1"], "error: table=table1 needs runs=[DIR,...]"),
    (["table=table1", "runs=[/nonexistent/runs]"], "error: run directory /nonexistent/runs does not exist"),
    (["mixed_scales=maybe", "table=table1", "runs=[RUNS]"], "error: mixed_scales must be refuse or separate"),
    (["table=table1", "runs=[RUNS]", "scale=paper"],
     "error: no runs of scale 'paper' (the runs given are of scale cpu)"),
])
def test_cli_one_line_errors(args, message, table1_runs, workdir):
    # in-process (a subprocess would spend most of its time importing torch)
    from typer.testing import CliRunner

    from insp_cli.cli import app

    r = CliRunner().invoke(app, ["table", *[a.replace("RUNS", str(table1_runs)) for a in args]])
    assert r.exit_code == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()], r.stderr
    assert r.stderr.startswith(message), r.stderr


def test_runs_inside_the_folder_are_recorded_in_place(tmp_path, workdir):
    folder = tmp_path / "experiments" / "table2_denoising"
    rows = {"input": {"psnr": 20.5, "ssim": 0.47, "lpips": 0.41},
            "insp_net": {"psnr": 23.0, "ssim": 0.6, "lpips": 0.39}}
    eval_run(folder / "cpu" / "denoise", "eval", rows)
    make_run(folder / "cpu" / "denoise" / "fit-test", "fit", {"seed": 0}, {"psnr_mean": 20.4})
    run_table(compose("table", ["table=table2", f"runs=[{folder / 'cpu'}]", f"out={folder}",
                                f"experiments={folder.parent}"]), tmp_path / "t")
    assert json.loads((folder / "table.json").read_text())["runs"] == ["cpu/denoise/eval"]
    assert not (folder / "runs").exists()  # nothing copied: the runs already live in the folder
    assert "| INSP-Net | 23.00 | 0.600 | 0.390 | 23.86 | 0.65 | 0.38 | 1 |  |" in (folder / "table2.md").read_text()
    assert "Built from 1 run directories." in (folder.parent / "README.md").read_text()


def test_paper_numbers_are_the_papers():
    """PAPER_TABLE1 / PAPER_TABLE2 against the paper's own tables: tests/fixtures/paper_tables.txt quotes them
    verbatim (Table 1, Sec. 5.3; Table 2, appendix), and where the paper's text is at hand (the shared
    papers folder beside the checkout) every quoted line must stand in it."""
    from insp_cli.report import LABELS, PAPER_TABLE1, PAPER_TABLE2

    quoted = (Path(__file__).parent / "fixtures" / "paper_tables.txt").read_text().splitlines()
    paper = Path(__file__).resolve().parents[2] / "shared" / "papers" / "insp-net.txt"
    if paper.is_file():
        text = paper.read_text().splitlines()
        assert all(line in text for line in quoted)
    head, t1, t2 = quoted[0].split("\t")[1:], {}, {}
    for line in quoted[1:3]:
        name, *cells = line.split("\t")
        t1[name] = dict(zip(head, (float(c.rstrip("%")) for c in cells)))
    for line in quoted[4:]:
        name, *cells = line.split("\t")
        t2[name.split(" [")[0]] = tuple(float(c) for c in cells)
    assert {LABELS[d]: {LABELS[k]: v for k, v in row.items()} for d, row in PAPER_TABLE1.items()} == t1
    assert {LABELS[k].replace("filter", "Filter"): v for k, v in PAPER_TABLE2.items()} == t2


def test_a_table_is_defined_once_by_its_spec_and_report_has_no_import_cycle():
    """Bars, catalogue entry and the paper's numbers come from each table's TableSpec in its own module; the
    catalogue keeps the paper's order; no table module imports the modules that collect or render tables."""
    import ast

    import insp_cli.report.render as render
    from insp_cli.report import PAPER_TABLE1, PAPER_TABLE2, SPECS
    from insp_cli.report.readme import paper_items

    assert not hasattr(render, "BARS") and SPECS["table1"].paper is PAPER_TABLE1
    assert SPECS["table2"].paper is PAPER_TABLE2 and SPECS["tasks"].paper is PAPER_TABLE2
    assert [s.name for s in SPECS.values() if s.bars is None] == ["grid"]
    assert [i.prefix for i in paper_items()] == ["table1", "table2", "fig1", "fig3", "fig4", "fig5", "fig6",
                                                  "fig7", "fig8", "fig15"]
    assert {s.item.prefix: name for name, s in SPECS.items() if s.item} == {
        "table1": "table1", "table2": "table2", "fig15": "audio", "fig8": "geometry"}
    report = Path(render.__file__).parent
    upper = {"insp_cli.report", "insp_cli.report.tables", "insp_cli.report.render", "insp_cli.report.readme",
             "insp_cli.report.recorded"}
    for spec in SPECS.values():
        path = report / f"{spec.build.__module__.rsplit('.', 1)[1]}.py"
        imported = {n.module for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)}
        assert not imported & upper, (path.name, imported & upper)
