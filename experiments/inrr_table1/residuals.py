"""The INRR paper's Fig. 4 at our scale: for one test photo, each mask's observed input and the residual
|X - X*| of the INR fitted without a regulariser and with TV, L2, AIR and INRR.

    python experiments/inrr_table1/residuals.py DATA_FOLDER STORES_ROOT OUT.png [IMAGE_NAME]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from insp_cli.data import load_images
from insp_cli.data.degrade import degrade
from insp_cli.inr.store import INRStore

MASKS = (("random50", "random"), ("patch", "patch"), ("textural", "textural"), ("blocks", "blocks"))
REGS = (("none", "INR"), ("tv", "TV"), ("l2", "L2"), ("air", "AIR"), ("inrr", "INRR"))


def main(folder: str, stores: str, out: str, name: str = "baboon") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    masks = [(d, t) for d, t in MASKS if (Path(stores) / f"{d}-none").exists()]  # cpu-96 had no blocks
    fig, axes = plt.subplots(len(masks), 1 + len(REGS), figsize=(2.0 * (1 + len(REGS)), 2.1 * len(masks)), dpi=100)
    for i, (deg, title) in enumerate(masks):
        first = INRStore.open(Path(stores) / f"{deg}-none", only_ok=False)
        size = tuple(first.header.source["size"])
        imgs = load_images("images", split="all", folder=folder, size=size[0], channels=1)
        k = imgs.names.index(name)
        p = dict(first.header.degradation)
        kind, seed = p.pop("kind"), p.pop("seed")
        d = degrade(imgs.images[k:k + 1], kind, p, seed=seed, indices=imgs.indices[k:k + 1])
        shown = np.where(d.masks[0][..., None], d.images[0], 0.0)[..., 0]
        axes[i, 0].imshow(shown, cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title(f"{title}: observed", fontsize=8)
        for j, (reg, label) in enumerate(REGS, start=1):
            path = Path(stores) / f"{deg}-{reg}"
            ax = axes[i, j]
            if not path.is_dir():
                ax.set_title(f"{label}: not run", fontsize=8)
            else:
                s = INRStore.open(path, only_ok=False)
                row = int(np.nonzero(s.indices == imgs.indices[k])[0][0])
                x = s.decode(size, rows=[row]).numpy()[0, ..., 0]
                res = np.abs(x - imgs.images[k, ..., 0])
                psnr = -10 * np.log10(max(float((res ** 2).mean()), 1e-12))
                ax.imshow(res, cmap="magma", vmin=0, vmax=0.3)
                ax.set_title(f"{label} {psnr:.1f} dB", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"|X - X*| on {name} (colour 0 .. 0.3); PSNR on the whole image", fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
