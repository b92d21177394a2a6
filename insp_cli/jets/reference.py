"""Nested reverse-mode autograd: the slow, obviously-correct reference for ``insp_cli.jets`` (tests, benchmarks)
and for INSP-ConvNet's ``forward_autograd``.

Every D^alpha is one ``torch.autograd.grad`` pass of its parent D^(alpha - e_i) (i = first non-zero axis),
with ``create_graph`` wherever a higher derivative still needs it. Output layout as ``siren_jet``: (N, M, Q, C).
"""

from __future__ import annotations

from typing import Callable

import torch

from insp_cli.inr.siren import SirenSpec, siren_forward
from insp_cli.jets.space import jet_space


def autograd_derivatives(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, order: int,
                         keep_graph: bool = True) -> torch.Tensor:
    """D^alpha fn(x) for |alpha| <= order as (N, M, Q, C), still attached to x (which must require grad).

    fn maps (N, Q, m) -> (N, Q, C) and must treat points independently (then the gradient of a sum is the
    per-point gradient). With keep_graph=False the top order builds no graph (what a reference needs).
    """
    with torch.enable_grad():
        return nested_derivatives(fn(x), x, order, keep_graph=keep_graph)


def nested_derivatives(y: torch.Tensor, x: torch.Tensor, order: int, keep_graph: bool = True) -> torch.Tensor:
    """D^alpha y for |alpha| <= order of y (N, Q, C), already computed from x (N, Q, m): (N, M, Q, C).

    Every D^alpha is one ``torch.autograd.grad`` pass of its parent D^(alpha - e_i) (i = first non-zero axis).
    keep_graph=True keeps the graph of every order (INSP-ConvNet's reference differentiates the result again);
    keep_graph=False builds none for the top order. Points must be independent.
    """
    space = jet_space(x.shape[-1], order)
    with torch.enable_grad():
        channels = []
        for c in range(y.shape[-1]):
            d = [y[..., c]]
            for alpha, deg in zip(space.alphas[1:], space.degrees[1:]):
                i = next(k for k, a in enumerate(alpha) if a)
                parent = d[space.index[tuple(a - (k == i) for k, a in enumerate(alpha))]]
                g = None
                if parent.requires_grad:
                    g = torch.autograd.grad(parent.sum(), x, create_graph=keep_graph or deg < order,
                                            retain_graph=True, allow_unused=True)[0]
                # a derivative that no longer depends on x (e.g. ReLU'') is identically zero
                d.append(torch.zeros_like(y[..., c]) if g is None else g[..., i])
            channels.append(torch.stack(d, dim=1))
    return torch.stack(channels, dim=-1)


def nested_autograd_jet(fn: Callable[[torch.Tensor], torch.Tensor], coords: torch.Tensor, order: int) -> torch.Tensor:
    """D^alpha fn for |alpha| <= order at coords (N, Q, m): (N, M, Q, C), detached."""
    x = coords.detach().clone().requires_grad_(True)
    return autograd_derivatives(fn, x, order, keep_graph=False).detach()


def siren_jet_reference(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, order: int,
                        affine: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Same contract as ``siren_jet`` (without chunking), by nested autograd."""
    n = params.shape[0]
    if coords.dim() == 2:
        coords = coords.unsqueeze(0).expand(n, -1, -1)

    def phi(x):
        if affine is not None:
            x = x @ affine[0].transpose(1, 2) + affine[1].unsqueeze(1)
        return siren_forward(spec, params, x)

    return nested_autograd_jet(phi, coords, order)


def jet_relative_error(jet: torch.Tensor, ref: torch.Tensor) -> float:
    """max over multi-indices alpha of  max|jet - ref|[alpha] / max|ref|[alpha]  for jets (N, M, Q, C).

    Normalising each D^alpha by its own largest magnitude keeps near-zero entries from blowing the ratio
    up while still comparing orders whose scales differ by 1e6.
    """
    diff = (jet.double() - ref.double()).abs().transpose(0, 1).flatten(1).amax(dim=1)
    scale = ref.double().abs().transpose(0, 1).flatten(1).amax(dim=1).clamp_min(1e-300)
    return (diff / scale).max().item()


def oinr_jet_reference(spec, params: torch.Tensor, order: int, coords: torch.Tensor | None = None) -> torch.Tensor:
    """Same contract as ``oinr_jet``, by nested automatic differentiation (torch.func.jacfwd: t has 2 entries,
    so forward mode is the cheap nesting; reverse mode over every pixel's output runs out of memory) of
    t -> oinr_forward(grid + t) at t = 0: one nesting per order, every D^alpha read off the order-|alpha| tensor."""
    from insp_cli.inr.oinr import oinr_forward
    from insp_cli.inr.siren import grid_coords

    coords = grid_coords(spec.size, dtype=params.dtype) if coords is None else coords
    space = jet_space(2, order)

    def phi(t):
        return oinr_forward(spec, params, coords + t)

    t0 = torch.zeros(2, dtype=params.dtype)
    fn, by_order = phi, []
    for _ in range(order + 1):
        by_order.append(fn(t0))  # (N, Q, C, 2, ..., 2)
        fn = torch.func.jacfwd(fn)
    out = []
    for alpha in space.alphas:
        d = by_order[sum(alpha)]
        idx = (0,) * alpha[0] + (1,) * alpha[1]
        out.append(d[(Ellipsis, *idx)] if idx else d)
    return torch.stack(out, dim=1)
