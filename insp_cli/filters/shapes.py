"""INSP-Net on SDF INRs (m = 3, paper Sec. 5.2): Psi(x) = Pi(jets of Phi at x + o h), and the tasks' targets.

Grids. An SDF INR is decoded on the R^3 grid of ``inr.siren.grid_coords`` over [-1, 1]^3: voxel (i, j, k) of
the array (R, R, R) is the point (x_k, y_j, z_i), spacing h = 2 / (R - 1). ``check_grid`` refuses a grid whose
float32 arrays would not fit in the memory allowed, and says how much it needs.

Features. The jet of Phi up to order K (``jets.siren_jet``, M = C(K+3, 3): 10 at K = 2, 35 at K = 4) in voxel units
of the filter's training grid (D^alpha Phi * h_train^|alpha|), so a filter means the same operator at whatever
resolution Psi is decoded. Context: the jets at x + o h for the offsets o of a cube of neighbouring voxels
(``filters.context.neighbourhood``, m = 3; o in voxels of the training grid, h its spacing), offset major
(O * M features); offsets [(0, 0, 0)] is the paper's pointwise Pi. On the training grid the jets are computed once
per needed voxel of the grid padded by the context's reach and gathered (``grid_jets``, ``context.gather``); on
another grid the same way at the nearest voxels when that moves no neighbour by more than 1 % of its distance
(``snapped_offsets``: 0.79 % at 128^3 for 64^3 units, whose spacings are not multiples), else at each x + o h
directly (``context_features``). Pi is ``insp_net.LearnedFusion`` with m = 3 and one channel: a residual MLP that
starts as Psi = Phi. Psi is evaluated where |Phi| < ``band`` (the zero level set and a margin); elsewhere the
decoded Phi is kept: marching cubes only sees the sign changes, which lie in the band.

Tasks (``SHAPE_TASKS``):
- ``smooth``: the SDF smoothed by a 3-D Gaussian of std ``sigma`` in the [-1, 1] coordinates (sigma / h voxels
  at each resolution; ``gaussian_sdf``), applied to Phi decoded on the training grid (the authors convolve the
  decoded 256^3 grid ten times with a 3x3x3 kernel instead; a Gaussian is the limit of that and has one stated
  width).
- ``denoise_shape``: INRs of noisy scans (``data.meshes.vertex_noise``) -> the exact SDF of the clean mesh.
Nothing here knows about Hydra or files.
"""

from __future__ import annotations

import numpy as np
import torch

from insp_cli.errors import InspError
from insp_cli.filters.context import axes_coords, gather, offsets_pad, offsets_tensor, padded_axes
from insp_cli.inr.siren import SirenSpec, pixel_spacing, siren_forward
from insp_cli.jets import jet_space, siren_jet, to_pixel_units
from insp_cli.mesh import Mesh, exact_sdf

SHAPE_TASKS = ("smooth", "denoise_shape")


def grid_bytes(res: int, grids: int) -> int:
    """Memory of decoding ``grids`` float32 SDF grids of res^3 (plus one chunk of coordinates)."""
    return 4 * res**3 * grids + 12 * min(res**3, 1 << 18)


def check_grid(res: int, grids: int, max_gb: float) -> None:
    if res < 2:
        raise InspError(f"a grid of {res}^3 voxels is too small (at least 2 per axis)")
    need = grid_bytes(res, grids)
    if need > max_gb * 2**30:
        raise InspError(f"a {res}^3 grid needs about {need / 2**30:.1f} GB ({grids} float32 SDF grids of {res**3:,} "
                        f"voxels), more than the {max_gb:g} GB allowed: lower the resolution or raise max_grid_gb")


def voxel_points(ids: np.ndarray, res: int) -> np.ndarray:
    """(x, y, z) (Q, 3) float32 of flat voxel ids (Q,) of the res^3 grid."""
    lin = np.linspace(-1.0, 1.0, res, dtype=np.float32)
    i, rem = np.divmod(ids, res * res)
    j, k = np.divmod(rem, res)
    return np.stack([lin[k], lin[j], lin[i]], axis=1)


@torch.no_grad()
def decode_grid(spec: SirenSpec, params: torch.Tensor, res: int, chunk: int = 1 << 18) -> np.ndarray:
    """Phi of one INR params (1, P) on the res^3 grid: (res, res, res) float32, in chunks of voxels."""
    out = np.empty(res**3, dtype=np.float32)
    for a in range(0, res**3, chunk):
        ids = np.arange(a, min(a + chunk, res**3))
        x = torch.from_numpy(voxel_points(ids, res)).to(params.device, params.dtype)
        out[a:a + len(ids)] = siren_forward(spec, params, x)[0, :, 0].cpu().numpy()
    return out.reshape(res, res, res)


@torch.no_grad()
def voxel_features(spec: SirenSpec, params: torch.Tensor, points: torch.Tensor, order: int, units: int,
                   chunk: int = 16384) -> torch.Tensor:
    """Jets of one INR params (1, P) at points (Q, 3) in voxel units of the units^3 grid: (Q, M)."""
    if spec.in_features != 3:
        raise InspError(f"shape filters take 3-D SDF INRs, not {spec.in_features}-D ones")
    space, h = jet_space(3, order), pixel_spacing(units)
    out = [to_pixel_units(siren_jet(spec, params, points[a:a + chunk], order), space, h)[0, :, :, 0].T
           for a in range(0, len(points), chunk)]
    return torch.cat(out) if out else torch.zeros(0, space.size, device=params.device)


def context_features(spec: SirenSpec, params: torch.Tensor, points: torch.Tensor, order: int, units: int,
                     offsets, chunk: int = 16384) -> torch.Tensor:
    """Jets of one INR params (1, P) at points + o h for every offset o (coordinate order, voxels of the units^3
    grid, h its spacing), voxel units: (Q, O * M), offset major. offsets [(0, 0, 0)]: ``voxel_features``."""
    h = pixel_spacing(units)
    offs = offsets_tensor(offsets).to(points.device, points.dtype) * h  # (O, 3) in [-1, 1] units
    return torch.cat([voxel_features(spec, params, points + o, order, units, chunk) for o in offs], dim=1)


def grid_positions(ids: np.ndarray, res: int) -> np.ndarray:
    """Array indices (Q, 3) (i, j, k) = (z, y, x) of flat voxel ids (Q,) of the res^3 grid."""
    return np.stack(np.unravel_index(ids, (res, res, res)), axis=1)


def grid_jets(spec: SirenSpec, params: torch.Tensor, res: int, order: int, offsets, ids: np.ndarray,
              units: int | None = None, chunk: int = 16384) -> torch.Tensor:
    """Jets (voxel units of the units^3 grid, default this one) on the res^3 grid padded by the offsets' reach
    (offsets in voxels of this grid), computed once at every voxel that a voxel of ``ids`` (flat ids (Q,) of the
    unpadded grid) reads through ``offsets``, zero elsewhere: (res + 2 pad,) * 3 + (M,), array order, for
    ``context.gather``."""
    pad = offsets_pad(offsets)
    side = res + 2 * pad
    need = np.zeros((side,) * 3, dtype=bool)
    pos = grid_positions(ids, res) + pad
    for o in offsets_tensor(offsets).flip(-1).numpy():  # array order
        need[tuple((pos + o).T)] = True
    flat = np.flatnonzero(need)
    coords = axes_coords(padded_axes((res,) * 3, pad))  # (side^3, 3), grid_coords layout = flat array order
    table = torch.zeros(side**3, jet_space(3, order).size, device=params.device)
    sel = torch.from_numpy(flat).to(params.device)
    table[sel] = voxel_features(spec, params, coords[sel].to(params.device, params.dtype), order, units or res,
                                chunk).float()
    return table.reshape(side, side, side, -1)


def gaussian_sdf(grid: np.ndarray, sigma: float) -> np.ndarray:
    """A decoded SDF grid (R, R, R) smoothed by a Gaussian of std ``sigma`` in [-1, 1] units (edges: nearest)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(grid.astype(np.float32), sigma / pixel_spacing(grid.shape[0]), mode="nearest",
                           truncate=4.0)


def training_points(grid: np.ndarray, band: float, band_points: int, uniform_points: int, seed: int) -> np.ndarray:
    """Flat voxel ids of training points: up to ``band_points`` voxels where |Phi| < band and ``uniform_points``
    voxels anywhere, drawn without replacement from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    flat = grid.reshape(-1)
    near = np.flatnonzero(np.abs(flat) < band)
    near = rng.choice(near, min(band_points, len(near)), replace=False) if len(near) else near
    anywhere = rng.choice(len(flat), min(uniform_points, len(flat)), replace=False)
    return np.unique(np.concatenate([near, anywhere]))


def task_target(task: dict, grid: np.ndarray, ids: np.ndarray, clean: Mesh | None) -> np.ndarray:
    """Psi's target (Q,) at voxels ``ids`` of the decoded training grid ``grid`` (R, R, R): the Gaussian-smoothed
    grid (smooth) or the exact SDF of the clean mesh (denoise_shape)."""
    if task["name"] == "smooth":
        return gaussian_sdf(grid, float(task["sigma"])).reshape(-1)[ids]
    if task["name"] == "denoise_shape":
        if clean is None:
            raise InspError("task=denoise_shape needs the clean mesh of every training INR")
        return exact_sdf(voxel_points(ids, grid.shape[0]), clean).astype(np.float32)
    raise InspError(f"{task['name']} is not a shape task ({', '.join(SHAPE_TASKS)})")


SNAP_TOLERANCE = 0.01  # largest relative move of a context neighbour onto a voxel of the decoding grid


def snapped_offsets(offsets, res: int, units: int) -> tuple[list[tuple[int, ...]], float]:
    """Offsets o in voxels of the units^3 grid as voxels of the res^3 grid, round(o (res - 1) / (units - 1)), and
    the largest relative distance |o f - round(o f)| / |o f| that moves a neighbour (0: exact)."""
    f = (res - 1) / (units - 1)
    on_grid = [tuple(int(round(v * f)) for v in o) for o in offsets]
    moved = [abs(v * f - round(v * f)) / abs(v * f) for o in offsets for v in o if v]
    return on_grid, max(moved, default=0.0)


@torch.no_grad()
def apply_filter(fusion, spec: SirenSpec, params: torch.Tensor, grid: np.ndarray, order: int, units: int,
                 band: float, chunk: int = 16384) -> np.ndarray:
    """Psi on the voxels of the decoded grid (R, R, R) where |Phi| < band; Phi elsewhere. Returns (R, R, R).
    A Pi with a context (``fusion.offsets``) reads the jets at x + o h_units: gathered from jets computed once per
    voxel (``grid_jets``) at the voxels o (R - 1) / (units - 1) away, rounded (``snapped_offsets``: exact when
    R - 1 is a multiple of units - 1; at 128^3 for 64^3 units each neighbour is 0.79 % nearer than o h_units),
    when that moves no neighbour by more than SNAP_TOLERANCE of its distance; else computed at each x + o h_units
    (``context_features``), 27x the jets of a 3x3x3 context."""
    out = grid.reshape(-1).copy()
    res = grid.shape[0]
    ids = np.flatnonzero(np.abs(out) < band)
    offsets = list(getattr(fusion, "offsets", [(0, 0, 0)]))
    on_grid, deviation = snapped_offsets(offsets, res, units)
    if len(offsets) > 1 and deviation <= SNAP_TOLERANCE:
        offs = offsets_tensor(on_grid, params.device)
        table = grid_jets(spec, params, res, order, on_grid, ids, units, chunk)[None]
        pos = torch.from_numpy(grid_positions(ids, res)).to(params.device)
        zero = torch.zeros(len(ids), dtype=torch.long, device=params.device)
        for a in range(0, len(ids), chunk):
            part = slice(a, a + chunk)
            x = gather(table, zero[part], pos[part], offs, offsets_pad(on_grid))
            out[ids[part]] = fusion(x)[..., 0].cpu().numpy()
        return out.reshape(grid.shape)
    step = max(1, chunk // len(offsets))
    for a in range(0, len(ids), step):
        sel = ids[a:a + step]
        x = torch.from_numpy(voxel_points(sel, grid.shape[0])).to(params.device, params.dtype)
        out[sel] = fusion(context_features(spec, params, x, order, units, offsets).float())[..., 0].cpu().numpy()
    return out.reshape(grid.shape)


@torch.no_grad()
def snap_check(fusion, spec: SirenSpec, params: torch.Tensor, grid: np.ndarray, psi: np.ndarray, order: int,
               units: int, band: float, count: int = 2048, seed: int = 0) -> dict:
    """How much snapping a context onto the decoding grid changed Psi: Pi on the jets at x + o h_units computed
    directly at ``count`` random voxels where |Phi| < band, against ``psi`` from ``apply_filter`` there.
    Returns {deviation (largest relative move of a neighbour), voxels, max_abs, rms} (SDF units)."""
    offsets = list(fusion.offsets)
    _, deviation = snapped_offsets(offsets, grid.shape[0], units)
    ids = np.flatnonzero(np.abs(grid.reshape(-1)) < band)
    ids = np.random.default_rng(seed).choice(ids, min(count, len(ids)), replace=False) if len(ids) else ids
    x = torch.from_numpy(voxel_points(ids, grid.shape[0])).to(params.device, params.dtype)
    direct = fusion(context_features(spec, params, x, order, units, offsets).float())[..., 0].cpu().numpy()
    diff = np.abs(direct - psi.reshape(-1)[ids])
    if not len(ids):
        return {"deviation": round(float(deviation), 6), "voxels": 0, "max_abs": 0.0, "rms": 0.0}
    return {"deviation": round(float(deviation), 6), "voxels": int(len(ids)), "max_abs": float(diff.max()),
            "rms": float(np.sqrt(np.mean(diff**2)))}
