"""Classical denoisers for noisy audio clips (the rows INSP-Net is compared with), all told the noise sigma.

Each function maps noisy clips (N, T) (or (T,)) with additive white Gaussian noise of standard deviation
``sigma`` to denoised clips of the same shape. Pure numpy/scipy; defaults chosen on the validation split of
the speech clips at sigma = 25/255 (experiments/fig15_audio/pilot/README.md).
- ``identity``: the input itself.
- ``local_wiener``: scipy.signal.wiener, a sliding-window Wiener filter with the known noise power sigma^2.
- ``stft_wiener``: Wiener gain xi / (1 + xi) per STFT bin, the a priori SNR xi estimated decision-directed
  (Ephraim & Malah 1984) from the known noise power of a bin.
- ``spectral_subtraction``: power spectral subtraction (Berouti et al. 1979): |S|^2 = max(|Y|^2 - a N, b N)
  with the noisy phase.
STFT: Hann window of ``nperseg`` samples (32 ms at 8 kHz), 75 % overlap; for white noise of variance
sigma^2, E|Y|^2 = sigma^2 * sum(w^2) / sum(w)^2 under scipy's default 'spectrum' scaling.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

NPERSEG = 256


def _batched(fn):
    def wrapped(noisy, sigma, **kw):
        x = np.asarray(noisy, dtype=np.float64)
        out = np.stack([fn(row, float(sigma), **kw) for row in np.atleast_2d(x)])
        return out[0] if x.ndim == 1 else out
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


def identity(noisy, sigma=None):
    """The noisy input itself: (N, T) -> (N, T)."""
    return np.asarray(noisy, dtype=np.float64).copy()


@_batched
def local_wiener(x: np.ndarray, sigma: float, size: int = 9) -> np.ndarray:
    """scipy.signal.wiener over windows of ``size`` samples with the known noise power sigma^2."""
    return sps.wiener(x, mysize=size, noise=sigma**2)


def _stft(x: np.ndarray, nperseg: int):
    win = sps.get_window("hann", nperseg)
    noverlap = 3 * nperseg // 4
    _, _, y = sps.stft(x, window=win, nperseg=nperseg, noverlap=noverlap)
    noise_power = np.sum(win**2) / np.sum(win) ** 2  # per unit sigma^2
    return y, win, noverlap, noise_power


def _istft(s: np.ndarray, win, nperseg: int, noverlap: int, length: int) -> np.ndarray:
    _, x = sps.istft(s, window=win, nperseg=nperseg, noverlap=noverlap)
    out = np.zeros(length)
    out[: min(length, len(x))] = x[:length]
    return out


@_batched
def stft_wiener(x: np.ndarray, sigma: float, nperseg: int = NPERSEG, alpha: float = 0.95,
                xi_min: float = 10 ** (-25 / 10)) -> np.ndarray:
    """Decision-directed Wiener filter per STFT bin; alpha: weight of the previous frame's estimate."""
    y, win, nov, unit = _stft(x, nperseg)
    noise = sigma**2 * unit
    power = np.abs(y) ** 2
    gamma = power / noise  # a posteriori SNR, (F, frames)
    gain = np.empty_like(gamma)
    prev = np.ones(gamma.shape[0])  # |S_{t-1}|^2 / N
    for t in range(gamma.shape[1]):
        xi = np.maximum(alpha * prev + (1 - alpha) * np.maximum(gamma[:, t] - 1, 0), xi_min)
        gain[:, t] = xi / (1 + xi)
        prev = gain[:, t] ** 2 * gamma[:, t]
    return _istft(gain * y, win, nperseg, nov, len(x))


@_batched
def spectral_subtraction(x: np.ndarray, sigma: float, nperseg: int = NPERSEG, over: float = 4.0,
                         floor: float = 0.002) -> np.ndarray:
    """Power spectral subtraction with over-subtraction ``over`` and spectral floor ``floor`` (x noise power)."""
    y, win, nov, unit = _stft(x, nperseg)
    noise = sigma**2 * unit
    power = np.abs(y) ** 2
    clean_power = np.maximum(power - over * noise, floor * noise)
    return _istft(np.sqrt(clean_power / np.maximum(power, 1e-30)) * y, win, nperseg, nov, len(x))


BASELINES = {
    "input": identity,
    "scipy_wiener": local_wiener,
    "stft_wiener": stft_wiener,
    "spectral_subtraction": spectral_subtraction,
}
