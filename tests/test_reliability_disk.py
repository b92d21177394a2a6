"""Reliability, second pass (issue 24): full disks, lists where a path is expected, unknown keys, NaN and
non-UTF-8 run records, misleading messages, signals during exit. Each case checks the exit code, the one
`error:` line, that no traceback is printed, and that good data is left as it was."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.config import check_overrides, compose
from insp_cli.errors import InspError
from insp_cli.files import RunLogHandler, atomic_dir, atomic_write, disk_fault, is_temporary
from insp_cli.jobs.fit import run_fit

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.split=test", "fit.steps=5", "fit.shard_size=4", "samples=0"]
FIT = ["data=images", "data.size=16", "degradation=noise", "model.hidden=16", "fit.steps=5", "samples=0"]
TRAIN = ["task=denoise", "fusion.order=1", "fusion.hidden=8", "fusion.layers=1", "train.batch_points=64",
         "train.stat_points=256", "train.log_every=1"]
# what safetensors 0.8 raises on a full file system (seen on a 64 KiB tmpfs); a symlink to /dev/full cannot
# stand in: save_file writes its own temporary file and renames it over the path
SAFETENSORS_ENOSPC = "Error while serializing: I/O error: No space left on device (os error 28)"
DEV_FULL = stat.S_ISCHR(os.stat("/dev/full").st_mode) if os.path.exists("/dev/full") else False


def run_here(*args: str) -> tuple[int, list[str], str]:
    """The command in-process: (exit code, stderr's non-empty lines, stdout)."""
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, [ln for ln in r.stderr.splitlines() if ln.strip()], r.stdout


def one_error(code: int, lines: list[str], want: str, exit_code: int | None = None) -> None:
    assert code != 0 and (exit_code is None or code == exit_code), (code, lines)
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert errors == [f"error: {want}"] if not want.endswith("*") else \
        len(errors) == 1 and errors[0].startswith(f"error: {want[:-1]}"), lines
    assert not any("Traceback" in ln for ln in lines), lines


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temporary(p) or p.name.startswith(".tmp")]


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """A store of 2 noisy 16x16 INRs (seconds to fit)."""
    d = tmp_path_factory.mktemp("disk")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        run_fit(compose("fit", FIT + ["data.split=test", "data.limit=2", f"store={d / 'st'}"]), d / "runs" / "fit")
    return d


# ----------------------------------------------------------------------------------------------------- full disks


def test_disk_fault_finds_the_errno_behind_a_library_error():
    from safetensors import SafetensorError

    assert disk_fault(SafetensorError(SAFETENSORS_ENOSPC)).errno == errno.ENOSPC
    wrapped = ValueError("Unable to configure handler 'file'")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert disk_fault(wrapped).errno == errno.ENOSPC
    assert disk_fault(SafetensorError("Error while deserializing header: HeaderTooLarge")) is None
    assert disk_fault(ValueError("bad")) is None


@pytest.mark.skipif(not DEV_FULL, reason="/dev/full is not the kernel's full device here")
def test_atomic_write_to_a_full_device_leaves_the_old_file(tmp_path):
    """Real ENOSPC: the temporary name is a symlink to /dev/full; the old file stays byte-identical."""
    target = tmp_path / "a.json"
    target.write_text("old")
    (tmp_path / f".a.json.tmp-{os.getpid()}").symlink_to("/dev/full")
    with pytest.raises(InspError, match=f"^no space left on device: {target}$"):
        atomic_write(target, "new" * 10000)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_dir_replaces_the_folder_whole_or_leaves_it_as_it_was(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "old.jpg").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "new.jpg").write_text("new")
            raise RuntimeError("the copy failed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no staging folder left
    assert sorted(p.name for p in out.iterdir()) == ["old.jpg"]
    with atomic_dir(out) as tmp:
        assert is_temporary(tmp) and tmp.parent == tmp_path and not any(tmp.iterdir())
        (tmp / "a.jpg").write_text("a")
        (tmp / "b.jpg").write_text("b")
        assert (out / "old.jpg").exists()  # readers see the old folder until the end
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg"]


def test_filter_checkpoint_on_a_full_disk_is_one_line_and_keeps_the_old_filter(noisy, tmp_path, monkeypatch):
    """A finished filter retrained (overwrite=true) onto a full disk: one line naming the filter, exit non-zero,
    the old filter byte-identical, no temporary file, a run record that says failed."""
    import insp_cli.files as files

    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    ckpt = tmp_path / "f" / "denoise.safetensors"
    args = ["train-filter", *TRAIN, "train.steps=4", "train.save_every=2", f"store={noisy / 'st'}",
            f"filter={ckpt}"]
    code, lines, _ = run_here(*args)
    assert code == 0, lines
    before = ckpt.read_bytes()
    # checkpoints are serialised in memory and written by files.atomic_write: its write meets the full disk
    monkeypatch.setattr(files, "open", _full_for(ckpt.name), raising=False)
    code, lines, _ = run_here(*args, "overwrite=true")
    one_error(code, lines, f"no space left on device: {ckpt}", exit_code=1)
    assert ckpt.read_bytes() == before and leftovers(tmp_path / "f") == []
    # the newest record; two in-process runs in one second share a run dir, and the failed run's record must then
    # replace the complete one (it was kept: a failed run left 'complete' behind)
    record = json.loads(max((tmp_path / "runs").rglob("metrics.json"), key=lambda p: p.stat().st_mtime_ns).read_text())
    assert record["status"] == "failed" and record["error"] == f"no space left on device: {ckpt}"


def test_classifier_checkpoint_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    import torch

    import insp_cli.files as files
    import insp_cli.training as training

    path = tmp_path / "checkpoint.safetensors"
    monkeypatch.setattr(files, "open", _full_for(path.name), raising=False)
    with pytest.raises(InspError, match=f"^no space left on device: {path}$"):
        training.save_checkpoint(path, "insp-classifier", 1, {"epoch": 1}, torch.nn.Linear(2, 2), "model.")
    assert list(tmp_path.iterdir()) == []


def _full_for(name: str, real_open=open):
    """``open`` whose files named ``name`` (any temporary name of it) fail every write with ENOSPC."""
    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, key):
            return getattr(self.f, key)

    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return Full(f) if name in Path(path).name and ("w" in mode or "a" in mode) else f

    return fake_open


def test_run_record_on_a_full_disk_is_the_one_error_line(tmp_path, monkeypatch):
    """The fit is done (its store complete and readable) but metrics.json does not fit: the failure to write it
    is the one error line; no partial metrics.json, no temporary file."""
    import insp_cli.files as files
    from insp_cli.inr.store import INRStore

    monkeypatch.setattr(files, "open", _full_for("metrics.json"), raising=False)
    run = tmp_path / "run"
    code, lines, _ = run_here("fit", *TINY, "data.limit=2", f"store={tmp_path / 'st'}", f"hydra.run.dir={run}")
    one_error(code, lines, f"no space left on device: {run / 'metrics.json'}", exit_code=1)
    assert not (run / "metrics.json").exists() and leftovers(run) == []
    assert len(INRStore.open(tmp_path / "st")) == 2


def test_a_failure_record_that_does_not_fit_leaves_the_jobs_own_error(tmp_path, monkeypatch):
    """The job failed (here: its checkpoint did not fit) and so does its failure record: the job's error stays
    the one error line, not a second one about metrics.json."""
    from omegaconf import OmegaConf

    import insp_cli.files as files
    from insp_cli.tracking import Run

    monkeypatch.setattr(files, "open", _full_for("metrics.json"), raising=False)
    with pytest.raises(InspError, match="^no space left on device: CKPT$"):
        with Run(OmegaConf.create({"tracking": {"mode": "disabled"}}), tmp_path, job="fit"):
            raise InspError("no space left on device: CKPT", exit_code=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not DEV_FULL, reason="/dev/full is not the kernel's full device here")
def test_hydra_config_on_a_full_disk_is_one_line(tmp_path):
    """Hydra writes .hydra/config.yaml before the job: a full disk there is one line, not Hydra's traceback."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").symlink_to("/dev/full")
    code, lines, _ = run_here("fit", *TINY, "data.limit=2", f"store={tmp_path / 'st'}", f"hydra.run.dir={run}")
    one_error(code, lines, f"no space left on device: {run / '.hydra' / 'config.yaml'}", exit_code=1)
    assert not (tmp_path / "st").exists()


def test_run_log_handler_stops_once_without_a_traceback(tmp_path, capsys):
    import logging

    h = RunLogHandler(tmp_path / "x.log")
    h.stream = _full_for("x.log")(tmp_path / "x.log", "a")  # every write fails
    logger = logging.getLogger("insp-test-log")
    logger.propagate = False  # not to the handlers an in-process Hydra run left on the root logger
    logger.addHandler(h)
    try:
        for i in range(5):
            logger.warning("line %d", i)
    finally:
        logger.removeHandler(h)
        h.close()
    err = capsys.readouterr().err
    assert h.failure == f"no space left on device: {tmp_path / 'x.log'}"
    assert err.splitlines() == [f"warning: the run log stopped: {h.failure}"] and "Traceback" not in err


@pytest.mark.skipif(not DEV_FULL, reason="/dev/full is not the kernel's full device here")
def test_run_log_on_a_full_disk_ends_the_run_with_one_error(tmp_path):
    env = {**os.environ, "INSP_RUNS": str(tmp_path / "runs")}
    r = subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", *TINY, "data.limit=2", f"store={tmp_path}/st",
                        "hydra.job_logging.handlers.file.filename=/dev/full"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == ["warning: the run log stopped: no space left on device: /dev/full",
                     "error: no space left on device: /dev/full"] and r.returncode == 1, r.stderr
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "runs").rglob("metrics.json")]
    assert record["status"] == "complete" and record["log_error"] == "no space left on device: /dev/full"


# ------------------------------------------------------------------------------------ lists where a path is expected


@pytest.mark.parametrize("command, args, want", [
    ("fit", ["store=[a,b]"], "bad value: store=['a', 'b']; it must be one path, not a list"),
    ("fit", ["data=images", "data.folder=[a,b]"], "bad value: data.folder=['a', 'b']; it must be one path, not a list"),
    ("train-filter", ["store=S", "filter=[a,b]"], "bad value: filter=['a', 'b']; it must be one path, not a list"),
    ("train-filter", ["store=S", "targets=[a]"], "bad value: targets=['a']; it must be one path, not a list"),
    ("eval", ["store=S", "filter=F", "targets=[a,b]"], "bad value: targets=['a', 'b']; it must be one path, not a list"),
    ("classify", ["train_store=[a,{b: 1}]"], "bad value: train_store=['a', {'b': 1}]; it must be a path or a list of "
                                             "paths"),
])
def test_a_list_where_a_path_is_expected_is_one_line(tmp_path, monkeypatch, command, args, want):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    code, lines, _ = run_here(command, *args)
    one_error(code, lines, want, exit_code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing is written, least of all a file ['a', 'b']"


def test_store_parts_stay_a_list(noisy):
    check_overrides("train_filter", [f"store=[{noisy / 'st'},{noisy / 'st'}]"])
    check_overrides("classify", ["train_store=[a,b]", "test_store=c"])


# ------------------------------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize("command, args, want", [
    ("fit", ["data.limt=3"], "unknown key 'data.limt' (did you mean data.limit?)"),
    ("fit", ["+data.limt=3"], "unknown key 'data.limt' (did you mean data.limit?)"),
    ("fit", ["~data.limt"], "unknown key 'data.limt' (did you mean data.limit?)"),
    ("fit", ["data.limit=2,3", "model.hiden=3"], "unknown key 'model.hiden' (did you mean model.hidden?)"),
    ("fit", ["dta=mnist"], "unknown key 'dta' (did you mean data=mnist?)"),
    ("fit", ["fit.stpes=3"], "unknown key 'fit.stpes' (did you mean fit.steps?)"),
    ("fit", ["data.crops=3"], "unknown key 'data.crops' for data=mnist (it is a key of data=photos)"),
    ("fit", ["+foo=1"], "unknown key 'foo' (insp fit --cfg job lists every key)"),
    ("fit", ["data=mnsit"], "unknown option data=mnsit (did you mean data=mnist?); choose audio | cifar10 | "
                            "fashion_mnist | images | meshes | mnist | photos"),
    ("fit", ["+experiment=table2_denoisin/fit"], "unknown option experiment=table2_denoisin/fit (did you mean "
                                                 "experiment=table2_denoising/fit?); the options are the files under "
                                                 "conf/experiment/"),
    ("train_filter", ["store=s", "fusion.ordr=2"], "unknown key 'fusion.ordr' (did you mean fusion.order?)"),
    ("train_filter", ["store=s", "tsk=denoise"], "unknown key 'tsk' (did you mean task=denoise?)"),
    ("classify", ["classifier.widht=8"], "unknown key 'classifier.widht' (did you mean classifier.width?)"),
    ("classify", ["epoch=3"], "unknown key 'epoch' (did you mean epochs?)"),
])
def test_unknown_keys_name_the_closest_valid_ones(command, args, want):
    with pytest.raises(InspError) as e:
        check_overrides(command, args)
    assert str(e.value) == want


def test_known_additions_and_recipes_still_pass():
    from insp_cli.spellings import command_line

    check_overrides("fit", ["+experiment=table2_denoising/fit", "degradation=noise"])
    check_overrides("fit", command_line("fit", ["+experiment=table2_cpu/fit", "degradation=noise"]))  # recorded
    check_overrides("fit", ["+data.limit=3"])


def test_unknown_key_from_the_real_script(tmp_path):
    r = subprocess.run([sys.executable, "-m", "insp_cli.cli", "fit", "data.limt=3"], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "INSP_RUNS": str(tmp_path / "runs")}, timeout=300)
    assert r.returncode == 2 and r.stderr.splitlines() == ["error: unknown key 'data.limt' (did you mean data.limit?)"]
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("metrics.json"))


# ---------------------------------------------------------------------------------------- run records for tables


def _classify_run(root: Path, name: str, acc: float, seed: int) -> Path:
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nscale: cpu\nmodel:\n  kind: insp_convnet\n")
    (d / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
    m = {"job": "classify", "status": "complete", "model": "insp_convnet", "dataset": "mnist", "train_count": 10,
         "test_count": 5, "test_accuracy": acc, "scale": "cpu"}
    (d / "metrics.json").write_text(json.dumps(m))  # json writes NaN for float("nan"), as the jobs do
    return d


def test_a_nan_run_is_listed_as_diverged_not_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    root = tmp_path / "cls"
    _classify_run(root, "a", 0.8, 0)
    _classify_run(root, "b", 0.6, 1)
    bad = _classify_run(root, "c", float("nan"), 2)
    code, lines, out = run_here("table", "table=table1", f"runs=[{root}]")
    assert code == 0 and not lines, lines
    row = next(ln for ln in out.splitlines() if ln.startswith("| MNIST | INSP-ConvNet"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "70.00 ± 14.14" and cells[6] == "2", row  # the mean and the count of the same 2 runs
    assert f"- diverged: {bad} (INSP-ConvNet): test_accuracy is NaN in its metrics.json" in out
    assert "table1: 3 runs (1 did not complete, marked)" in out


def test_a_non_utf8_run_record_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    root = tmp_path / "cls"
    _classify_run(root, "a", 0.8, 0)
    bad = _classify_run(root, "b", 0.6, 1) / "metrics.json"
    bad.write_bytes(bad.read_bytes().replace(b"mnist", b"mn\xefst"))
    code, lines, _ = run_here("table", "table=table1", f"runs=[{root}]")
    one_error(code, lines, f"{bad} is corrupt: not UTF-8 text (byte 0xef at offset *", exit_code=2)


# ---------------------------------------------------------------------------------------------- messages, signals


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_targets_on_a_device_says_so(noisy, tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    code, lines, _ = run_here("train-filter", *TRAIN, "train.steps=2", f"store={noisy / 'st'}",
                              f"filter={tmp_path / 'f.safetensors'}", "targets=/dev/full")
    one_error(code, lines, "targets /dev/full is not a regular file (a device, pipe or socket); pass a .npy or .npz "
                           "file of the clean images (N, H, W, C)", exit_code=2)
    text = tmp_path / "t.npy"
    text.write_text("not numpy")
    code, lines, _ = run_here("train-filter", *TRAIN, "train.steps=2", f"store={noisy / 'st'}",
                              f"filter={tmp_path / 'f.safetensors'}", f"targets={text}")
    one_error(code, lines, f"targets {text} is not a .npy or .npz file (no numpy header); pass the clean images "
                           "(N, H, W, C) saved with numpy.save", exit_code=2)
    assert not (tmp_path / "f.safetensors").exists()


def test_a_second_signal_during_exit_is_ignored(monkeypatch):
    """The handler itself: the first SIGTERM stops the job, the second (the exit path is running) is ignored."""
    import insp_cli.cli as cli

    monkeypatch.setattr(cli, "_signals_seen", 0)
    with pytest.raises(cli.Terminated):
        cli._on_signal(signal.SIGTERM, None)
    assert cli._on_signal(signal.SIGTERM, None) is None and cli._signals_seen == 2
    monkeypatch.setattr(cli, "_signals_seen", 0)
    with pytest.raises(KeyboardInterrupt):
        cli._on_signal(signal.SIGINT, None)
    assert cli._on_signal(signal.SIGINT, None) is None


def _train_filter(noisy: Path, tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "insp_cli.cli", "train-filter", *TRAIN, "train.steps=1000000",
                             f"store={noisy / 'st'}", f"filter={tmp_path / 'f.safetensors'}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "INSP_RUNS": str(tmp_path / "runs")})


def _wait_for(p: subprocess.Popen, done, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while not done() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
    assert done(), "the job never got there"


def test_terminated_train_filter_says_what_is_kept(noisy, tmp_path):
    """Before the first checkpoint nothing is kept; once one is saved, its step is named; a second SIGTERM right
    after the first (during the exit path) changes nothing: no traceback, exit 143, one record."""
    ckpt = tmp_path / "f.safetensors"
    p = _train_filter(noisy, tmp_path, "train.save_every=1000000")
    _wait_for(p, lambda: list((tmp_path / "runs").rglob("train-filter.log"))
              and "train-filter denoise:" in next((tmp_path / "runs").rglob("train-filter.log")).read_text())
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert p.returncode == 143 and "Traceback" not in err, err
    assert lines[-1] == ("terminated: nothing of this training is kept yet (its first checkpoint is saved at step "
                         "1000000); rerun the same command to start again") and not ckpt.exists()

    p = _train_filter(noisy, tmp_path / "second", "train.save_every=5")
    _wait_for(p, lambda: (tmp_path / "second" / "f.safetensors").exists())
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    p.send_signal(signal.SIGTERM)  # during the exit path
    _, err = p.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert p.returncode == 143 and "Traceback" not in err, err
    assert lines[-1].startswith("terminated: the filter checkpoint of step ") and lines[-1].endswith(
        f"/1000000 is kept ({tmp_path / 'second' / 'f.safetensors'}); rerun the same command to resume from it"), err
    step = int(lines[-1].split("step ")[1].split("/")[0])
    assert step % 5 == 0 and step >= 5
    (record,) = [json.loads(q.read_text()) for q in (tmp_path / "second" / "runs").rglob("metrics.json")]
    assert record["status"] == "interrupted"


def test_a_failed_run_replaces_an_older_record_in_a_reused_run_dir(tmp_path):
    """Two runs of one process in one second share a run dir (the uid is per process): the second, failing, run's
    record must say failed, not leave the first run's 'complete' behind."""
    from omegaconf import OmegaConf

    from insp_cli.tracking import Run

    cfg = OmegaConf.create({"tracking": {"mode": "disabled"}, "progress": None})
    with Run(cfg, tmp_path, job="fit") as run:
        run.finish({"psnr_mean": 30.0})
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "complete"
    with pytest.raises(InspError), Run(cfg, tmp_path, job="fit"):
        raise InspError("no space left on device: x")
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"] == "no space left on device: x"
