"""Jets of any INR backbone that has them: SIRENs, FFNs and ReLU MLPs at any points, O-INRs at the points of
their grid.

WIRE and MFN stores are for fitting and comparison only (no jets): asking for theirs is one clear error.
"""

from __future__ import annotations

import torch

from insp_cli.errors import InspError
from insp_cli.inr.backbones import NAMES, kind_of
from insp_cli.jets.derivative_network import siren_jet
from insp_cli.jets.ffn_jet import mlp_jet
from insp_cli.jets.oinr_jet import oinr_jet


def grid_indices(spec, coords: torch.Tensor) -> torch.Tensor:
    """Row-major pixel indices of points of an O-INR's H x W grid: coords (..., 2) -> (...) long.
    InspError when a point is not a pixel centre of that grid (O-INR jets exist there only)."""
    h, w = spec.size
    col = (coords[..., 0].double() + 1) * (w - 1) / 2
    row = (coords[..., 1].double() + 1) * (h - 1) / 2
    c, r = col.round(), row.round()
    off = ((col - c).abs() > 1e-4) | ((row - r).abs() > 1e-4) | (c < 0) | (c > w - 1) | (r < 0) | (r > h - 1)
    if bool(off.any()):
        raise InspError(f"O-INR jets exist on its {h}x{w} grid only, not between or beyond its pixel centres "
                        "(other resolutions, sub-pixel samples and coordinate augmentation need SIREN INRs)")
    return (r * w + c).long()


def inr_jet(spec, params: torch.Tensor, coords: torch.Tensor, order: int,
            affine: tuple[torch.Tensor, torch.Tensor] | None = None, chunk_size: int | None = None) -> torch.Tensor:
    """D^alpha Phi, |alpha| <= order, of N INRs at coords (Q, m) or (N, Q, m): (N, M, Q, C), in the units of the
    [-1, 1] coordinates. SIREN: ``siren_jet`` (affine: x -> A x + t); FFN / ReLU MLP: ``mlp_jet`` (same contract);
    O-INR: ``oinr_jet`` (derivatives with respect to a shift of the sampling grid) read at the requested grid
    points."""
    kind = kind_of(spec)
    if kind == "siren":
        return siren_jet(spec, params, coords, order, affine=affine, chunk_size=chunk_size)
    if kind in ("ffn", "relu"):
        return mlp_jet(spec, params, coords, order, affine=affine, chunk_size=chunk_size)
    if kind != "oinr":
        raise InspError(f"{NAMES[kind]} INRs have no jets in insp (fitting and comparison only); INSP-Net filters "
                        "and INSP-ConvNet take SIREN, O-INR, FFN or ReLU MLP stores")
    if affine is not None:
        raise InspError("O-INR jets exist on its grid only: coordinate augmentation (rotation, zoom, translation) "
                        "needs SIREN INRs; set the augment.* settings to 0")
    idx = grid_indices(spec, coords.to(params.device))
    full = oinr_jet(spec, params, order)  # (N, M, H*W, C)
    n, m, _, c = full.shape
    if idx.dim() == 1:
        return full.index_select(2, idx)
    return full.gather(2, idx[:, None, :, None].expand(n, m, idx.shape[1], c))
