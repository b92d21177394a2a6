"""The modality registry: each store's modality is read once from its header, and a new modality is one
registered module — a toy one here (noisy ramps) fits through `insp fit`, is found again from its store, trains a
denoising Pi with `insp train-filter` and is scored by `insp eval` in the one metrics.json layout, with no job
edited and no other change to insp."""

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from insp_cli.config import compose
from insp_cli.errors import InspError
from insp_cli.inr.siren import grid_coords
from insp_cli.inr.store import INRStore
from insp_cli.filters import PixelSampler
from insp_cli.filters.train_pi import PiData, sampled_psnr
from insp_cli.jobs.evaluate import run_eval
from insp_cli.jobs.fit import run_fit
from insp_cli.jobs.train_filter import run_train_filter
from insp_cli.modalities import MODALITIES, Modality, Signals, of_data, of_filter, of_store, spec_for
from insp_cli.modalities.base import eval_record, open_store
from insp_cli.report.table_kit import eval_view


T = 32  # samples per ramp


def ramps(indices) -> np.ndarray:
    """The clean ramps (N, T) in [0, 1]: ramp j rises with slope (j + 1) / 8."""
    x = np.linspace(0, 1, T)
    return np.stack([0.25 + 0.5 * x * (int(j) + 1) / 8 for j in indices])


class Ramps(Modality):
    """A toy modality, one module's worth: noisy 1-D ramps fitted, a denoising Pi trained and scored on them."""

    name = "ramps"
    datasets = ("ramps",)
    summary_keys = ("name", "modality")
    flat = "a flat line"

    def signals(self, cfg):
        n = int(cfg.data.limit)
        noise = np.random.default_rng(int(cfg.seed)).normal(0, 0.05, (n, T))
        return Signals(targets=(ramps(range(n)) + noise)[..., None], masks=None, coords=grid_coords((T,)),
                       indices=np.arange(n), labels=None, spec=spec_for(cfg, 1, 1, (T,)),
                       source={"name": "ramps", "modality": "ramps", "length": T},
                       degradation={"kind": "gaussian_noise", "sigma": 12.75}, shape=(T,))

    def check_store(self, store, where):
        if store.spec.in_features != 1:
            raise InspError(f"{where} says it holds ramps but its INRs are not 1-D")

    def pi_meta(self, cfg, store, fz, meta):
        meta.update(modality="ramps", units=[T])
        meta["fusion"]["offsets"] = [[0]]
        meta["train"]["augment"] = False  # flips and colour permutations are image symmetries

    def pi_data(self, cfg, store, task, meta, device):
        clean = torch.from_numpy(ramps(store.indices)).float()[..., None]
        sampler = PixelSampler(store.spec, store.params, clean, int(meta["order"]), (T,))  # the one sampler, m = 1
        return PiData(sample=sampler.sample, num_features=sampler.num_features, stat_channels=1,
                      stat_features=lambda k, gen, seed: sampler.sample(k, gen)[0],
                      final_psnr=lambda fusion, seed: sampled_psnr(fusion, sampler.sample, seed, 0.0), what="ramps")

    def evaluate(self, cfg, run, filt, meta, store, where, device):
        clean = ramps(store.indices)
        outs = {"input": (store.evaluate(grid_coords((T,)))[..., 0].numpy() + 1) / 2,
                "insp_net": filt.decode(store.spec, store.params, (T,))[..., 0].numpy()}
        outs["moving_average"] = np.stack([np.convolve(x, np.ones(3) / 3, mode="same") for x in outs["input"]])
        scores = {m: {"psnr": -10 * np.log10(((o - clean) ** 2).mean(1))} for m, o in outs.items()}
        return eval_record(cfg, meta, store, scores, ["input", "moving_average", "insp_net"], {"length": T}, 0.0)


def test_the_three_modalities_are_registered_and_read_from_headers():
    assert set(MODALITIES) >= {"images", "audio", "shapes"}
    assert of_data("mnist").name == "images" and of_data("audio").name == "audio" and of_data("meshes").name == "shapes"
    assert of_filter({}).name == "images" and of_filter({"modality": "audio"}).name == "audio"


def fit_ramps(store, n: int, run_dir):
    cfg = compose("fit", ["data=images", f"data.limit={n}", "fit.steps=150", "fit.lr=3e-3", "model.hidden=16",
                          "samples=0", f"store={store}"])
    OmegaConf.set_struct(cfg, False)
    cfg.data.name = "ramps"  # a data source no insp module knows
    return run_fit(cfg, run_dir)


def test_a_new_modality_is_one_registration(tmp_path, monkeypatch):
    monkeypatch.setitem(MODALITIES, "ramps", Ramps())
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    fit_ramps(tmp_path / "st", 3, tmp_path / "run")
    store, modality = open_store(str(tmp_path / "st"))
    assert modality.name == "ramps" and of_store(INRStore.open(tmp_path / "st")).name == "ramps"
    assert len(store) == 3 and store.spec.in_features == 1
    decoded = store.evaluate(grid_coords((32,)))[..., 0].numpy()  # (3, 32) in [-1, 1]
    noisy = ramps(range(3)) + np.random.default_rng(0).normal(0, 0.05, (3, T))  # seed=0, as the fit drew them
    assert np.abs(decoded - (2 * noisy - 1)).max() < 0.05  # the noisy ramps were fitted
    with pytest.raises(NotImplementedError):  # what it does not implement yet is not silently an image
        Modality().pi_data(None, store, {}, {}, "cpu")


def test_a_new_modality_runs_through_fit_train_filter_and_eval_without_editing_a_job(tmp_path, monkeypatch):
    """The toy modality above is all a new modality needs: `insp fit`, `insp train-filter` and `insp eval` run on
    it unchanged, and eval writes the one metrics.json layout that `insp table` reads."""
    monkeypatch.setitem(MODALITIES, "ramps", Ramps())
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    fit_ramps(tmp_path / "train", 6, tmp_path / "fit")
    filt = tmp_path / "f.safetensors"
    run_train_filter(compose("train_filter", ["task=denoise", f"store={tmp_path / 'train'}", f"filter={filt}",
                                              "fusion.order=1", "fusion.hidden=16", "fusion.layers=2",
                                              "train.steps=200", "train.batch_points=64", "train.lr=3e-3",
                                              "train.stat_points=256", "train.save_every=1000"]), tmp_path / "tf")
    m = run_eval(compose("eval", [f"filter={filt}", f"store={tmp_path / 'train'}", "grid=0"]), tmp_path / "ev")
    assert m["layout"] == 2 and m["modality"] == "ramps" and m["model"].startswith("SIREN")
    assert m["baselines"] == ["moving_average"] and m["n_items"] == 6 and not m["held_out"]
    rows = m["rows"]
    # Pi learned to denoise the toy: 28.6 dB against 26.4 (input) and 26.9 (moving average) when written
    ours = rows["insp_net"]["psnr"]
    assert ours > rows["input"]["psnr"] + 1.0 and ours > rows["moving_average"]["psnr"]
    view = eval_view(json.loads((tmp_path / "ev" / "metrics.json").read_text()))
    assert view["rows"] == rows and len(view["per_item"]["insp_net"]["psnr"]) == 6
