"""Weight selection for experiments/inrr_table1 on the VALIDATION photos (data/inrr_table1/val: opencv-doc aero3,
scikit-image chelsea; never the test photos). Same scale as the table by default (96² gray, SIREN 3x96, omega0 30; --size, --hidden, --depth change it), Adam
1e-3 -> 1e-4 cosine over STEPS, full batch), same masks (seed 0). Prints the PSNR of each INR against the clean
photo on the whole image, on the missing pixels and on the observed ones (the fit's own error). The outputs are
in validation.txt.

    python experiments/inrr_table1/validate.py STEPS[@CHECKPOINTS] MASKS KIND:WEIGHT[:REG_LR[:G_OMEGA0[:G_DEPTH]]][:KEY=VALUE...] ...
    e.g. python experiments/inrr_table1/validate.py 300 0,1,2 none:0 tv:1e-4 inrr:1e-5:3e-3
         python experiments/inrr_table1/validate.py --size=128 --hidden=128 --depth=5 1000@300 0,1,2 none:0
         python experiments/inrr_table1/validate.py 2000@300,1000 0,1,2 inrr:1e-5:3e-3:1:5:g_norm=global
MASKS: comma-separated of 0 = random 50 %, 1 = patch (rectangles), 2 = textural, 3 = blocks (the public code's patch); all of them are fitted in one batch (2 photos
x masks INRs; INR i of photo p starts from photo p's seed whatever its mask, as in one fit per mask).
CHECKPOINTS: also score the parameters after these steps of the same STEPS-long fit (its cosine schedule, so not
a shorter fit: a trajectory, as the paper's Fig. 6). KEY=VALUE: any other RegSettings field (g_hidden, g_norm, ...).
"""

from __future__ import annotations

import sys
import time
from dataclasses import fields

import torch

import insp_cli.inr.fit as fitmod
from insp_cli.data import load_images
from insp_cli.data.degrade import degrade
from insp_cli.inr.fit import FitSettings, fit_inrs, psnr_of_fit
from insp_cli.inr.regularised import RegSettings
from insp_cli.inr.siren import SirenSpec, grid_coords

DEGS = [("random_mask", {"ratio": 0.5}), ("patch_mask", {}), ("text", {"text": "INRR texture", "count": 14, "scale": 0.09}),
        ("block_mask", {})]
POSITIONAL = ("lr", "g_omega0", "g_depth")


def reg_of(method: str) -> RegSettings | None:
    """'kind:weight[:lr[:g_omega0[:g_depth]]][:key=value...]' -> RegSettings (None for kind none)."""
    kind, weight, *rest = method.split(":")
    types = {f.name: f.type for f in fields(RegSettings)}
    opts, pos = {}, iter(POSITIONAL)
    for item in rest:
        key, val = item.split("=", 1) if "=" in item else (next(pos), item)
        t = types[key]
        opts[key] = val if "str" in str(t) else (int(val) if "int" in str(t) else float(val))
    return None if kind == "none" else RegSettings(kind=kind, weight=float(weight), **opts)


class _Recorder(fitmod._BatchedAdam):
    """The fit's own Adam, which also keeps a copy of the parameters after the checkpoint steps."""
    at: set[int] = set()
    saved: dict[int, torch.Tensor] = {}

    def step(self, params, grad, lr):
        super().step(params, grad, lr)
        if self.t in self.at:
            self.saved[self.t] = params.detach().clone()


def main(steps: str, masks: str, *methods: str, size: int = 96, hidden: int = 96, depth: int = 3) -> None:
    torch.set_num_threads(1)
    total, _, cks = steps.partition("@")
    total = int(total)
    _Recorder.at = {int(c) for c in cks.split(",") if c} | {total}
    fitmod._BatchedAdam = _Recorder
    imgs = load_images("images", split="all", folder="data/inrr_table1/val", size=size, channels=1)
    x = imgs.images
    n, h, w, c = x.shape
    spec, coords = SirenSpec(2, 1, hidden, depth, 30.0), grid_coords((h, w))
    clean = torch.from_numpy(x).reshape(n, h * w, c)
    degs = [DEGS[int(a)] for a in masks.split(",")]
    pix, mask = [], []
    for kind_d, p in degs:
        d = degrade(x, kind_d, p)
        mask.append(torch.from_numpy(d.masks).reshape(n, -1))
        pix.append(torch.from_numpy(d.images).reshape(n, h * w, c))
    pix, mask, targets = torch.cat(pix), torch.cat(mask), clean.repeat(len(degs), 1, 1)
    for m in methods:
        _Recorder.saved = {}
        t = time.time()
        fit_inrs(spec, pix, coords, FitSettings(steps=total, lr=1e-3, lr_final=1e-4, reg=reg_of(m)), mask=mask,
                 shape=(h, w), indices=list(range(n)) * len(degs))
        dt = time.time() - t
        for k in sorted(_Recorder.saved):
            prm = _Recorder.saved[k]
            full = psnr_of_fit(spec, prm, coords, targets).view(len(degs), n)
            miss = psnr_of_fit(spec, prm, coords, targets, ~mask).view(len(degs), n)
            obs = psnr_of_fit(spec, prm, coords, targets, mask).view(len(degs), n)
            for i, (kind_d, _) in enumerate(degs):
                print(kind_d, m, f"steps {total}@{k}", "full", full[i].numpy().round(2), "miss",
                      miss[i].numpy().round(2), "obs", obs[i].numpy().round(2), f"mean {full[i].mean():.2f}",
                      f"{dt / total * 1000:.0f} ms/step ({len(pix)} INRs)", flush=True)


if __name__ == "__main__":
    scale = {a[2:].split("=")[0]: int(a.split("=")[1]) for a in sys.argv[1:] if a.startswith("--")}
    main(*[a for a in sys.argv[1:] if not a.startswith("--")], **scale)
