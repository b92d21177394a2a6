"""Classical pixel-space filters the paper compares INSP-Net against (Figs. 3-7, Tab. 2).

Images are numpy arrays ``(H, W, C)`` (or ``(H, W)``) of floats in [0, 1]; smoothing filters work per
channel and return the input's shape, edge maps work on the luminance and return ``(H, W)`` in [0, 1].
Borders use scipy's 'reflect' mode (half-sample symmetric) everywhere, so a constant image stays constant.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import color, feature, filters, restoration

from insp_cli.data.blur import float_dtype, gaussian_filter, gaussian_psf, per_channel  # noqa: F401 (baselines)
from insp_cli.errors import InspError
from insp_cli.spellings import degradation_kind


def mean_filter(img: np.ndarray, size: int = 3) -> np.ndarray:
    """Mean of each ``size x size`` neighbourhood. img: (H, W[, C]) -> same shape."""
    img, footprint = per_channel(img, size)
    return ndimage.uniform_filter(img.astype(np.float64), size=footprint, mode="reflect").astype(float_dtype(img))


# The normalised box filter (OpenCV's boxFilter/blur) is the mean filter; one implementation, two names.
box_filter = mean_filter


def median_filter(img: np.ndarray, size: int = 3) -> np.ndarray:
    """Median of each ``size x size`` neighbourhood. img: (H, W[, C]) -> same shape."""
    img, footprint = per_channel(img, size)
    return ndimage.median_filter(img, size=footprint, mode="reflect").astype(float_dtype(img))


def wiener_deblur(img: np.ndarray, psf_sigma: float, psf_size: int, balance: float = 0.01) -> np.ndarray:
    """Wiener deconvolution with the known Gaussian PSF (skimage.restoration.wiener), clipped to [0, 1].

    balance trades data fidelity against the Laplacian regulariser (larger = smoother). img: (H, W[, C]).
    """
    img, _ = per_channel(img, psf_size)
    psf = gaussian_psf(psf_sigma, psf_size)
    planes = (img[:, :, None] if img.ndim == 2 else img).astype(np.float64)
    # wiener works in Fourier space (circular boundaries) while the blur used mirrored borders; deconvolving
    # a mirror-padded copy and cropping avoids the border ringing (+3-7 dB on 64x64 astronaut, sigma 1.5-2).
    p = psf_size
    pad = np.pad(planes, ((p, p), (p, p), (0, 0)), mode="symmetric")  # = scipy's 'reflect'
    out = np.stack([restoration.wiener(pad[:, :, c], psf, balance) for c in range(pad.shape[2])], axis=2)
    return np.clip(out[p:-p, p:-p].reshape(img.shape), 0.0, 1.0).astype(float_dtype(img))


def _luminance(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        return color.rgb2gray(img)  # ITU-R BT.709 weights
    if img.ndim != 2:
        raise InspError(f"expected an image (H, W) or (H, W, C); got shape {img.shape}")
    return img


def sobel(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the luminance, ``sqrt((gx^2 + gy^2) / 2)`` with kernels scaled by 1/4,
    so a unit step gives at most 1. img: (H, W[, C]) -> (H, W) in [0, 1]."""
    return np.clip(filters.sobel(_luminance(img)), 0.0, 1.0)


def prewitt(img: np.ndarray) -> np.ndarray:
    """Prewitt gradient magnitude of the luminance (kernels scaled by 1/3). img: (H, W[, C]) -> (H, W) in [0, 1]."""
    return np.clip(filters.prewitt(_luminance(img)), 0.0, 1.0)


def canny(img: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Canny edges of the luminance as 0/1 floats. img: (H, W[, C]) -> (H, W)."""
    return feature.canny(_luminance(img), sigma=sigma).astype(np.float64)


def _channel_axis(img: np.ndarray) -> int | None:
    return -1 if img.ndim == 3 else None


def nl_means(img: np.ndarray, sigma: float) -> np.ndarray:
    """scikit-image non-local means (fast mode, 5x5 patches, 13x13 search, h = 0.8 sigma, sigma given).
    img: (H, W[, C]) in [0, 1]; sigma: the noise's standard deviation in the same units."""
    img, _ = per_channel(img, 3)
    x = img.astype(np.float64)
    out = restoration.denoise_nl_means(x, patch_size=5, patch_distance=6, h=0.8 * sigma, sigma=sigma,
                                       fast_mode=True, channel_axis=_channel_axis(x))
    return np.clip(out, 0.0, 1.0).astype(float_dtype(img))


def tv_chambolle(img: np.ndarray, sigma: float) -> np.ndarray:
    """Total-variation denoising (Chambolle), weight = sigma (the known noise level). img: (H, W[, C])."""
    img, _ = per_channel(img, 3)
    x = img.astype(np.float64)
    out = restoration.denoise_tv_chambolle(x, weight=sigma, channel_axis=_channel_axis(x))
    return np.clip(out, 0.0, 1.0).astype(float_dtype(img))


def wavelet_bayes(img: np.ndarray, sigma: float) -> np.ndarray:
    """Wavelet shrinkage, BayesShrink soft thresholds per sub-band, db1, YCbCr for colour, sigma given.
    img: (H, W[, C]); needs PyWavelets."""
    img, _ = per_channel(img, 3)
    x = img.astype(np.float64)
    try:
        out = restoration.denoise_wavelet(x, sigma=sigma, mode="soft", method="BayesShrink", rescale_sigma=True,
                                          convert2ycbcr=img.ndim == 3 and img.shape[2] == 3,
                                          channel_axis=_channel_axis(x))
    except ImportError:
        raise InspError("the wavelet baseline needs PyWavelets (pip install PyWavelets)") from None
    return np.clip(out, 0.0, 1.0).astype(float_dtype(img))


def bm3d_denoise(img: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (PyPI ``bm3d``; colour images through its YCbCr ``bm3d_rgb``), sigma given. img: (H, W[, C])."""
    img, _ = per_channel(img, 3)
    try:
        import bm3d
    except ImportError:
        raise InspError("the BM3D baseline needs PyPI bm3d (pip install bm3d==4.0.3)") from None
    x = img.astype(np.float64)
    if x.ndim == 3 and x.shape[2] == 3:
        out = bm3d.bm3d_rgb(x, sigma)
    else:
        planes = x if x.ndim == 3 else x[:, :, None]
        out = np.stack([bm3d.bm3d(planes[:, :, c], sigma) for c in range(planes.shape[2])], axis=2).reshape(x.shape)
    return np.clip(out, 0.0, 1.0).astype(float_dtype(img))


# The baselines of eval's tables, each applied to one decoded input image (H, W, c) with the settings of the
# paper's small classical filters: 3x3 windows, Gaussian sigma 1, Wiener deconvolution with the known PSF;
# and the strong classical denoisers (non-local means, TV, wavelet BayesShrink, BM3D) given the known noise sigma.
DENOISERS = {"nl_means": nl_means, "tv_chambolle": tv_chambolle, "wavelet": wavelet_bayes, "bm3d": bm3d_denoise}
BASELINES = ("mean_filter", "median_filter", "gaussian_filter", "box_filter", "wiener") + tuple(DENOISERS)
LEARNED = ("dncnn",)  # trained at eval time on the filter's training INRs (filters/baselines/dncnn.py)
THREE_BY_THREE = ("mean_filter", "median_filter", "gaussian_filter", "box_filter")


def apply_baseline(name: str, img: np.ndarray, degradation: dict, wiener_balance: float = 0.01) -> np.ndarray:
    """The classical filter ``name`` (one of BASELINES) applied to one decoded input image (H, W, c);
    ``degradation``: the store's degradation parameters (the Wiener filter needs the blur's PSF)."""
    if name == "mean_filter":
        return mean_filter(img, 3)
    if name == "median_filter":
        return median_filter(img, 3)
    if name == "gaussian_filter":
        return gaussian_filter(img, 1.0, 3)
    if name == "box_filter":
        return box_filter(img, 3)
    if name == "wiener":
        if degradation_kind(degradation.get("kind")) != "blur":
            raise InspError("the Wiener baseline needs INRs of Gaussian-blurred images (a known PSF)")
        return wiener_deblur(img, degradation["sigma"], degradation["size"], wiener_balance)
    if name in DENOISERS:
        if degradation_kind(degradation.get("kind")) != "noise":
            raise InspError(f"the {name} baseline needs INRs of images with Gaussian noise (a known sigma)")
        return DENOISERS[name](img, float(degradation["sigma"]) / 255.0)
    raise InspError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")
