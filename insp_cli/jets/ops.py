"""Pointwise operations on jets, for INSP-ConvNet layers (paper Sec. 3.3, App. C, Algorithm 1).

Every op maps the jet of y (N, M, Q, C) -- plain derivatives D^alpha y, axis M in graded order of ``space``
-- to the jet of the processed function, so stacked layers never go back to autograd.
"""

from __future__ import annotations

import math

import torch

from insp_cli.errors import InspError
from insp_cli.jets.space import JetSpace, from_taylor, jet_size, jet_space, to_taylor
from insp_cli.jets.taylor import sin_cos_taylor


def _check(jet: torch.Tensor, space: JetSpace) -> None:
    if jet.dim() != 4 or jet.shape[1] != space.size:
        raise InspError(f"expected a jet (N, {space.size}, Q, C) for {space}, got {tuple(jet.shape)}")


def truncate(jet: torch.Tensor, space: JetSpace, order: int) -> torch.Tensor:
    """The jet up to a lower order: a prefix of axis M thanks to the graded order (a view)."""
    _check(jet, space)
    if not 0 <= order <= space.order:
        raise InspError(f"cannot truncate a jet of order {space.order} to order {order}")
    return jet[:, : jet_size(space.m, order)]


def jet_shift(jet: torch.Tensor, space: JetSpace, alpha: tuple[int, ...], order_out: int) -> torch.Tensor:
    """Jet of D^alpha y up to ``order_out``: D^beta (D^alpha y) = D^(alpha+beta) y. (N, M_out, Q, C)."""
    _check(jet, space)
    alpha = tuple(alpha)
    if len(alpha) != space.m or min(alpha) < 0 or sum(alpha) + order_out > space.order or order_out < 0:
        raise InspError(f"D^{alpha} up to order {order_out} needs derivatives of order {sum(alpha) + order_out}, "
                        f"but the jet only has order {space.order}")
    idx = torch.tensor(space.shifted(alpha, order_out), device=jet.device)
    return jet.index_select(1, idx)


def _combination_lookup(space: JetSpace, k: int, order_out: int) -> list[list[int]]:
    """lookup[beta][gamma] = position of alpha (in the order-k space) with alpha + beta = gamma, else M_k."""
    def build():
        small, out = jet_space(space.m, k), jet_space(space.m, order_out)
        table = [[small.size] * space.size for _ in range(out.size)]
        for a, alpha in enumerate(small.alphas):
            for b, gamma in enumerate(space.shifted(alpha, order_out)):
                table[b][gamma] = a
        return table
    return space.cached(("combination", k, order_out), build)


def derivative_combination(jet: torch.Tensor, space: JetSpace, theta: torch.Tensor, order_out: int) -> torch.Tensor:
    """Depthwise INSP-Conv (paper Eq. 5): jet of y'_c = sum_alpha theta[c, alpha] D^alpha y_c, up to order_out.

    theta: (C, M_k) over the multi-indices of order k (graded order); needs k + order_out <= K_in.
    Returns (N, M_out, Q, C). D^beta y'_c = sum_alpha theta[c, alpha] D^(alpha+beta) y_c is linear in the input
    jet, so one gather builds the (C, M_out, M_in) operator and one einsum applies it.
    """
    _check(jet, space)
    c, mk = theta.shape
    k = next((k for k in range(space.order + 1) if jet_size(space.m, k) == mk), None)
    if k is None or c != jet.shape[-1]:
        raise InspError(f"theta must be (C={jet.shape[-1]}, C(k+{space.m}, {space.m})) for some order k, "
                        f"got {tuple(theta.shape)}")
    if k + order_out > space.order or order_out < 0:
        raise InspError(f"an order-{k} INSP-Conv with output order {order_out} needs input order "
                        f"{k + order_out}, the jet has {space.order}")
    lookup = torch.tensor(_combination_lookup(space, k, order_out), device=jet.device)
    operator = torch.cat([theta, theta.new_zeros(c, 1)], dim=1)[:, lookup]  # (C, M_out, M_in)
    return torch.einsum("cbg,ngqc->nbqc", operator.to(jet.dtype), jet)


def jet_relu(jet: torch.Tensor) -> torch.Tensor:
    """Jet of ReLU(y). ReLU is piecewise linear: every derivative is mask * D^alpha y with mask = [y > 0].

    Exact except on the kink {y = 0}, which has measure zero for generic INRs (nested autograd does the same).
    """
    return jet * (jet[:, :1] > 0).to(jet.dtype)


def jet_leaky_relu(jet: torch.Tensor, slope: float = 0.01) -> torch.Tensor:
    """Jet of LeakyReLU(y): (1 or slope) * D^alpha y, same kink caveat as ``jet_relu``."""
    factor = torch.where(jet[:, :1] > 0, torch.ones_like(jet[:, :1]), torch.full_like(jet[:, :1], slope))
    return jet * factor


def jet_sin(jet: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """Jet of sin(y), exact to the jet's order (Faa di Bruno via the Euler-operator recurrence)."""
    _check(jet, space)
    return from_taylor(sin_cos_taylor(to_taylor(jet, space), space), space)


def softplus_derivatives(u: torch.Tensor, k: int) -> list[torch.Tensor]:
    """softplus and its first k derivatives at u: softplus' = s = sigmoid(u), and every further derivative is
    a polynomial p(s) whose derivative is p'(s) s (1 - s)."""
    s = torch.sigmoid(u)
    out = [torch.nn.functional.softplus(u)]
    poly = [0.0, 1.0]  # coefficients of p_1(s) = s, lowest power first
    for _ in range(k):
        out.append(sum(c * s**i for i, c in enumerate(poly) if c))
        dp = [i * c for i, c in enumerate(poly)][1:]  # p'(s)
        # p'(s) * (s - s^2)
        nxt = [0.0] * (len(dp) + 2)
        for i, c in enumerate(dp):
            nxt[i + 1] += c
            nxt[i + 2] -= c
        poly = nxt
    return out


def jet_softplus(jet: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """Jet of softplus(y), exact to the jet's order: (N, M, Q, C) -> (N, M, Q, C).

    softplus is composed with the Taylor polynomial of y (Faa di Bruno by Horner): sigma(y0 + d) =
    sum_k sigma^(k)(y0) / k! d^k, d = y - y0 without its constant term, products truncated at the jet's order.
    Unlike ReLU's (a mask times y's jet) it carries products of derivatives (e.g. |grad y|^2 in the second
    derivatives), which a next layer can combine.
    """
    _check(jet, space)
    K = space.order
    coef = to_taylor(jet, space)
    blocks = [coef[:, space.block(d)] for d in range(K + 1)]
    derivs = softplus_derivatives(blocks[0], K)  # each (N, 1, Q, C)
    # Horner: r = c_K; r = c_k + d * r for k = K-1 .. 0, with c_k = sigma^(k)(y0) / k!
    r = [derivs[K] / math.factorial(K)] + [torch.zeros_like(b) for b in blocks[1:]]
    for k in range(K - 1, -1, -1):
        prod = [derivs[k] / math.factorial(k)]
        for d in range(1, K + 1):
            terms = [(blocks[j][:, :, None] * r[d - j][:, None]).flatten(1, 2)  # (N, n_j * n_{d-j}, Q, C)
                     for j in range(1, d + 1)]
            idx = torch.cat([space.tensor(("outer", d, j), jet.device) for j in range(1, d + 1)])
            prod.append(blocks[d].new_zeros(blocks[d].shape).index_add(1, idx, torch.cat(terms, dim=1)))
        r = prod
    return from_taylor(torch.cat(r, dim=1), space)


def jet_affine(jet: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Jet of scale * y + shift with per-sample, per-channel constants (N, C), e.g. instance norm whose
    statistics are treated as constants of the sample. The shift only moves the order-0 coefficient."""
    out = jet * scale[:, None, None, :]
    out[:, 0] += shift[:, None, :]  # mul's backward does not read its output
    return out


def jet_channel_mix(jet: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Jet of a 1x1 channel mix W y + b: weight (C_out, C_in), bias (C_out,). Returns (N, M, Q, C_out);
    the bias is a constant, so it only enters the order-0 coefficient."""
    out = torch.matmul(jet, weight.t())
    if bias is not None:
        out[:, 0] += bias
    return out


def coordinate_map_operator(space: JetSpace, a: torch.Tensor) -> torch.Tensor:
    """(N, M, M) block-diagonal L with D^alpha z(x) = sum_beta L[alpha, beta] D^beta y(A x), z(x) = y(A x).

    Substituting p = A x into y's Taylor polynomial: sum_beta c_beta (A dx)^beta, so with P_beta the Taylor
    coefficients of prod_i (A_i . x)^beta_i, L[alpha, beta] = alpha! / beta! * P_beta[alpha].
    a: (N, m, m). Built with small (N, M) tensors; cheap next to any jet.
    """
    n = a.shape[0]
    polys = [None] * space.size  # P_beta as degree-|beta| blocks (N, n_d)
    polys[0] = a.new_ones(n, 1)
    for pos in range(1, space.size):
        beta = space.alphas[pos]
        i = next(k for k, b in enumerate(beta) if b)
        parent = space.index[tuple(b - (k == i) for k, b in enumerate(beta))]
        d = space.degrees[pos]
        # (linear form A_i . x) * P_parent, scattered by where e_k + alpha lands in degree d
        prod = (a[:, i, :, None] * polys[parent][:, None, :]).flatten(1)
        idx = space.tensor(("outer", d, 1), a.device)
        polys[pos] = a.new_zeros(n, space.offsets[d + 1] - space.offsets[d]).index_add(1, idx, prod)
    fact = space.tensor("factorials", a.device, a.dtype)
    op = a.new_zeros(n, space.size, space.size)
    for pos in range(space.size):
        blk = space.block(space.degrees[pos])
        op[:, blk, pos] = polys[pos] * fact[blk] / fact[pos]
    return op


def jet_affine_coords(jet: torch.Tensor, space: JetSpace, a: torch.Tensor) -> torch.Tensor:
    """Jet of z(x) = y(A x) at x = A^-1 p from the jet of y at the points p (same samples, new coordinates).

    a: (N, m, m). A translation t only moves the points, so for rotation/zoom augmentation either sample y at
    A x + t and apply this, or ask ``siren_jet(..., affine=(A, t))`` directly (same numbers).
    """
    _check(jet, space)
    if tuple(a.shape) != (jet.shape[0], space.m, space.m):
        raise InspError(f"A must be ({jet.shape[0]}, {space.m}, {space.m}), got {tuple(a.shape)}")
    return torch.einsum("nab,nbqc->naqc", coordinate_map_operator(space, a.to(jet.dtype)), jet)
