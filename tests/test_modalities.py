"""The modality registry: each store's modality is read once from its header, and a new modality is one
registered module — a toy one here fits through `insp fit` and is found again from its store, with no other
change to insp."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.siren import grid_coords
from insp_cli.inr.store import INRStore
from insp_cli.jobs.fit import run_fit
from insp_cli.modalities import MODALITIES, Modality, Signals, of_data, of_filter, of_store, spec_for
from insp_cli.modalities.base import open_store


class Ramps(Modality):
    """A toy modality: 1-D ramps of 32 samples (slope = the item index / 8)."""

    name = "ramps"
    datasets = ("ramps",)
    summary_keys = ("name", "modality")
    flat = "a flat line"

    def signals(self, cfg):
        n, t = int(cfg.data.limit), 32
        x = np.linspace(0, 1, t)
        targets = np.stack([0.25 + 0.5 * x * (i + 1) / n for i in range(n)])[..., None]  # (N, T, 1) in [0, 1]
        return Signals(targets=targets, masks=None, coords=grid_coords((t,)), indices=np.arange(n), labels=None,
                       spec=spec_for(cfg, 1, 1, (t,)), source={"name": "ramps", "modality": "ramps", "length": t},
                       degradation={"kind": "clean"}, shape=(t,))

    def check_store(self, store, where):
        if store.spec.in_features != 1:
            raise InspError(f"{where} says it holds ramps but its INRs are not 1-D")


def test_the_three_modalities_are_registered_and_read_from_headers():
    assert set(MODALITIES) >= {"images", "audio", "shapes"}
    assert of_data("mnist").name == "images" and of_data("audio").name == "audio" and of_data("meshes").name == "shapes"
    assert of_filter({}).name == "images" and of_filter({"modality": "audio"}).name == "audio"


def test_a_new_modality_is_one_registration(tmp_path, monkeypatch):
    monkeypatch.setitem(MODALITIES, "ramps", Ramps())
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    cfg = compose("fit", ["data=images", "data.limit=3", "fit.steps=150", "fit.lr=3e-3", "model.hidden=16",
                          "samples=0", f"store={tmp_path / 'st'}"])
    OmegaConf.set_struct(cfg, False)
    cfg.data.name = "ramps"  # a data source no insp module knows
    run_fit(cfg, tmp_path / "run")
    store, modality = open_store(str(tmp_path / "st"))
    assert modality.name == "ramps" and of_store(INRStore.open(tmp_path / "st")).name == "ramps"
    assert len(store) == 3 and store.spec.in_features == 1
    decoded = store.evaluate(grid_coords((32,)))[..., 0].numpy()  # (3, 32) in [-1, 1]
    want = 2 * np.stack([0.25 + 0.5 * np.linspace(0, 1, 32) * (i + 1) / 3 for i in range(3)]) - 1
    assert np.abs(decoded - want).max() < 0.05  # the ramps were fitted
    with pytest.raises(NotImplementedError):  # what it does not implement yet is not silently an image
        modality.pi_data(cfg, store, {}, {}, "cpu")
