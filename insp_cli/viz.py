"""PNG grids of decoded images (fit samples, filter results, edge maps)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


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
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    canvas.save(tmp)
    os.replace(tmp, path)
    return path


def tile(images: np.ndarray, ncol: int = 8) -> list[list[np.ndarray]]:
    """(N, H, W, C) -> rows of ncol images for save_grid."""
    return [list(images[i:i + ncol]) for i in range(0, len(images), ncol)]
