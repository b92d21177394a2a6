"""Issue 11, store and fit half: every fault gives one `error:` line (or one warning and a repair), a non-zero
exit where it is an error, no traceback, and leaves good data unchanged (sha256 of every file before and after).

The CLI runs in-process (Typer's runner; the same code path as `insp ...`), on a tiny store: 8 MNIST INRs in
two shards of 4, fitted once per module.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.files import sha256_file, temporary_name
from insp_cli.inr.integrity import SHA_KEY, read_shard_bytes, shard_bytes
from insp_cli.inr.store import INRStore, finished_shards

TINY = ["data.split=test", "data.limit=8", "fit.steps=20", "fit.shard_size=4", "samples=0"]
S0, S1 = "shard-0000000-0000004.safetensors", "shard-0000004-0000008.safetensors"


def insp(*args: str):
    """(exit code, stdout, stderr) of `insp ARGS` run in this process."""
    r = CliRunner().invoke(app, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def one_error(result, *words: str) -> str:
    code, out, err = result
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0, (out, err)
    assert "Traceback" not in out + err, out + err
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def sums(directory: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".manifest.lock"}


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("good")
    os.environ["INSP_RUNS"] = str(d / "runs")
    code, out, err = insp("fit", *TINY, f"store={d / 'st'}")
    assert code == 0, err
    return d / "st"


@pytest.fixture
def store(good, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the good store, and run directories under tmp_path."""
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    shutil.copytree(good, tmp_path / "st")
    return tmp_path / "st"


def classify(store: Path):  # a consumer: it opens the store first and fails there
    return insp("classify", f"train_store={store}", f"test_store={store}")


def flip(path: Path, offset: int, count: int = 1) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def data_start(path: Path) -> int:
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


# ---- damage is detected on open ----

def test_flipped_bytes_in_tensor_data_are_an_error(store):
    flip(store / S1, data_start(store / S1) + 1000, 64)
    before = sums(store)
    one_error(classify(store), S1, "sha256")
    assert sums(store) == before
    # the cheap path (sizes and headers) does not hash: it opens, by design; full is the default
    assert len(INRStore.open(store, verify="fast")) == 8


def test_deleted_shard_is_an_error_naming_it(store):
    (store / S1).unlink()
    before = sums(store)
    one_error(classify(store), "holds 1 of 2 shards", f"missing: {S1}")
    assert sums(store) == before


@pytest.mark.parametrize("offset", [0, 3, 5, 7])
def test_changed_header_length_byte_is_an_error_not_memory_error(store, offset):
    flip(store / S0, offset)
    one_error(classify(store), S0, "length field")


def test_plain_file_given_as_store(store, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello " * 1000)
    one_error(classify(f), "notes.txt")
    one_error(insp("fit", *TINY, f"store={f}"), "is a file, not a store directory")
    assert f.read_text() == "hello " * 1000


@pytest.mark.parametrize("name, change, message", [
    ("params float64", lambda t: {**t, "params": t["params"].astype(np.float64)}, "params must be float32"),
    ("params float16", lambda t: {**t, "params": t["params"].astype(np.float16)}, "params must be float32"),
    ("params 1-D", lambda t: {**t, "params": t["params"].reshape(-1)}, "params must be float32"),
    ("labels float32", lambda t: {**t, "labels": t["labels"].astype(np.float32)}, "labels must be int64"),
    ("labels too short", lambda t: {**t, "labels": t["labels"][:2]}, "labels must be int64 of shape (4,)"),
    ("indices 2-D", lambda t: {**t, "indices": t["indices"].reshape(2, 2)}, "indices must be int64"),
    ("psnr too long", lambda t: {**t, "psnr": np.zeros(9, np.float32)}, "psnr must be float32 of shape (4,)"),
    ("no ok", lambda t: {k: v for k, v in t.items() if k != "ok"}, "no 'ok' tensor"),
])
def test_wrong_dtypes_and_shapes_are_one_line_each(store, name, change, message):
    meta, arrays, _ = read_shard_bytes(store / S0, "full")
    meta = {k: v for k, v in meta.items() if k != SHA_KEY}
    (store / S0).write_bytes(shard_bytes({k: np.array(v) for k, v in change(arrays).items()}, meta))
    one_error(classify(store), S0, message)


@pytest.mark.parametrize("text, message", [
    ('{"format": "insp-inr-store", "version": "two"}', "version 'two' is not a positive integer"),
    ('[1, 2, 3]', "JSON list, not an object"),
    (b'{"format": "insp-inr-store", "version": 2, "x": "\xff\xfe"}', "not UTF-8"),
    ('{"format": "insp-inr-store", "version": 2', "not valid JSON"),
])
def test_broken_store_json(store, text, message):
    (store / "store.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    before = sums(store)
    one_error(classify(store), message)
    one_error(insp("fit", *TINY, f"store={store}"), message)  # a resume reads it too
    assert sums(store) == before


def test_directories_and_symlink_loops_say_what_they_are(store, tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    one_error(classify(loop), "is a symlink loop")
    one_error(insp("fit", *TINY, f"store={loop}"), "is a symlink loop")
    one_error(insp("fit", *TINY, "data=images", f"data.folder={store / 'store.json'}"), "is a file, not a folder")
    (store / S1).unlink()
    (store / S1).mkdir()  # a directory where a shard file belongs
    one_error(classify(store), S1, "is a directory")
    (store / S1).rmdir()
    (store / "store.json").unlink()
    (store / "store.json").mkdir()
    one_error(classify(store), "store.json is a directory")


def test_dotdot_store_path_leaves_no_empty_folder(good, tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    code, _, err = insp("fit", *TINY, "data.limit=4", f"store={tmp_path}/x/../y")
    assert code == 0, err
    assert not (tmp_path / "x").exists() and (tmp_path / "y" / "store.json").exists()


def test_folder_image_smaller_than_the_size_is_one_line(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.arange(75, dtype=np.uint8).reshape(5, 5, 3) * 3).save(tmp_path / "imgs" / "a.png")
    code, out, err = insp("fit", "data=images", f"data.folder={tmp_path / 'imgs'}", "data.split=all", "data.size=64",
                          "model.hidden=8", "fit.steps=30", "samples=0", f"store={tmp_path / 'st'}")
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and "Traceback" not in out + err and len(lines) == 1, err
    assert lines[0].startswith("error:") and "smaller than size=64 (a.png)" in lines[0]


def test_disk_full_while_writing_a_shard(tmp_path, monkeypatch):
    """A real ENOSPC from the kernel: the shard's temporary name is a symlink to /dev/full."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    st = tmp_path / "st"
    st.mkdir()
    temporary_name(st / S0).symlink_to("/dev/full")  # this process writes shards under this name
    one_error(insp("fit", *TINY, f"store={st}"), f"no space left on device: {st / S0}")
    left = sorted(p.name for p in st.iterdir())
    assert not [n for n in left if n.startswith("shard-") or ".tmp-" in n], left  # no partial shard, no temp
    metrics = json.loads(next((tmp_path / "runs").rglob("metrics.json")).read_text())
    assert metrics["status"] == "failed"


def test_shard_files_are_mode_0644(store):
    umask = os.umask(0)
    os.umask(umask)
    for p in list(finished_shards(store).values()) + [store / "store.json", store / "manifest.json"]:
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


# ---- resume repairs what it can ----

def test_resume_moves_a_truncated_or_damaged_shard_aside_and_refits_it(good, store):
    data = (store / S0).read_bytes()
    (store / S0).write_bytes(data[: len(data) // 2])
    flip(store / S1, data_start(store / S1) + 200, 8)
    code, out, err = insp("fit", *TINY, f"store={store}")
    assert code == 0 and "Traceback" not in out + err, err
    warnings = [ln for ln in (out + err).splitlines() if "moved it aside" in ln]
    assert len(warnings) == 2 and any(S0 in w for w in warnings) and any(S1 in w for w in warnings)
    assert len(list(store.glob(f"{S0}.bad-*"))) == 1 and len(list(store.glob(f"{S1}.bad-*"))) == 1
    # refitted bit-identically: per-INR seeds
    np.testing.assert_array_equal(INRStore.open(store).params.numpy(), INRStore.open(good).params.numpy())
    assert sha256_file(store / "store.json") == sha256_file(good / "store.json")
    for name in (S0, S1):  # same metadata and data (safetensors orders metadata keys per process: compare content)
        assert read_shard_bytes(store / name, "full")[0] == read_shard_bytes(good / name, "full")[0]


def test_resume_removes_stale_temporaries_of_dead_processes(store):
    dead = store / f".{S0}.tmp-999999999"  # no such process
    alive = store / f".{S0}.tmp-1"  # init is running: its file stays
    for p in (dead, alive):
        p.write_bytes(b"x" * 100)
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    code, _, err = insp("fit", *TINY, f"store={store}")
    assert code == 0, err
    assert not dead.exists() and alive.exists()


def test_resume_with_another_seeding_scheme_is_refused(store):
    h = json.loads((store / "store.json").read_text())
    h["fit"]["seeding"] = "one seed per batch"
    (store / "store.json").write_text(json.dumps(h))
    before = sums(store)
    one_error(insp("fit", *TINY, "data.limit=12", f"store={store}"), "seeded another way")
    assert sums(store) == before


def test_interrupted_store_opens_with_a_warning_about_the_planned_count(store, caplog):
    m = json.loads((store / "manifest.json").read_text())
    m["planned"] = [[0, 12]]  # a fit of 12 that stopped after 8
    (store / "manifest.json").write_text(json.dumps(m))
    with caplog.at_level("WARNING", logger="insp"):
        assert len(INRStore.open(store)) == 8
    assert "holds 8 of the 12 INRs" in caplog.text and "[8, 12)" in caplog.text


def test_version_1_store_opens_with_a_warning(store, caplog):
    import insp_cli.inr.integrity as integrity

    integrity._warned.clear()
    h = json.loads((store / "store.json").read_text())
    h["version"] = 1
    del h["fit"]["seeding"]
    (store / "store.json").write_text(json.dumps(h))
    (store / "manifest.json").unlink()
    for name in (S0, S1):  # shards as insp wrote them before checksums
        meta, arrays, _ = read_shard_bytes(store / name, "full")
        info = json.loads(meta["insp"])
        info["version"] = 1
        del info["fit"]["seeding"]
        from safetensors.numpy import save

        (store / name).write_bytes(save({k: np.array(v) for k, v in arrays.items()},
                                        metadata={"insp": json.dumps(info, sort_keys=True)}))
    with caplog.at_level("WARNING", logger="insp"):
        s = INRStore.open(store)
    assert len(s) == 8
    assert len([r for r in caplog.records if "carry no checksums" in r.getMessage()]) == 1


# ---- fits that fail say so ----

def test_diverged_fit_ends_failed_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    line = one_error(insp("fit", *TINY, "data.limit=4", "fit.lr=1e6", f"store={tmp_path / 'st'}"), "diverged")
    assert "4 INRs" in line
    m = json.loads(next((tmp_path / "runs").rglob("metrics.json")).read_text())
    assert m["status"] == "failed" and "diverged" in m["error"]
    s = INRStore.open(tmp_path / "st", only_ok=False)
    assert not s.ok.any() and (s.psnr < 6).all()  # flagged, never stored as good


def test_a_fit_diverged_to_nan_prints_no_numpy_warning(tmp_path, monkeypatch):
    """fit.lr=1e9 makes every INR's PSNR NaN: the one error line, no 'Mean of empty slice' RuntimeWarning (the
    battery, scripts/battery.py, saw it on stderr of `insp fit`)."""
    import warnings

    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        one_error(insp("fit", *TINY, "data.limit=4", "fit.lr=1e9", f"store={tmp_path / 'st'}"), "diverged")
    assert not [w for w in seen if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in seen]
    assert np.isnan(INRStore.open(tmp_path / "st", only_ok=False).psnr).all()  # the case is the NaN one


def test_non_finite_input_data_is_named_as_a_data_fault(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    line = one_error(insp("fit", *TINY, "data.limit=4", "degradation=noise", "degradation.sigma=inf",
                          "degradation.clip=false", f"store={tmp_path / 'st'}"), "NaN or inf pixels", "degradation")
    assert "lr" not in line


def test_batch_size_does_not_change_the_fitted_inrs(good, tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    code, _, err = insp("fit", *TINY, "fit.batch_size=3", f"store={tmp_path / 'b3'}")
    assert code == 0, err
    a, b = INRStore.open(good), INRStore.open(tmp_path / "b3")  # good: batch_size 512, i.e. 4 per shard
    np.testing.assert_array_equal(a.params.numpy(), b.params.numpy())  # bit-identical
    np.testing.assert_array_equal(a.psnr, b.psnr)
    assert json.loads((good / "store.json").read_text())["fit"]["seeding"].startswith("per-inr")
