"""Pictures of a run: PNG grids of decoded images (fit samples, filter results, edge maps), confusion matrices,
and waveforms / spectrograms of audio clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from insp_cli.files import atomic_write

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}  # the temporary name has no suffix to go by


def to_uint8(img: np.ndarray) -> np.ndarray:
    """(H, W[, C]) float in [0, 1] -> (H, W, 3) uint8."""
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_grid(rows: list[list[np.ndarray]], path: str | Path, titles: list[str] | None = None,
              scale: int = 1, pad: int = 2) -> Path:
    """Save a grid of images: rows[r][c] is (H, W[, C]) in [0, 1]; titles label the columns.

    Cells may differ in size; each is padded to the largest. Written under a temporary name, then renamed.
    """
    cells = [[to_uint8(c) for c in row] for row in rows]
    h = max(c.shape[0] for row in cells for c in row) * scale
    w = max(c.shape[1] for row in cells for c in row) * scale
    ncol = max(len(r) for r in cells)
    top = 14 if titles else 0
    canvas = Image.new("RGB", (ncol * (w + pad) + pad, top + len(cells) * (h + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for j, t in enumerate(titles or []):
        draw.text((pad + j * (w + pad), 1), t[: max(4, w // 6)], fill=(0, 0, 0))
    for i, row in enumerate(cells):
        for j, c in enumerate(row):
            im = Image.fromarray(c)
            if scale != 1:
                im = im.resize((c.shape[1] * scale, c.shape[0] * scale), Image.NEAREST)
            canvas.paste(im, (pad + j * (w + pad), top + pad + i * (h + pad)))
    path = Path(path)
    atomic_write(path, lambda tmp: canvas.save(tmp, format=_FORMATS.get(path.suffix.lower(), "PNG")))
    return path


def tile(images: np.ndarray, ncol: int = 8) -> list[list[np.ndarray]]:
    """(N, H, W, C) -> rows of ncol images for save_grid."""
    return [list(images[i:i + ncol]) for i in range(0, len(images), ncol)]


def save_confusion(conf: np.ndarray, classes: list[str], path: Path, title: str) -> Path:
    """A confusion matrix (k, k) of counts (row = true class) as a PNG, shaded by the rate within each row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * k, 1.0 + 0.5 * k), dpi=100)
    rates = conf / conf.sum(axis=1, keepdims=True).clip(min=1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(conf[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=90 if max(map(len, classes)) > 2 else 0, fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return path


def save_waveforms(path: Path, rows: list[list[np.ndarray]], row_titles: list[str], col_titles: list[str],
                   rate: int, spectrogram: bool = False) -> Path:
    """Audio clips as a grid of plots: rows[r][c] is a (T,) clip; waveforms, or log-power spectrograms (dB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nr, nc = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(nr, nc, figsize=(3.2 * nc, 1.9 * nr), dpi=100, squeeze=False, sharey=True)
    for i, row in enumerate(rows):
        for j, clip in enumerate(row):
            ax = axes[i][j]
            if spectrogram:
                with np.errstate(divide="ignore"):  # silent (zero-padded) stretches: log of 0 -> -inf, drawn dark
                    ax.specgram(np.asarray(clip, dtype=np.float64), NFFT=256, Fs=rate, noverlap=192, cmap="magma",
                                vmin=-110, vmax=-20)
            else:
                ax.plot(np.arange(len(clip)) / rate, clip, lw=0.4, color="k")
                ax.set_ylim(-1.2, 1.2)
            ax.tick_params(labelsize=6)
            if i == 0 and j < len(col_titles):
                ax.set_title(col_titles[j], fontsize=8)
            if j == 0:
                ax.set_ylabel(row_titles[i] if i < len(row_titles) else "", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return path
