"""INSP-Net on audio INRs (m = 1, paper App. F): Psi(x) = Pi(jets of Phi at x and at neighbouring samples).

Features. For a SIREN Phi fitted to a clip of T samples on [-1, 1] (sample spacing h = 2 / (T - 1)), the jet
D^k Phi, k = 0..K, is taken in per-sample units (D^k Phi * h^k, ``jets.to_pixel_units``) at x + o h for every
offset o of ``offsets`` (in samples). offsets = (0,) is the paper's pointwise Pi; a context of neighbouring
offsets lets Pi see as far as a classical filter's window does (the recipe: +-96 samples, step 1, K = 2). Psi is
still an operator on the continuous INR: shift-invariant and decodable at any x. Features are
(B, len(offsets) * (K+1)), offset major (the first offset's K+1 derivatives first), standardised by
``FeatureScaler``. The offsets, the padded grid and the gather are ``filters.context``'s, shared with the image
filters.

Pi is the images' ``LearnedFusion`` with m = 1 and one channel: an MLP (ReLU) predicting a correction to Phi(x)
(``residual``; the last layer starts at zero, so training starts from Psi = Phi), features (B, F) -> (B, 1).
Amplitudes are the INR's own values (a clip in [-1, 1]), not pixels.
Nothing here knows about Hydra, W&B or files.
"""

from __future__ import annotations

import torch

from insp_cli.errors import InspError
from insp_cli.filters import context
from insp_cli.filters.context import padded_axes
from insp_cli.filters.insp_net import LearnedFusion, jet_features, pixel_jets
from insp_cli.filters.jet_cnn import check_clip_ensemble, clip_ensemble
from insp_cli.inr.siren import SirenSpec


def sample_jets(spec: SirenSpec, params: torch.Tensor, length: int, order: int, pad: int = 0,
                inrs_per_chunk: int = 4) -> torch.Tensor:
    """Per-sample-unit jets of N audio INRs at their ``length`` samples, extended by ``pad`` samples each side.

    params: (N, P) with spec.in_features == 1. Returns (N, length + 2 pad, K + 1); row p is sample p - pad.
    """
    if spec.in_features != 1:
        raise InspError(f"audio filters take 1-D INRs, not {spec.in_features}-D ones")
    x = padded_axes((length,), pad, dtype=params.dtype)[0].to(params.device).unsqueeze(1)
    return torch.cat([jet_features(pixel_jets(spec, params[a:a + inrs_per_chunk], x, order, (length,),
                                              intensity=False)) for a in range(0, len(params), inrs_per_chunk)])


def gather(jets: torch.Tensor, clip: torch.Tensor, pos: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """Features (B, len(offsets) * (K+1)) of samples ``pos`` (B,) of clips ``clip`` (B,) from ``sample_jets``
    (``filters.context.gather`` with m = 1)."""
    return context.gather(jets, clip, pos[:, None], offsets.reshape(-1, 1), pad)


@torch.no_grad()
def denoise_clips(fusion: LearnedFusion, spec: SirenSpec, params: torch.Tensor, length: int,
                  ensemble: int = 1) -> torch.Tensor:
    """Psi of N audio INRs decoded at their ``length`` samples: (N, length) amplitudes. A convolutional Pi
    (``filters.jet_cnn``) runs once on each clip's jet field, padded by its reach (with ``ensemble`` 2 or 4, once
    per view of ``jet_cnn.clip_ensemble``); an MLP Pi takes ensemble 1 alone."""
    check_clip_ensemble(fusion, ensemble)
    pad, offs = fusion.pad, torch.tensor([o[0] for o in fusion.offsets], dtype=torch.long, device=params.device)
    out = []
    for a in range(0, len(params), 4):
        jets = sample_jets(spec, params[a:a + 4], length, fusion.order, pad).float()
        if getattr(fusion, "convolutional", False):
            out += list(clip_ensemble(fusion, jets, fusion.order, ensemble)[..., 0])
            continue
        pos = torch.arange(length, device=params.device)
        out += [fusion(gather(jets, torch.full_like(pos, i), pos, offs, pad))[..., 0] for i in range(len(jets))]
    return torch.stack(out)
