"""scripts/jet_roughness.py: the per-order RMS of a store's derivatives equals the one computed by nested autograd,
and a rougher INR (a larger omega0 on the same weights) reads rougher at every order >= 1."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from insp_cli.inr.siren import SirenSpec, init_params
from insp_cli.inr.store import INRStore, StoreHeader, prepare_store, write_shard
from insp_cli.jets.reference import siren_jet_reference

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "jet_roughness.py"


def _script():
    spec = importlib.util.spec_from_file_location("jet_roughness", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _store(path: Path, omega0: float) -> INRStore:
    spec = SirenSpec(2, 1, 16, 3, omega0=omega0)
    header = StoreHeader(spec=spec, source={"name": "mnist", "split": "test", "size": [10, 10]},
                         degradation={"kind": "clean"}, fit={"steps": 1, "seed": 0})
    prepare_store(path, header)
    params = init_params(SirenSpec(2, 1, 16, 3), 3, generator=torch.Generator().manual_seed(0))
    write_shard(path, header, 0, 3, params, np.arange(3), np.full(3, 30.0), np.ones(3, bool))
    return INRStore.open(path)


def test_roughness_equals_nested_autograd_and_grows_with_frequency(tmp_path):
    mod = _script()
    store = _store(tmp_path / "w10", 10.0)
    fast = mod.roughness(store, n=3, order=3, side=10)
    ref = mod.roughness(store, n=3, order=3, side=10, jet_fn=siren_jet_reference)
    for name in ("grid", "half-pixel off"):
        assert fast[name] == pytest.approx(ref[name], rel=1e-4)
    rough = mod.roughness(_store(tmp_path / "w20", 20.0), n=3, order=3, side=10)
    assert all(r > s for r, s in zip(rough["grid"][1:], fast["grid"][1:]))


def test_a_path_that_is_no_store_is_one_error_line(tmp_path, monkeypatch):
    log = tmp_path / "fit.log"
    log.write_text("not a shard\n")
    monkeypatch.setattr("sys.argv", ["jet_roughness.py", str(log)])
    with pytest.raises(SystemExit) as e:
        _script().main()
    assert str(e.value).startswith("error: ") and "\n" not in str(e.value), e.value
