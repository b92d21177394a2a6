"""Table 1's ordering at a larger scale than the recorded cpu-48 (README.md, "what was tried"): SIREN against
O-INR at the same parameter budget on the VALIDATION photo (scikit-image motorcycle_left, not in the tables),
square crop resized to SIZE x SIZE RGB, full-batch Adam with cosine decay to lr/10, two learning rates each,
one thread. Widths from backbones.match_params.

    python experiments/oinr_tables/probe_scale.py SIZE BUDGET STEPS [data/oinr_tables/val]   # one line per setting
"""

import sys
import time

import torch

from insp_cli.data import load_images
from insp_cli.inr.backbones import OINRSpec, SirenSpec, describe, match_params
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.siren import grid_coords

torch.set_num_threads(1)
size, budget, steps = (int(a) for a in sys.argv[1:4])
folder = sys.argv[4] if len(sys.argv) > 4 else "data/oinr_tables/val"
ims = load_images("images", "all", folder=folder, size=size, channels=3)
pix = torch.from_numpy(ims.images).reshape(1, -1, 3)
coords = grid_coords(size)
settings = [(match_params(SirenSpec(out_features=3), budget), lr) for lr in (2e-3, 8e-3)]
settings += [(match_params(OINRSpec(size=(size, size), out_features=3), budget), lr) for lr in (1e-2, 3e-2)]
for spec, lr in settings:
    t = time.time()
    res = fit_inrs(spec, pix, coords, FitSettings(steps=steps, lr=lr, lr_final=lr / 10))
    print(f"{size}px {describe(spec):45s} {spec.num_params:7d} params  lr {lr:g}  {steps} steps: "
          f"{res.psnr.item():6.2f} dB  ({time.time() - t:.0f} s)", flush=True)
