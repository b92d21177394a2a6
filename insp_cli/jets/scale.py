"""Units and normalisation of jets: with omega0 = 30, order-4 derivatives w.r.t. [-1, 1] coordinates reach 1e6."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

from insp_cli.errors import InspError
from insp_cli.inr.siren import pixel_spacing
from insp_cli.jets.space import JetSpace


def grid_spacing(size: Sequence[int]) -> tuple[float, ...]:
    """Pixel pitch per coordinate axis (x, y[, z]) of a grid of array shape ``size`` = (H, W[, D]) in
    ``grid_coords``' [-1, 1] coordinates: coordinate 0 (x) runs along the LAST array axis, so its pitch
    comes from the last side."""
    if min(size) < 2:
        raise InspError(f"a pixel grid needs sides >= 2, got {tuple(size)}")
    return tuple(pixel_spacing(s) for s in reversed(size))


def to_pixel_units(jet: torch.Tensor, space: JetSpace, spacing: float | Sequence[float]) -> torch.Tensor:
    """Derivatives per pixel: D^alpha * prod_i spacing_i^alpha_i on (N, M, Q, C).

    spacing: the pixel pitch in INR coordinates (``pixel_spacing(side)``), one number or one per axis, so
    that features compare with finite differences on the grid the INR was fitted to.
    """
    steps = [float(spacing)] * space.m if isinstance(spacing, (int, float)) else [float(s) for s in spacing]
    if len(steps) != space.m:
        raise InspError(f"spacing needs 1 or {space.m} values, got {len(steps)}")
    factor = torch.tensor([math.prod(s**k for s, k in zip(steps, alpha)) for alpha in space.alphas],
                          dtype=jet.dtype, device=jet.device)
    return jet * factor.view(1, -1, 1, 1)


class JetStandardizer:
    """Per multi-index and per channel mean/std of jets over training INRs and points.

    ``update`` streams batches (N, M, Q, C) (float64 accumulation, Chan's parallel merge, so the variance
    survives magnitudes of 1e6); ``apply`` maps to zero mean / unit std, ``undo`` inverts it. Entries whose
    std is 0 (constant features) are only centred. State: plain tensors mean, std (M, C) float64.
    """

    def __init__(self):
        self.count = 0
        self.mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def update(self, jet: torch.Tensor) -> "JetStandardizer":
        x = jet.detach().to(torch.float64).transpose(0, 1).reshape(jet.shape[1], -1, jet.shape[-1])  # (M, N*Q, C)
        n = x.shape[1]
        if n == 0:
            return self
        mean = x.mean(dim=1)
        m2 = ((x - mean[:, None]) ** 2).sum(dim=1).cpu()
        mean = mean.cpu()  # statistics are tiny (M, C): keep them on the CPU whatever the jets' device
        if self.mean is None:
            self.count, self.mean, self._m2 = n, mean, m2
        else:
            if mean.shape != self.mean.shape:
                raise InspError(f"jet batch of shape {tuple(jet.shape)} does not match the standardizer's "
                                f"(M, C) = {tuple(self.mean.shape)}")
            total = self.count + n
            delta = mean - self.mean
            self.mean = self.mean + delta * (n / total)
            self._m2 = self._m2 + m2 + delta**2 * (self.count * n / total)
            self.count = total
        std = (self._m2 / self.count).sqrt()
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        return self

    def fit(self, jets: torch.Tensor | Iterable[torch.Tensor]) -> "JetStandardizer":
        """Reset, then ``update`` with one jet (N, M, Q, C) or an iterable of them."""
        self.__init__()
        for jet in [jets] if isinstance(jets, torch.Tensor) else jets:
            self.update(jet)
        if self.mean is None:
            raise InspError("cannot fit a jet standardizer on no data")
        return self

    def _stats(self, jet: torch.Tensor):
        if self.mean is None:
            raise InspError("the jet standardizer is not fitted")
        if jet.shape[1] != self.mean.shape[0] or jet.shape[-1] != self.mean.shape[1]:
            raise InspError(f"jet {tuple(jet.shape)} does not match the standardizer's (M, C) = "
                            f"{tuple(self.mean.shape)}")
        as_jet = dict(dtype=jet.dtype, device=jet.device)
        return self.mean.to(**as_jet)[None, :, None], self.std.to(**as_jet)[None, :, None]

    def apply(self, jet: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(jet)
        return (jet - mean) / std

    def undo(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(z)
        return z * std + mean

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.mean is None:
            raise InspError("the jet standardizer is not fitted")
        return {"mean": self.mean.clone(), "std": self.std.clone(), "m2": self._m2.clone(),
                "count": torch.tensor(self.count, dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> "JetStandardizer":
        self.mean = state["mean"].to(torch.float64)
        self.std = state["std"].to(torch.float64)
        self._m2 = state["m2"].to(torch.float64) if "m2" in state else self.std**2 * int(state.get("count", 1))
        self.count = int(state.get("count", 1))
        return self

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "JetStandardizer":
        return cls().load_state_dict(state)
