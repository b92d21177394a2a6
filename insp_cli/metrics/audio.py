"""Audio quality of a denoised clip against the clean one: SNR, SI-SDR, PESQ (narrow band) and STOI.

Every function takes ``clean`` and ``estimate`` as (T,) or (N, T) float arrays on the same time grid and
returns a float (or (N,) floats). Pure functions: no files, no config.
- SNR = 10 log10(sum clean^2 / sum (estimate - clean)^2) dB.
- SI-SDR (Le Roux et al. 2019, "SDR - half-baked or well done?"): both signals made zero-mean, the target is
  the projection a* clean of the estimate on the clean signal, a = <estimate, clean> / |clean|^2, and
  SI-SDR = 10 log10(|a clean|^2 / |estimate - a clean|^2) dB. Insensitive to the estimate's gain.
- PESQ: ITU-T P.862 narrow band (MOS-LQO, about 1.0 .. 4.5) through PyPI ``pesq``; 8 or 16 kHz only.
  NaN where P.862 finds no utterance in the reference (a silent clip) or the clip is shorter than 0.25 s.
- STOI (Taal et al. 2011) through PyPI ``pystoi``, in [0, 1] (resampled to 10 kHz inside); NaN where the clip
  has fewer than 30 frames of speech once silent frames are dropped (pystoi itself returns 1e-5 there).
"""

from __future__ import annotations

import numpy as np

from insp_cli.errors import InspError

_EPS = 1e-20


def _pair(clean, estimate) -> tuple[np.ndarray, np.ndarray, bool]:
    c, e = np.asarray(clean, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    if c.shape != e.shape or c.ndim not in (1, 2) or c.shape[-1] == 0:
        raise InspError(f"audio metrics need clean and estimate of one shape (T,) or (N, T), got {c.shape} "
                        f"and {e.shape}")
    single = c.ndim == 1
    return np.atleast_2d(c), np.atleast_2d(e), single


def _out(values: np.ndarray, single: bool):
    return float(values[0]) if single else values


def snr(clean, estimate):
    """Signal-to-noise ratio in dB of ``estimate`` against ``clean``: (T,) -> float, (N, T) -> (N,)."""
    c, e, single = _pair(clean, estimate)
    ratio = (c**2).sum(1) / np.maximum(((e - c) ** 2).sum(1), _EPS)
    return _out(10 * np.log10(np.maximum(ratio, _EPS)), single)


def si_sdr(clean, estimate):
    """Scale-invariant signal-to-distortion ratio in dB: (T,) -> float, (N, T) -> (N,)."""
    c, e, single = _pair(clean, estimate)
    c = c - c.mean(1, keepdims=True)
    e = e - e.mean(1, keepdims=True)
    a = (e * c).sum(1, keepdims=True) / np.maximum((c**2).sum(1, keepdims=True), _EPS)
    target = a * c
    ratio = (target**2).sum(1) / np.maximum(((e - target) ** 2).sum(1), _EPS)
    return _out(10 * np.log10(np.maximum(ratio, _EPS)), single)


def pesq_nb(clean, estimate, rate: int):
    """PESQ narrow band (P.862 MOS-LQO): (T,) -> float, (N, T) -> (N,); NaN where no utterance is found or the
    clip is shorter than 0.25 s."""
    try:
        from pesq import BufferTooShortError, NoUtterancesError, pesq
    except ImportError:
        raise InspError("PESQ needs the PyPI package pesq (pip install pesq==0.0.4)") from None
    if rate not in (8000, 16000):
        raise InspError(f"PESQ takes 8 or 16 kHz audio, not {rate} Hz")
    c, e, single = _pair(clean, estimate)
    values = np.empty(len(c))
    for i in range(len(c)):
        try:
            with np.errstate(invalid="ignore", divide="ignore"):  # pesq divides by the peak of a silent clip
                values[i] = pesq(rate, c[i], e[i], "nb")
        except (NoUtterancesError, BufferTooShortError):  # silent reference, or a clip under 0.25 s
            values[i] = np.nan
    return _out(values, single)


def stoi(clean, estimate, rate: int):
    """Short-time objective intelligibility in [0, 1]: (T,) -> float, (N, T) -> (N,)."""
    try:
        from pystoi import stoi as _stoi
    except ImportError:
        raise InspError("STOI needs the PyPI package pystoi (pip install pystoi==0.4.1)") from None
    import warnings

    c, e, single = _pair(clean, estimate)
    values = np.empty(len(c))
    for i in range(len(c)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values[i] = _stoi(c[i], e[i], rate, extended=False)
        if any("Not enough STFT frames" in str(w.message) for w in caught):
            values[i] = np.nan  # pystoi returns 1e-5 for clips of under 30 frames (~0.4 s of speech)
    return _out(values, single)


AUDIO_METRICS = ("snr", "si_sdr", "pesq", "stoi")


def audio_metrics(clean, estimate, rate: int) -> dict[str, np.ndarray]:
    """All four per clip: {'snr', 'si_sdr', 'pesq', 'stoi'} -> (N,) for (N, T) inputs."""
    c, e = np.atleast_2d(clean), np.atleast_2d(estimate)
    return {"snr": snr(c, e), "si_sdr": si_sdr(c, e), "pesq": pesq_nb(c, e, rate), "stoi": stoi(c, e, rate)}
