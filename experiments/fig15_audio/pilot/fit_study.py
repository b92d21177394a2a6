"""1-D SIREN fit recipe on validation speech clips: SNR of the decoded noisy fit vs the clean and the noisy clip.

    python experiments/fig15_audio/pilot/fit_study.py [--clips 8] [--steps 600] > fit_study.log

Noise: sigma = 25/255 of each clip's peak (clips are peak-normalised), seed 0. Coordinates: T samples on
[-1, 1] times the scale s (= first-layer omega0 * s). Adam on the summed per-INR MSE (elementwise, so each INR
gets its own update), cosine from lr to lr/10. Snapshots at several steps of the same run.
"""

import argparse
import math
import time

import numpy as np
import torch

from insp_cli.metrics.audio import snr
from insp_cli.data.audio import load_audio
from insp_cli.inr.siren import SirenSpec, init_params, siren_forward, siren_mse_and_grad

SIGMA = 25 / 255


def noisy_clips(split, clips, seed=0, root="data"):
    a = load_audio("speech", split, limit=clips, root=root)
    noisy = a.clips + SIGMA * np.random.default_rng(seed).standard_normal(a.clips.shape).astype(np.float32)
    return a.clips, noisy


def fit(spec, noisy, scale, steps, lr, snapshots, seed=0, clean=None, log=print):
    """Fit N SIRENs to noisy (N, T); returns {step: params} at the snapshot steps."""
    t = noisy.shape[1]
    coords = torch.linspace(-1, 1, t).unsqueeze(1) * scale
    target = torch.from_numpy(noisy).unsqueeze(-1)
    params = init_params(spec, len(noisy), generator=torch.Generator().manual_seed(seed)).requires_grad_(False)
    p = torch.nn.Parameter(params)
    opt = torch.optim.Adam([p], lr=lr)
    out, t0 = {}, time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr / 10 + 0.5 * (lr - lr / 10) * (1 + math.cos(math.pi * step / max(steps - 1, 1)))
        _, grad = siren_mse_and_grad(spec, p.detach(), coords, target)
        p.grad = grad
        opt.step()
        if step + 1 in snapshots:
            out[step + 1] = p.detach().clone()
            if clean is not None:
                with torch.no_grad():
                    dec = siren_forward(spec, out[step + 1], coords)[..., 0].numpy()
                log(f"  step {step + 1:5d}  {time.time() - t0:6.0f} s  SNR vs clean {snr(clean, dec).mean():6.2f} dB"
                    f"  vs noisy {snr(noisy, dec).mean():6.2f} dB")
    return out, coords


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--root", default="data")
    ap.add_argument("--configs", default="64x3@30,64x3@100,64x3@300,128x3@100")
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    clean, noisy = noisy_clips("val", args.clips, root=args.root)
    print(f"{args.clips} val clips x {clean.shape[1]} samples; input SNR {snr(clean, noisy).mean():.2f} dB")
    snaps = {s for s in (25, 50, 100, 200, 300, 400, 600, 800, 1000, 1500, 2000) if s <= args.steps}
    for cfg in args.configs.split(","):
        arch, scale = cfg.split("@")
        hidden, depth = map(int, arch.split("x"))
        spec = SirenSpec(in_features=1, out_features=1, hidden=hidden, depth=depth)
        print(f"SIREN {hidden}x{depth}, scale {scale} (first-layer omega0 {30 * float(scale):g}), lr {args.lr:g}",
              flush=True)
        fit(spec, noisy, float(scale), args.steps, args.lr, snaps, clean=clean, log=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
