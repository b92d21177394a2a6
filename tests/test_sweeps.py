"""Sweeps: the joblib launcher for real (sharded parts into one shared store, a failed job reported at the end),
the SLURM launcher's config composed into a real sbatch script, and a store prepared by many processes at once."""

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from insp_cli.errors import InspError
from insp_cli.inr import store as store_mod
from insp_cli.inr.siren import SirenSpec
from insp_cli.inr.store import INRStore, StoreHeader, prepare_store

ROOT = Path(__file__).resolve().parents[1]
HEADER = StoreHeader(spec=SirenSpec(2, 1, 8, 2), source={"name": "x"}, degradation={"kind": "clean"}, fit={"seed": 0})


def test_joblib_sweep_shards_into_one_store_and_reports_failed_jobs(workdir):
    store = workdir / "shared"
    r = subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", "-m", "hydra/launcher=local",
                        "data.split=test", "data.limit=4", "fit.steps=5", "fit.shard_size=2", "samples=2",
                        f"store={store}", "data.num_shards=2", "data.shard=0,1,5"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ})
    assert r.returncode == 1, r.stderr
    sweep = next((workdir / "runs" / "fit-multirun").iterdir())
    assert (sweep / "multirun.yaml").is_file()  # the pinned sweep dir is the one Hydra wrote
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    status = [json.loads((j / "metrics.json").read_text())["status"] for j in jobs]
    assert status == ["complete", "complete", "failed"]
    assert "data.shard=1" in jobs[1].name and OmegaConf.load(sweep / "multirun.yaml").hydra.launcher.n_jobs == 2
    # the summary: one header line, then exactly one line per failed job, naming it and why
    tail = r.stderr.strip().splitlines()[-2:]
    assert tail[0].startswith("error: 1 of 3 jobs did not complete")
    assert str(jobs[2]) in tail[1] and tail[1].endswith("failed: data.shard=5 must be in [0, data.num_shards=2)")
    whole = INRStore.open(store)  # both parts, written concurrently by two processes, open as one dataset
    assert list(whole.indices) == [0, 1, 2, 3] and np.isfinite(whole.psnr).all()
    assert sorted(p.name for p in store.iterdir()) == [".manifest.lock", "manifest.json",
        "shard-0000000-0000002.safetensors", "shard-0000002-0000004.safetensors", "store.json"]
    assert len(json.loads((store / "manifest.json").read_text())["shards"]) == 2  # no lost manifest update


def test_slurm_launcher_config_composes_into_an_sbatch_script(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    import submitit
    from insp_cli.config import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="classify", return_hydra_config=True,
                      overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu", f"hydra.sweep.dir={tmp_path}"])
    p = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert p["_target_"] == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (p["timeout_min"], p["gpus_per_node"], p["cpus_per_task"], p["mem_gb"], p["array_parallelism"]) == (
        240, 1, 8, 32, 64)
    assert p["submitit_folder"] == f"{tmp_path}/.submitit/%j" and p["name"] == "classify"
    # the same mapping as the launcher's launch(), up to the sbatch call (no cluster here)
    monkeypatch.setattr(submitit.slurm.slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 2))
    ex = submitit.AutoExecutor(folder=p.pop("submitit_folder"), cluster="slurm",
                               slurm_max_num_timeout=p.pop("max_num_timeout"))
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    p.pop("_target_")
    ex.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in p.items()})
    text = ex._executor._make_submission_file_text("python -c pass", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=240", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=32GB", "#SBATCH --job-name=classify",
                 f"#SBATCH --output={tmp_path}/.submitit/%j/%j_0_log.out"):
        assert line in text, text
    assert ex._executor.parameters["array_parallelism"] == 64


def _prepare(args):
    directory, barrier = args
    barrier.wait()  # all processes reach prepare_store together
    try:
        prepare_store(directory, HEADER)
        return "ok"
    except InspError as e:
        return str(e)


def test_store_prepared_by_many_processes_at_once(tmp_path):
    ctx = mp.get_context("fork")
    with ctx.Manager() as m, ctx.Pool(4) as pool:
        for k in range(5):
            barrier = m.Barrier(4)
            assert pool.map(_prepare, [(tmp_path / f"s{k}", barrier)] * 4) == ["ok"] * 4
            assert [p.name for p in (tmp_path / f"s{k}").iterdir()] == ["store.json"]


def test_store_races_that_timing_rarely_shows(tmp_path, monkeypatch):
    # another job is half-way through writing the header (only its temporary file exists): not "foreign"
    d = tmp_path / "a"
    d.mkdir()
    (d / ".store.json.tmp-999").write_text("{")
    assert prepare_store(d, HEADER) == d
    # another job creates a header of other INRs between our check and our write: we must not overwrite it
    other = StoreHeader(spec=SirenSpec(2, 1, 16, 2), source={"name": "x"}, degradation={"kind": "clean"},
                        fit={"seed": 0})
    real_link = os.link

    def first_comes_another(src, dst):
        Path(dst).write_text(json.dumps(other.to_json()))
        real_link(src, dst)

    monkeypatch.setattr(store_mod.os, "link", first_comes_another)
    with pytest.raises(InspError, match="already holds other INRs: architecture differs"):
        prepare_store(tmp_path / "b", HEADER)
    assert json.loads((tmp_path / "b" / "store.json").read_text())["architecture"]["hidden"] == 16
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["store.json"]
    # a directory of other files is still refused
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("x")
    with pytest.raises(InspError, match="is not an INR store"):
        prepare_store(tmp_path / "c", HEADER)
