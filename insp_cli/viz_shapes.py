"""Pictures of meshes without an OpenGL context: an orthographic, Lambert-shaded point-splat rendering.

``render_mesh`` samples the surface densely (``mesh.sample_surface``), rotates it to the view, keeps
the nearest sample per pixel (a z-buffer) and shades it by |n . light|: a few hundred ms for a 256 x 256 picture
of a 100k-triangle mesh, so an eval can draw every method of every test shape side by side (``viz.save_grid``).
"""

from __future__ import annotations

import numpy as np

from insp_cli.mesh import Mesh, sample_surface


def view_rotation(azimuth: float, elevation: float) -> np.ndarray:
    """(3, 3) rotation: turn about the vertical (y) axis by ``azimuth``, then tilt about x by ``elevation``
    (degrees); the camera looks down -z."""
    a, e = np.radians(azimuth), np.radians(elevation)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return rx @ ry


def render_mesh(mesh: Mesh | None, size: int = 256, azimuth: float = 30.0, elevation: float = 20.0,
                density: int = 8, seed: int = 0) -> np.ndarray:
    """(size, size, 3) image in [0, 1] of a mesh in [-1, 1]^3 (white background; blank for None)."""
    img = np.ones((size, size, 3), dtype=np.float32)
    if mesh is None or len(mesh[1]) == 0:
        return img
    rot = view_rotation(azimuth, elevation)
    pts, nrm = sample_surface(mesh, density * size * size, seed)
    p, n = pts @ rot.T, nrm @ rot.T
    col = np.clip(((p[:, 0] + 1.1) / 2.2 * size).astype(int), 0, size - 1)
    row = np.clip(((1.1 - p[:, 1]) / 2.2 * size).astype(int), 0, size - 1)
    pix = row * size + col
    order = np.lexsort((-p[:, 2], pix))  # per pixel, the nearest sample (largest z) first
    first = order[np.r_[True, pix[order][1:] != pix[order][:-1]]]
    light = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    shade = 0.15 + 0.85 * np.abs(n[first] @ light)
    flat = img.reshape(-1, 3)
    flat[pix[first]] = shade[:, None] * np.array([0.85, 0.88, 1.0])
    return img
