"""Every experiments/*/*.sh recipe reruns from a fresh clone without touching a tracked file (unless RECORD=1).

Each recipe runs in a `git clone` of HEAD with a stub `insp` first on PATH (it records its argv and exits 0) and
INSP_RECIPE_STEPS=1 (experiments/lib.sh: only the first insp command runs, the rest are skipped); the stub must
have been called with the recipe's first command, writing into the scratch folder runs/recipes/<name>/, and
`git status` must stay empty. ``fit_done`` (the recipe's "done earlier") is checked against a real store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from insp_cli.inr.siren import SirenSpec, init_params
from insp_cli.inr.store import StoreHeader, prepare_store, shard_name, write_shard
from test_clean_clone import REPO, _git

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists()
                                or not Path("/usr/bin/time").exists(), reason="needs a git checkout and /usr/bin/time")

# recipe (under experiments/), its arguments, and what its first insp command must hold: the subcommand, then
# overrides (the run dir in the scratch folder, never in experiments/)
FIRST = [
    ("fig15_audio/run_cpu.sh", [], ["fit", "+experiment=fig15_audio/fit", "data.split=train", "data.limit=354",
                                    "store=stores/fig15-cpu/noise-train",
                                    "hydra.run.dir=runs/recipes/fig15_audio/cpu/fit-train"]),
    ("fig15_audio/run_speakers.sh", [], ["fit", "+experiment=fig15_audio/fit", "data.source=speakers", "data.split=train",
                                         "data.start=0", "data.limit=320", "store=stores/fig15-speakers/noise-train-0",
                                         "hydra.run.dir=runs/recipes/fig15_audio/variants/speakers/cpu/fit-train-0"]),
    ("fig8_geometry/run_cpu.sh", [], ["fit", "+experiment=fig8_geometry/fit", "data.split=train", "degradation=clean",
                                      "store=stores/fig8-cpu/clean-train",
                                      "hydra.run.dir=runs/recipes/fig8_geometry/cpu/fit-clean-train"]),
    ("fig8_geometry/variants/outside-shapes/run_cpu.sh", [], [
        "fit", "+experiment=fig8_geometry/fit", "data.split=all", "degradation=clean",
        "store=stores/outside-shapes/clean",
        "hydra.run.dir=runs/recipes/fig8_geometry/variants/outside-shapes/cpu/fit-clean"]),
    ("fig15_audio/variants/outside-voices/run_cpu.sh", [], [
        "fit", "+experiment=fig15_audio/fit", "data.split=all", "store=stores/outside-voices/noise",
        "hydra.run.dir=runs/recipes/fig15_audio/variants/outside-voices/cpu/fit"]),
    ("fig15_audio/variants/outside-voices-jetcnn/run_cpu.sh", [], [
        "fit", "+experiment=fig15_audio/fit", "data.split=all", "store=stores/outside-voices/noise",
        "hydra.run.dir=runs/recipes/fig15_audio/variants/outside-voices-jetcnn/cpu/fit"]),
    ("fig15_audio/variants/speakers-jetcnn/run_cpu.sh", [], [
        "fit", "+experiment=fig15_audio/fit", "data.source=speakers", "data.split=train", "data.start=0",
        "data.limit=320", "store=stores/fig15-speakers/noise-train-0",
        "hydra.run.dir=runs/recipes/fig15_audio/variants/speakers-jetcnn/cpu/fit-train-0"]),
    ("table2_denoising/variants/outside-photos/run_cpu.sh", [], [
        "fit", "data=images", "data.split=all", "data.size=128", "model.hidden=128", "fit.steps=150",
        "degradation=noise", "store=stores/outside-photos/noise",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/outside-photos/cpu/fit"]),
    ("inrr_table1/run_cpu.sh", [], ["fit", "+experiment=inrr_table1/fit128", "degradation=random50", "fit.reg=none",
                                    "store=stores/inrr-table1-128/random50-none",
                                    "hydra.run.dir=runs/recipes/inrr_table1/cpu/random50-none"]),
    ("oinr_tables/validate.sh", [], ["fit", "+experiment=oinr_tables/fit", "model=siren", "fit.lr=5e-4",
                                     "hydra.run.dir=runs/recipes/oinr_tables/val/siren-lr5e-4"]),
    ("oinr_tables/run_cpu.sh", [], ["fit", "+experiment=oinr_tables/fit", "model=oinr", "degradation=clean",
                                    "store=stores/oinr-tables/clean-oinr",
                                    "hydra.run.dir=runs/recipes/oinr_tables/cpu/clean-oinr"]),
    ("table1_classification/run_cpu.sh", [], ["fit", "+experiment=table1_classification/fit", "data.split=test",
                                              "store=stores/table1-cpu-w10/mnist-test",
                                              "hydra.run.dir=runs/recipes/table1_classification/cpu/fit-test"]),
    ("table1_classification/run_cpu.sh", ["classify"], [
        "classify", "+experiment=table1_classification/insp_convnet", "seed=0",
        "hydra.run.dir=runs/recipes/table1_classification/cpu/insp_convnet"]),
    ("table1_classification/variants/meta-init/run_cpu.sh", [], [
        "meta-learn", "data=mnist", "model.omega0=10", "compile=false",
        "init=inits/table1-mnist-weights-w32d3-o10.safetensors",
        "hydra.run.dir=runs/recipes/table1_classification/variants/meta-init/cpu/meta-learn"]),
    ("table1_classification/variants/paper-scale-meta/run_cpu.sh", [], [
        "meta-learn", "data=mnist", "model.omega0=10", "compile=false",
        "init=inits/table1-mnist-weights-w32d3-o10.safetensors",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-meta/cpu/meta-learn"]),
    ("table1_classification/variants/paper-scale-meta/run_cpu.sh", ["fit"], [
        "fit", "+experiment=table1_classification/fit", "data.split=test", "data.limit=10000", "data.shard=0",
        "data.num_shards=2", "fit.init=inits/table1-mnist-weights-w32d3-o10.safetensors", "fit.steps=30",
        "fit.lr=1e-2", "store=stores/table1-full-w10-meta/mnist-test",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-meta/cpu/fit-test-0"]),
    ("table1_classification/variants/paper-scale-meta/run_cpu.sh", ["classify"], [
        "classify", "+experiment=table1_classification/insp_convnet",
        "train_store=stores/table1-full-w10-meta/mnist-train", "test_store=stores/table1-full-w10-meta/mnist-test",
        "epochs=2", "seed=0", "scale=full-meta-init",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-meta/cpu/insp_convnet"]),
    ("table1_classification/variants/paper-scale-meta-val/run_cpu.sh", [], [
        "fit", "+experiment=table1_classification/fit", "data.split=test", "data.limit=10000", "data.shard=0",
        "data.num_shards=2", "fit.init=inits/table1-mnist-weights-w32d3-o10.safetensors", "fit.steps=30",
        "fit.lr=3e-3", "store=stores/table1-full-w10-meta-lr3e-3/mnist-test",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-meta-val/cpu/fit-test-0"]),
    ("table1_classification/variants/paper-scale-meta-val/run_cpu.sh", ["val"], [
        "classify", "+experiment=table1_classification/insp_convnet",
        "train_store=stores/table1-full-w10-meta/mnist-train", "test_store=stores/table1-full-w10-meta/mnist-train",
        "train_limit=50000", "test_offset=50000", "epochs=2", "seed=0",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-meta-val/cpu/val-insp_convnet-lr1e-2"]),
    ("table1_classification/variants/paper-scale-meta-prox/run_cpu.sh", [], [
        "fit", "+experiment=table1_classification/fit", "data.split=test", "data.limit=10000", "data.shard=0",
        "data.num_shards=2", "fit.init=inits/table1-mnist-weights-w32d3-o10.safetensors", "fit.steps=45",
        "fit.lr=1e-2", "fit.prox=0.3", "store=stores/table1-full-w10-meta-prox/mnist-test",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-meta-prox/cpu/fit-test-0"]),
    ("table1_classification/variants/paper-scale-shared-init/run_cpu.sh", [], [
        "fit", "+experiment=table1_classification/fit", "data.split=test", "data.limit=10000", "data.shard=0",
        "data.num_shards=2", "fit.shared_init=true", "store=stores/table1-full-w10-shared/mnist-test",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale-shared-init/cpu/fit-test-0"]),
    ("table1_classification/variants/functa/run_cpu.sh", [], [
        "meta-learn", "data=mnist", "meta=functa", "init=inits/table1-mnist-functa-w32d3.safetensors",
        "hydra.run.dir=runs/recipes/table1_classification/variants/functa/cpu/meta-learn"]),
    ("table1_classification/variants/functa/run_cpu.sh", ["classify"], [
        "classify", "classifier=functa_mlp", "train_store=stores/table1-functa/mnist-train",
        "test_store=stores/table1-functa/mnist-test", "scale=full-functa",
        "hydra.run.dir=runs/recipes/table1_classification/variants/functa/cpu/functa_mlp"]),
    ("table1_classification/variants/paper-scale/run_cpu.sh", [], [
        "fit", "+experiment=table1_classification/fit", "data.split=test", "data.limit=10000", "data.shard=0",
        "data.num_shards=2", "store=stores/table1-full-w10/mnist-test",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale/cpu/fit-test-0"]),
    ("table1_classification/variants/paper-scale/run_cpu.sh", ["classify"], [
        "classify", "+experiment=table1_classification/insp_convnet", "train_store=stores/table1-full-w10/mnist-train",
        "test_store=stores/table1-full-w10/mnist-test", "seed=0", "scale=full",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale/cpu/insp_convnet"]),
    ("table1_classification/variants/paper-scale/run_cpu.sh", ["seeds"], [
        "classify", "+experiment=table1_classification/insp_convnet", "train_store=stores/table1-full-w10/mnist-train",
        "test_store=stores/table1-full-w10/mnist-test", "seed=1", "scale=full",
        "hydra.run.dir=runs/recipes/table1_classification/variants/paper-scale/cpu/seed1/insp_convnet"]),
    ("gradient_blend/run_cpu.sh", [], ["fit", "+experiment=gradient_blend/fit", "store=stores/gradient-blend/test",
                                       "hydra.run.dir=runs/recipes/gradient_blend/cpu/fit"]),
    ("spectral_bias/run_cpu.sh", [], ["fit", "+experiment=spectral_bias/fit", "model=siren", "fit.steps=10",
                                      "store=stores/spectral-bias/siren-10",
                                      "hydra.run.dir=runs/recipes/spectral_bias/cpu/siren-10"]),
    ("table2_denoising/variants/cpu-whole19-c7-ens48/run_cpu.sh", [], [
        "fit", "+experiment=table2_denoising/fit", "data.split=train", "data.crops=1", "degradation=noise",
        "store=stores/table2-photos-whole19/noise-train",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/cpu-whole19-c7-ens48/cpu/fit-train"]),
    ("table2_denoising/variants/cpu-whole19-cascade/run_cpu.sh", [], [
        "fit", "+experiment=table2_denoising/fit", "data.split=train", "data.crops=1", "degradation=noise",
        "store=stores/table2-photos-whole19/noise-train",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/cpu-whole19-cascade/cpu/fit-train"]),
    ("table2_denoising/variants/cpu-whole19-jetcnn/run_cpu.sh", [], [
        "fit", "+experiment=table2_denoising/fit", "data.split=train", "data.crops=1", "degradation=noise",
        "store=stores/table2-photos-whole19/noise-train",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/cpu-whole19-jetcnn/cpu/fit-train"]),
    ("table2_denoising/variants/cpu-whole19-c7-seeds/run_cpu.sh", [], [
        "fit", "+experiment=table2_denoising/fit", "data.split=train", "data.crops=1", "degradation=noise",
        "store=stores/table2-photos-whole19/noise-train",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/cpu-whole19-c7-seeds/cpu/fit-train"]),
    ("table2_denoising/variants/cpu-whole19-field-ens48/run_cpu.sh", [], [
        "fit", "+experiment=table2_denoising/fit", "data.split=train", "data.crops=1", "degradation=noise",
        "store=stores/table2-photos-whole19/noise-train",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/cpu-whole19-field-ens48/cpu/fit-train"]),
    ("table2_denoising/variants/cpu-whole19-n3600-ens48/run_cpu.sh", [], [
        "fit", "+experiment=table2_denoising/fit", "data.split=train", "data.crops=1", "degradation=noise",
        "store=stores/table2-photos-whole19/noise-train",
        "hydra.run.dir=runs/recipes/table2_denoising/variants/cpu-whole19-n3600-ens48/cpu/fit-train"]),
    ("table2_denoising/run_cpu.sh", [], ["fit", "+experiment=table2_denoising/fit", "data.split=train", "degradation=noise",
                                         "store=stores/table2-photos/noise-train",
                                         "hydra.run.dir=runs/recipes/table2_denoising/cpu/denoise/fit-train"]),
]

STUB = """#!{python}
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def _env(tmp: Path, clone: Path, **extra: str) -> dict:
    """PATH: the stub insp, then the venv's python (skimage for the photo recipes); data outside the clone."""
    bin_dir = tmp / "bin"
    if not (bin_dir / "insp").exists():
        bin_dir.mkdir(parents=True, exist_ok=True)
        (bin_dir / "insp").write_text(STUB.format(python=sys.executable))
        (bin_dir / "insp").chmod(0o755)
        os.symlink(sys.executable, bin_dir / "python")
        data = tmp / "data" / "opencv-doc"  # inrr_table1's photos, else fetched with apt-get
        data.mkdir(parents=True)
        for name in ("baboon", "building", "home", "aero3"):
            (data / f"{name}.jpg").write_bytes(b"not fitted: the stub insp never reads it")
    env = {k: v for k, v in os.environ.items()  # INSP_STORES / INSP_INITS move a recipe's data: the defaults here
           if k not in ("RECORD", "RECIPE_OUT", "INSP_RECIPE_STEPS", "INSP_STORES", "INSP_INITS")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}", "PYTHONPATH": str(clone),
            "STUB_LOG": str(tmp / "insp-calls.jsonl"), "INSP_DATA": str(tmp / "data"), "INSP_JOBS": "1",
            "INSP_RECIPE_STEPS": "1", "INSP_WANDB_MODE": "disabled", **extra}


def _calls(tmp: Path) -> list[list[str]]:
    log = tmp / "insp-calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def _run(script: str, args: list[str], clone: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", f"experiments/{script}", *args], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recipes")
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(tmp / "clone"), cwd=tmp)
    return tmp


def test_every_recipe_has_a_first_step_check():
    exp = REPO / "experiments"
    scripts = {p.relative_to(exp).as_posix() for p in [*exp.glob("*/*.sh"), *exp.glob("*/variants/*/run_cpu.sh")]}
    assert scripts == {s for s, _, _ in FIRST}


@pytest.mark.parametrize("script,args,first", FIRST, ids=[f"{s}{' ' + a[0] if a else ''}" for s, a, _ in FIRST])
def test_first_step_in_a_fresh_clone_leaves_git_status_clean(clone, script, args, first):
    repo = clone / "clone"
    done = _run(script, args, repo, _env(clone, repo))
    assert done.returncode == 0, done.stdout + done.stderr
    name = script.rsplit("/", 1)[0]  # a recipe's folder: NAME or NAME/variants/VARIANT
    assert f"writing to runs/recipes/{name}/ (scratch; RECORD=1 re-records into experiments/{name}/)" in done.stdout
    assert "done earlier" not in done.stdout  # the recorded metrics.json are not taken for fits without stores
    calls = _calls(clone)
    assert len(calls) == 1, calls  # INSP_RECIPE_STEPS=1: the first command only
    assert calls[0][0] == first[0]
    assert set(first[1:]) <= set(calls[0][1:]), calls[0]
    assert "skipped (INSP_RECIPE_STEPS=1)" in done.stdout
    assert (repo / "runs" / "recipes" / name).is_dir()
    assert _git("status", "--porcelain", "--untracked-files=all", cwd=repo) == ""


@pytest.mark.parametrize("script,args,first", FIRST, ids=[f"{s}{' ' + a[0] if a else ''}" for s, a, _ in FIRST])
def test_record_1_refits_what_the_clone_only_has_records_of(clone, script, args, first):
    """The bug of a fresh clone: a recorded metrics.json was taken for a finished fit (fig8: then the missing store
    failed; inrr, oinr: every fit skipped). With RECORD=1 the recipe writes into experiments/ and still runs."""
    repo = clone / "clone"
    name = script.rsplit("/", 1)[0]
    try:
        done = _run(script, args, repo, _env(clone, repo, RECORD="1"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"recording into experiments/{name}/ (RECORD=1)" in done.stdout
        assert "done earlier" not in done.stdout
        calls = _calls(clone)
        assert len(calls) == 1 and calls[0][0] == first[0], calls
        recorded = [a.replace(f"runs/recipes/{name}/", f"experiments/{name}/") for a in first[1:]]
        assert set(recorded) <= set(calls[0][1:]), calls[0]
        assert (repo / recorded[-1].split("=", 1)[1] / "metrics.json").is_file()  # a recorded run, not skipped
        # RECORD=1 writes into the recorded folder (here: only the times of the one command that ran)
        changed = _git("status", "--porcelain", "--untracked-files=all", cwd=repo).splitlines()
        assert changed and all(line.startswith(f" M experiments/{name}/") and line.endswith("times.txt")
                               for line in changed), changed
    finally:
        _git("checkout", "--quiet", "--", "experiments", cwd=repo)


def test_a_bad_record_value_is_one_error_line(clone):
    repo = clone / "clone"
    done = _run("fig8_geometry/run_cpu.sh", [], repo, _env(clone, repo, RECORD="yes"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: RECORD=yes: use RECORD=1 to re-record into experiments/fig8_geometry/, or leave it unset"]
    assert _calls(clone) == []


def _fit_done(run_dir: Path, store: Path, pythonpath: Path = REPO) -> subprocess.CompletedProcess:
    lib = REPO / "experiments" / "lib.sh"
    return subprocess.run(["bash", "-c", f'set -eu; PY=("{sys.executable}"); source "{lib}"; fit_done "$1" "$2"',
                           "_", str(run_dir), str(store)], capture_output=True, text=True, timeout=60,
                          cwd=run_dir.parent, env={**os.environ, "PYTHONPATH": str(pythonpath)})


def _finished_fit(store: Path, run: Path, store_named: str) -> dict:
    """A small real store of 6 INRs in two shards, and the metrics.json of the fit that made it."""
    spec = SirenSpec(2, 3, 16, 3)
    header = StoreHeader(spec=spec, source={"name": "images", "split": "train", "size": [12, 12]},
                         degradation={"kind": "clean"}, fit={"steps": 1, "seed": 0})
    prepare_store(store, header)
    for a, b in ((0, 4), (4, 6)):
        write_shard(store, header, a, b, init_params(spec, b - a, generator=torch.Generator().manual_seed(a)),
                    np.arange(a, b), np.full(b - a, 40.0), np.ones(b - a, bool))
    run.mkdir(parents=True)
    metrics = {"status": "complete", "store": store_named, "range": [0, 6], "count": 6}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def test_a_verified_fit_is_kept_and_the_recipe_goes_on(tmp_path):
    repo = tmp_path / "clone"
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(repo), cwd=tmp_path)
    _finished_fit(repo / "stores/fig8-cpu/clean-train", repo / "runs/recipes/fig8_geometry/cpu/fit-clean-train",
                  "stores/fig8-cpu/clean-train")
    done = _run("fig8_geometry/run_cpu.sh", [], repo, _env(tmp_path, repo))
    assert done.returncode == 0, done.stderr
    assert "fit clean train: done earlier (stores/fig8-cpu/clean-train verified), kept" in done.stdout
    calls = _calls(tmp_path)
    assert len(calls) == 1 and "hydra.run.dir=runs/recipes/fig8_geometry/cpu/fit-clean-val" in calls[0], calls
    assert _git("status", "--porcelain", "--untracked-files=all", cwd=repo) == ""


def test_fit_done_verifies_the_store_itself(tmp_path):
    store, run = tmp_path / "store", tmp_path / "run"
    metrics = _finished_fit(store, run, str(store))
    assert _fit_done(run, store).returncode == 0
    # each of these is "not done" (exit 1, the recipe fits again), with the reason
    for change, why in (({"status": "interrupted"}, "its status is 'interrupted'"),
                        ({"store": str(tmp_path / "other")}, "not " + str(store)),
                        ({"range": [0, 8], "count": 8}, "holds 6 of its 8 INRs")):
        (run / "metrics.json").write_text(json.dumps({**metrics, **change}))
        done = _fit_done(run, store)
        assert done.returncode == 1 and why in done.stdout, done.stdout + done.stderr
    (run / "metrics.json").write_text(json.dumps(metrics))
    broken = tmp_path / "broken" / "insp_cli"  # a Python that cannot check: the recipe stops, it does not refit
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('broken install')\n")
    done = _fit_done(run, store, pythonpath=broken.parent)
    assert done.returncode == 2 and done.stderr.startswith(f"error: cannot check {store} with "), done.stderr
    assert "ImportError: broken install" in done.stderr
    (store / shard_name(4, 6)).unlink()  # a deleted shard: the manifest still lists it
    done = _fit_done(run, store)
    assert done.returncode == 1 and "its store is not usable" in done.stdout, done.stdout + done.stderr
    assert _fit_done(run, tmp_path / "absent").returncode == 1
    (run / "metrics.json").unlink()
    assert _fit_done(run, store).returncode == 1


def test_former_experiment_names_of_the_recorded_commands_compose_as_today():
    """conf/experiment/ folders are named as their experiments/ folders; every former name a recorded command or
    script used (table1_cpu, table2_cpu, fig8_cpu, fig15_cpu, table1_omega30, table2_ffn) composes to the config
    of the folder it became, and the alias map names only folders that exist."""
    from insp_cli.config import compose, conf_dir
    from insp_cli.spellings import FORMER_EXPERIMENTS, command_line

    for old, new in FORMER_EXPERIMENTS.items():
        files = sorted((conf_dir() / "experiment" / new).glob("*.yaml"))
        assert files and not (conf_dir() / "experiment" / old).exists(), (old, new)
        for f in files:
            command = "classify" if f.stem in ("classify", "insp_convnet", "depthwise_cnn", "pca_svm", "weight_mlp") \
                else f.stem if f.stem in ("fit", "train_filter", "eval") else "fit"
            got = command_line(command, [f"+experiment={old}/{f.stem}", "seed=3"])
            assert got == [f"+experiment={new}/{f.stem}", "seed=3"]
            cfg = compose(command, got + (["store=s", "filter=f"] if command == "eval" else
                                          ["store=s"] if command == "train_filter" else []))
            assert cfg.seed == 3
