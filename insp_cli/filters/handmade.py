"""Hand-made INSP-Nets beside the classical pixel operators they correspond to (the paper's Fig. 3, 9):
|grad| against Sobel / Prewitt / Canny, the Laplacian and unsharp masking against their discrete stencils.

Psi is in units of the fitted grid; on an s-times finer decoding a pixel step is s-times smaller, so the pixel
operators beside it are rescaled by s (gradients) or s^2 (Laplacian) to measure the same thing.
Images are numpy arrays (H, W, c) in [0, 1] (Psi unclamped).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from insp_cli.filters.baselines import images as classical


def compare(name: str, psi: np.ndarray, decoded: np.ndarray, s: float, amount: float = 0.5
            ) -> tuple[list[str], str, list[list[np.ndarray]], list[float]]:
    """Psi (n, H, W, c_out) of the hand-made filter ``name`` beside the pixel operators on the decoded INRs
    (n, H, W, c): (column titles, name of the reference operator, grid rows for ``viz.save_grid``, Pearson r
    of Psi against the reference per image)."""
    def lap(img):
        return np.stack([ndimage.laplace(img[:, :, k], mode="reflect") for k in range(img.shape[-1])], -1) * s**2

    rows, corr = [], []
    if name == "edges":
        titles, ref = ["decoded", "INSP-Net |grad|", "Sobel", "Prewitt", "Canny"], "sobel"
        for i in range(len(psi)):
            sob = np.clip(classical.sobel(decoded[i]) * s, 0, 1)
            rows.append([decoded[i], psi[i, :, :, 0], sob, np.clip(classical.prewitt(decoded[i]) * s, 0, 1),
                         classical.canny(decoded[i])])
            corr.append(pearson(psi[i], sob))
    else:
        titles, ref = ["decoded", f"INSP-Net {name}", f"discrete {name}"], f"discrete_{name}"
        for i in range(len(psi)):
            disc = lap(decoded[i]) if name == "laplacian" else decoded[i] - amount * lap(decoded[i])
            show = 0.5 if name == "laplacian" else 0.0  # a signed Laplacian is shown around mid-grey
            rows.append([decoded[i], np.clip(show + psi[i], 0, 1), np.clip(show + disc, 0, 1)])
            corr.append(pearson(psi[i], disc))
    return titles, ref, rows, corr


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-20))
