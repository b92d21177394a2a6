"""All partial derivatives up to order K of N SIRENs in closed form: the paper's "derivative network" (Eq. 4).

Instead of nested autograd, truncated Taylor polynomials are pushed forward through the layers:
  - layer 0: its pre-activation omega0 (W x + b) is affine in x, so D^alpha sin(.) is analytic:
    (omega0 W)^alpha * sin^(|alpha|)(.) -- no recurrence at all;
  - linear layers act on every Taylor coefficient alike: the jet travels as one tensor per degree
    (N, n_d, Qc, H), viewed as (N, n_d * Qc, H), so one bmm per degree handles all its coefficients (no
    re-concatenation between layers); the bias only enters the order-0 coefficient;
  - hidden sine layers use the Euler-operator recurrence of ``taylor.sin_cos_blocks``.
Coefficients are kept in Taylor form (D^alpha / alpha!) and turned into derivatives only at the output.
The work is ~M plain forward passes (matmuls) plus one multiply-add per Cauchy pair in each hidden sine
layer, but only one sin and one cos per neuron and point.
"""

from __future__ import annotations

import operator

import torch

from insp_cli.errors import InspError
from insp_cli.inr.registry import register_jet
from insp_cli.inr.siren import SirenSpec, unflatten
from insp_cli.jets.space import JetSpace, from_taylor, jet_size, jet_space
from insp_cli.jets.taylor import join, sin_cos_blocks

# Working memory aimed at per chunk of points when chunk_size is None: on CPU small enough to stay in cache
# (64 SIRENs of width 32, K=4: ~130-point chunks; 64-130 measured fastest), on GPUs large enough to fill it.
CHUNK_BYTES = {"cpu": 64 * 2**20, "cuda": 1 * 2**30}
MAX_BYTES = 8 * 2**30  # default hard limit of the estimated memory of one call


def jet_bytes_per_point(spec: SirenSpec, n: int, order: int, itemsize: int) -> int:
    """Estimated peak working bytes per coordinate of ``siren_jet`` for N INRs:
    N * hidden * itemsize * (4 M + 3): a layer's input jet, pre-activation jet, sin and cos jets, plus
    layer 0's pre-activation, sin and cos."""
    return n * spec.hidden * itemsize * (4 * jet_size(spec.in_features, order) + 3)


def _fmt(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def _check_inputs(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, order, affine) -> int:
    original = order
    try:
        order = operator.index(order)  # ints, numpy ints; not floats
    except TypeError:
        order = -1
    if order < 0:
        raise InspError(f"derivative order must be a non-negative integer, got {original!r}")
    m = spec.in_features
    if params.dim() != 2 or params.shape[1] != spec.num_params:
        raise InspError(f"INR parameters must be (N, {spec.num_params}) for {spec}, got {tuple(params.shape)}")
    n = params.shape[0]
    if coords.dim() not in (2, 3) or coords.shape[-1] != m or (coords.dim() == 3 and coords.shape[0] != n):
        raise InspError(f"coords must be (Q, {m}) or ({n}, Q, {m}) for {m}-D INRs, got {tuple(coords.shape)}")
    if affine is not None:
        a, t = affine
        if tuple(a.shape) != (n, m, m) or tuple(t.shape) != (n, m):
            raise InspError(f"affine must be (A ({n}, {m}, {m}), t ({n}, {m})), got "
                            f"({tuple(a.shape)}, {tuple(t.shape)})")
    return order


def siren_jet(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, order: int,
              affine: tuple[torch.Tensor, torch.Tensor] | None = None, chunk_size: int | None = None,
              max_bytes: int = MAX_BYTES) -> torch.Tensor:
    """D^alpha Phi_n(x_q) for |alpha| <= order: (N, M, Q, C), axis M in graded order (``jet_space``).

    params: (N, P); coords: (Q, m) shared by all INRs or (N, Q, m). Values are plain derivatives (not divided
    by alpha!) w.r.t. the [-1, 1] coordinates; see ``to_pixel_units`` for per-pixel units.
    affine: optional (A (N, m, m), t (N, m)): the jet of x -> Phi(A x + t) instead (rotation/zoom augmentation).
    chunk_size: points per chunk (None: as many as fit ``CHUNK_BYTES[device type]`` of working memory).
    Differentiable w.r.t. params. Raises InspError for a negative order, wrongly shaped coords, or when the
    estimated memory exceeds ``max_bytes``.
    """
    order = _check_inputs(spec, params, coords, order, affine)
    space = jet_space(spec.in_features, order)
    n, itemsize = params.shape[0], params.element_size()
    coords = coords.to(dtype=params.dtype, device=params.device)
    q = coords.shape[-2]
    per_point = jet_bytes_per_point(spec, n, order, itemsize)
    if chunk_size is None:
        budget = CHUNK_BYTES.get(params.device.type, CHUNK_BYTES["cuda"])
        chunk_size = max(1, min(q, budget // per_point))
    chunk_size = max(1, min(int(chunk_size), max(q, 1)))
    recording = torch.is_grad_enabled() and (params.requires_grad or coords.requires_grad or
                                             (affine is not None and any(x.requires_grad for x in affine)))
    # autograd keeps every layer's jets of every chunk alive until backward
    working = per_point * (q * spec.depth if recording else chunk_size)
    output = n * space.size * q * spec.out_features * itemsize
    if working + output > max_bytes:
        raise InspError(f"derivatives up to order {order} of {n} INRs (M={space.size}, hidden={spec.hidden}) at {q} "
                        f"points need ~{_fmt(working + output)} ({_fmt(output)} output + {_fmt(working)} working "
                        f"memory{' kept for backward' if recording else ''}), over the {_fmt(max_bytes)} limit; "
                        f"lower the order or the number of INRs or points per batch")

    layers = _layers(spec, params, affine)
    coef = _first_layer_coefficients(layers[0][0], space)
    out = [_jet_chunk(layers, coef, coords[..., s:s + chunk_size, :], space) for s in range(0, q, chunk_size)]
    if not out:  # no points
        return params.new_zeros(n, space.size, 0, spec.out_features)
    return out[0] if len(out) == 1 else torch.cat(out, dim=2)


def _layers(spec: SirenSpec, params: torch.Tensor, affine) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(W^T (N, in, out), b (N, out))] per layer, omega0 folded into the sine layers (done once, not per chunk)."""
    layers = unflatten(spec, params)
    w0, b0 = layers[0]
    w0 = w0 * spec.coord_scale if spec.coord_scale != 1.0 else w0  # W0 (s x) = (s W0) x
    if affine is not None:
        # Phi(A x + t): fold the map into layer 0, W0 (A x + t) + b0 = (W0 A) x + (W0 t + b0)
        a, t = affine[0].to(w0), affine[1].to(w0)
        b0 = b0 + torch.bmm(w0, t.unsqueeze(-1)).squeeze(-1)
        w0 = torch.bmm(w0, a)
    layers[0] = (w0, b0)
    om = spec.omega0
    return [((w * om).transpose(1, 2), b * om) for w, b in layers[:-1]] + [(layers[-1][0].transpose(1, 2),
                                                                           layers[-1][1])]


def _first_layer_coefficients(g: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """(N, M, H): g^alpha / alpha! * (1, 1, -1, -1)[|alpha| mod 4] for g = omega0 W0^T (N, m, H).

    Layer 0's pre-activation z = omega0 (W0 x + b0) is affine in x, so D^alpha sin z = g^alpha sin(z + |alpha| pi/2):
    the Taylor coefficient is this constant times sin z (even |alpha|) or cos z (odd). No recurrence needed.
    """
    powers = [torch.ones_like(g)]
    for _ in range(space.order):
        powers.append(powers[-1] * g)
    powers = torch.stack(powers)  # (K + 1, N, m, H)
    alphas = space.tensor("alphas", g.device)  # (M, m)
    mono = powers[alphas, :, torch.arange(space.m, device=g.device)].prod(dim=1)  # (M, N, H): prod_i g_i^alpha_i
    sign = torch.tensor([1.0 if d % 4 < 2 else -1.0 for d in space.degrees], dtype=g.dtype, device=g.device)
    coef = mono * (sign / space.tensor("factorials", g.device, g.dtype)).view(-1, 1, 1)
    return coef.transpose(0, 1).contiguous()  # contiguous, else the products below inherit a transposed layout


def _linear(h: list[torch.Tensor], wt: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
    """W h + b on a Taylor jet in degree blocks [(N, n_d, Qc, H_in)] -> [(N, n_d, Qc, H_out)]; wt = W^T.

    A linear map acts on every coefficient alike, so each block is one bmm over its n_d * Qc rows; the bias
    only enters the order-0 coefficient.
    """
    out = []
    for blk in h:
        n, nd, qc, hin = blk.shape
        out.append(torch.bmm(blk.reshape(n, nd * qc, hin), wt).view(n, nd, qc, -1))
    out[0].add_(b[:, None, None, :])  # bmm's backward does not read its output
    return out


def _jet_chunk(layers, coef: torch.Tensor, x: torch.Tensor, space: JetSpace) -> torch.Tensor:
    """(N, M, Qc, C) derivatives at the points x (Qc, m) or (N, Qc, m)."""
    wt0, b0 = layers[0]
    z = torch.matmul(x, wt0) + b0.unsqueeze(1)  # (N, Qc, H); shared x (Qc, m) broadcasts
    phase = (torch.sin(z), torch.cos(z))
    h = [coef[:, space.block(d)].unsqueeze(2) * phase[d % 2].unsqueeze(1) for d in range(space.order + 1)]
    for wt, b in layers[1:-1]:
        h = sin_cos_blocks(_linear(h, wt, b), space)
    return from_taylor(join(_linear(h, *layers[-1])), space)


register_jet("siren", siren_jet)
