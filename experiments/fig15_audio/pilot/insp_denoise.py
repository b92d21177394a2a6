"""INSP-Net audio denoising end to end (scratch study for issue 14; the CLI gets it in phase B).

    python experiments/fig15_audio/pilot/insp_denoise.py --train 24 --eval val:8 --snapshots 50,150,400 \
        --order 8 --offsets 0 --pi 128x3 --pi-steps 1500

1. Fit SIRENs (``--arch`` at coordinate scale ``--scale``) to noisy speech clips (sigma = 25/255 of peak): the
   training clips (noise seed 1) and the evaluation clips (noise seed 0), snapshots of the fit at several steps;
   cached under ``--cache`` so Pi settings can be compared without refitting.
2. Features per sample: the jet of the noisy-fit SIREN, orders 0..K, in per-sample units (``to_pixel_units``
   with the sample spacing), at the sample and at ``--offsets`` neighbouring samples (the INR is evaluated at
   x + o h: still an operator on the continuous INR, shift-invariant), standardised (``FeatureScaler``).
3. Pi: an MLP (ReLU) predicting a correction to Phi(x) (residual, last layer zero at start); AdamW, cosine
   lr, on random (clip, sample) pairs of the training clips, target the clean clip.
4. Scored on the evaluation clips: SNR (and with --full, SI-SDR, PESQ-nb, STOI) of Psi, of the decoded input,
   and of the classical baselines applied to the decoded input with the known sigma.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from insp_cli.filters.baselines import audio as B
from insp_cli.metrics.audio import audio_metrics, snr
from insp_cli.filters import FeatureScaler
from insp_cli.inr.siren import SirenSpec, siren_forward
from insp_cli.jets import jet_space, siren_jet, to_pixel_units

import fit_study  # noqa: E402  (same folder)

SIGMA = fit_study.SIGMA


def fitted(split, count, seed, arch, scale, steps, lr, snapshots, root, cache: Path):
    """{step: params (N, P)}, clean (N, T), noisy (N, T) for ``count`` clips of ``split`` (cached)."""
    key = hashlib.sha256(json.dumps([split, count, seed, arch, scale, steps, lr, sorted(snapshots)]).encode()
                         ).hexdigest()[:12]
    path = cache / f"fit-{split}-{count}-{arch}-s{scale:g}-{key}.pt"
    clean, noisy = fit_study.noisy_clips(split, count, seed=seed, root=root)
    if path.is_file():
        return torch.load(path), clean, noisy
    hidden, depth = map(int, arch.split("x"))
    spec = SirenSpec(in_features=1, out_features=1, hidden=hidden, depth=depth)
    t0 = time.time()
    snaps, _ = fit_study.fit(spec, noisy, scale, steps, lr, set(snapshots), seed=seed, clean=clean,
                             log=lambda s: print(f"  [{split}]" + s, flush=True))
    print(f"  fit {split} {count} clips {steps} steps: {time.time() - t0:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(snaps, path)
    return snaps, clean, noisy


def sample_jets(spec, params, t, scale, order, pad):
    """Per-sample-unit jets at the T sample points extended by ``pad`` samples each side: (N, T + 2 pad, M)."""
    h = 2.0 / (t - 1)
    x = (torch.arange(-pad, t + pad, dtype=torch.float32) * h - 1.0).unsqueeze(1) * scale
    with torch.no_grad():
        jet = torch.cat([siren_jet(spec, params[a:a + 4], x, order) for a in range(0, len(params), 4)])
    space = jet_space(1, order)
    return to_pixel_units(jet, space, h * scale)[..., 0].permute(0, 2, 1).contiguous()  # (N, T + 2 pad, M)


class ContextFusion(nn.Module):
    """Pi on the jets at the sample and its neighbours: (B, n_offsets * M) -> (B,), residual on Phi(x)."""

    def __init__(self, n_offsets, m_size, centre, hidden, layers):
        super().__init__()
        nf = n_offsets * m_size
        self.scaler = FeatureScaler(nf)
        self.value = centre * m_size  # index of Phi(x) itself among the features
        dims = [nf] + [hidden] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        last = nn.Linear(dims[-1], 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(*mods, last)

    def forward(self, f):
        return self.mlp(self.scaler(f))[..., 0] + f[..., self.value]


def gather(jets, clip, pos, offsets, pad):
    """Features (B, n_offsets * M) of samples pos (B,) of clips clip (B,) from jets (N, T + 2 pad, M)."""
    idx = pos[:, None] + pad + offsets[None, :]  # (B, n_off)
    return jets[clip[:, None], idx].reshape(len(pos), -1)


def train_pi(jets, clean, offsets, pad, order, hidden, layers, steps, batch, lr, seed=0):
    n, t = clean.shape
    m_size = jet_space(1, order).size
    centre = int((offsets == 0).nonzero()[0])
    pi = ContextFusion(len(offsets), m_size, centre, hidden, layers)
    g = torch.Generator().manual_seed(seed)
    c0, p0 = torch.randint(n, (65536,), generator=g), torch.randint(t, (65536,), generator=g)
    pi.scaler.fit(gather(jets, c0, p0, offsets, pad), channels=len(offsets))
    target = torch.from_numpy(clean)
    opt = torch.optim.AdamW(pi.parameters(), lr=lr, weight_decay=1e-4)
    for step in range(steps):
        for gr in opt.param_groups:
            gr["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        c, p = torch.randint(n, (batch,), generator=g), torch.randint(t, (batch,), generator=g)
        loss = (pi(gather(jets, c, p, offsets, pad)) - target[c, p]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return pi


@torch.no_grad()
def apply_pi(pi, jets, t, offsets, pad):
    n = jets.shape[0]
    out = torch.empty(n, t)
    pos = torch.arange(t)
    for i in range(n):
        out[i] = pi(gather(jets, torch.full((t,), i), pos, offsets, pad))
    return out.numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=24)
    ap.add_argument("--train-use", default=None, help="train Pi on the first n of the fitted training clips, "
                    "e.g. 24,72 (default: all)")
    ap.add_argument("--eval", default="val:8")
    ap.add_argument("--arch", default="64x3")
    ap.add_argument("--scale", type=float, default=30.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--fit-steps", type=int, default=400)
    ap.add_argument("--snapshots", default="50,150,400")
    ap.add_argument("--use", default=None, help="snapshots to evaluate (default: all)")
    ap.add_argument("--order", default="8")
    ap.add_argument("--offsets", default="0", help="sample offsets, e.g. 0 or -8:8:2 (start:stop:step)")
    ap.add_argument("--pi", default="128x3")
    ap.add_argument("--pi-steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--pi-lr", type=float, default=1e-3)
    ap.add_argument("--full", action="store_true", help="also SI-SDR, PESQ, STOI and the baselines")
    ap.add_argument("--root", default="data")
    ap.add_argument("--cache", default="runs/fig15_pilot")
    args = ap.parse_args()
    torch.manual_seed(0)
    snapshots = [int(s) for s in args.snapshots.split(",")]
    split, count = args.eval.split(":")
    hidden, depth = map(int, args.arch.split("x"))
    spec = SirenSpec(in_features=1, out_features=1, hidden=hidden, depth=depth)
    cache = Path(args.cache)
    tr, clean_tr, _ = fitted("train", args.train, 1, args.arch, args.scale, args.fit_steps, args.lr, snapshots,
                             args.root, cache)
    ev, clean_ev, noisy_ev = fitted(split, int(count), 0, args.arch, args.scale, args.fit_steps, args.lr, snapshots,
                                    args.root, cache)
    t = clean_tr.shape[1]
    print(f"eval {split} {count} clips: noisy input SNR {snr(clean_ev, noisy_ev).mean():.2f} dB", flush=True)
    ph, pl = map(int, args.pi.split("x"))
    for offs in args.offsets.split(";"):
        if ":" in offs:
            a, b, s = map(int, offs.split(":"))
            offsets = torch.arange(a, b + 1, s)
        else:
            offsets = torch.tensor([int(o) for o in offs.split(",")])
        pad = int(offsets.abs().max())
        for order in map(int, args.order.split(",")):
            for step, n_tr in ((s, u) for s in (snapshots if args.use is None else map(int, args.use.split(",")))
                               for u in ([args.train] if args.train_use is None
                                         else map(int, args.train_use.split(",")))):
                t0 = time.time()
                jtr = sample_jets(spec, tr[step][:n_tr], t, args.scale, order, pad)
                jev = sample_jets(spec, ev[step], t, args.scale, order, pad)
                pi = train_pi(jtr, clean_tr[:n_tr], offsets, pad, order, ph, pl, args.pi_steps, args.batch,
                              args.pi_lr)
                psi = apply_pi(pi, jev, t, offsets, pad)
                dec = jev[:, pad:pad + t, 0].numpy()
                line = (f"fit {step:5d} steps, {n_tr} train clips | K={order} offsets {offs} ({len(offsets)}) Pi {args.pi} "
                        f"{args.pi_steps} steps | SNR decoded {snr(clean_ev, dec).mean():6.2f}  "
                        f"INSP-Net {snr(clean_ev, psi).mean():6.2f} dB | {time.time() - t0:.0f} s")
                print(line, flush=True)
                if args.full:
                    rows = {"input (decoded)": dec, "INSP-Net": psi}
                    rows.update({k: B.BASELINES[k](dec, SIGMA) for k in ("scipy_wiener", "stft_wiener",
                                                                         "spectral_subtraction")})
                    rows["spectral_subtraction (raw noisy)"] = B.spectral_subtraction(noisy_ev, SIGMA)
                    for name, est in rows.items():
                        m = audio_metrics(clean_ev, est, 8000)
                        print(f"    {name:34s} " + "  ".join(f"{k} {np.nanmean(v):6.3f}" for k, v in m.items()),
                              flush=True)


if __name__ == "__main__":
    main()
