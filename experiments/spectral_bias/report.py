"""The spectral-bias study's numbers and figures (experiments/spectral_bias/README.md).

    python experiments/spectral_bias/report.py measure RUN_DIR... --out DIR   # stores -> DIR/psnr.csv, spectrum.csv
    python experiments/spectral_bias/report.py plot DIR                       # CSVs -> DIR/*.png, DIR/results.md

``measure`` opens the store of each `insp fit` run (its metrics.json names it), decodes every INR on its 64x64
grid (pixels clamped to [0, 1], as the fit's PSNR), and compares it with the photo it was fitted to:
  * PSNR per photo;
  * the radial power spectrum of the error e = decoded - photo: |FFT2(e)|^2 / (H W) (Parseval: it sums to the
    squared error) averaged over the frequencies of each ring |k| in [r - 0.5, r + 0.5) cycles per image, over
    the 3 channels and the photos, beside the photos' own spectrum over the same rings; their ratio is the share
    of each frequency band's energy the INR has not (yet) represented: 1 = nothing, 0 = all.
``plot`` needs only the CSVs (the recorded ones rebuild the figures without any store).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

LABEL_ORDER = ("relu", "ffn", "siren")


def label(spec) -> str:
    from insp_cli.inr.backbones import kind_of

    kind = kind_of(spec)
    return {"siren": "SIREN", "relu": "ReLU"}.get(kind) or f"FFN sigma {spec.sigma:g}"


def sort_key(name: str):
    if name == "ReLU":
        return (0, 0.0)
    if name.startswith("FFN"):
        return (1, float(name.split()[-1]))
    return (2, 0.0)


def radial_power(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ring-averaged power of x (..., H, W): (..., R) with R rings of integer radius (cycles per image), and the
    ring radii (R,)."""
    h, w = x.shape[-2:]
    p = np.abs(np.fft.fft2(x)) ** 2 / (h * w)
    ky, kx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    ring = np.rint(np.hypot(ky, kx)).astype(int).ravel()
    count = np.bincount(ring)
    flat = p.reshape(*p.shape[:-2], -1)
    sums = np.stack([np.bincount(ring, weights=f, minlength=len(count)) for f in flat.reshape(-1, flat.shape[-1])])
    return (sums / count).reshape(*p.shape[:-2], len(count)), np.arange(len(count))


def measure(run_dirs: list[str], out: Path) -> None:
    import torch

    from insp_cli.data import load_images
    from insp_cli.inr.store import INRStore

    rows_psnr, rows_spec, photos = [], [], {}
    for run in sorted(run_dirs):
        m = json.loads((Path(run) / "metrics.json").read_text())
        if m.get("status") != "complete":
            raise SystemExit(f"error: {run} did not complete ({m.get('status')})")
        store = INRStore.open(m["store"], only_ok=False)
        src, fit = store.header.source, store.header.fit
        idx = store.indices.astype(int)
        key = (src["name"], src["split"], tuple(src["size"]), int(idx.max()) + 1)
        if key not in photos:  # the photos the fits saw, as `insp fit` loaded them (INSP_DATA or data/)
            ims = load_images(src["name"], split=src["split"], limit=key[3], size=src["size"][0],
                              root=os.environ.get("INSP_DATA", "data"))
            photos[key] = (ims.images, list(ims.names))
        images, names = photos[key]
        target = images[idx].astype(np.float64)  # (n, H, W, 3)
        with torch.no_grad():
            dec = store.decode().double().numpy()  # (n, H, W, 3) in [0, 1]
        mse = ((dec - target) ** 2).mean(axis=(1, 2, 3))
        name, steps = label(store.spec), int(fit["steps"])
        for k, i in enumerate(idx):
            rows_psnr.append({"model": name, "params": store.spec.num_params, "steps": steps, "photo": names[i],
                              "psnr": round(-10 * math.log10(mse[k]), 4), "ok": bool(store.ok[k])})
        err, _ = radial_power((dec - target).transpose(0, 3, 1, 2))  # (n, 3, R)
        sig, radii = radial_power(target.transpose(0, 3, 1, 2))
        e, s = err.mean(axis=(0, 1)), sig.mean(axis=(0, 1))
        for r in radii:
            rows_spec.append({"model": name, "steps": steps, "radius": int(r), "error_power": f"{e[r]:.6e}",
                              "photo_power": f"{s[r]:.6e}", "ratio": f"{e[r] / s[r]:.6e}"})
        print(f"{run}: {name}, {steps} steps, {store.spec.num_params} params: "
              f"PSNR mean {(-10 * np.log10(mse)).mean():.2f} dB")
    out.mkdir(parents=True, exist_ok=True)
    for fname, rows in (("psnr.csv", rows_psnr), ("spectrum.csv", rows_spec)):
        with open(out / fname, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(sorted(rows, key=lambda r: (sort_key(r["model"]), r["steps"], r.get("photo", r.get("radius")))))
    print(f"wrote {out / 'psnr.csv'}, {out / 'spectrum.csv'}")


def plot(folder: Path, snapshots: tuple[int, ...] = (10, 100, 1000)) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    psnr = defaultdict(lambda: defaultdict(list))
    params = {}
    with open(folder / "psnr.csv") as f:
        for r in csv.DictReader(f):
            psnr[r["model"]][int(r["steps"])].append(float(r["psnr"]))
            params[r["model"]] = int(r["params"])
    spec = defaultdict(dict)
    with open(folder / "spectrum.csv") as f:
        for r in csv.DictReader(f):
            spec[(r["model"], int(r["steps"]))][int(r["radius"])] = (float(r["ratio"]), float(r["error_power"]))
    models = sorted(psnr, key=sort_key)
    colours = {m: c for m, c in zip(models, plt.cm.viridis(np.linspace(0, 0.9, len(models))))}

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for m in models:
        steps = sorted(psnr[m])
        mean = [np.mean(psnr[m][s]) for s in steps]
        ax.plot(steps, mean, "o-", color=colours[m], label=f"{m} ({params[m]:,} params)")
        ax.fill_between(steps, [min(psnr[m][s]) for s in steps], [max(psnr[m][s]) for s in steps],
                        color=colours[m], alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("Adam steps (constant rate)")
    ax.set_ylabel("PSNR (dB), mean over photos (band: min-max)")
    n = len(next(iter(psnr[models[0]].values())))
    ax.set_title(f"Fitting {n} held-out photos (64x64): PSNR against steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "psnr_steps.png")
    plt.close(fig)

    present = sorted({s for _, s in spec})
    snaps = [s for s in snapshots if s in present] or present[-3:]
    fig, axes = plt.subplots(1, len(snaps), figsize=(4.2 * len(snaps), 3.8), dpi=110, sharey=True)
    for ax, s in zip(np.atleast_1d(axes), snaps):
        for m in models:
            if (m, s) not in spec:
                continue
            d = spec[(m, s)]
            radii = [r for r in sorted(d) if 1 <= r <= 32]  # the DC ring aside; 32 = Nyquist at 64x64
            ax.plot(radii, [d[r][0] for r in radii], color=colours[m], label=m)
        ax.set_yscale("log")
        ax.set_xlabel("radial frequency (cycles per image)")
        ax.set_title(f"after {s} steps")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("error power / photo power per ring")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle("Share of each frequency band not yet represented (low frequencies first)", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "error_spectrum.png")
    plt.close(fig)

    steps_all = sorted({s for m in models for s in psnr[m]})
    bands = ((1, 8), (9, 16), (17, 32))
    lines = ["| model | params | " + " | ".join(f"{s} steps" for s in steps_all) + " | " +
             " | ".join(f"ratio r {a}-{b} @{steps_all[-1]}" for a, b in bands) + " |",
             "|---|---|" + "---|" * (len(steps_all) + len(bands))]
    for m in models:
        cells = [f"{np.mean(psnr[m][s]):.2f}" if s in psnr[m] else "—" for s in steps_all]
        d = spec.get((m, steps_all[-1]), {})
        ratio = [f"{np.mean([d[r][0] for r in range(a, b + 1) if r in d]):.3g}" if d else "—" for a, b in bands]
        lines.append(f"| {m} | {params[m]:,} | " + " | ".join(cells) + " | " + " | ".join(ratio) + " |")
    (folder / "results.md").write_text("Mean PSNR (dB) over the photos against steps; mean error/photo power ratio "
                                       "over rings of radius a-b cycles per image at the last step.\n\n"
                                       + "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {folder / 'psnr_steps.png'}, {folder / 'error_spectrum.png'}, {folder / 'results.md'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("measure")
    a.add_argument("runs", nargs="+")
    a.add_argument("--out", required=True, type=Path)
    b = sub.add_parser("plot")
    b.add_argument("folder", type=Path)
    args = p.parse_args()
    if args.cmd == "measure":
        measure(args.runs, args.out)
    else:
        plot(args.folder)


if __name__ == "__main__":
    main()
