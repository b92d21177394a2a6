"""Jets of O-INRs: derivatives with respect to a shift of the sampling grid, on the grid.

An O-INR is a function of its sampling grid (``inr/oinr.py``). Shifting every point by t in R^2 gives
Phi_p(t) = O-INR(grid + t) at each pixel p, a smooth function of t whose partials D^alpha_t at t = 0 are what a
SIREN's coordinate derivatives are for a SIREN: the same (N, M, Q, C) layout and graded order (``space.py``),
the same units (per unit of the [-1, 1] coordinates), so ``to_pixel_units`` and every jet op apply unchanged.

They are exact and closed form, layer by layer:
  * the positional encoding: D^k_x sin(a (x + t_x)) = a^k sin(a x + k pi / 2) (cos likewise); a channel of x
    has no t_y derivative, so only the pure partials D^(k, 0) (x channels) and D^(0, k) (y channels) survive;
  * a convolution is linear and does not depend on t (its zero padding neither), so it maps every Taylor
    coefficient independently: D^alpha (K * h) = K * D^alpha h;
  * the sine is the jets' sin recurrence (``ops.jet_sin``) pointwise on every pixel and channel.
Zero padding makes the border pixels' jets those of the padded network (what autograd differentiates too).
"""

from __future__ import annotations

import math

import torch

from insp_cli.errors import InspError
from insp_cli.inr.oinr import OINRSpec, check_grid, conv_batched, frequencies, unflatten
from insp_cli.inr.registry import register_jet
from insp_cli.jets.ops import jet_sin
from insp_cli.jets.space import jet_space


def encoding_jet(spec: OINRSpec, coords: torch.Tensor, order: int) -> torch.Tensor:
    """D^alpha_t of the positional encoding at the points coords + t, t = 0: (M, 4L, Q), graded order."""
    space = jet_space(2, order)
    a = frequencies(spec, coords.dtype, coords.device)  # (L,)
    phase = coords.t().unsqueeze(1) * a.unsqueeze(1)  # (2, L, Q): a_l x_q and a_l y_q
    out = coords.new_zeros(space.size, 2, spec.frequencies, 2, coords.shape[0])  # (M, axis, l, sin/cos, Q)
    for pos, (kx, ky) in enumerate(space.alphas):
        if kx and ky:
            continue  # mixed partials of a one-axis channel vanish
        for axis, k in ((0, kx), (1, ky)):
            if pos and not k:
                continue  # D^(k, 0) with k > 0 leaves the y channels at zero, and the reverse
            scale = (a ** k).unsqueeze(1)  # (L, 1)
            out[pos, axis, :, 0] = scale * torch.sin(phase[axis] + k * math.pi / 2)
            out[pos, axis, :, 1] = scale * torch.cos(phase[axis] + k * math.pi / 2)
    return out.reshape(space.size, 4 * spec.frequencies, coords.shape[0])


def oinr_jet(spec: OINRSpec, params: torch.Tensor, order: int, coords: torch.Tensor | None = None) -> torch.Tensor:
    """All D^alpha_t Phi, |alpha| <= order, of N O-INRs with respect to a shift t of the sampling grid.

    params: (N, P); coords: (Q, 2) the grid (default ``grid_coords(spec.size)``; a shifted grid gives the
    derivatives there). Returns (N, M, Q, out_features), M = C(order + 2, 2), pixels row-major.
    """
    from insp_cli.inr.siren import grid_coords

    if order < 0:
        raise InspError(f"derivative order must be >= 0, got {order}")
    if params.dim() != 2 or params.shape[1] != spec.num_params:
        raise InspError(f"O-INR parameters must be (N, {spec.num_params}) for {spec.describe()}, "
                        f"got {tuple(params.shape)}")
    h, w = spec.size
    coords = grid_coords((h, w), dtype=params.dtype, device=params.device) if coords is None else coords
    if coords.dim() != 2 or coords.shape[1] != 2:
        raise InspError(f"coords must be (Q, 2), got {tuple(coords.shape)}")
    try:
        check_grid(spec, coords.shape[0])
    except ValueError as e:
        raise InspError(str(e)) from None
    space = jet_space(2, order)
    m, n = space.size, params.shape[0]
    x = encoding_jet(spec, coords.to(params.dtype), order).reshape(m, -1, h, w)  # conv batch = the M coefficients
    kernels = unflatten(spec, params)
    for i, k in enumerate(kernels):
        x = conv_batched(x, k, spec.kernel // 2)  # (M, N * out, H, W)
        if i < len(kernels) - 1:
            shape = x.shape
            x = jet_sin(x.reshape(1, m, -1, 1), space).reshape(shape)  # every pixel and channel a point
    return x.reshape(m, n, spec.out_features, h * w).permute(1, 0, 3, 2)


def grid_indices(spec: OINRSpec, coords: torch.Tensor) -> torch.Tensor:
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


def oinr_jet_at(spec: OINRSpec, params: torch.Tensor, coords: torch.Tensor, order: int,
                affine=None, chunk_size: int | None = None) -> torch.Tensor:
    """``oinr_jet`` read at the requested grid points coords (Q, 2) or (N, Q, 2): (N, M, Q, C)."""
    if affine is not None:
        raise InspError("O-INR jets exist on its grid only: coordinate augmentation (rotation, zoom, translation) "
                        "needs SIREN INRs; set the augment.* settings to 0")
    idx = grid_indices(spec, coords.to(params.device))
    full = oinr_jet(spec, params, order)  # (N, M, H*W, C)
    n, m, _, c = full.shape
    if idx.dim() == 1:
        return full.index_select(2, idx)
    return full.gather(2, idx[:, None, :, None].expand(n, m, idx.shape[1], c))


register_jet("oinr", oinr_jet_at)
