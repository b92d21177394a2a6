"""`insp fit model=oinr|wire|mfn` end to end, and the one-line errors around backbones."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from insp_cli.inr.oinr import OINRSpec
from insp_cli.inr.store import INRStore

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.split=test", "data.limit=3", "fit.steps=30", "fit.shard_size=4", "samples=2"]


def insp(*args):
    return subprocess.run([sys.executable, "-m", "insp_cli.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "INSP_THREADS": "1"}, cwd=ROOT, timeout=600)


def one_error_line(r, message):
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr


def test_fit_oinr_store_and_unknown_kind(workdir):
    r = insp("fit", *TINY, "model=oinr", "model.widths=[4,8,4]", "model.frequencies=4", "fit.lr=1e-2",
             f"store={workdir}/o")
    assert r.returncode == 0, r.stderr
    store = INRStore.open(workdir / "o")
    assert store.spec == OINRSpec(size=(28, 28), out_features=1, widths=(4, 8, 4), frequencies=4)
    assert json.loads((workdir / "o" / "store.json").read_text())["architecture"]["kind"] == "oinr"
    assert len(store) == 3 and store.psnr.min() > 12 and store.decode().shape == (3, 28, 28, 1)
    # a store of a kind this insp does not know: one line, whatever reads it
    j = json.loads((workdir / "o" / "store.json").read_text())
    j["architecture"]["kind"] = "nerf"
    (workdir / "o" / "store.json").write_text(json.dumps(j))
    r = insp("fit", *TINY, "model=oinr", "model.widths=[4,8,4]", "model.frequencies=4", f"store={workdir}/o")
    one_error_line(r, "unknown INR architecture kind 'nerf'")


@pytest.mark.parametrize("model, message", [
    (["model=oinr", "data=audio"], "O-INR represents 2-D images"),
    (["model.kind=nerf"], "unknown model.kind 'nerf'"),
    (["model=oinr", "model.frequencies=0"], "model.frequencies=0"),
    (["model=wire", "fit.reg=tv", "fit.batch_pixels=null"], "regularises SIRENs only"),
])
def test_bad_model_settings(workdir, model, message):
    one_error_line(insp("fit", *TINY, *model, f"store={workdir}/x"), message)


def test_default_siren_store_name_is_unchanged():
    r = insp("fit", "data.split=test", "--cfg", "job", "--resolve")
    assert r.returncode == 0, r.stderr
    assert "/mnist-test-clean-w32d3-s0" in r.stdout and "kind: siren" in r.stdout
    r = insp("fit", "data.split=test", "model=mfn", "--cfg", "job", "--resolve")
    assert "/mnist-test-clean-mfn-w32d3-s0" in r.stdout
