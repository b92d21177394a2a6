"""INSP-Net on SDF INRs (m = 3, paper Sec. 5.2): Psi(x) = Pi(jet of Phi at x), and the tasks' targets.

Grids. An SDF INR is decoded on the R^3 grid of ``inr.siren.grid_coords`` over [-1, 1]^3: voxel (i, j, k) of
the array (R, R, R) is the point (x_k, y_j, z_i), spacing h = 2 / (R - 1). ``check_grid`` refuses a grid whose
float32 arrays would not fit in the memory allowed, and says how much it needs.

Features. The jet of Phi up to order K (``jets.siren_jet``, M = C(K+3, 3): 10 at K = 2, 35 at K = 4) in voxel units
of the filter's training grid (D^alpha Phi * h_train^|alpha|), so a filter means the same operator at whatever
resolution Psi is decoded. Pi is ``insp_net.LearnedFusion`` with m = 3 and one channel: a residual MLP that
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


@torch.no_grad()
def apply_filter(fusion, spec: SirenSpec, params: torch.Tensor, grid: np.ndarray, order: int, units: int,
                 band: float, chunk: int = 16384) -> np.ndarray:
    """Psi on the voxels of the decoded grid (R, R, R) where |Phi| < band; Phi elsewhere. Returns (R, R, R)."""
    out = grid.reshape(-1).copy()
    ids = np.flatnonzero(np.abs(out) < band)
    for a in range(0, len(ids), chunk):
        sel = ids[a:a + chunk]
        x = torch.from_numpy(voxel_points(sel, grid.shape[0])).to(params.device, params.dtype)
        out[sel] = fusion(voxel_features(spec, params, x, order, units).float())[..., 0].cpu().numpy()
    return out.reshape(grid.shape)
