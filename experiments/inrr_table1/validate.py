"""Weight selection for experiments/inrr_table1 on the VALIDATION photos (data/inrr_table1/val: opencv-doc aero3,
scikit-image chelsea; never the test photos). Same scale as the table (96² gray, SIREN 3x96, omega0 30, Adam
1e-3 -> 1e-4, full batch), same masks (seed 0). Prints the PSNR of each INR against the clean photo on the whole
image and on the missing pixels. The outputs are in validation.txt.

    python experiments/inrr_table1/validate.py STEPS MASKS KIND:WEIGHT[:REG_LR[:G_OMEGA0[:G_DEPTH]]] ...
    e.g. python experiments/inrr_table1/validate.py 300 0,1,2 none:0 tv:1e-4 inrr:1e-5:3e-3
MASKS: comma-separated of 0 = random 50 %, 1 = patch, 2 = textural.
"""

from __future__ import annotations

import sys
import time

import torch

from insp_cli.data import load_images
from insp_cli.data.degrade import degrade
from insp_cli.inr.fit import FitSettings, fit_inrs, psnr_of_fit
from insp_cli.inr.regularised import RegSettings
from insp_cli.inr.siren import SirenSpec, grid_coords

DEGS = [("random_mask", {"ratio": 0.5}), ("patch_mask", {}), ("text", {"text": "INRR texture", "count": 14, "scale": 0.09})]


def main(steps: str, masks: str, *methods: str, size: int = 96, hidden: int = 96) -> None:
    torch.set_num_threads(1)
    imgs = load_images("images", split="all", folder="data/inrr_table1/val", size=size, channels=1)
    x = imgs.images
    n, h, w, c = x.shape
    spec, coords = SirenSpec(2, 1, hidden, 3, 30.0), grid_coords((h, w))
    clean = torch.from_numpy(x).reshape(n, h * w, c)
    for kind_d, p in [DEGS[int(a)] for a in masks.split(",")]:
        d = degrade(x, kind_d, p)
        mask = torch.from_numpy(d.masks).reshape(n, -1)
        pix = torch.from_numpy(d.images).reshape(n, h * w, c)
        for m in methods:
            kind, weight, *rest = m.split(":")
            opts = dict(zip(("lr", "g_omega0", "g_depth"), (float(rest[0]), float(rest[1]), int(rest[2]))[:len(rest)])) \
                if rest else {}
            reg = None if kind == "none" else RegSettings(kind=kind, weight=float(weight), **opts)
            t = time.time()
            r = fit_inrs(spec, pix, coords, FitSettings(steps=int(steps), lr=1e-3, lr_final=1e-4, reg=reg), mask=mask,
                         shape=(h, w))
            dt = time.time() - t
            full = psnr_of_fit(spec, r.params, coords, clean)
            miss = psnr_of_fit(spec, r.params, coords, clean, ~mask)
            print(kind_d, m, "full", full.numpy().round(2), "miss", miss.numpy().round(2),
                  f"{dt / int(steps) * 1000:.0f} ms/step", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
