"""Issue 24, item 1: integrity of every file insp reads back. Filter files and classifier checkpoints carry the
sha256 of their tensors (flipped bytes: one `error:` line naming the file, never a wrong score or a resume);
their metadata fields are type-checked (one line naming the file and the field, never a traceback); a store
without manifest.json is damaged unless it is a version-1 store (which never had one: a warning, and no gap
between its shards). Each case checks the exit code, the single error line, no traceback, and that good files
still load to identical tensors.

The CLI runs in-process (Typer's runner, the code path of `insp ...`) on tiny inputs fitted once per module:
12 MNIST INRs in 3 shards, 2 + 1 noisy 16x16 photo INRs, a 10-step filter and a 1-epoch weight-MLP classifier.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save as save_numpy
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.errors import InspError
from insp_cli.files import sha256_file
from insp_cli.inr.integrity import SHA_KEY, data_sha256, read_shard_bytes
from insp_cli.inr.store import INRStore
from insp_cli.schema import check_record

MNIST = ["data.split=test", "data.limit=12", "fit.steps=20", "fit.shard_size=4", "samples=0"]
S0, S1, S2 = (f"shard-{a:07d}-{a + 4:07d}.safetensors" for a in (0, 4, 8))
PHOTOS = ["data=images", "data.size=16", "degradation=noise", "model.hidden=16", "fit.steps=30", "samples=0"]
TRAIN = ["task=denoise", "fusion.order=1", "fusion.hidden=8", "fusion.layers=1", "train.steps=10",
         "train.batch_points=256", "train.save_every=5", "train.log_every=5", "train.stat_points=512"]
EVAL = ["lpips=false", "check_2x=false", "grid=0"]
CLASSIFY = ["model=weight_mlp", "train_limit=8", "test_offset=8", "model.hidden=8"]


def insp(*args) -> tuple[int, str, str]:
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


def flip(path: Path, tensor: str, count: int = 64) -> None:
    """Invert ``count`` bytes inside one tensor's data (safetensors layout: length, JSON header, data)."""
    blob = bytearray(path.read_bytes())
    n = int.from_bytes(blob[:8], "little")
    a, b = json.loads(blob[8:8 + n])[tensor]["data_offsets"]
    assert b - a >= count
    for i in range(8 + n + a, 8 + n + a + count):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))


def rewrite_metadata(src: Path, dst: Path, change) -> None:
    """The same tensors (so the same data checksum) under changed metadata: change(meta, raw) edits the insp JSON
    (meta) or the raw safetensors metadata (raw) in place."""
    with safe_open(str(src), framework="pt") as f:
        raw, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(raw["insp"])
    change(meta, raw)
    save_file(tensors, str(dst), metadata={**raw, "insp": json.dumps(meta)})


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The good files every test copies before damaging them."""
    d = tmp_path_factory.mktemp("integrity")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSP_RUNS", str(d / "runs"))
        for args in ([*MNIST, f"store={d / 'mnist'}"],
                     [*PHOTOS, "data.split=train", "data.limit=2", f"store={d / 'train'}"],
                     [*PHOTOS, "data.split=test", "data.limit=1", f"store={d / 'test'}"]):
            code, _, err = insp("fit", *args)
            assert code == 0, err
        code, _, err = insp("train-filter", *TRAIN, f"store={d / 'train'}", f"filter={d / 'filter.safetensors'}")
        assert code == 0, err
        code, _, err = insp("classify", *CLASSIFY, f"train_store={d / 'mnist'}", f"test_store={d / 'mnist'}",
                            "epochs=1", f"hydra.run.dir={d / 'cls'}")
        assert code == 0, err
        yield d


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    return tmp_path


def evaluate(made: Path, filt: Path, run_dir: Path | None = None):
    extra = [f"hydra.run.dir={run_dir}"] if run_dir else []
    return insp("eval", f"filter={filt}", f"store={made / 'test'}", *EVAL, *extra)


# ---- filter files ----

def test_a_filter_carries_the_checksum_of_its_tensors_and_loads_unchanged(made, runs):
    from insp_cli.filters.checkpoint import read_filter

    path = made / "filter.safetensors"
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()[SHA_KEY] == data_sha256(path.read_bytes())
    _, tensors = read_filter(path)
    plain = load_file(str(path))
    assert set(tensors) == set(plain) and all(torch.equal(tensors[k], plain[k]) for k in plain)
    code, out, err = evaluate(made, path)
    assert code == 0 and "insp_net" in out and "warning" not in err and "error" not in err, err


def test_flipped_bytes_in_filter_weights_are_one_error_on_eval_and_on_resume(made, runs):
    """The issue's case: 64 flipped bytes in the weights made `insp eval` exit 0 with a wrong PSNR."""
    path = runs / "filter.safetensors"
    shutil.copy(made / "filter.safetensors", path)
    flip(path, "fusion.mlp.0.weight")
    before = sha256_file(path)
    one_error(evaluate(made, path), f"filter file {path} is damaged", "checksum mismatch", "overwrite=true")
    # the training command again (which resumes an unfinished filter): refused, the file left as it is
    one_error(insp("train-filter", *TRAIN, f"store={made / 'train'}", f"filter={path}"), str(path),
              "checksum mismatch")
    assert sha256_file(path) == before


def _set(key: str, value):
    def change(meta, raw):
        node = meta
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return change


@pytest.mark.parametrize("key, value, words", [
    ("version", "abc", "field version='abc'; it must be an integer"),
    ("order", "two", "field order='two'; it must be an integer"),
    ("fusion", KeyError, "field fusion is missing"),
    ("fusion.hidden", "8", "field fusion.hidden='8'"),
    ("fusion.residual", "yes", "field fusion.residual='yes'; it must be true or false"),
    ("fusion.offsets", [["a", 0]], "field fusion.offsets='a'"),
    ("units", "ab", "field units='ab'; it must be a list of integers"),
    ("train", KeyError, "field train is missing"),
    ("trained_on.count", None, "field trained_on.count=null"),
    ("complete", 1, "field complete=1"),
])
def test_a_bad_filter_metadata_field_is_one_line_naming_file_and_field(made, runs, key, value, words):
    path = runs / "bad.safetensors"
    rewrite_metadata(made / "filter.safetensors", path, _set(key, value))
    one_error(evaluate(made, path), f"filter file {path}", words)


def warnings_in(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if "warning:" in ln]


def test_a_filter_written_before_checksums_loads_with_one_warning_and_scores_the_same(made, runs):
    """Older filters (no checksum in their metadata) are accepted: one `warning:` line, the same scores."""
    old = runs / "old.safetensors"
    rewrite_metadata(made / "filter.safetensors", old, lambda meta, raw: raw.pop(SHA_KEY))
    code, _, err = evaluate(made, made / "filter.safetensors", runs / "e-new")
    assert code == 0, err
    code, out, err = evaluate(made, old, runs / "e-old")
    assert code == 0 and "Traceback" not in out + err and "error" not in err, err
    warned = warnings_in(out + err)  # Hydra's log handler writes to stdout
    assert len(warned) == 1 and f"warning: filter file {old} has no checksum" in warned[0], out + err
    new, prior = (json.loads((runs / e / "metrics.json").read_text())["rows"] for e in ("e-new", "e-old"))
    assert new == prior


# ---- classifier checkpoints ----

def test_a_damaged_classifier_checkpoint_is_never_resumed(made, runs):
    """The issue's case: flipped bytes in a classifier checkpoint were resumed (a bias off by 7,545)."""
    from insp_cli.classifiers.trainer import FIELDS, FORMAT, REMEDY, VERSION, WHAT
    from insp_cli.training import read_checkpoint

    stores = [f"train_store={made / 'mnist'}", f"test_store={made / 'mnist'}"]
    a = runs / "cls" / "a"
    shutil.copytree(made / "cls", a)
    ck = a / "checkpoint.safetensors"
    _, tensors = read_checkpoint(ck, FORMAT, VERSION, WHAT, REMEDY, FIELDS)  # a good one loads unchanged
    plain = load_file(str(ck))
    assert set(tensors) == set(plain) and all(torch.equal(tensors[k], plain[k]) for k in plain)
    code, out, err = insp("classify", *CLASSIFY, *stores, "epochs=2", f"resume={a}", f"hydra.run.dir={runs / 'ok'}")
    assert code == 0 and f"resumed from {ck}" in out, err

    flip(ck, "model.net.0.weight")
    before = sha256_file(ck)
    one_error(insp("classify", *CLASSIFY, *stores, "epochs=2", f"resume={a}", f"hydra.run.dir={runs / 'x'}"),
              f"classifier checkpoint {ck} is damaged", "checksum mismatch", "resume=false")
    # resume=auto finds the unfinished run of the same settings: it is refused too, not silently skipped
    m = json.loads((a / "metrics.json").read_text())
    (a / "metrics.json").write_text(json.dumps({**m, "status": "interrupted"}))
    one_error(insp("classify", *CLASSIFY, *stores, "epochs=2", f"hydra.run.dir={runs / 'cls' / 'b'}"),
              str(ck), "checksum mismatch")
    assert sha256_file(ck) == before


@pytest.mark.parametrize("key, value, words", [
    ("epoch", "x", "field epoch='x'; it must be an integer"),
    ("history", {"a": 1}, "field history="),
    ("fingerprint", KeyError, "field fingerprint is missing"),
    ("version", [1], "field version=[1]"),
])
def test_a_bad_classifier_metadata_field_is_one_line(made, runs, key, value, words):
    a = runs / "a"
    shutil.copytree(made / "cls", a)
    ck = a / "checkpoint.safetensors"
    rewrite_metadata(ck, ck, _set(key, value))
    one_error(insp("classify", *CLASSIFY, f"train_store={made / 'mnist'}", f"test_store={made / 'mnist'}",
                   "epochs=2", f"resume={a}"), f"classifier checkpoint {ck}", words)


# ---- stores ----

@pytest.fixture
def store(made, runs) -> Path:
    shutil.copytree(made / "mnist", runs / "st")
    return runs / "st"


def classify(store: Path):
    return insp("classify", *CLASSIFY, f"train_store={store}", f"test_store={store}", "epochs=1")


def test_a_store_without_its_manifest_is_damaged_and_its_fit_rebuilds_it(made, store):
    """The issue's case: manifest.json and one shard deleted, classify trained on the rest without a word."""
    (store / "manifest.json").unlink()
    (store / S2).unlink()
    one_error(classify(store), f"store {store} is damaged", "manifest.json is missing", "insp fit")
    (store / "manifest.json").unlink(missing_ok=True)  # nothing was written by the failed open
    assert sorted(p.name for p in store.iterdir() if p.name.endswith(".json")) == ["store.json"]
    code, _, err = insp("fit", *MNIST, f"store={store}")  # the fit command again: refits S2, records all
    assert code == 0, err
    good, repaired = INRStore.open(made / "mnist"), INRStore.open(store)
    assert len(repaired) == 12 and np.array_equal(good.indices, repaired.indices)
    assert torch.equal(good.params, repaired.params)  # per-INR seeding: the refitted shard is the same
    assert sorted(json.loads((store / "manifest.json").read_text())["shards"]) == [S0, S1, S2]


def _as_version_1(store: Path) -> None:
    """The store as insp wrote it before format version 2: no manifest, no checksums, no seeding record."""
    import insp_cli.inr.integrity as integrity

    integrity._warned.clear()
    h = json.loads((store / "store.json").read_text())
    h["version"] = 1
    del h["fit"]["seeding"]
    (store / "store.json").write_text(json.dumps(h))
    (store / "manifest.json").unlink()
    for p in store.glob("shard-*.safetensors"):
        meta, arrays, _ = read_shard_bytes(p, "full")
        info = json.loads(meta["insp"])
        info["version"] = 1
        del info["fit"]["seeding"]
        p.write_bytes(save_numpy({k: np.array(v) for k, v in arrays.items()},
                                 metadata={"insp": json.dumps(info, sort_keys=True)}))


def test_a_version_1_store_opens_with_one_warning_and_its_shards_are_checked_for_gaps(made, store):
    _as_version_1(store)
    code, out, err = classify(store)
    warned = warnings_in(out + err)
    assert code == 0 and len(warned) == 1 and "format version 1" in warned[0] and "no manifest" in warned[0], out
    assert torch.equal(INRStore.open(store).params, INRStore.open(made / "mnist").params)

    (store / S1).unlink()  # a gap between [0, 4) and [8, 12)
    one_error(classify(store), f"store {store}", "missing the INRs [4, 8) between its shards")
    (store / S2).rename(store / "shard-0000004-0000012.safetensors")  # a shard whose name says 8 INRs, holds 4
    one_error(classify(store), "shard-0000004-0000012.safetensors is damaged", "[4, 12), it holds 4")


@pytest.mark.parametrize("field, value", [("source.size", "ab"), ("source.channels", 1.5), ("fit.shard_size", "4"),
                                          ("degradation.kind", 3)])
def test_a_bad_store_header_field_is_one_line(store, field, value):
    h = json.loads((store / "store.json").read_text())
    part, key = field.split(".")
    h[part][key] = value
    (store / "store.json").write_text(json.dumps(h))
    one_error(classify(store), f"{store} is corrupt: header field {field}=")


def test_check_record_names_the_field():
    rules = {"fusion": ("dict", None, None), "fusion.hidden": ("int", 1, None), "m": ("?int", 1, 3)}
    check_record({"fusion": {"hidden": 4}}, rules)  # an optional field may be absent
    for record, words in (({}, "field fusion is missing"), ({"fusion": []}, "field fusion=[]; it must be a JSON"),
                          ({"fusion": {"hidden": 0}}, "field fusion.hidden=0; it must be an integer >= 1"),
                          ({"fusion": {"hidden": 2}, "m": "x"}, "field m='x'")):
        with pytest.raises(InspError, match=None) as e:
            check_record(record, rules)
        assert words in str(e.value), (record, str(e.value))
