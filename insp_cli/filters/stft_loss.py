"""A multi-resolution STFT magnitude loss for training an audio Pi (Yamamoto et al. 2020, Parallel WaveGAN, eq. 5-7).

Squared error alone weighs every sample alike; PESQ (and a listener) weighs the spectrum, and noise left in
quiet bands and silences much more than its energy says. For each window length N of ``ffts`` (Hann, hop N / 4,
no padding: frames lie inside the segment), with S = |STFT(estimate)| and C = |STFT(clean)| over a batch of
segments:

    spectral convergence  SC = ||S - C||_F / ||C||_F          (over the whole batch)
    log magnitude         LM = mean |log(S + EPS) - log(C + EPS)|

and the loss is the mean over the resolutions of SC + LM. ``EPS`` floors the log so a silent clean frame asks
for a quiet output without an infinite penalty. Nothing here knows about Hydra, W&B or files.
"""

from __future__ import annotations

import torch

from insp_cli.errors import InspError

EPS = 1e-3  # amplitudes: a clip's peak is 1; the floor of the log magnitudes


def stft_magnitude(x: torch.Tensor, fft: int) -> torch.Tensor:
    """|STFT| of segments x (B, T): Hann window of ``fft`` samples (periodic), hop fft // 4, frames inside the
    segment only. Returns (B, fft // 2 + 1, 1 + (T - fft) // (fft // 4))."""
    if fft < 4 or x.shape[-1] < fft:
        raise InspError(f"an STFT window of {fft} samples needs fft >= 4 and segments at least that long, "
                        f"not {x.shape[-1]} samples")
    window = torch.hann_window(fft, periodic=True, dtype=x.dtype, device=x.device)
    return torch.stft(x, n_fft=fft, hop_length=fft // 4, win_length=fft, window=window, center=False,
                      return_complex=True).abs()


def stft_loss(estimate: torch.Tensor, clean: torch.Tensor, ffts: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Multi-resolution STFT magnitude loss (a scalar) of ``estimate`` against ``clean``, both (B, T) segments:
    the mean over ``ffts`` of spectral convergence + log-magnitude L1 (module docstring)."""
    if estimate.shape != clean.shape or estimate.dim() != 2:
        raise InspError(f"the STFT loss takes estimate and clean of one shape (B, T), got {tuple(estimate.shape)} "
                        f"and {tuple(clean.shape)}")
    if not ffts:
        raise InspError("the STFT loss needs at least one window length")
    total = estimate.new_zeros(())
    for fft in ffts:
        s, c = stft_magnitude(estimate, int(fft)), stft_magnitude(clean, int(fft))
        sc = torch.linalg.vector_norm(s - c) / torch.linalg.vector_norm(c).clamp_min(1e-12)
        lm = (torch.log(s + EPS) - torch.log(c + EPS)).abs().mean()
        total = total + sc + lm
    return total / len(ffts)
