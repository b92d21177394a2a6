"""The learning rate of each backbone (and a look at sigma) for the spectral-bias study, on VALIDATION photos
(data=photos split=val: hubble_deep_field, china; not in the study), SIZE x SIZE RGB, at the study's parameter
budget and constant-rate full-batch Adam (as in conf/experiment/spectral_bias/fit.yaml); one thread.

    python experiments/spectral_bias/pilot.py SIZE BUDGET STEPS LR,LR,... [MODEL,MODEL,...]

MODEL: siren, relu, ffn1, ffn3, ffn10, ffn30 (FFN with 64 features at that sigma); all by default.
"""

import sys
import time

import torch

from insp_cli.data import load_images
from insp_cli.inr.backbones import describe, match_params
from insp_cli.inr.ffn import FFNSpec, ReluSpec
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.siren import SirenSpec, grid_coords

torch.set_num_threads(1)
size, budget, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lrs = [float(v) for v in sys.argv[4].split(",")]
ims = load_images("photos", split="val", size=size, limit=2, root="data")
pix = torch.from_numpy(ims.images).reshape(len(ims.images), -1, 3)
coords = grid_coords(size)
specs = {"siren": SirenSpec(out_features=3), "relu": ReluSpec(out_features=3)}
specs.update({f"ffn{s}": FFNSpec(out_features=3, features=64, sigma=float(s)) for s in (1, 3, 10, 30)})
chosen = sys.argv[5].split(",") if len(sys.argv) > 5 else list(specs)
print(f"validation photos {list(ims.names)} at {size}x{size}, budget {budget}, {steps} steps, constant lr")
for name in chosen:
    spec = match_params(specs[name], budget)
    for lr in lrs:
        t = time.process_time()
        res = fit_inrs(spec, pix, coords, FitSettings(steps=steps, lr=lr, lr_final=lr))
        print(f"{describe(spec):62s} {spec.num_params:6d} params  lr {lr:g}: PSNR "
              f"{' '.join(f'{p:6.2f}' for p in res.psnr.tolist())} dB, mean {res.psnr.mean():6.2f}  "
              f"({time.process_time() - t:.0f} s CPU)", flush=True)
