"""Taylor-mode arithmetic on truncated multivariate Taylor polynomials (coefficients D^alpha f / alpha!).

Inside the toolkit a Taylor jet is a list of homogeneous parts, one per degree d = 0..K: u[d] is
(N, n_d, *R) with the degree-d multi-indices in graded order (see ``space.py``); ``split``/``join`` convert
from/to one (N, M, *R) tensor. Keeping degrees apart avoids re-concatenating big tensors at every layer.

sin/cos of a jet u follow from the Euler operator E = sum_i x_i d/dx_i, which multiplies a degree-d
homogeneous part by d: differentiating s = sin(u), c = cos(u) gives E s = c E u and E c = -s E u, so

    d * s_d = sum_{j=1..d} (j u_j) * c_{d-j},      d * c_d = -sum_{j=1..d} (j u_j) * s_{d-j},

with s_0 = sin(u_0), c_0 = cos(u_0): one sin and one cos per point, then only multiply-adds (Faa di Bruno
without enumerating partitions). The products of homogeneous parts are Cauchy products: the coefficient of
x^gamma collects u_alpha * c_beta over alpha + beta = gamma (``JetSpace.products``).
"""

from __future__ import annotations

import torch

from insp_cli.jets.space import JetSpace


def split(jet: torch.Tensor, space: JetSpace) -> list[torch.Tensor]:
    """(N, M, *R) -> [(N, n_d, *R) for d = 0..K] (views)."""
    return [jet[:, space.block(d)] for d in range(space.order + 1)]


def join(blocks: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of ``split``: (N, M, *R)."""
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)


def _new_block(like: torch.Tensor, n: int) -> torch.Tensor:
    return like.new_empty(like.shape[0], n, *like.shape[2:])


def _mul_into(dst: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    # out= is the cheap way to fill a slice of the output block, but autograd refuses out=
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        dst.copy_(a * b)
    else:
        torch.mul(a, b, out=dst)


def sin_cos_blocks(u: list[torch.Tensor], space: JetSpace, with_cos: bool = False):
    """sin (and cos) of a Taylor jet given as degree blocks; returns the blocks of s (and c).

    One fused multiply-add per Cauchy pair, written straight into the output blocks. The products are
    ordered so that the j = d term (u_gamma * c_0, weight 1) initialises each entry: no zero fill and no
    rescaling pass. Without ``with_cos`` the top-degree cos block is skipped (it would only feed degree K + 1).
    Differentiable: every block is complete before anything reads it, so autograd's saved tensors are never
    modified afterwards.
    """
    K = space.order
    s, c = [torch.sin(u[0])], [torch.cos(u[0])]
    # per-coefficient slabs (N, *R) of the finished blocks, unbound once: far fewer view ops than indexing
    uu = [blk.unbind(1) for blk in u]
    ss, cc = [s[0].unbind(1)], [c[0].unbind(1)]
    neg_s0 = -ss[0][0]
    for d in range(1, K + 1):
        outs = [(s, ss, cc[0][0], cc, 1.0)]  # d s_d = sum j u_j c_{d-j}
        if with_cos or d < K:
            outs.append((c, cc, neg_s0, ss, -1.0))  # d c_d = -sum j u_j s_{d-j}
        for blocks, slabs, first, other, sign in outs:
            blk = _new_block(u[d], u[d].shape[1])
            for g, pairs in enumerate(space.products(d)):
                dst = blk.select(1, g)  # written in place: select, not unbind (autograd forbids that)
                _mul_into(dst, uu[d][g], first)
                for (ja, a), (jb, b) in pairs:
                    dst.addcmul_(uu[ja][a], other[jb][b], value=sign * ja / d)
            blocks.append(blk)
            slabs.append(blk.unbind(1))
    return (s, c) if with_cos else s


def sin_cos_taylor(u: torch.Tensor, space: JetSpace, with_cos: bool = False):
    """sin (and cos) of a Taylor jet u: (N, M, *R) -> (N, M, *R) [, (N, M, *R)]."""
    out = sin_cos_blocks(split(u, space), space, with_cos)
    return (join(out[0]), join(out[1])) if with_cos else join(out)
