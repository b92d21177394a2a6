"""The learning-rate check of this variant's convolutional Pi, on the training INRs only (no validation or test photo
is read): train a ConvFusion (4 hidden 3x3 convolutions, the recipe's Pi at a given width) for a few hundred steps at
a constant AdamW learning rate, the recipe's way (windows of 32x32 of the cached jet fields, 4 per step, flips /
turns / colour permutations), and print the training PSNR of each 100 steps.

    python experiments/table2_denoising/variants/cpu-whole19-jetcnn/lr_check.py ORDER WIDTH LR STEPS SEED

ORDER 0 reads the pixel values alone (a DnCNN on the decoded image with standardised inputs); SEED seeds the
initial weights (the windows' generator is seeded 0). One torch thread. Output lines: order width lr step psnr
seconds. Needs stores/table2-photos-whole19/noise-train (the recipe's first step) and the photos under data/.
"""

import math
import sys
import time

import numpy as np
import torch

from insp_cli.filters import PixelSampler
from insp_cli.filters.jet_cnn import ConvFusion, augment_fields
from insp_cli.filters.tasks import clean_targets, task_targets
from insp_cli.modalities.base import open_store

torch.set_num_threads(1)
order, width, lr, steps, seed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
store, _ = open_store("stores/table2-photos-whole19/noise-train")
h, w = store.size
targets = task_targets({"name": "denoise"}, clean_targets(None, "data", store, "noise-train"))
tg = torch.from_numpy(np.ascontiguousarray(targets)).reshape(len(store), h * w, 3).float()
torch.manual_seed(seed)
pi = ConvFusion(3, order, hidden=width, layers=4)
sampler = PixelSampler(store.spec, store.params, tg, order, (h, w), offsets=pi.offsets)
fields, _ = sampler.patches(64, 32, torch.Generator().manual_seed(1))
pi.scaler.fit(fields.reshape(-1, fields.shape[-1]), channels=3)
opt = torch.optim.AdamW(pi.parameters(), lr=lr, weight_decay=0.01)
gen = torch.Generator().manual_seed(0)
t0, losses = time.time(), []
for step in range(steps):
    x, y = augment_fields(*sampler.patches(4, 32, gen), order, gen)
    loss = (pi.on_field(x) - y).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(float(loss.detach()))
    if (step + 1) % 100 == 0:
        print(order, width, lr, step + 1, round(-10 * math.log10(np.mean(losses)), 2), round(time.time() - t0),
              flush=True)
        losses = []
