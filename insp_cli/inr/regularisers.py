"""Regularisers of an INR fitted to an incomplete image (INRR paper, Li et al. 2023, Sec. 4 and Table 1).

Each is a pure function of a batch of decoded images ``X: (N, C, H, W)`` (the INR's output on the full pixel
grid, in the INR's [-1, 1] scale) and, for the learned ones, of the regulariser's own parameters; each returns
one value per INR, ``(N,)``, so N INRs fitted together are regularised independently (the loss is a sum).

- ``tv``: the INRR code's "TV" is the p-norm of the 4-neighbour Laplacian of the image on interior pixels,
  divided by the number of rows: ``|| 4 X[i,j] - X[i,j-1] - X[i,j+1] - X[i-1,j] - X[i+1,j] ||_p / H`` (p = 1),
  summed over channels.
- ``l2``: the Frobenius norm of the INR's last-layer weight matrix (not squared).
- ``dirichlet``: ``tr(T^T L T)`` with ``L = D - A`` (``D`` = diag of A's row sums) for rows of ``T`` = X (row
  similarity, A: (N, H, H)) or ``T`` = X^T (column similarity, A: (N, W, W)); equals
  ``1/2 sum_ij A_ij ||T_i - T_j||^2`` for a symmetric A.
- ``air_adjacency``: AIR's learned adjacency: a free matrix per INR, row-wise softmin, symmetrised, zero
  diagonal.
- ``inrr_adjacency``: INRR's adjacency from a tiny SIREN g of the row (column) coordinate, ``G = g(u): (m', r)``,
  in one of three normalisations (docs/fit.md):
  ``embed`` (the public code, lizhemin15/INRR ``reg.cair_reg``: g ends in a softmax over its r outputs, so each
  row i gets a distribution p_i over r groups, and A = P P^T, A_ij = <p_i, p_j>, zero diagonal);
  ``row`` (S = G G^T, row-wise softmax of S as AIR's softmin, symmetrised, zero diagonal: every row tied to
  others by a total weight ~1); ``global`` (the paper's Sec. 4.2: exp(S) / 1^T exp(S) 1, all of A sums to 1).
"""

from __future__ import annotations

import torch

from ..schema import REGULARISERS
from .siren import SirenSpec, siren_forward

KINDS = REGULARISERS  # none | tv | l2 | air | inrr: written once, as the rule of fit.reg (schema.py)


def tv(x: torch.Tensor, p: float = 1.0) -> torch.Tensor:
    """x: (N, C, H, W) -> (N,): ||4-neighbour Laplacian on interior pixels||_p / H, summed over channels."""
    lap = (4 * x[..., 1:-1, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1])
    lap = lap.flatten(2)  # (N, C, (H-2)(W-2))
    return torch.linalg.vector_norm(lap, ord=p, dim=2).sum(1) / x.shape[-2]


def l2_last_layer(spec: SirenSpec, params: torch.Tensor) -> torch.Tensor:
    """params: (N, P) -> (N,): Frobenius norm of the last layer's weights W_L (out_features x hidden)."""
    o, n = spec.layer_dims[-1]
    start = spec.num_params - (o * n + o)
    return torch.linalg.vector_norm(params[:, start:start + o * n], dim=1)


def laplacian(a: torch.Tensor) -> torch.Tensor:
    """a: (N, m, m) adjacency -> L = D - A, D = diag(row sums of A)."""
    return torch.diag_embed(a.sum(-1)) - a


def dirichlet(x: torch.Tensor, a: torch.Tensor, axis: str) -> torch.Tensor:
    """tr(T^T L T) summed over channels. x: (N, C, H, W); axis 'rows': T = X, a: (N, H, H);
    axis 'cols': T = X^T, a: (N, W, W). Returns (N,)."""
    t = x if axis == "rows" else x.transpose(-1, -2)  # (N, C, m, n): similarity between the m rows of T
    lt = torch.einsum("bij,bcjk->bcik", laplacian(a), t)
    return (t * lt).sum((1, 2, 3))


def normalised_adjacency(scores: torch.Tensor, how: str) -> torch.Tensor:
    """scores: (N, m, m) -> A: row-wise softmax ('softmax') or softmin ('softmin'), then (A + A^T) / 2 with a
    zero diagonal. Entries in [0, 1]; A is symmetric, so L = D - A is positive semi-definite."""
    a = torch.softmax(scores if how == "softmax" else -scores, dim=-1)
    a = 0.5 * (a + a.transpose(-1, -2))
    return a * (1 - torch.eye(a.shape[-1], dtype=a.dtype, device=a.device))


def air_adjacency(free: torch.Tensor) -> torch.Tensor:
    """AIR: free: (N, m, m) learned matrix -> adjacency (N, m, m) by row-wise softmin."""
    return normalised_adjacency(free, "softmin")


def inrr_adjacency(spec: SirenSpec, g_params: torch.Tensor, m: int, norm: str = "row") -> torch.Tensor:
    """INRR: a tiny SIREN g: R -> R^r per INR (g_params: (N, P_g), spec.in_features = 1) evaluated at the m
    coordinates u_i = i/m, i = 1..m -> G: (N, m, r); adjacency (N, m, m), symmetric, zero diagonal:
    norm 'embed' (the public code): P = softmax of each row of G over its r entries, A = P P^T (entries in
    [0, 1], a row's total weight <= 1);
    norm 'row': row-softmax of S = G G^T, then (A + A^T) / 2 (each row of A sums to ~1);
    norm 'global' (the paper's Eq. in Sec. 4.2): exp(S) / (1^T exp(S) 1), one softmax over all m^2 entries
    (A sums to 1, symmetric as S is)."""
    u = torch.arange(1, m + 1, dtype=g_params.dtype, device=g_params.device).div_(m).unsqueeze(1)  # (m, 1)
    g = siren_forward(spec, g_params, u)  # (N, m, r)
    off = 1 - torch.eye(m, dtype=g.dtype, device=g.device)
    if norm == "embed":
        p = torch.softmax(g, dim=-1)
        return (p @ p.transpose(1, 2)) * off
    s = g @ g.transpose(1, 2)
    if norm == "row":
        return normalised_adjacency(s, "softmax")
    if norm != "global":
        raise ValueError(f"unknown INRR normalisation {norm!r} (embed | row | global)")
    return torch.softmax(s.flatten(1), dim=1).view_as(s) * off
