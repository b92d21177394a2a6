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

from insp_cli.compiled import Compiled
from insp_cli.jets.space import JetSpace


def split(jet: torch.Tensor, space: JetSpace) -> list[torch.Tensor]:
    """(N, M, *R) -> [(N, n_d, *R) for d = 0..K] (views)."""
    return [jet[:, space.block(d)] for d in range(space.order + 1)]


def join(blocks: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of ``split``: (N, M, *R)."""
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)


def _sin_cos(u: list[torch.Tensor], space: JetSpace, with_cos: bool):
    """The recurrence itself, written as plain sums of products so that ``torch.compile`` can fuse each
    output coefficient into one loop (eager, it is one in-place addcmul per Cauchy pair on a fresh tensor)."""
    K = space.order
    s0, c0 = torch.sin(u[0]), torch.cos(u[0])
    s, c = [s0], [c0]
    # per-coefficient slabs (N, *R), unbound once: far fewer view ops than indexing
    uu = [blk.unbind(1) for blk in u]
    ss, cc = [s0.unbind(1)], [c0.unbind(1)]
    neg_s0 = -ss[0][0]
    for d in range(1, K + 1):
        s_d, c_d = [], []
        for g, pairs in enumerate(space.products(d)):
            # the j = d term (weight 1) starts each sum: d s_d = sum_j j u_j c_{d-j}, d c_d = -sum_j j u_j s_{d-j}
            s_d.append(_cauchy_sum(uu[d][g] * cc[0][0], pairs, uu, cc, d, 1.0))
            if with_cos or d < K:
                c_d.append(_cauchy_sum(uu[d][g] * neg_s0, pairs, uu, ss, d, -1.0))
        s.append(torch.stack(s_d, 1))
        ss.append(s_d)
        if c_d:
            c.append(torch.stack(c_d, 1))
            cc.append(c_d)
    return (s, c) if with_cos else s


def _cauchy_sum(acc: torch.Tensor, pairs, uu, other, d: int, sign: float) -> torch.Tensor:
    """acc + sign * sum over the Cauchy pairs ((j_a, a), (j_b, b)) of (j_a / d) u[j_a][a] * other[j_b][b]:
    one coefficient of s_d or c_d. acc is a fresh tensor, so adding in place is safe for autograd."""
    for (ja, a), (jb, b) in pairs:
        acc.addcmul_(uu[ja][a], other[jb][b], value=sign * ja / d)
    return acc


_SIN_COS = Compiled(_sin_cos, "the jets", "running them eagerly", dynamic=True)


def set_compile(enabled: bool) -> None:
    """Run the sin/cos recurrence through ``torch.compile`` (fused C++/Triton kernels; about 7x faster on
    CPU, forward and backward) instead of eagerly. Off by default: the first call per order, dtype and grad
    mode in a process compiles for 5-20 s (cached on disk afterwards), which only pays off for real jobs.
    Where compiling fails (no C++ compiler), one warning is printed and the jets run eagerly."""
    _SIN_COS.enabled = bool(enabled)


def compile_enabled() -> bool:
    return _SIN_COS.enabled


def sin_cos_blocks(u: list[torch.Tensor], space: JetSpace, with_cos: bool = False):
    """sin (and cos) of a Taylor jet given as degree blocks [(N, n_d, *R)]; returns the blocks of s (and c).

    One multiply-add per Cauchy pair; the j = d term (u_gamma * c_0, weight 1) starts each sum. Without
    ``with_cos`` the top-degree cos block is skipped (it would only feed degree K + 1). Differentiable.
    Compiled when ``set_compile(True)``.
    """
    return _SIN_COS(u, space, with_cos)


def sin_cos_taylor(u: torch.Tensor, space: JetSpace, with_cos: bool = False):
    """sin (and cos) of a Taylor jet u: (N, M, *R) -> (N, M, *R) [, (N, M, *R)]."""
    out = sin_cos_blocks(split(u, space), space, with_cos)
    return (join(out[0]), join(out[1])) if with_cos else join(out)
