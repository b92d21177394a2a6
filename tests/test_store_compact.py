"""Compact functa stores (issue 26 item 2): the shared base, W_mod, b_mod once (functa.safetensors) and one
latent per INR, expanded to ordinary SIREN parameters on read. Jets equal those of the same INRs stored as plain
parameters; the fit job writes, resumes and repairs them; classify (functa_mlp and a params reader) runs on one
from the command line; a missing or damaged shared file is one error line; older full-parameter functa stores
still open; and the store is many times smaller."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.meta import MetaINR, hidden_bias_slots
from insp_cli.inr.meta_file import save_meta, tensors_sha256
from insp_cli.inr.siren import SirenSpec, grid_coords
from insp_cli.inr.store import (SHARED_FILE, INRStore, StoreHeader, finished_shards, prepare_store, write_shard,
                                write_shared)
from insp_cli.jets.inr_jet import inr_jet  # the jets INSP-Net's filters take (filters/insp_net.py)

SPEC = SirenSpec(2, 1, 32, 3)  # MNIST's SIREN 3x32: P = 2,241
ROOT = Path(__file__).resolve().parents[1]


def _functa(d=16, seed=0):
    """A random functa of SPEC (latent dim d) with shifts large enough to matter (0.05 rad per unit latent)."""
    m = MetaINR(SPEC, "functa", latent_dim=d, inner_lr=1.0, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        m.b_mod.normal_(0, 0.01, generator=torch.Generator().manual_seed(seed + 1))
    m.requires_grad_(False)
    return m


def _sha(m):
    return tensors_sha256(dict(m.state_dict()))


def _header(m, compact: bool) -> StoreHeader:
    fit = {"steps": 3, "seed": 0, "mode": "functa", "init": {"sha256": _sha(m), "mode": "functa"}}
    c = {"kind": "functa", "file": SHARED_FILE, "latent_dim": m.w_mod.shape[0], "sha256": _sha(m)}
    return StoreHeader(spec=SPEC, source={"name": "mnist", "split": "test", "size": [28, 28], "channels": 1},
                       degradation={"kind": "clean"}, fit=fit, compact=c if compact else None)


def _write(path, m, z, compact: bool, shard=64):
    """The INRs of latents z (n, d) as a compact store, or as an older insp wrote them (params + latents)."""
    h = _header(m, compact)
    prepare_store(path, h)
    if compact:
        write_shared(path, h, m.functa())
    params = m.functa().expand(z)
    for a in range(0, len(z), shard):
        b = min(a + shard, len(z))
        idx = np.arange(a, b)
        write_shard(path, h, a, b, None if compact else params[a:b], idx, np.full(b - a, 30.0, np.float32),
                    np.ones(b - a, bool), labels=idx % 10, extra={"latents": z[a:b].numpy()})
    return params


def _latents(n, d=16, seed=3):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_compact_store_decodes_to_the_jets_of_the_same_plain_sirens(tmp_path):
    m, z = _functa(), _latents(40)
    _write(tmp_path / "c", m, z, compact=True)
    # the same INRs as a plain store: expanded parameters, no latents, no functa
    h = StoreHeader(spec=SPEC, source={"name": "mnist", "split": "test", "size": [28, 28], "channels": 1},
                    degradation={"kind": "clean"}, fit={"steps": 3, "seed": 0})
    prepare_store(tmp_path / "p", h)
    write_shard(tmp_path / "p", h, 0, 40, m.functa().expand(z), np.arange(40), np.full(40, 30.0),
                np.ones(40, bool), labels=np.arange(40) % 10)
    c, p = INRStore.open(tmp_path / "c"), INRStore.open(tmp_path / "p")
    assert c.header.version == 3 and p.header.version == 2 and "compact" not in json.loads(
        (tmp_path / "p" / "store.json").read_text())
    assert c.functa is not None and c._params is None and c.latents.shape == (40, 16)
    rows = [0, 7, 39]
    part = c.params_at(rows)
    assert c._params is None  # reading some rows expanded those alone
    torch.testing.assert_close(part, p.params[rows], rtol=0, atol=1e-6)
    x = grid_coords(9)
    jc, jp = inr_jet(SPEC, part, x, 2), inr_jet(SPEC, p.params[rows], x, 2)
    scale = jp.abs().amax()
    assert float((jc - jp).abs().amax() / scale) < 1e-5, float((jc - jp).abs().amax() / scale)
    # a modulated SIREN is a SIREN with hidden biases b + s: the shifts really are in the decoded values
    assert float((c.decode(rows=[0]) - c.decode(rows=[1])).abs().max()) > 1e-3
    torch.testing.assert_close(c.decode(rows=rows), p.decode(rows=rows), rtol=0, atol=1e-5)
    torch.testing.assert_close(c.params, p.params, rtol=0, atol=1e-6)  # all of them, expanded once
    sub = c.subset(np.array([5, 2]))
    assert sub.functa is not None and sub._params is None
    torch.testing.assert_close(sub.params_at(slice(None)), p.params[[2, 5]], rtol=0, atol=1e-6)  # source order


def test_numpy_only_expansion_of_docs_store_md(tmp_path):
    import re
    m, z = _functa(), _latents(12)
    _write(tmp_path / "c", m, z, compact=True)
    code = re.search(r"## Decoding an INR with numpy alone\s+```python\n(.*?)```",
                     (ROOT / "docs" / "store.md").read_text(), re.S).group(1)
    ns = {}
    exec(code, ns)
    meta, t = ns["read_shard"](next(iter(finished_shards(tmp_path / "c").values())))
    shared = ns["read_shard"](tmp_path / "c" / SHARED_FILE)[1]
    store = INRStore.open(tmp_path / "c")
    for row in (0, 11):
        ours = ns["decode"](meta, ns["expand"](meta, shared, t["latents"][row]), 28, 28)
        np.testing.assert_allclose(ours, store.decode(rows=[row])[0].numpy(), atol=1e-5)


def test_compact_store_is_many_times_smaller(tmp_path):
    m, z = _functa(d=64), _latents(512, d=64)
    _write(tmp_path / "c", m, z, compact=True, shard=256)
    _write(tmp_path / "f", m, z, compact=False, shard=256)

    def size(d):
        return sum(f.stat().st_size for f in d.iterdir() if f.suffix == ".safetensors")

    full, compact = size(tmp_path / "f"), size(tmp_path / "c")
    # full: (2,241 + 64) floats + 21 bytes per INR; compact: 64 floats + 21 bytes per INR and the shared file once
    shared = (SPEC.num_params + 64 * 96 + 96 + 64) * 4
    assert (tmp_path / "c" / SHARED_FILE).stat().st_size >= shared
    assert full > 512 * (2305 * 4 + 21) and compact < 512 * (64 * 4 + 21) + shared + 8192
    assert full / compact > 20, (full, compact)
    torch.testing.assert_close(INRStore.open(tmp_path / "c").params, INRStore.open(tmp_path / "f").params,
                               rtol=0, atol=1e-6)


def test_an_older_full_parameter_functa_store_still_opens(tmp_path):
    m, z = _functa(), _latents(20)
    params = _write(tmp_path / "old", m, z, compact=False, shard=10)
    s = INRStore.open(tmp_path / "old")
    assert s.header.version == 2 and s.header.compact is None and s.functa is None
    torch.testing.assert_close(s.params, params, rtol=0, atol=0)
    np.testing.assert_array_equal(s.latents, z.numpy())
    torch.testing.assert_close(s.params_at([3, 1]), params[[3, 1]], rtol=0, atol=0)
    _write(tmp_path / "new", m, z, compact=True, shard=10)  # the same INRs, compact: not one dataset with it
    with pytest.raises(InspError, match="one holds its INRs as functa latents and one shared file, the other as "
                                        "full SIREN parameters"):
        INRStore.open([tmp_path / "new", tmp_path / "old"])


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)


@pytest.fixture()
def env(tmp_path):
    return {**os.environ, "INSP_WANDB_MODE": "disabled", "INSP_RUNS": str(tmp_path / "runs"),
            "INSP_STORES": str(tmp_path / "stores"), "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}


def test_missing_or_damaged_shared_file_is_one_error_line(tmp_path, env):
    m, z = _functa(), _latents(20)
    _write(tmp_path / "c", m, z, compact=True, shard=10)
    shared = tmp_path / "c" / SHARED_FILE
    good = shared.read_bytes()
    cases = {"missing": None, "a flipped byte": good[:-5] + bytes([good[-5] ^ 1]) + good[-4:],
             "truncated": good[:-16]}
    for what, data in cases.items():
        shared.unlink(missing_ok=True)
        if data is not None:
            shared.write_bytes(data)
        with pytest.raises(InspError, match="shared functa tensors functa.safetensors"):
            INRStore.open(tmp_path / "c")
        r = _cli("classify", "classifier=functa_mlp", f"train_store={tmp_path / 'c'}", f"test_store={tmp_path / 'c'}",
                 "train_limit=10", "test_offset=10", "epochs=1", env=env)
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and "Traceback" not in r.stderr, (what, r.stderr[-2000:])
        assert lines[-1].startswith("error: store ") and "shared functa tensors" in lines[-1], (what, lines[-1])
        assert "rerun the `insp fit` command that made it" in lines[-1] and lines[-1].count(str(shared)) == 0
    # the tensors of another functa with a self-consistent checksum: not the ones the header records
    shared.unlink()
    other = _functa(seed=5)
    h = _header(other, True)
    (tmp_path / "o").mkdir()
    write_shared(tmp_path / "o", h, other.functa())
    shared.write_bytes((tmp_path / "o" / SHARED_FILE).read_bytes())
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    manifest["shared"].pop(SHARED_FILE)
    (tmp_path / "c" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InspError, match="are not the ones its header records"):
        INRStore.open(tmp_path / "c")
    # a malformed compact field, or one in a version-2 header: one line each
    hdr = json.loads((tmp_path / "c" / "store.json").read_text())
    for bad, words in (({**hdr, "compact": {**hdr["compact"], "latent_dim": "64"}}, "header field compact="),
                       ({**hdr, "compact": {**hdr["compact"], "file": "../x.safetensors"}}, "header field compact="),
                       ({**hdr, "version": 2}, "a compact store has format version 3")):
        (tmp_path / "c" / "store.json").write_text(json.dumps(bad))
        with pytest.raises(InspError, match=words):
            INRStore.open(tmp_path / "c")
    (tmp_path / "c" / "store.json").write_text(json.dumps(hdr))
    # and a fit's shared tensors that are not the header's are refused before anything is written
    with pytest.raises(InspError, match="do not match store"):
        write_shared(tmp_path / "c", _header(m, True), other.functa())


def _init_file(path, m):
    save_meta(path, m, {"mode": "functa", "architecture": SPEC.to_dict(), "backbone": "SIREN 3x32 omega0 30",
                        "modality": "images", "shape": [28, 28], "channels": 1,
                        "source": {"dataset": "mnist", "split": "train"}, "complete": True, "step": 1,
                        "meta": {"steps": 1, "latent_dim": m.w_mod.shape[0], "inner_steps": 3}, "seed": 0})


def test_fit_job_writes_resumes_and_repairs_a_compact_store_and_classify_runs_on_it(tmp_path, env, monkeypatch):
    from insp_cli.jobs.fit import run_fit

    monkeypatch.setenv("INSP_WANDB_MODE", "disabled")
    m = _functa()
    init = tmp_path / "functa.safetensors"
    _init_file(init, m)
    store = tmp_path / "s"
    over = ["data.split=test", "tracking.mode=disabled", "samples=2", f"store={store}", f"fit.init={init}",
            "fit.mode=functa", "fit.steps=3", "fit.shard_size=24"]
    run_fit(compose("fit", over + ["data.limit=24"]), tmp_path / "r1")
    first = INRStore.open(store)
    assert first.header.compact["sha256"] == _sha(m) == first.header.fit["init"]["sha256"]
    shard0 = next(iter(finished_shards(store).values())).read_bytes()
    run_fit(compose("fit", over + ["data.limit=48"]), tmp_path / "r2")  # resumes: appends 24 latents
    s = INRStore.open(store)
    assert len(s) == 48 and s.latents.shape == (48, 16) and len(finished_shards(store)) == 2
    assert next(iter(finished_shards(store).values())).read_bytes() == shard0
    np.testing.assert_array_equal(s.latents[:24], first.latents)
    # the stored latents, expanded, give back the PSNR the fit recorded
    from insp_cli.data import load_images
    from insp_cli.inr.fit import psnr_of_fit
    pix = torch.from_numpy(load_images("mnist", "test", limit=48).images).reshape(48, 784, 1)
    np.testing.assert_allclose(psnr_of_fit(SPEC, s.params, grid_coords(28), pix).numpy(), s.psnr, atol=1e-3)
    # no params in the shards: the latents and the shared tensors are all there is
    assert all("params" not in json.loads(p.read_bytes()[8:8 + int.from_bytes(p.read_bytes()[:8], "little")])
               for p in finished_shards(store).values())
    # a lost shared file: refused on open, written again by rerunning the fit (nothing to refit)
    (store / SHARED_FILE).unlink()
    with pytest.raises(InspError, match="are missing"):
        INRStore.open(store)
    run_fit(compose("fit", over + ["data.limit=48"]), tmp_path / "r3")
    torch.testing.assert_close(INRStore.open(store).params, s.params, rtol=0, atol=0)
    # a functa store of full parameters (an insp before the compact layout): a resume keeps its layout
    hdr = json.loads((store / "store.json").read_text())
    old = StoreHeader.from_json({**{k: v for k, v in hdr.items() if k != "compact"}, "version": 2}, "old")
    prepare_store(tmp_path / "old", old)
    write_shard(tmp_path / "old", old, 0, 24, s.params[:24], s.indices[:24], s.psnr[:24], s.ok[:24],
                s.labels[:24], extra={"latents": s.latents[:24]})
    run_fit(compose("fit", over[:3] + [f"store={tmp_path / 'old'}"] + over[4:] + ["data.limit=48"]), tmp_path / "r4")
    o = INRStore.open(tmp_path / "old")
    assert o.header.version == 2 and o.functa is None and not (tmp_path / "old" / SHARED_FILE).exists()
    torch.testing.assert_close(o.params, s.params, rtol=0, atol=0)
    np.testing.assert_array_equal(o.latents, s.latents)
    # classify from the command line: the functa MLP on the latents, PCA+SVM on the expanded parameters
    for clf in (["classifier=functa_mlp", "epochs=1", "classifier.hidden=16"], ["classifier=pca_svm"]):
        r = _cli("classify", *clf, f"train_store={store}", f"test_store={store}", "train_limit=32",
                 "test_offset=32", env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "32 train / 16 test INRs" in r.stdout, r.stdout
