"""Short photo fits under other Adam schedules and from a learned start (issue 26: the 150-step recipe's PSNR in
<= 30 steps). One batched fit per row, on a split of the bundled photo set (validation by default: choosing is
done there; a test split is scored once, with the settings chosen on validation).

    OMP_NUM_THREADS=1 python scripts/probe_photo_schedule.py [SPLIT [N]]      # defaults: val 5
    OMP_NUM_THREADS=1 python scripts/probe_photo_schedule.py val 5 --init INIT [--steps 10 20 30 45 60] \
        [--lrs 1e-3 3e-3] [--warmups 3]       # steps to reach the recipe's PSNR: learned init vs random start

Without --init: one row per schedule from a random start, mean (min) PSNR in dB of the N fitted photos, CPU
seconds of the fit. With --init (a weights-mode file of `insp meta-learn data=photos`, learned on train photos):
first the target, the photo recipe's 150 steps from a random start; then, from the random start and from the
learned init, K-step fits (K in --steps; lr -> lr/10 cosine after the warm-up, Adam betas 0.8 / 0.9) and for each
start and schedule the fewest K whose mean PSNR reaches the target.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from insp_cli.config import compose
from insp_cli.inr.fit import fit_inrs
from insp_cli.jobs.fit import fit_settings
from insp_cli.modalities import of_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("split", nargs="?", default="val")
    ap.add_argument("limit", nargs="?", type=int, default=5)
    ap.add_argument("--init", default=None, help="a learned initialisation (`insp meta-learn data=photos`)")
    ap.add_argument("--steps", type=int, nargs="*", default=[10, 20, 30, 45, 60], help="K of the K-step fits")
    ap.add_argument("--lrs", type=float, nargs="*", default=[1e-3, 3e-3], help="peak learning rates (-> lr/10)")
    ap.add_argument("--warmups", type=int, nargs="*", default=[3], help="warm-up steps of the K-step fits")
    ap.add_argument("--no-random", action="store_true", help="K-step fits from the learned init only")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = compose("fit", ["data=photos", f"data.split={args.split}", f"data.limit={args.limit}", "fit.steps=150"])
    modality = of_data("photos")
    sig = modality.signals(cfg)
    pix, coords = torch.from_numpy(sig.targets), sig.coords
    base = fit_settings(cfg)
    print(f"photos {args.split}: {len(pix)} signals, {sig.spec.describe()}, recipe {base}", flush=True)

    def run(label: str, st, start=None) -> float:
        t = time.process_time()
        r = fit_inrs(sig.spec, pix, coords, st, seed=0, start=start)
        mean = float(r.psnr.mean())
        print(f"{label:62s} {mean:6.2f} dB (min {float(r.psnr.min()):.2f}) "
              f"{time.process_time() - t:6.1f} cpu s", flush=True)
        return mean

    if args.init is None:
        run("150 steps, the recipe", base)
        run("150 steps, the recipe, warm-up 3, betas 0.8/0.9", replace(base, warmup=3, beta1=0.8, beta2=0.9))
        run("30 steps, the recipe's rates", replace(base, steps=30))
        for lr in (1e-3, 3e-3, 1e-2):
            for wu, b1, b2 in ((0, 0.9, 0.999), (3, 0.8, 0.9), (3, 0.9, 0.99)):
                run(f"30 steps lr {lr:g} -> {lr / 10:g}, warm-up {wu}, betas {b1}/{b2}",
                    replace(base, steps=30, lr=lr, lr_final=lr / 10, warmup=wu, beta1=b1, beta2=b2))
        return

    from insp_cli.inr.meta_file import check_init_matches, load_meta

    mi = load_meta(args.init)
    check_init_matches(mi, sig.spec, modality.name, tuple(sig.shape))
    print(f"learned init {args.init} (sha256 {mi.sha256[:12]}, {mi.meta['meta']['steps']} outer steps on train "
          f"{mi.meta['source'].get('indices')}, {mi.meta.get('seconds')} s)", flush=True)
    print("weight scale, RMS of the learned init over the random SIREN init's, per layer: " + layer_scales(
        sig.spec, mi.init), flush=True)
    target = run("target: 150 steps, the recipe, random start", base)
    starts = ([] if args.no_random else [("random start", None)]) + [("learned init", mi.init)]
    reached = []
    for label, start in starts:
        for lr in args.lrs:
            for wu in args.warmups:
                sched = f"lr {lr:g} -> {lr / 10:g}, warm-up {wu}, betas 0.8/0.9"
                hit = None
                for k in sorted(args.steps):
                    st = replace(base, steps=k, lr=lr, lr_final=lr / 10, warmup=min(wu, k - 1), beta1=0.8, beta2=0.9)
                    if run(f"{label}, {k} steps, {sched}", st, start) >= target and hit is None:
                        hit = k
                reached.append(f"{label}, {sched}: " + (f"reaches {target:.2f} dB after {hit} steps" if hit else
                                                         f"not within {max(args.steps)} steps"))
    print("\n".join(reached))


def layer_scales(spec, params: torch.Tensor) -> str:
    """'W0 x0.69 W1 x9.1 ...': each weight matrix's RMS in ``params`` (P,) over its RMS at SIREN's random init
    (a Reptile start whose inner Adam steps inflate the hidden weights drifts away from the sine init's scale)."""
    from insp_cli.inr.siren import init_params, layout_views

    got = layout_views(spec, params.unsqueeze(0))
    ref = layout_views(spec, init_params(spec, 1, generator=torch.Generator().manual_seed(0)))
    return " ".join(f"{name} x{float(w.pow(2).mean().sqrt() / ref[name].pow(2).mean().sqrt()):.2g}"
                    for name, w in got.items() if name.startswith("W"))

if __name__ == "__main__":
    main()
