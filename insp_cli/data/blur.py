"""The one Gaussian blur of the project: its kernel ``gaussian_psf`` and ``gaussian_filter`` (convolution with
mirrored borders, scipy 'reflect': d c b a | a b c d | d c b a). Blurred data are made with it
(``degrade``: degradation=blur; task=blur's targets) and the classical baselines use it (``filters.baselines``:
the Gaussian-filter baseline, Wiener's known PSF), so the two always agree. It sits in data/, the lower room, so
that data/ imports nothing from filters/. Images are numpy arrays (H, W[, C]).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from insp_cli.errors import InspError


def gaussian_psf(sigma: float, size: int) -> np.ndarray:
    """Normalised, centred Gaussian kernel ``(size, size)``, size odd; the one blur kernel of the project.

    Used both to synthesise blurred data (``gaussian_filter``, ``degrade``) and as the known PSF of
    ``filters.baselines.images.wiener_deblur``.
    """
    if size < 1 or size % 2 == 0 or sigma <= 0:
        raise InspError(f"Gaussian PSF needs an odd size >= 1 and sigma > 0; got size={size}, sigma={sigma}")
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def per_channel(img: np.ndarray, size) -> tuple:
    """Filter footprint that never mixes channels: (s, s) for (H, W), (s, s, 1) for (H, W, C)."""
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise InspError(f"expected an image (H, W) or (H, W, C); got shape {img.shape}")
    return img, (size, size) if img.ndim == 2 else (size, size, 1)


def float_dtype(img: np.ndarray) -> np.dtype:
    """Output dtype: float inputs keep theirs (float32 data stays float32), others become float64."""
    return img.dtype if np.issubdtype(img.dtype, np.floating) else np.dtype(np.float64)


def gaussian_filter(img: np.ndarray, sigma: float = 1.0, size: int = 3) -> np.ndarray:
    """Convolution with ``gaussian_psf(sigma, size)``. img: (H, W[, C]) -> same shape.

    The kernel is truncated to ``size x size`` (3x3 by default, i.e. radius 1, as a small classical
    smoothing filter), not to scipy's default 4 sigma; it equals
    ``scipy.ndimage.gaussian_filter(img, sigma, radius=size // 2)`` per channel.
    """
    img, _ = per_channel(img, size)
    k = gaussian_psf(sigma, size)
    out = ndimage.convolve(img.astype(np.float64), k if img.ndim == 2 else k[:, :, None], mode="reflect")
    return out.astype(float_dtype(img))
