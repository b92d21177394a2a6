"""The learning-rate check of this variant's convolutional Pi, on the training voice only (no validation or test clip
is read): the recipe's Pi (5 hidden 3-tap convolutions of 128 channels dilated 1 .. 32, jets up to order 2) trained
for a few hundred steps at a constant AdamW rate (weight decay 1e-4, the recipe's) the recipe's way (4 runs of 1,024
samples of the cached jet fields per step, each reversed in time and / or negated), on the first train part
(Allison's first 320 clips: stores/fig15-speakers/noise-train-0, the recipe's first fit); prints the training PSNR
(amplitude peak 1) of each 100 steps.

    python experiments/fig15_audio/variants/speakers-jetcnn/lr_check.py LR STEPS SEED

SEED seeds the initial weights (the windows' generator is seeded 0). One torch thread. Output lines: lr step psnr
seconds. Needs the recipe's first fit and the speech under data/ (its clean clips).
"""

import math
import sys
import time

import numpy as np
import torch

from insp_cli.filters import PixelSampler
from insp_cli.filters.jet_cnn import ConvFusion, augment_fields
from insp_cli.filters.tasks import clean_clips
from insp_cli.modalities.base import open_store

torch.set_num_threads(1)
lr, steps, seed = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store, _ = open_store("stores/fig15-speakers/noise-train-0")
length = int(store.header.source["length"])
clean = torch.from_numpy(clean_clips(store, "data", "noise-train-0")).float()
torch.manual_seed(seed)
pi = ConvFusion(1, 2, m=1, hidden=128, layers=5, dilation=2)
sampler = PixelSampler(store.spec, store.params, clean[..., None], 2, (length,), offsets=pi.offsets, intensity=False)
fields, _ = sampler.patches(64, 1024, torch.Generator().manual_seed(1))
pi.scaler.fit(fields.reshape(-1, fields.shape[-1]), channels=1)
opt = torch.optim.AdamW(pi.parameters(), lr=lr, weight_decay=1e-4)
gen = torch.Generator().manual_seed(0)
t0, losses = time.time(), []
for step in range(steps):
    x, y = augment_fields(*sampler.patches(4, 1024, gen), 2, gen)
    loss = (pi.on_field(x) - y).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(float(loss.detach()))
    if (step + 1) % 100 == 0:
        print(lr, step + 1, round(-10 * math.log10(np.mean(losses)), 2), round(time.time() - t0), flush=True)
        losses = []
