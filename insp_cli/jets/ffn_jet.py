"""Jets of ReLU MLPs and Fourier-feature MLPs (``inr/ffn.py``) in closed form, any order.

Everything after the input map is linear or a ReLU, so the jet travels as plain derivatives (no Taylor
recurrence):
  * the input map: gamma(v) = [cos u, sin u], u = 2 pi B v + phase, is analytic with
    D^alpha cos u = (2 pi B)^alpha cos(u + |alpha| pi / 2) and D^alpha sin u = (2 pi B)^alpha sin(u + |alpha| pi / 2)
    per feature ((2 pi B)^alpha = prod_i (2 pi B_i)^alpha_i); the plain ReLU MLP's input v has D^(e_i) v = e_i and
    nothing above order 1;
  * a linear layer maps every derivative alike (the bias only enters the value);
  * ReLU is piecewise linear: D^alpha relu(z) = [z > 0] D^alpha z away from the kink {z = 0} (measure zero;
    nested autograd does the same), so its second and higher derivatives are zero a.e.
So an FFN's derivatives of order >= 2 are non-zero only through gamma, and a plain ReLU MLP's are zero (a.e.):
its jets above order 1 are exact zeros, returned without computing them.
"""

from __future__ import annotations

import math

import torch

from insp_cli.inr.ffn import FFNSpec, ReluSpec
from insp_cli.inr.registry import register_jet
from insp_cli.inr.siren import layout_views
from insp_cli.jets.derivative_network import CHUNK_BYTES, _check_inputs
from insp_cli.jets.ops import jet_relu
from insp_cli.jets.space import JetSpace, jet_space


def mlp_jet_bytes_per_point(spec: ReluSpec | FFNSpec, n: int, order: int, itemsize: int) -> int:
    """Estimated peak working bytes per point: N * M * (input width + 2 hidden) * itemsize."""
    return n * jet_space(spec.in_features, order).size * (spec.input_width + 2 * spec.hidden) * itemsize


def _input_map(spec, params: torch.Tensor, affine) -> tuple[torch.Tensor, torch.Tensor]:
    """The input map's linear part per INR: G (N, d, m) and offset t (N, d) with u = G x + t the pre-features
    (FFN: G = 2 pi B A, t = 2 pi B t_aff; plain ReLU MLP: G = A, t = t_aff)."""
    n, m = params.shape[0], spec.in_features
    g = (spec.b_matrix(params.dtype, params.device) * (2 * math.pi) if spec.kind == "ffn"
         else torch.eye(m, dtype=params.dtype, device=params.device))
    g = g.unsqueeze(0).expand(n, -1, -1)
    if affine is None:
        return g, params.new_zeros(n, g.shape[1])
    a, t = affine[0].to(params), affine[1].to(params)
    return torch.bmm(g, a), torch.bmm(g, t.unsqueeze(-1)).squeeze(-1)


def _input_jet(spec, g: torch.Tensor, offset: torch.Tensor, x: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """D^alpha of the first layer's input at the points x (Qc, m) or (N, Qc, m): (N, M, Qc, input_width)."""
    n, q = g.shape[0], x.shape[-2]
    u = torch.matmul(x, g.transpose(1, 2)) + offset.unsqueeze(1)  # (N, Qc, d)
    if spec.kind == "relu":  # u = A x + t: the value, then the constant columns of A, then zeros
        out = u.new_zeros(n, space.size, q, u.shape[-1])
        out[:, 0] = u
        if space.order >= 1:
            out[:, 1:1 + spec.in_features] = g.transpose(1, 2).unsqueeze(2)
        return out
    alphas = space.tensor("alphas", g.device)  # (M, m)
    powers = [torch.ones_like(g)]
    for _ in range(space.order):
        powers.append(powers[-1] * g)
    powers = torch.stack(powers)  # (K + 1, N, d, m)
    mono = powers[alphas, :, :, torch.arange(space.m, device=g.device)].prod(dim=1)  # (M, N, d): G^alpha
    mono = mono.permute(1, 0, 2).unsqueeze(2)  # (N, M, 1, d)
    c, s = torch.cos(u).unsqueeze(1), torch.sin(u).unsqueeze(1)  # (N, 1, Qc, d)
    # cos(u + k pi / 2) = cos, -sin, -cos, sin and sin(u + k pi / 2) = sin, cos, -sin, -cos for k mod 4 = 0..3
    deg = torch.tensor(space.degrees, device=g.device) % 4
    sign_c = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=g.dtype, device=g.device)[deg].view(1, -1, 1, 1)
    sign_s = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=g.dtype, device=g.device)[deg].view(1, -1, 1, 1)
    odd = (deg % 2 == 1).view(1, -1, 1, 1)
    cos_part = sign_c * torch.where(odd, s, c)
    sin_part = sign_s * torch.where(odd, c, s)
    return torch.cat([mono * cos_part, mono * sin_part], dim=-1)


def _linear(jet: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """W D^alpha h (+ b on the value): jet (N, M, Qc, d_in), w (N, d_out, d_in), b (N, d_out) -> (N, M, Qc, d_out)."""
    n, m, q, d = jet.shape
    out = torch.bmm(jet.reshape(n, m * q, d), w.transpose(1, 2)).view(n, m, q, -1)
    out[:, 0] += b.unsqueeze(1)  # bmm's backward does not read its output
    return out


def mlp_jet(spec: ReluSpec | FFNSpec, params: torch.Tensor, coords: torch.Tensor, order: int,
            affine: tuple[torch.Tensor, torch.Tensor] | None = None, chunk_size: int | None = None) -> torch.Tensor:
    """D^alpha Phi_n(x_q), |alpha| <= order, of N ReLU MLPs or FFNs: (N, M, Q, C), graded order (``jet_space``).

    Same contract as ``siren_jet``: params (N, P); coords (Q, m) or (N, Q, m); plain derivatives in the units
    of the [-1, 1] coordinates; affine (A (N, m, m), t (N, m)) gives the jet of x -> Phi(A x + t); chunk_size
    points per chunk (None: as many as fit ``CHUNK_BYTES``). Differentiable w.r.t. params. A plain ReLU MLP's
    derivatives above order 1 are zero (a.e.) and come back as zeros.
    """
    order = _check_inputs(spec, params, coords, order, affine)
    space = jet_space(spec.in_features, order)
    if spec.kind == "relu" and order > 1:
        low = mlp_jet(spec, params, coords, 1, affine=affine, chunk_size=chunk_size)
        zeros = low.new_zeros(low.shape[0], space.size - low.shape[1], *low.shape[2:])
        return torch.cat([low, zeros], dim=1)
    n = params.shape[0]
    coords = coords.to(dtype=params.dtype, device=params.device)
    q = coords.shape[-2]
    if chunk_size is None:
        per_point = mlp_jet_bytes_per_point(spec, n, order, params.element_size())
        budget = CHUNK_BYTES.get(params.device.type, CHUNK_BYTES["cuda"])
        chunk_size = max(1, min(q, budget // per_point))
    chunk_size = max(1, min(int(chunk_size), max(q, 1)))
    if q == 0:
        return params.new_zeros(n, space.size, 0, spec.out_features)
    g, offset = _input_map(spec, params, affine)
    v = layout_views(spec, params)
    out = []
    for a in range(0, q, chunk_size):
        h = _input_jet(spec, g, offset, coords[..., a:a + chunk_size, :], space)
        for i in range(spec.depth):
            h = jet_relu(_linear(h, v[f"W{i}"], v[f"b{i}"]))
        out.append(_linear(h, v[f"W{spec.depth}"], v[f"b{spec.depth}"]))
    return out[0] if len(out) == 1 else torch.cat(out, dim=2)


register_jet("ffn", mlp_jet)
register_jet("relu", mlp_jet)
