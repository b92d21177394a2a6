"""`insp fit` end to end: run directories, Hydra flags, sweeps, bad input, resume, W&B files, wheel configs."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.files import is_temporary
from insp_cli.inr.store import INRStore, finished_shards
from insp_cli.jobs import fit as fit_job

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.split=test", "fit.steps=20", "fit.shard_size=4", "samples=4"]


def insp(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd or ROOT, timeout=600)


def test_fit_end_to_end_writes_run_dir_and_store(workdir):
    r = insp("fit", *TINY, "data.limit=8", f"store={workdir}/st")
    assert r.returncode == 0, r.stderr
    run_dir = Path(r.stdout.split("run dir")[1].split()[0])
    assert {".hydra", "fit.log", "metrics.json", "samples.png"} <= {p.name for p in run_dir.iterdir()}
    assert (run_dir / ".hydra" / "config.yaml").exists() and "data.limit=8" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "complete" and m["count"] == 8 and m["psnr_mean"] > 12
    assert list(finished_shards(workdir / "st")) == [(0, 4), (4, 8)]
    assert list(INRStore.open(workdir / "st").labels) == [7, 2, 1, 0, 4, 1, 4, 9]
    # the same command again finds everything done
    again = insp("fit", *TINY, "data.limit=8", f"store={workdir}/st")
    assert again.returncode == 0 and "all shards already done" in again.stdout


def test_cfg_job_prints_the_config():
    r = insp("fit", "data=images", "model.hidden=48", "--cfg", "job")
    assert r.returncode == 0, r.stderr
    assert "name: images" in r.stdout and "hidden: 48" in r.stdout


def test_bad_input_gives_one_line_and_nonzero_exit(workdir):
    (workdir / "EMPTY").mkdir()
    for args, message in [(["data.nonsense=1"], "unknown key 'data.nonsense'"), (["data=images", f"data.folder={workdir}/EMPTY"],
                                                                  "no images")]:
        r = insp("fit", *TINY, "data.limit=2", *args)
        assert r.returncode != 0
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr


@pytest.mark.parametrize("args, message", [
    (["data=nope"], "unknown option data=nope; choose audio"),
    (["data.name=nope"], "unknown dataset"),
    (["data.start=999999"], "start"),
    (["degradation.kind=smudge"], "unknown degradation"),
    (["data.shard=3", "data.num_shards=2"], "data.shard"),
    (["device=cuda:7"] if not __import__("torch").cuda.is_available() else ["device=nonsense"], "device"),
])
def test_bad_settings_raise_one_line_errors(workdir, args, message):
    from insp_cli.config import check_overrides

    with pytest.raises(InspError, match=message) as e:
        check_overrides("fit", TINY + ["data.limit=2"] + args)
        fit_job.run_fit(compose("fit", TINY + ["data.limit=2"] + args), workdir / "run")
    assert "\n" not in str(e.value)


def test_multirun_sweep(workdir):
    r = insp("fit", "-m", *TINY, "data.limit=2,3", f"store={workdir}/st-${{data.limit}}")
    assert r.returncode == 0, r.stderr
    jobs = sorted((workdir / "runs").glob("fit-multirun/*/*/metrics.json"))
    assert [json.loads(p.read_text())["count"] for p in jobs] == [2, 3]
    assert any("data.limit=3" in str(p) for p in jobs)


def test_interrupted_fit_resumes_identically(workdir, monkeypatch):
    overrides = TINY + ["data.limit=12", f"store={workdir}/st"]
    cfg = compose("fit", overrides)
    real = fit_job.fit_inrs
    calls = {"n": 0}

    def interrupted(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(fit_job, "fit_inrs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_job.run_fit(cfg, workdir / "run1")
    assert json.loads((workdir / "run1" / "metrics.json").read_text())["status"] == "interrupted"
    assert list(finished_shards(workdir / "st")) == [(0, 4)]
    assert not [p for p in (workdir / "st").iterdir() if is_temporary(p)]  # nothing half-written
    monkeypatch.setattr(fit_job, "fit_inrs", real)
    fit_job.run_fit(cfg, workdir / "run2")
    m = json.loads((workdir / "run2" / "metrics.json").read_text())
    assert m["fitted_now"] == 8 and m["count"] == 12
    fit_job.run_fit(compose("fit", TINY + ["data.limit=12", f"store={workdir}/fresh"]), workdir / "run3")
    np.testing.assert_array_equal(INRStore.open(workdir / "st").params.numpy(),
                                  INRStore.open(workdir / "fresh").params.numpy())


def test_store_of_other_settings_is_refused(workdir):
    fit_job.run_fit(compose("fit", TINY + ["data.limit=4", f"store={workdir}/st"]), workdir / "r1")
    with pytest.raises(InspError, match="already holds other INRs"):
        fit_job.run_fit(compose("fit", TINY + ["data.limit=4", "fit.lr=0.02", f"store={workdir}/st"]), workdir / "r2")


def test_warmup_and_betas_are_in_the_header_only_when_set(workdir):
    """The MNIST recipe's warm-up and Adam betas go into the store header (a resume with others is refused); the
    former schedule (0 / 0.9 / 0.999) writes the header stores had before these settings existed."""
    fit_job.run_fit(compose("fit", TINY + ["data.limit=4", f"store={workdir}/new"]), workdir / "r1")
    fit = json.loads((workdir / "new" / "store.json").read_text())["fit"]
    assert (fit["steps"], fit["warmup"], fit["beta1"], fit["beta2"]) == (20, 3, 0.75, 0.9)
    with pytest.raises(InspError, match="already holds other INRs"):
        fit_job.run_fit(compose("fit", TINY + ["data.limit=4", "fit.beta1=0.85", f"store={workdir}/new"]),
                        workdir / "r2")
    fit_job.run_fit(compose("fit", TINY + ["data.limit=4", "fit.warmup=0", "fit.beta1=0.9", "fit.beta2=0.999",
                                           f"store={workdir}/old"]), workdir / "r3")
    fit = json.loads((workdir / "old" / "store.json").read_text())["fit"]
    assert not {"warmup", "beta1", "beta2"} & set(fit)


def test_only_mnist_takes_the_32_step_schedule():
    """The 32-step schedule (warm-up, Adam betas 0.75 / 0.9, batches of 64) was chosen on MNIST digits: every other dataset, whose
    config extends mnist.yaml, keeps its own recipe with torch's Adam betas and no warm-up (a dict key the child
    does not set would otherwise be inherited from MNIST's recipe, silently changing its fits)."""
    from insp_cli.config import _options

    seen = {}
    for data in _options("data"):
        fit = compose("fit", [f"data={data}"]).fit
        seen[data] = (fit.warmup, fit.beta1, fit.beta2)
        if data == "mnist":
            assert (fit.steps, fit.lr, fit.lr_final, fit.batch_size) == (32, 8e-3, 2e-3, 64)
        elif data == "fashion_mnist":  # extends mnist.yaml: the former MNIST recipe, batches of 512 included
            assert (fit.steps, fit.batch_size) == (60, 512)
    # the recorded MNIST fits pin the recipe they were recorded with, batches of 512 included
    for exp in ("table1_classification/fit", "table1_classification/omega30_pool4/fit"):
        fit = compose("fit", [f"+experiment={exp}"]).fit
        assert fit.batch_size == 512 and fit.steps in (60, 80) and (fit.warmup, fit.beta1) == (0, 0.9), exp
    assert seen.pop("mnist") == (3, 0.75, 0.9)
    assert {"images", "photos", "audio", "cifar10", "meshes"} <= set(seen)
    assert all(v == (0, 0.9, 0.999) for v in seen.values()), seen


def test_sharded_parts_open_as_one_dataset(workdir):
    for k in range(3):
        fit_job.run_fit(compose("fit", TINY + ["data.limit=10", f"data.shard={k}", "data.num_shards=3",
                                                f"store={workdir}/part{k}"]), workdir / f"r{k}")
    whole = INRStore.open([workdir / f"part{k}" for k in range(3)])
    assert list(whole.indices) == list(range(10))


def test_wandb_offline_writes_real_files(workdir):
    cfg = compose("fit", TINY + ["data.limit=4", f"store={workdir}/st", "tracking.mode=offline"])
    fit_job.run_fit(cfg, workdir / "run")
    runs = list((workdir / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_configs_are_found_from_an_installed_wheel(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("insp_cli-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "insp_cli/conf/fit.yaml" in names and "insp_cli/conf/data/mnist.yaml" in names
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = ("import insp_cli.config as c; from insp_cli.config import compose; "
            "print(c.conf_dir()); print(compose('fit', ['data=images']).data.name)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, timeout=120)
    assert r.returncode == 0, r.stderr
    conf, name = r.stdout.split()
    assert conf.startswith(str(tmp_path / "site")) and name == "images"


def test_extending_a_store_reuses_it_without_overlap(workdir):
    fit_job.run_fit(compose("fit", TINY + ["data.limit=2", f"store={workdir}/st"]), workdir / "r1")
    fit_job.run_fit(compose("fit", TINY + ["data.limit=6", f"store={workdir}/st"]), workdir / "r2")
    assert json.loads((workdir / "r2" / "metrics.json").read_text())["fitted_now"] == 4
    assert list(INRStore.open(workdir / "st").indices) == list(range(6))


def test_missing_ranges_cut_around_finished_shards():
    assert fit_job.missing_ranges(0, 10, 4, []) == [(0, 4), (4, 8), (8, 10)]
    assert fit_job.missing_ranges(0, 10, 4, [(0, 2), (4, 8)]) == [(2, 4), (8, 10)]
    assert fit_job.missing_ranges(3, 5, 4, [(0, 4)]) == [(4, 5)]


def test_every_sweep_value_is_checked():
    from insp_cli.config import check_overrides

    with pytest.raises(InspError, match="unknown option data=nope; choose"):
        check_overrides("fit", ["-m", "data.limit=2", "data=mnist,nope"])
    with pytest.raises(InspError, match=r"^bad value: fit.lr='oops'; it must be a number > 0$"):  # schema.py's rule
        fit_job.fit_settings(compose("fit", ["fit.lr=oops"]))


def test_prox_is_refused_where_it_would_not_apply(workdir):
    """fit.prox works on the weights fit of images and audio; shapes fit their own way: one line, not ignored."""
    with pytest.raises(InspError, match=r"fit.prox .* not meshes") as e:
        fit_job.run_fit(compose("fit", ["data=meshes", "data.limit=1", "fit.prox=0.1"]), workdir / "run")
    assert "\n" not in str(e.value)
    with pytest.raises(InspError, match=r"^bad value: fit.prox=-1"):
        fit_job.fit_settings(compose("fit", ["fit.prox=-1"]))
