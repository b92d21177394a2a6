"""The INR store: round trip, numpy-only decoding (the code in docs/store.md), bad stores, merged parts."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from insp_cli.errors import InspError
from insp_cli.inr.siren import SirenSpec, init_params
from insp_cli.inr.store import INRStore, StoreHeader, finished_shards, prepare_store, shard_name, write_shard

SPEC = SirenSpec(2, 3, 16, 3)


def header(**kw):
    return StoreHeader(spec=kw.get("spec", SPEC), source={"name": "images", "split": "train", "size": [12, 12]},
                       degradation={"kind": "clean"}, fit={"steps": 1, "seed": 0})


def make_store(path, start=0, stop=10, spec=SPEC):
    h = header(spec=spec)
    prepare_store(path, h)
    p = init_params(spec, stop - start, generator=torch.Generator().manual_seed(start))
    idx = np.arange(start, stop)
    write_shard(path, h, start, stop, p, idx, np.full(len(idx), 40.0), np.ones(len(idx), bool), labels=idx % 10)
    return p


def test_round_trip(tmp_path):
    p = make_store(tmp_path / "s")
    s = INRStore.open(tmp_path / "s")
    assert len(s) == 10 and s.spec == SPEC
    torch.testing.assert_close(s.params, p)
    assert list(s.labels) == list(range(10))
    assert s.decode(rows=[0, 1]).shape == (2, 12, 12, 3)
    assert s.decode(30, rows=[0]).shape == (1, 30, 30, 3)  # any resolution


def test_numpy_only_decoding_equals_torch(tmp_path):
    make_store(tmp_path / "s")
    code = re.search(r"## Decoding an INR with numpy alone\s+```python\n(.*?)```",
                     (Path(__file__).parents[1] / "docs" / "store.md").read_text(), re.S).group(1)
    assert "import torch" not in code and "insp_cli" not in code
    ns = {}
    exec(code, ns)
    meta, t = ns["read_shard"](next(iter(finished_shards(tmp_path / "s").values())))
    store = INRStore.open(tmp_path / "s")
    for row in (0, 7):
        for size in ((12, 12), (20, 9)):
            ours = ns["decode"](meta, t["params"][row], *size)
            ref = store.decode(size, rows=[row])[0].numpy()
            np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_parts_merge_and_overlap_is_refused(tmp_path):
    make_store(tmp_path / "a", 0, 10)
    make_store(tmp_path / "b", 10, 25)
    s = INRStore.open([tmp_path / "b", tmp_path / "a"])
    assert list(s.indices) == list(range(25))
    make_store(tmp_path / "c", 5, 12)
    with pytest.raises(InspError, match="overlap"):
        INRStore.open([tmp_path / "a", tmp_path / "c"])


def test_other_architecture_is_refused(tmp_path):
    make_store(tmp_path / "a")
    make_store(tmp_path / "b", 10, 20, spec=SirenSpec(2, 3, 8, 3))
    with pytest.raises(InspError, match="architecture"):
        INRStore.open([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(InspError, match="already holds other INRs"):
        prepare_store(tmp_path / "a", header(spec=SirenSpec(2, 3, 8, 3)))


def test_corrupt_truncated_and_foreign_files(tmp_path):
    make_store(tmp_path / "s")
    shard = tmp_path / "s" / shard_name(0, 10)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(InspError, match="corrupt"):
        INRStore.open(tmp_path / "s")
    shard.write_bytes(b"\x00" * 100)
    with pytest.raises(InspError):
        INRStore.open(tmp_path / "s")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "store.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InspError, match="not an insp INR store"):
        INRStore.open(tmp_path / "foreign")
    with pytest.raises(InspError, match="does not exist"):
        INRStore.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InspError, match="no store.json"):
        INRStore.open(tmp_path / "empty")


def test_newer_format_version_is_refused(tmp_path):
    make_store(tmp_path / "s")
    m = tmp_path / "s" / "store.json"
    m.write_text(json.dumps({**json.loads(m.read_text()), "version": 99}))
    with pytest.raises(InspError, match="newer insp"):
        INRStore.open(tmp_path / "s")


def test_flagged_inrs_are_skipped(tmp_path):
    h = header()
    prepare_store(tmp_path / "s", h)
    p = init_params(SPEC, 4)
    write_shard(tmp_path / "s", h, 0, 4, p, np.arange(4), np.array([40, np.nan, 40, 40]), np.array([1, 0, 1, 1]))
    assert list(INRStore.open(tmp_path / "s").indices) == [0, 2, 3]
    assert len(INRStore.open(tmp_path / "s", only_ok=False)) == 4


def test_no_temporary_files_left_behind(tmp_path):
    make_store(tmp_path / "s")
    assert sorted(f.name for f in (tmp_path / "s").iterdir()) == [
        ".manifest.lock", "manifest.json", "shard-0000000-0000010.safetensors", "store.json"]
