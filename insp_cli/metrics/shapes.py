"""The scores of a reconstructed surface against a reference (the meshes and their geometry: ``insp_cli.mesh``).

Meshes are (V (n, 3) float64, F (f, 3) int64) in the INR's [-1, 1]^3 coordinates (x, y, z).
- ``chamfer_l1``: two-sided point-to-MESH Chamfer-L1, 0.5 (mean_a d(a, B) + mean_b d(b, A)) over points sampled
  uniformly on the surface of each mesh, with d the distance to the other mesh's surface (not to its samples:
  point-to-point Chamfer between two samplings of one surface has a floor of ~1.6e-2 at 20k points).
- ``normal_consistency``: mean |n_A(a) . n_B(closest point of a on B)| over the same samples, both ways.
- ``band_psnr``: PSNR of SDF values where the reference is near the surface, on the pixel scale the images use:
  an SDF value s is the pixel (s + 1) / 2, so PSNR = 10 log10(4 / MSE of s) (peak-to-peak 2).
Nothing here knows about Hydra or files.
"""

from __future__ import annotations

import numpy as np

from insp_cli.mesh import Mesh, as_mesh, closest_on_mesh, face_normals, sample_surface


def chamfer_l1(a: Mesh, b: Mesh, count: int = 20000, seed: int = 0) -> float:
    """Two-sided point-to-mesh Chamfer-L1 between meshes a and b (see the module docstring)."""
    pa, _ = sample_surface(a, count, seed)
    pb, _ = sample_surface(b, count, seed + 1)
    return float(0.5 * (closest_on_mesh(pa, b)[0].mean() + closest_on_mesh(pb, a)[0].mean()))


def normal_consistency(a: Mesh, b: Mesh, count: int = 20000, seed: int = 0) -> float:
    """Mean |cos| between each mesh's normal at its samples and the other's at the closest point, both ways."""
    out = []
    for x, y, s in ((a, b, seed), (b, a, seed + 1)):
        p, n = sample_surface(x, count, s)
        _, fi = closest_on_mesh(p, y)
        out.append(np.abs((n * face_normals(y)[fi]).sum(1)).mean())
    return float(np.mean(out))


def band_psnr(pred: np.ndarray, ref: np.ndarray, band: float) -> float:
    """PSNR (dB, peak-to-peak 2) of SDF values ``pred`` against ``ref`` where |ref| < band (same shapes)."""
    sel = np.abs(ref) < band
    if not sel.any():
        return float("nan")
    mse = float(np.mean((pred[sel].astype(np.float64) - ref[sel]) ** 2))
    return 10 * np.log10(4.0 / max(mse, 1e-20))


def marching_cubes(grid: np.ndarray, level: float = 0.0) -> Mesh | None:
    """The ``level`` set of an SDF grid (R, R, R) decoded by ``grid_coords`` order (axis 0 = z, 1 = y, 2 = x)
    over [-1, 1]^3, as a mesh in (x, y, z) coordinates with outward normals; None where it has no crossing."""
    from skimage import measure

    r = grid.shape[0]
    if not (grid.min() < level < grid.max()):
        return None
    h = 2.0 / (r - 1)
    verts, faces, _, _ = measure.marching_cubes(grid.astype(np.float32), level=level, spacing=(h, h, h))
    v = verts[:, ::-1] - 1.0  # (z, y, x) index space -> (x, y, z) in [-1, 1]
    # reversing the axes flips orientation: swap two vertices so normals point out (towards positive SDF)
    return as_mesh(v, faces[:, [0, 2, 1]])
