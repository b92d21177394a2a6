"""Short photo fits under other Adam schedules: does MNIST's lever (warm-up + Adam betas 0.8 / 0.9, chosen on
digits) shorten the 128x128 photo fit (issue 26: the 150-step recipe's PSNR in <= 30 steps)? Random start, one
batched fit per row, on a split of the bundled photo set (validation by default: choosing is done there).

    OMP_NUM_THREADS=1 python scripts/probe_photo_schedule.py [SPLIT [N]]      # defaults: val 5

Prints one row per schedule: mean (min) PSNR in dB of the N fitted photos, CPU seconds of the fit.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import torch

from insp_cli.config import compose
from insp_cli.inr.fit import fit_inrs
from insp_cli.jobs.fit import fit_settings
from insp_cli.modalities import of_data


def main() -> None:
    torch.set_num_threads(1)
    split = sys.argv[1] if len(sys.argv) > 1 else "val"
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    cfg = compose("fit", ["data=photos", f"data.split={split}", f"data.limit={limit}", "fit.steps=150"])
    sig = of_data("photos").signals(cfg)
    pix, coords = torch.from_numpy(sig.targets), sig.coords
    base = fit_settings(cfg)
    print(f"photos {split}: {len(pix)} signals, {sig.spec.describe()}, recipe {base}", flush=True)

    def run(label: str, st) -> None:
        t = time.process_time()
        r = fit_inrs(sig.spec, pix, coords, st, seed=0)
        print(f"{label:62s} {float(r.psnr.mean()):6.2f} dB (min {float(r.psnr.min()):.2f}) "
              f"{time.process_time() - t:6.1f} cpu s", flush=True)

    run("150 steps, the recipe", base)
    run("150 steps, the recipe, warm-up 3, betas 0.8/0.9", replace(base, warmup=3, beta1=0.8, beta2=0.9))
    run("30 steps, the recipe's rates", replace(base, steps=30))
    for lr in (1e-3, 3e-3, 1e-2):
        for wu, b1, b2 in ((0, 0.9, 0.999), (3, 0.8, 0.9), (3, 0.9, 0.99)):
            run(f"30 steps lr {lr:g} -> {lr / 10:g}, warm-up {wu}, betas {b1}/{b2}",
                replace(base, steps=30, lr=lr, lr_final=lr / 10, warmup=wu, beta1=b1, beta2=b2))


if __name__ == "__main__":
    main()
