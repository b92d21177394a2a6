"""What was tried when small O-INRs fell short of SIREN (README.md): O-INR shapes and rates against SIREN on the
VALIDATION photo (scikit-image motorcycle_left, 48x48 RGB), 300 full-batch steps, cosine to lr/10, one thread.

    python experiments/oinr_tables/probe.py [data/oinr_tables/val]     # prints one line per setting
"""

import sys
import time

import torch

from insp_cli.data import load_images
from insp_cli.inr.backbones import OINRSpec, SirenSpec, describe, match_params
from insp_cli.inr.fit import FitSettings, fit_inrs
from insp_cli.inr.siren import grid_coords

torch.set_num_threads(1)
folder = sys.argv[1] if len(sys.argv) > 1 else "data/oinr_tables/val"
ims = load_images("images", "all", folder=folder, size=48, channels=3)
pix = torch.from_numpy(ims.images).reshape(1, -1, 3)
coords = grid_coords(48)
settings = [(match_params(OINRSpec(size=(48, 48), out_features=3), 5000), lr) for lr in (3e-3, 1e-2, 3e-2)]
settings += [(OINRSpec(size=(48, 48), out_features=3, widths=(64, 128, 128, 64)), 1e-3),  # the public code's
             (OINRSpec(size=(48, 48), out_features=3, widths=(6, 12, 12, 6), frequencies=5), 3e-2),
             (OINRSpec(size=(48, 48), out_features=3, widths=(24, 24)), 3e-2),
             (match_params(SirenSpec(out_features=3), 5000), 2e-3)]
for spec, lr in settings:
    t = time.time()
    res = fit_inrs(spec, pix, coords, FitSettings(steps=300, lr=lr, lr_final=lr / 10))
    print(f"{describe(spec):45s} {spec.num_params:7d} params  lr {lr:g}: {res.psnr.item():6.2f} dB  "
          f"({time.time() - t:.0f} s)", flush=True)
