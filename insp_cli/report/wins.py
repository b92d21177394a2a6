"""Per-image wins of INSP-Net against the best 3x3 filter of a run (issue 13): a CSV and a bar chart.

The best 3x3 filter is the one among the run's 3x3 baselines (mean, median, Gaussian, box) with the highest mean
PSNR over the images; a win is an image where INSP-Net's PSNR is strictly higher than that filter's.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from insp_cli.files import atomic_write
from insp_cli.filters.baselines.images import THREE_BY_THREE


def image_names(source: dict, indices: np.ndarray) -> list[str]:
    """Names of a store's images from its source header (the photo set records them), else their indices."""
    photos = source.get("photos")
    if photos and int(source.get("crops_per_photo", 1)) == 1:
        return [photos[int(i)] if 0 <= int(i) < len(photos) else str(int(i)) for i in indices]
    return [str(int(i)) for i in indices]


def wins_vs_best_3x3(scores: dict) -> dict | None:
    """scores: method -> {"psnr": (N,), ...}. None when the run has no 3x3 filter or no INSP-Net row."""
    three = [m for m in THREE_BY_THREE if m in scores]
    if not three or "insp_net" not in scores:
        return None
    best = max(three, key=lambda m: float(np.nanmean(scores[m]["psnr"])))
    delta = np.asarray(scores["insp_net"]["psnr"], np.float64) - np.asarray(scores[best]["psnr"], np.float64)
    return {"best_3x3": best, "wins": int((delta > 0).sum()), "n": int(len(delta)),
            "mean_delta_db": float(np.mean(delta)), "min_delta_db": float(delta.min()),
            "max_delta_db": float(delta.max()), "delta_db": delta}


def write_wins(run_dir: Path, names: list[str], scores: dict, summary: dict) -> dict:
    """``wins.csv`` (one row per image) and ``wins.png``; returns the JSON-able summary (no per-image array)."""
    best, delta = summary["best_3x3"], summary["delta_db"]
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(["image", "insp_net_psnr", f"{best}_psnr", "delta_db", "win"])
    for i, name in enumerate(names):
        wr.writerow([name, f"{scores['insp_net']['psnr'][i]:.4f}", f"{scores[best]['psnr'][i]:.4f}",
                     f"{delta[i]:.4f}", int(delta[i] > 0)])
    wr.writerow(["wins", "", "", f"{summary['mean_delta_db']:.4f}", f"{summary['wins']}/{summary['n']}"])
    atomic_write(run_dir / "wins.csv", buf.getvalue())
    _plot(run_dir / "wins.png", names, delta, best, summary)
    return {k: v for k, v in summary.items() if k != "delta_db"}


def _plot(path: Path, names: list[str], delta: np.ndarray, best: str, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(delta)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.28 * len(names) + 2), 3.6), dpi=110)
    ax.bar(range(len(order)), delta[order], color=["tab:green" if d > 0 else "tab:red" for d in delta[order]])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(order)), [names[i] for i in order], rotation=90, fontsize=6)
    ax.set_ylabel(f"PSNR INSP-Net - {best} (dB)")
    ax.set_title(f"INSP-Net minus the best 3x3 filter ({best}) per test image: wins {summary['wins']}/"
                 f"{summary['n']}, mean {summary['mean_delta_db']:+.2f} dB", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))
    plt.close(fig)
