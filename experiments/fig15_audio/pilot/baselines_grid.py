"""Grid of the classical audio baselines' settings on 40 validation speech clips (section 1 of README.md).

    python experiments/fig15_audio/pilot/baselines_grid.py [--root data]
"""

import argparse

import numpy as np

from insp_cli.data.audio import load_audio
from insp_cli.filters.baselines import audio as B
from insp_cli.metrics.audio import snr

ap = argparse.ArgumentParser()
ap.add_argument("--root", default="data")
args = ap.parse_args()
a = load_audio("speech", "val", root=args.root, limit=40)
sig = 25 / 255
noisy = a.clips + sig * np.random.default_rng(0).standard_normal(a.clips.shape)
print("input", snr(a.clips, noisy).mean())
for size in (3, 5, 7, 9, 11, 15):
    print("scipy_wiener size", size, snr(a.clips, B.local_wiener(noisy, sig, size=size)).mean())
for n in (128, 256, 512):
    for al in (0.9, 0.95, 0.98):
        print("stft_wiener nperseg", n, "alpha", al, snr(a.clips, B.stft_wiener(noisy, sig, nperseg=n, alpha=al)).mean())
for n in (128, 256, 512):
    for o in (1, 1.5, 2, 3, 4, 5, 6, 8):
        for f in (0.0, 0.002, 0.01, 0.02, 0.1):
            out = B.spectral_subtraction(noisy, sig, nperseg=n, over=o, floor=f)
            print("spectral_subtraction nperseg", n, "over", o, "floor", f, snr(a.clips, out).mean())
