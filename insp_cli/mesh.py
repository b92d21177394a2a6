"""Closed triangle meshes: the ``Mesh`` type and its geometry, shared by the data (SDF samples of a mesh), the
shape filters and baselines, the scores (``metrics.shapes``) and the renders (``viz_shapes``).

A mesh is (V (n, 3) float64, F (f, 3) int64) in the INR's [-1, 1]^3 coordinates (x, y, z).
- ``exact_sdf``: the signed distance to a closed mesh (point-cloud-utils: closest point on the mesh, sign from
  its pseudo-normal), negative inside.
- ``sample_surface``: points uniformly on the surface (area-weighted) and their faces' normals.
- ``closest_on_mesh``: the distance of points to the surface and their closest faces.
A neutral module (like files.py): it imports no room of insp, so data/ and metrics/ both read it. Nothing here
knows about Hydra or files.
"""

from __future__ import annotations

import numpy as np

Mesh = tuple[np.ndarray, np.ndarray]


def _pcu():
    import point_cloud_utils as pcu

    return pcu


def as_mesh(v, f) -> Mesh:
    return np.ascontiguousarray(v, dtype=np.float64), np.ascontiguousarray(f, dtype=np.int64)


def exact_sdf(points: np.ndarray, mesh: Mesh, chunk: int = 1 << 20) -> np.ndarray:
    """Signed distance (Q,) of points (Q, 3) to a closed mesh, negative inside."""
    v, f = as_mesh(*mesh)
    p = np.ascontiguousarray(points, dtype=np.float64)
    out = [_pcu().signed_distance_to_mesh(p[a:a + chunk], v, f)[0] for a in range(0, len(p), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def face_normals(mesh: Mesh) -> np.ndarray:
    """Unit normals (f, 3) of the faces (right-hand rule on F's vertex order)."""
    v, f = mesh
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / np.linalg.norm(n, axis=1, keepdims=True).clip(min=1e-300)


def sample_surface(mesh: Mesh, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniformly on the surface (area-weighted) and the normal of their face: (count, 3) each."""
    v, f = mesh
    rng = np.random.default_rng(seed)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if not area.sum() > 0:
        raise ValueError("the mesh has no area")
    face = rng.choice(len(f), size=count, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(count))[:, None], rng.random(count)[:, None]
    pts = (1 - r1) * a[face] + r1 * (1 - r2) * b[face] + r1 * r2 * c[face]
    return pts, face_normals(mesh)[face]


def closest_on_mesh(points: np.ndarray, mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Distance (Q,) from each point to the mesh's surface and the index (Q,) of the closest face."""
    v, f = as_mesh(*mesh)
    d, fi, _ = _pcu().closest_points_on_mesh(np.ascontiguousarray(points, dtype=np.float64), v, f)
    return np.abs(d), fi
