"""Context for a learned Pi, any dimension: Psi(x) = Pi(jets of Phi at x + o h for the offsets o of a neighbourhood).

h is the spacing of the grid the INR is decoded on (per axis), o is in grid steps; offsets = [(0,) * m] is the
paper's pointwise Pi. Psi stays an operator on the continuous INR: it is shift-invariant and can be read at any
x, since Phi is defined beyond [-1, 1] too. On a regular grid the jets are computed once on the grid extended by
``pad`` points each side (``padded_axes``), then each point's features are gathered (``gather``): no point's jet
is computed twice. Offsets are in coordinate order (x, y[, z]) like ``grid_coords``; grid tables are in array
order (rows = y first), so ``gather`` flips them. Used by ``filters.audio`` (m = 1), ``filters.insp_net``
(m = 2) and ``filters.shapes`` (m = 3). The 8 flips / quarter turns of the plane act on 2-D jets and their
offsets (``dihedral_tables``, ``dihedral_offsets``, ``dihedral``): Pi's training augmentation
(``filters.sampler.augment``) and its test-time self-ensemble (``filters.insp_net.self_ensemble``) both use them.
Nothing here knows about Hydra, W&B or files.
"""

from __future__ import annotations

import itertools
import math

import torch

from insp_cli.errors import InspError
from insp_cli.inr.siren import pixel_spacing
from insp_cli.jets import jet_space


def context_offsets(reach: int, step: int) -> list[int]:
    """Offsets along one axis, in grid steps: -reach, -reach + step, ..., reach (0 included); [0] for reach 0."""
    if reach < 0 or step < 1 or (reach and reach % step):
        raise InspError(f"fusion.context={reach} must be >= 0 and a multiple of fusion.context_step={step} >= 1")
    return list(range(-reach, reach + 1, step))


def neighbourhood(reach: int, step: int, m: int, coarse: int = 0, coarse_step: int = 1) -> list[tuple[int, ...]]:
    """The square (cube) neighbourhood of ``context_offsets`` per axis: (2 reach / step + 1)^m offsets in
    coordinate order (x, y, ...), x varying fastest; [(0,) * m] for reach 0 (pointwise).

    Multi-scale: with ``coarse`` > 0 the offsets of a second, sparser square, -coarse .. coarse in steps of
    ``coarse_step`` per axis, that the first lacks follow it (same order): e.g. (3, 1, 2, 6, 3) is the 7 x 7
    pixels around x plus the 16 at distance 6 on the grid of step 3 (65 offsets, a 13 x 13 span). Both squares
    are closed under flips and quarter turns, so their union is. coarse 0 is the single square, bit for bit."""
    axis = context_offsets(reach, step)
    fine = [tuple(reversed(o)) for o in itertools.product(axis, repeat=m)]
    if not coarse:
        return fine
    if coarse < 0 or coarse_step < 1 or coarse % coarse_step:
        raise InspError(f"fusion.coarse_context={coarse} must be >= 0 and a multiple of "
                        f"fusion.coarse_step={coarse_step} >= 1")
    have = set(fine)
    wide = [tuple(reversed(o)) for o in itertools.product(range(-coarse, coarse + 1, coarse_step), repeat=m)]
    return fine + [o for o in wide if o not in have]


def offset_orders(reach: int, step: int, m: int, order: int, coarse: int = 0, coarse_step: int = 1,
                  coarse_order: int | None = None) -> list[int] | None:
    """Per offset of ``neighbourhood(reach, step, m, coarse, coarse_step)``, the highest derivative order Pi
    reads there: ``order`` on the fine square, ``coarse_order`` on the offsets only the coarse square adds
    (lower orders there keep the feature count down). None when every offset gets ``order`` (the default)."""
    if coarse_order is None or not coarse:
        return None
    if not 0 <= coarse_order <= order:
        raise InspError(f"fusion.coarse_order={coarse_order} must be between 0 and fusion.order={order}")
    if coarse_order == order:
        return None
    fine = len(neighbourhood(reach, step, m))
    return [order] * fine + [coarse_order] * (len(neighbourhood(reach, step, m, coarse, coarse_step)) - fine)


def offsets_pad(offsets) -> int:
    """Grid points needed beyond each border: the largest |offset| along any axis."""
    return max(abs(int(v)) for o in offsets for v in (o if isinstance(o, (tuple, list)) else (o,)))


def offsets_tensor(offsets, device=None) -> torch.Tensor:
    """(O, m) long tensor of offsets given as ints (m = 1) or tuples."""
    rows = [list(o) if isinstance(o, (tuple, list)) else [int(o)] for o in offsets]
    return torch.tensor(rows, dtype=torch.long, device=device)


def centre_index(offsets) -> int:
    """Position of the zero offset (the point itself) in ``offsets``; InspError when it is missing."""
    rows = offsets_tensor(offsets).tolist()
    zero = [0] * len(rows[0])
    if zero not in rows:
        raise InspError(f"filter offsets {[tuple(r) for r in rows]} must include 0 (the point itself)")
    return rows.index(zero)


def padded_axes(size: tuple[int, ...], pad: int, factor: int = 1, dtype=torch.float32) -> list[torch.Tensor]:
    """Per array axis, the coordinates of the ``grid_coords`` grid of ``size`` (factor 1) or of its f x f
    sub-pixels (``subpixel_grid``, factor f), extended by ``pad`` points each side: point i of an axis of side s
    lies at -1 + h ((i + 1/2) / f - 1/2), h = 2 / (s - 1), i = -pad .. s f + pad - 1."""
    axes = []
    for s in size:
        h = pixel_spacing(s)
        i = torch.arange(-pad, s * factor + pad, dtype=torch.float64)
        axes.append((-1.0 + h * ((i + 0.5) / factor - 0.5)).to(dtype))
    return axes


def axes_coords(axes: list[torch.Tensor]) -> torch.Tensor:
    """(prod(len(a)), m) coordinates of the grid spanned by per-array-axis coordinates, ``grid_coords`` layout."""
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack(list(reversed(mesh)), dim=-1).reshape(-1, len(axes))


def gather(table: torch.Tensor, inr: torch.Tensor, pos: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """Context features of points of a padded grid table.

    table: (N, S_1 + 2 pad, ..., S_m + 2 pad, F) per-point features (array order, rows first); inr: (B,) which
    table; pos: (B, m) array indices on the unpadded grid; offsets: (O, m) in coordinate order (x first), in
    grid steps. Returns (B, O * F), offset major (offset 0 of ``offsets`` first).
    """
    n, *shape, f = table.shape
    m = len(shape)
    if pos.shape[-1] != m or offsets.shape[-1] != m:
        raise InspError(f"a {m}-D grid table takes {m}-D positions and offsets, got {pos.shape[-1]} and "
                        f"{offsets.shape[-1]}")
    idx = pos[:, None, :] + pad + offsets.flip(-1)[None]  # (B, O, m), array order
    strides = torch.tensor([math.prod(shape[a + 1:]) for a in range(m)], dtype=torch.long, device=idx.device)
    return table.reshape(n, -1, f)[inr[:, None], (idx * strides).sum(-1)].reshape(len(inr), -1)


def interleave(jets: torch.Tensor, values: torch.Tensor, channels: int) -> torch.Tensor:
    """A cascade's per-point features (``insp_net.LearnedFusion`` with a prior): jet features (..., c * M),
    channel major, and the first stage's output (..., c) -> (..., c * (M + 1)), each channel's M jet entries
    followed by its value."""
    lead = jets.shape[:-1]
    both = torch.cat([jets.reshape(*lead, channels, -1), values.reshape(*lead, channels, 1).to(jets)], dim=-1)
    return both.reshape(*lead, -1)


def dihedral_offsets(offsets) -> torch.Tensor:
    """The 8 flips / quarter turns of ``filters.sampler.dihedral_tables`` acting on 2-D offsets: (8, O) index.

    For Phi'(x) = Phi(A x) the jet of Phi' at x + o h is the transformed jet of Phi at A x + (A o) h, so the
    features of offset o come from offset A o: row g holds, for each o, the position of A_g o in ``offsets``.
    A_g = diag(s_x, s_y) or, with the swap, (x, y) -> (s_y y, s_x x); same order as ``dihedral_tables``.
    """
    rows = [tuple(r) for r in offsets_tensor(offsets).tolist()]
    if len(rows[0]) != 2:
        raise InspError("flips and quarter turns act on 2-D offsets")
    where = {o: i for i, o in enumerate(rows)}
    out = []
    for swap in (False, True):
        for sx in (1, -1):
            for sy in (1, -1):
                moved = [(sy * oy, sx * ox) if swap else (sx * ox, sy * oy) for ox, oy in rows]
                if any(o not in where for o in moved):
                    raise InspError(f"offsets {rows} are not closed under flips and quarter turns; use a square "
                                    "neighbourhood or train.augment=false")
                out.append([where[o] for o in moved])
    return torch.tensor(out)


def dihedral_tables(order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8 flips/quarter turns of the plane acting on a 2-D jet: (index (8, M), sign (8, M)).

    For Phi'(x, y) = Phi(s_x x, s_y y), D^(a, b) Phi' = s_x^a s_y^b D^(a, b) Phi at the mapped point; for
    Phi'(x, y) = Phi(s_y y, s_x x) it is s_x^a s_y^b D^(b, a) Phi. So jet'[i] = sign[i] * jet[index[i]].
    """
    space = jet_space(2, order)
    index, sign = [], []
    for swap in (False, True):
        for sx in (1, -1):
            for sy in (1, -1):
                index.append([space.index[(b, a) if swap else (a, b)] for a, b in space.alphas])
                sign.append([sx ** a * sy ** b for a, b in space.alphas])
    return torch.tensor(index), torch.tensor(sign, dtype=torch.float32)


def dihedral(features: torch.Tensor, g: torch.Tensor, order: int, channels: int,
             offsets: list[tuple[int, int]] | None = None, extra: int = 0) -> torch.Tensor:
    """Features (B, O * c * (M + extra)) of each point as seen in the image flipped / turned by element g (B,)
    of the dihedral group (``dihedral_tables`` order). ``extra``: values per channel after the jet that a flip
    leaves alone (a cascade's first-stage output, ``filters.cascade``)."""
    b = features.shape[0]
    x = features.reshape(b, len(offsets or [(0, 0)]), channels, -1)  # (B, O, c, M + extra)
    if offsets is not None and len(offsets) > 1:
        moved = dihedral_offsets(offsets).to(x.device)[g]  # (B, O)
        x = torch.gather(x, 1, moved[:, :, None, None].expand_as(x))
    index, sign = dihedral_tables(order)
    if extra:
        m = index.shape[1]
        index = torch.cat([index, torch.arange(m, m + extra).expand(8, extra)], dim=1)
        sign = torch.cat([sign, torch.ones(8, extra)], dim=1)
    idx = index.to(x.device)[g][:, None, None, :].expand_as(x)
    return (torch.gather(x, 3, idx) * sign.to(x)[g][:, None, None, :]).reshape(b, -1)
