"""Choose MNIST's fit schedule on VALIDATION digits: the held-out train digits 59,744-59,999 (the 256 that
`insp meta-learn`'s meta.val holds out and `scripts/bench_fit.py` picks learning rates on), never test digits.
One batched fit (SIREN 3x32, compiled step, one thread) per setting of the grid; prints mean / p5 / min PSNR and
marks the rows that pass the rule fixed before any test digit is scored (issue 26: "comfortably above the
authors' 44.56 dB"): mean >= --mean-at-least and p5 >= --p5-at-least.

    OMP_NUM_THREADS=1 python scripts/sweep_mnist_schedule.py --steps 31 32 33 34 --lrs 8e-3 1e-2 \
        --lr-finals 1e-3 2e-3 --warmups 2 3 --beta1s 0.8 0.75        # the 2026-12-07 sweep (docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

from insp_cli.data import load_images
from insp_cli.inr.fit import FitSettings, fit_inrs, set_compile
from insp_cli.inr.siren import SirenSpec, grid_coords


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=[32])
    ap.add_argument("--lrs", type=float, nargs="+", default=[8e-3])
    ap.add_argument("--lr-finals", type=float, nargs="+", default=[2e-3])
    ap.add_argument("--warmups", type=int, nargs="+", default=[3])
    ap.add_argument("--beta1s", type=float, nargs="+", default=[0.75])
    ap.add_argument("--beta2s", type=float, nargs="+", default=[0.9])
    ap.add_argument("--mean-at-least", type=float, default=46.0)
    ap.add_argument("--p5-at-least", type=float, default=44.56)
    ap.add_argument("--compile", choices=["on", "off"], default="on")
    args = ap.parse_args()
    torch.set_num_threads(1)
    set_compile(args.compile == "on")
    spec = SirenSpec(2, 1, 32, 3)
    val = load_images("mnist", "train", start=60000 - 256, limit=256)
    pix = torch.from_numpy(val.images).reshape(len(val), 784, 1)
    coords = grid_coords(28)
    fit_inrs(spec, pix[:2], coords, FitSettings(steps=1, retries=0), seed=0)  # compile outside the rows
    print(f"MNIST validation: train digits 59,744-59,999 ({len(pix)}), SIREN 3x32; rule: mean >= "
          f"{args.mean_at_least:g} dB and p5 >= {args.p5_at_least:g} dB")
    for steps, lr, lrf, wu, b1, b2 in itertools.product(args.steps, args.lrs, args.lr_finals, args.warmups,
                                                        args.beta1s, args.beta2s):
        st = FitSettings(steps=steps, lr=lr, lr_final=lrf, warmup=wu, beta1=b1, beta2=b2)
        c = time.process_time()
        p = fit_inrs(spec, pix, coords, st, seed=0).psnr.numpy()
        mean, p5 = float(p.mean()), float(np.percentile(p, 5))
        ok = "  passes" if mean >= args.mean_at_least and p5 >= args.p5_at_least else ""
        print(f"steps {steps} lr {lr:g}->{lrf:g} wu {wu} betas {b1:g}/{b2:g}: {mean:.2f} / {p5:.2f} / "
              f"{p.min():.2f}  ({time.process_time() - c:.1f} cpu s){ok}", flush=True)


if __name__ == "__main__":
    main()
