"""Validation pilot: which neighbourhood should a context Pi read on the photo set? (issue 13, session 7)

Psi(x) = Pi(jets of Phi at x + o h, o in a square neighbourhood), ``filters.context``. Every candidate is trained
on the noisy training INRs (the recipe's: AdamW 1e-3 -> 1e-5 cosine, 4,096 px a step, flips / turns / colour
permutations) and scored on the VALIDATION photos only; the test split is not read. The jets up to order 4 of
every INR are computed once on the grid padded by PAD pixels, and each candidate slices its order and gathers its
offsets from them (so the sweep costs one jet computation, not one per candidate); the CLI (`insp train-filter
fusion.context=...`) computes the same features and the chosen candidate is then run through it.

    python experiments/table2_denoising/pilot_context.py TRAIN_STORE VAL_STORE OUT.json [NAME ...]

Candidates: NAME = K<order>-c<reach>s<step>-n<steps>[-w<hidden>x<layers>], e.g. K4-c0s1-n1200 (the paper's
pointwise Pi; without -w: MLP 4 x 256), K2-c2s1-n4800-w512x4 (issue 27's levers: longer, wider, deeper).
OUT.json gets one entry per candidate: val PSNR per photo and mean, wins against the Gaussian 3x3 filter of the
decoded input, train seconds.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from insp_cli.config import threads_from_env
from insp_cli.filters import LearnedFusion, augment, jet_features, pixel_jets
from insp_cli.filters.baselines.images import apply_baseline
from insp_cli.filters.context import (
    axes_coords,
    gather,
    neighbourhood,
    offsets_tensor,
    padded_axes,
)
from insp_cli.filters.tasks import clean_targets, open_store
from insp_cli.jets import jet_space
from insp_cli.metrics.images import psnr
from insp_cli.training import cosine_factor, train_steps

# PILOT_ORDER=2: compute the jets up to order 2 only (3x cheaper; candidates K <= 2), issue 27
PAD, ORDER, SEED = 4, int(os.environ.get("PILOT_ORDER", 4)), 0


def table(store, pad: int = PAD, chunk: int = 8) -> torch.Tensor:
    """(N, H + 2 pad, W + 2 pad, c * M4) pixel-unit jets of every INR of the store."""
    size = tuple(store.size)
    grid = axes_coords(padded_axes(size, pad))
    out = [jet_features(pixel_jets(store.spec, store.params[a:a + chunk], grid, ORDER, size)).float()
           for a in range(0, len(store), chunk)]
    return torch.cat(out).reshape(len(store), size[0] + 2 * pad, size[1] + 2 * pad, -1)


def sliced(t: torch.Tensor, c: int, order: int) -> torch.Tensor:
    """Keep the derivatives up to ``order`` (graded order: the first M_order of each channel's M4)."""
    m4, mk = jet_space(2, ORDER).size, jet_space(2, order).size
    return t.reshape(*t.shape[:-1], c, m4)[..., :mk].reshape(*t.shape[:-1], c * mk)


def run(name: str, train_t, train_y, val_t, val_y, gauss_psnr) -> dict:
    order, reach, step, steps, hidden, layers = (
        int(v) if v else d for v, d in zip(re.fullmatch(r"K(\d)-c(\d+)s(\d+)-n(\d+)(?:-w(\d+)x(\d+))?",
                                                        name).groups(), (0, 0, 0, 0, 256, 4)))
    c = train_y.shape[-1]
    offsets = neighbourhood(reach, step, 2)
    offs = offsets_tensor(offsets)
    tt, vt = sliced(train_t, c, order), sliced(val_t, c, order)
    n, h, w, _ = train_y.shape
    y = train_y.reshape(n, h * w, c)
    torch.manual_seed(SEED)
    fusion = LearnedFusion(c, order, hidden=hidden, layers=layers, offsets=offsets)
    gen = torch.Generator().manual_seed(SEED)

    def sample(b, g):
        img = torch.randint(n, (b,), generator=g)
        pix = torch.randint(h * w, (b,), generator=g)
        return gather(tt, img, torch.stack([pix // w, pix % w], 1), offs, PAD), y[img, pix]

    x0, _ = sample(65536, torch.Generator().manual_seed(SEED + 1))
    fusion.scaler.fit(x0, channels=len(offsets) * c)
    opt = torch.optim.AdamW(fusion.parameters(), lr=1e-3, weight_decay=0.01)

    def loss_at(i):
        x, t = augment(*sample(4096, gen), order, gen, offsets)
        return (fusion(x) - t).pow(2).mean()

    t0 = time.time()
    train_steps(fusion, opt, loss_at, 0, steps, lambda i: 1e-5 + (1e-3 - 1e-5) * cosine_factor(i, steps - 1),
                lambda done: None, name, where=lambda i: f"step {i}", hint="lower lr")
    seconds = time.time() - t0
    pos = torch.cartesian_prod(torch.arange(h), torch.arange(w))
    with torch.no_grad():
        out = torch.stack([fusion(gather(vt, torch.full((h * w,), i), pos, offs, PAD)).clamp(0, 1)
                           for i in range(len(vt))]).reshape(val_y.shape)
    p = psnr(out, val_y).numpy()
    return {"name": name, "order": order, "context": reach, "context_step": step, "steps": steps,
            "hidden": hidden, "layers": layers, "parameters": sum(p.numel() for p in fusion.parameters()),
            "offsets": len(offsets), "features": len(offsets) * c * jet_space(2, order).size,
            "val_psnr": float(p.mean()), "val_psnr_per_image": [round(float(v), 3) for v in p],
            "wins_vs_gaussian_3x3": int((p > gauss_psnr).sum()), "gaussian_3x3_psnr": float(gauss_psnr.mean()),
            "train_seconds": round(seconds, 1)}


def main(train_path: str, val_path: str, out: str, *names: str) -> None:
    threads_from_env()
    t0 = time.time()
    train, val = open_store(train_path), open_store(val_path)
    train_y = torch.from_numpy(np.ascontiguousarray(clean_targets(None, "data", train, "train"))).float()
    val_y = torch.from_numpy(np.ascontiguousarray(clean_targets(None, "data", val, "val"))).float()
    decoded = val.decode(tuple(val.size)).numpy()
    gauss = np.stack([apply_baseline("gaussian_filter", d, dict(val.header.degradation)) for d in decoded])
    gauss_psnr = psnr(torch.from_numpy(gauss).float().clamp(0, 1), val_y).numpy()
    train_t, val_t = table(train), table(val)
    jets_seconds = time.time() - t0
    path = Path(out)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.setdefault("jets_seconds", []).append(round(jets_seconds, 1))
    results["input_psnr"] = float(psnr(torch.from_numpy(decoded).float().clamp(0, 1), val_y).mean())
    for name in names:
        r = run(name, train_t, train_y, val_t, val_y, gauss_psnr)
        results.setdefault("candidates", {})[name] = r
        print(f"{name}: val {r['val_psnr']:.2f} dB (Gaussian 3x3 {r['gaussian_3x3_psnr']:.2f}), "
              f"{r['wins_vs_gaussian_3x3']}/{len(gauss_psnr)} wins, {r['train_seconds']:.0f} s", flush=True)
        path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"total {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
