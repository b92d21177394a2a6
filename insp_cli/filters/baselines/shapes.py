"""Classical smoothing of a shape, the rows INSP-Net is compared with (``insp eval`` on SDF INRs).

- ``gaussian``: the decoded SDF grid convolved with a 3-D Gaussian of std ``sigma`` in [-1, 1] units
  (``filters.shapes.gaussian_sdf``), then marching cubes: the discrete counterpart of task=smooth's operator.
- ``taubin`` / ``laplacian``: trimesh.smoothing.filter_taubin / filter_laplacian of the input's marching-cubes
  mesh (umbrella weights), with the stated lambda, nu and iterations (trimesh's defaults, nu 0.53 as Taubin's
  paper pairs with lambda 0.5).
Meshes are (V, F) arrays (``insp_cli.mesh.Mesh``); nothing here knows about Hydra or files.
"""

from __future__ import annotations

from insp_cli.mesh import Mesh, as_mesh

MESH_BASELINES = ("taubin", "laplacian")
GRID_BASELINES = ("gaussian",)
BASELINES = GRID_BASELINES + MESH_BASELINES
DEFAULTS = {"taubin": {"lamb": 0.5, "nu": 0.53, "iterations": 10}, "laplacian": {"lamb": 0.5, "iterations": 10}}


def smooth_mesh(kind: str, mesh: Mesh, params: dict | None = None) -> Mesh:
    """The mesh smoothed by trimesh's ``kind`` filter (taubin | laplacian) with ``params`` over DEFAULTS."""
    import trimesh
    from trimesh import smoothing

    p = {**DEFAULTS[kind], **(params or {})}
    m = trimesh.Trimesh(vertices=mesh[0].copy(), faces=mesh[1].copy(), process=False)
    if kind == "taubin":
        smoothing.filter_taubin(m, lamb=float(p["lamb"]), nu=float(p["nu"]), iterations=int(p["iterations"]))
    else:
        smoothing.filter_laplacian(m, lamb=float(p["lamb"]), iterations=int(p["iterations"]),
                                   volume_constraint=False)
    return as_mesh(m.vertices, m.faces)
