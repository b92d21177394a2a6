"""The pixel baselines of gradient-domain editing (``filters/gradient_domain.py``): the discrete Poisson blend
(Perez et al. 2003) on decoded grids, solved with a sparse direct solver, and plain alpha blending.

Discrete problem, per channel, on an H x W grid with a boolean mask M (unknown pixels) and the guidance of
neighbouring pixels p, q (4-neighbours inside the image)

    v_pq = alpha (F1_q - F1_p) + (1 - alpha) (F2_q - F2_p)                                     (pairs touching M)

minimise sum over pairs (p, q) touching M of (U_q - U_p - v_pq)^2 with U = F1 off M. Setting the derivative
with respect to each unknown U_p to zero gives, for p in M with neighbours N_p (image border: fewer neighbours,
i.e. a Neumann border),

    |N_p| U_p - sum_{q in N_p, q in M} U_q = sum_{q in N_p, q not in M} F1_q - sum_{q in N_p} v_pq,

a symmetric positive definite sparse system (the 5-point Laplacian on M) as long as M leaves at least one pixel
outside it. Reconstruction from gradients alone is the case M = the whole image, alpha = 1 with one pixel (the
first) pinned to the image's value; the result is then shifted to the image's mean (the constant is free).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from ...errors import InspError


def _pairs(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (p, q) of every horizontal and vertical neighbour pair of an H x W grid, q right of / below
    p: each (E,)."""
    idx = np.arange(h * w).reshape(h, w)
    p = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    q = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return p, q


def _solve(h: int, w: int, unknown: np.ndarray, fixed: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Least squares of sum_{pairs touching ``unknown``} (U_q - U_p - v_pq)^2 with U = fixed off ``unknown``.
    unknown (H*W,) bool; fixed (H*W, C); v (E, C) per pair of ``_pairs``. Returns U (H*W, C)."""
    p, q = _pairs(h, w)
    use = unknown[p] | unknown[q]
    p, q, v = p[use], q[use], v[use]
    pos = -np.ones(h * w, np.int64)
    pos[unknown] = np.arange(int(unknown.sum()))
    k = int(unknown.sum())
    # each pair contributes (U_q - U_p - v)^2: normal equations row by row (the graph Laplacian on the unknowns)
    rows, cols, vals = [], [], []
    rhs = np.zeros((k, fixed.shape[1]))
    for a, b, sign in ((p, q, 1.0), (q, p, -1.0)):  # the equation of unknown a from the pair (a, b)
        ua = unknown[a]
        a_, b_, v_ = a[ua], b[ua], v[ua]
        rows.append(pos[a_]), cols.append(pos[a_]), vals.append(np.ones(len(a_)))
        inner = unknown[b_]
        rows.append(pos[a_[inner]]), cols.append(pos[b_[inner]]), vals.append(-np.ones(int(inner.sum())))
        np.add.at(rhs, pos[a_[~inner]], fixed[b_[~inner]])
        # d/dU_a of (U_b - U_a - v)^2 (a = p, sign +) or (U_a - U_b - v)^2 (a = q, sign -): U_a - U_b = -sign v
        np.add.at(rhs, pos[a_], -sign * v_)
    lap = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(k, k))
    sol = spsolve(lap.tocsc(), rhs)
    out = fixed.astype(np.float64).copy()
    out[unknown] = sol.reshape(k, -1)
    return out


def grid_guidance(f1: np.ndarray, f2: np.ndarray | None, alpha: float) -> np.ndarray:
    """v_pq of every neighbour pair from finite differences: f1, f2 (H, W, C) -> (E, C), alpha weighting f1
    (f2 None: f1's differences)."""
    h, w, c = f1.shape
    p, q = _pairs(h, w)
    a, b = f1.reshape(-1, c).astype(np.float64), None if f2 is None else f2.reshape(-1, c).astype(np.float64)
    v = a[q] - a[p]
    return v if b is None else alpha * v + (1 - alpha) * (b[q] - b[p])


def poisson_blend(f1: np.ndarray, f2: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """Seamless cloning (alpha = 0) or a mixed blend of f2 into f1 inside ``mask``: f1, f2 (H, W, C), mask (H, W)
    bool -> (H, W, C) float64 (not clipped). InspError for an empty mask or one covering every pixel."""
    h, w, c = f1.shape
    m = np.asarray(mask, bool).ravel()
    if not m.any() or m.all():
        raise InspError("the mask must cover some pixels and leave some outside (the boundary values come from "
                        "there)")
    return _solve(h, w, m, f1.reshape(-1, c), grid_guidance(f1, f2, alpha)).reshape(h, w, c)


def poisson_reconstruct(f: np.ndarray) -> np.ndarray:
    """The image integrated back from its own finite differences, shifted to f's mean: (H, W, C) -> (H, W, C)."""
    h, w, c = f.shape
    unknown = np.ones(h * w, bool)
    unknown[0] = False  # one pinned pixel makes the system definite
    out = _solve(h, w, unknown, f.reshape(-1, c), grid_guidance(f, None, 1.0)).reshape(h, w, c)
    return out - out.mean((0, 1)) + f.mean((0, 1))


def alpha_blend(f1: np.ndarray, f2: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """f1 outside the mask, alpha f1 + (1 - alpha) f2 inside (alpha = 0: cut and paste): (H, W, C)."""
    m = np.asarray(mask, bool)[..., None]
    return np.where(m, alpha * f1 + (1 - alpha) * f2, f1)


def seam_error(result: np.ndarray, f1: np.ndarray, f2: np.ndarray, mask: np.ndarray, alpha: float) -> float:
    """Seam visibility: the RMS, over every 4-neighbour pair (p, q) that crosses the mask's boundary (exactly one
    of p, q in the mask) and over channels, of the result's finite difference minus the guidance's,
    (R_q - R_p) - v_pq with v_pq of ``grid_guidance(f1, f2, alpha)``, in pixel units [0, 1]. The same number for
    any result (INR blend, Poisson blend, alpha blend): 0 means no jump across the seam that the guidance does not
    have. result, f1, f2 (H, W, C); mask (H, W) bool."""
    h, w, c = f1.shape
    p, q = _pairs(h, w)
    m = np.asarray(mask, bool).ravel()
    cross = m[p] != m[q]
    if not cross.any():
        raise InspError("the mask has no boundary inside the image: nothing to score")
    r = result.reshape(-1, c).astype(np.float64)
    err = (r[q] - r[p]) - grid_guidance(f1, f2, alpha)
    return float(np.sqrt(np.mean(err[cross] ** 2)))
