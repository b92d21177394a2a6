"""Does O-INR catch up with SIREN when both are trained longer (the paper trains "until convergence")? SIREN and
O-INR at the same parameter budget on the VALIDATION photo (scikit-image motorcycle_left, not in the tables),
SIZE x SIZE RGB, full-batch Adam with cosine decay to lr/10 over each step count, at the learning rates chosen in
val-choices.txt (SIREN 8e-3, O-INR 3e-2 at cpu-48) unless given; one thread.

    python experiments/oinr_tables/probe_steps.py SIZE BUDGET STEPS,STEPS,... [SIREN_LR O-INR_LR]

A learning rate of "-" leaves that backbone out.
"""

import sys
import time

import torch

from insp_cli.data import load_images
from insp_cli.inr.backbones import OINRSpec, SirenSpec, describe, match_params
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.siren import grid_coords

torch.set_num_threads(1)
size, budget = int(sys.argv[1]), int(sys.argv[2])
step_counts = [int(s) for s in sys.argv[3].split(",")]
lrs = [None if v == "-" else float(v) for v in sys.argv[4:6]] if len(sys.argv) > 5 else [8e-3, 3e-2]
ims = load_images("images", "all", folder="data/oinr_tables/val", size=size, channels=3)
pix = torch.from_numpy(ims.images).reshape(1, -1, 3)
coords = grid_coords(size)
specs = [match_params(SirenSpec(out_features=3), budget), match_params(OINRSpec(size=(size, size), out_features=3),
                                                                        budget)]
for steps in step_counts:
    for spec, lr in zip(specs, lrs):
        if lr is None:
            continue
        t = time.time()
        res = fit_inrs(spec, pix, coords, FitSettings(steps=steps, lr=lr, lr_final=lr / 10))
        print(f"{size}px {describe(spec):45s} {spec.num_params:7d} params  lr {lr:g}  {steps:5d} steps: "
              f"{res.psnr.item():6.2f} dB  ({time.time() - t:.0f} s)", flush=True)
