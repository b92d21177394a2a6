"""INSP-ConvNet: a CNN that runs on the INR itself (paper Sec. 3.3, Eq. 5-6, App. C Algorithm 1).

Layer l is an INSP-Conv: per channel a learned combination of its partial derivatives
``z_c = sum_{|alpha| <= K} theta[c, alpha] D^alpha y_c`` (depthwise; the first layer fans each input channel
out to ``width`` combinations), then a 1x1 channel mix, InstanceNorm and ReLU. The network's output at a point
is a function of the input INR's derivatives up to order L*K there, so it never decodes the INR:

* the input INR's jet (all D^alpha Phi, |alpha| <= L*K, ``insp_cli.jets.siren_jet``) is computed once per
  batch (without gradients: the INR is fixed) and every layer maps a jet to a jet: layer l receives the jet of
  its input up to order (L-l+1)*K and returns the jet of its output up to order (L-l)*K, because
  D^beta z_c = sum_alpha theta[c, alpha] D^(alpha+beta) y_c (a linear layer shifts multi-indices);
* the 1x1 mix is linear, so it acts on every derivative alike;
* InstanceNorm statistics (mean and variance of the value over the evaluation points, per sample and
  channel) are numbers, not functions of x: the whole jet is scaled by 1/sigma and only the value shifts;
* ReLU is linear on either side of its kink: the jet of ReLU(u) is u's jet where u > 0 and 0 elsewhere
  (what autograd gives too, ReLU'' = 0);
* the last layer's values are averaged over the evaluation points in each of pool x pool cells of the
  domain (an integral over the cell for the image grid) and a linear head gives the class logits. The paper
  does not say how it pools; one global average (pool = 1) keeps only a bag of local features and learned
  far more slowly in our runs (docs/convnet.md), cells keep the coarse layout, as a CNN's last pooling does.

Derivatives are taken in pixel units (x / h with h the pixel spacing of the INR's native grid), so theta
speaks the language of a pixel kernel's moments and does not depend on the [-1, 1] coordinate convention.
Each layer multiplies theta by a fixed per-alpha scale (``alpha_scale``, set once by ``calibrate`` from data
so every derivative enters at unit RMS): high-order derivatives of a SIREN are 100x larger than its values,
and without it AdamW would spend its first epochs learning that scale instead of the task.

Coordinate augmentation (rotation, zoom) is x -> A x + t folded into the INR's first layer by ``siren_jet``.
``forward_autograd`` builds the same network with nested torch.autograd: the slow reference that tests and
``scripts/bench_convnet.py`` compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from insp_cli.errors import InspError
from insp_cli.inr.siren import SirenSpec, siren_forward
from insp_cli.jets import (derivative_combination, jet_affine, jet_channel_mix, jet_relu, jet_softplus, jet_space,
                          siren_jet, to_pixel_units)
from insp_cli.jets.inr_jet import inr_jet as backbone_jet
from insp_cli.jets.reference import nested_derivatives

NORM_EPS = 1e-5


def inr_jet(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, order: int, spacing: tuple[float, ...],
            affine: tuple[torch.Tensor, torch.Tensor] | None = None, chunk_size: int | None = None) -> torch.Tensor:
    """The input of INSP-ConvNet: the INRs' derivatives up to ``order`` in pixel units, (N, M, Q, C).

    params: (N, P); coords: (Q, m) or (N, Q, m) in [-1, 1]; affine: (A (N, m, m), t (N, m)) evaluates
    x -> Phi(A x + t) (augmentation). The INR is fixed, so no graph is recorded.
    """
    with torch.no_grad():
        jet = backbone_jet(spec, params, coords, order, affine=affine, chunk_size=chunk_size)
    return to_pixel_units(jet, jet_space(spec.in_features, order), spacing)


def random_affines(n: int, rotation: float = 0.0, zoom: float = 0.0, translate: float = 0.0,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random coordinate maps x -> A x + t of 2-D INRs (App. C: augmentation by affine maps of the coordinates).

    rotation: max angle in degrees (uniform in [-rotation, rotation]); zoom: scale uniform in
    [1 - zoom, 1 + zoom] (> 1 samples a larger region: the content shrinks); translate: shift uniform in
    [-translate, translate] per axis, in [-1, 1] units. Returns A (n, 2, 2), t (n, 2).
    """
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(rotation)
    scale = 1 + u[:, 1] * zoom
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    a = torch.stack([torch.stack([cos, -sin], dim=-1), torch.stack([sin, cos], dim=-1)], dim=1)
    return a, u[:, 2:] * translate


ACTIVATIONS = ("relu", "softplus")


def jet_activation(jet: torch.Tensor, space, name: str) -> torch.Tensor:
    """Jet of sigma(y) for sigma = relu | softplus (``jets.jet_relu``, ``jets.jet_softplus``): (N, M, Q, C)."""
    if name == "relu":
        return jet_relu(jet)
    if name != "softplus":
        raise InspError(f"unknown activation {name!r} (choose from {', '.join(ACTIVATIONS)})")
    return jet_softplus(jet, space)


class InspConv(nn.Module):
    """One INSP-Conv layer on jets: derivative combination (depthwise) -> 1x1 mix -> InstanceNorm -> ReLU.

    theta: (C_in, mult, M_K) derivative weights, output channel c * mult + j of the depthwise step comes from
    input channel c; mix: (C_out, C_in * mult) without bias (InstanceNorm removes any constant);
    gamma, beta: (C_out,) the InstanceNorm affine; alpha_scale: (M_K,) fixed preconditioning of theta.
    """

    def __init__(self, m: int, order: int, in_channels: int, out_channels: int, multiplier: int = 1,
                 norm: bool = True, activation: str | None = "relu", axis_order: int | None = None):
        super().__init__()
        if activation is not None and activation not in ACTIVATIONS:
            raise InspError(f"unknown activation {activation!r} (choose from {', '.join(ACTIVATIONS)})")
        self.m, self.order, self.norm, self.activation = m, order, norm, activation
        self.in_channels, self.multiplier, self.out_channels = in_channels, multiplier, out_channels
        mk = jet_space(m, order).size
        # with alpha_scale (set by calibrate) every derivative starts with the same expected weight
        theta = torch.randn(in_channels, multiplier, mk) / math.sqrt(mk)
        self.theta = nn.Parameter(theta)
        self.mix = nn.Parameter(torch.randn(out_channels, in_channels * multiplier)
                                / math.sqrt(in_channels * multiplier))
        if norm:
            self.gamma = nn.Parameter(torch.ones(out_channels))
            self.beta = nn.Parameter(torch.zeros(out_channels))
        else:  # without InstanceNorm the ReLU needs its own threshold
            self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("alpha_scale", torch.ones(mk))
        # axis_order: only the D^alpha with every alpha_i <= axis_order (a (2a+1)^m pixel kernel's moments)
        alphas = jet_space(m, order).alphas
        keep = [axis_order is None or max(a) <= axis_order for a in alphas]
        self.register_buffer("alpha_mask", torch.tensor(keep, dtype=torch.float32), persistent=False)
        self._shift_index: dict = {}

    def kernel(self) -> torch.Tensor:
        """(C_in, mult, M_K) the derivative weights as applied: theta times the fixed scale and mask."""
        return self.theta * (self.alpha_scale * self.alpha_mask)

    def derivative_combination(self, jet: torch.Tensor, order_out: int) -> torch.Tensor:
        """(N, M_in, Q, C_in) jet of order K + order_out -> (N, M_out, Q, C_in * mult) jet of order order_out."""
        n, m_in, q, c = jet.shape
        if self.multiplier > 1:
            jet = jet.unsqueeze(-1).expand(n, m_in, q, c, self.multiplier).reshape(n, m_in, q, -1)
        theta = self.kernel().reshape(-1, self.theta.shape[-1])
        return derivative_combination(jet, jet_space(self.m, self.order + order_out), theta, order_out)

    def pre_norm(self, jet: torch.Tensor, order_out: int) -> torch.Tensor:
        """Derivative combination and 1x1 mix: (N, M_in, Q, C_in) -> (N, M_out, Q, C_out)."""
        bias = None if self.norm else self.bias
        if self.multiplier == 1:
            return jet_channel_mix(self.derivative_combination(jet, order_out), self.mix, bias)
        # Fan-out layer (C_in = 1 or 3, mult = width / C_in): mix . depthwise is one full combination
        # W[o, c, alpha] = sum_j mix[o, (c, j)] theta[c, j, alpha]; applying W directly costs C_in * M_K
        # multiply-adds per output coefficient instead of mult * (M_K + C_out), and copies no fanned-out jet.
        theta = self.kernel()  # (C_in, mult, M_K)
        w = torch.einsum("ocj,cja->oca", self.mix.view(-1, self.in_channels, self.multiplier), theta)
        idx = self.shift_index(order_out, jet.device)  # (M_K, M_out)
        z = torch.einsum("nabqc,oca->nbqo", jet[:, idx], w.to(jet.dtype))
        if bias is not None:
            z[:, 0] += bias  # a constant: only the value moves
        return z

    def shift_index(self, order_out: int, device) -> torch.Tensor:
        """(M_K, M_out): position of alpha + beta in the input jet, for kernel alpha and output beta."""
        key = (order_out, str(device))
        if key not in self._shift_index:
            space = jet_space(self.m, self.order + order_out)
            rows = [space.shifted(alpha, order_out) for alpha in jet_space(self.m, self.order).alphas]
            self._shift_index[key] = torch.tensor(rows, dtype=torch.long, device=device)
        return self._shift_index[key]

    def normalize(self, z: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """InstanceNorm with per-sample constants (mean, var (N, C)) applied to a jet z (N, M, Q, C)."""
        scale = self.gamma / torch.sqrt(var + NORM_EPS)  # (N, C)
        return jet_affine(z, scale, self.beta - mean * scale)

    def forward(self, jet: torch.Tensor, order_out: int) -> torch.Tensor:
        z = self.pre_norm(jet, order_out)
        if self.norm:
            value = z[:, 0]  # (N, Q, C)
            z = self.normalize(z, value.mean(dim=1), value.var(dim=1, unbiased=False))
        if self.activation is None:
            return z
        return jet_activation(z, jet_space(self.m, order_out), self.activation)


class InspConvNet(nn.Module):
    """L INSP-Conv layers of order K, average pooling over the evaluation points, a linear head.

    order: K for every layer, or one K_l per layer (e.g. (2, 1, 1): three nonlinearities on the same order-4
    input jet as two layers of order 2).
    axis_order: keep only the derivatives with every alpha_i <= axis_order (None: all |alpha| <= K). With
    K = 4, axis_order = 2 a layer reads the 9 moments a 3 x 3 pixel kernel sees instead of the 6 of K = 2.

    in_channels: C of the INRs (1 MNIST, 3 CIFAR); width: channels of every layer; the first layer's depthwise
    step gives each input channel ``width // in_channels`` (at least 1) derivative combinations.
    spacing: pixel spacing per coordinate axis of the INRs' native grid (``jets.grid_spacing(size)``).
    pool: the last layer's values are averaged over each of pool^m equal cells of [-1, 1]^m (pool = 1: one
    global average); final_norm: InstanceNorm in the last layer too (default: when pool > 1).
    Input of ``forward``: the pixel-unit jet (N, M_{L K}, Q, C) from ``inr_jet`` at points coords (Q, m); Q is
    any set of points.
    """

    def __init__(self, in_channels: int, num_classes: int, spacing: tuple[float, ...], layers: int = 2,
                 order: int | Sequence[int] = 2, width: int = 32, pool: int = 4, final_norm: bool | None = None,
                 activation: str = "relu", axis_order: int | None = None):
        super().__init__()
        orders = [int(order)] * layers if isinstance(order, int) else [int(k) for k in order]
        if layers < 1 or len(orders) != layers or min(orders) < 1 or width < 1 or pool < 1:
            raise InspError(f"INSP-ConvNet needs layers >= 1, an order >= 1 per layer (one number, or a list of "
                            f"{layers}), width >= 1, pool >= 1 (got layers={layers}, order={order}, "
                            f"width={width}, pool={pool})")
        self.pool = pool
        self.m = len(spacing)
        self.spacing = tuple(float(h) for h in spacing)
        self.in_channels, self.num_classes, self.width = in_channels, num_classes, width
        self.orders = tuple(orders)
        # layer i returns the jet of its output up to the orders of the layers after it
        self.orders_out = tuple(sum(orders[i + 1:]) for i in range(layers))
        mult = max(1, width // in_channels)
        # Every layer is Algorithm 1's INSP-Conv -> InstanceNorm -> ReLU, except the last one when a single
        # global average (pool = 1) follows: InstanceNorm gives every sample's channel mean 0 and variance 1
        # over the points, and the average of its ReLU would only see the shape of that distribution (we
        # measured chance-level training accuracy), so there it keeps its scale (a bias instead of the norm).
        final_norm = pool > 1 if final_norm is None else final_norm
        convs = [InspConv(self.m, orders[i], c_in, width, multiplier=mult if i == 0 else 1,
                          norm=i < layers - 1 or final_norm, activation=activation, axis_order=axis_order)
                 for i, c_in in enumerate([in_channels] + [width] * (layers - 1))]
        self.convs = nn.ModuleList(convs)
        self.head = nn.Linear(width * pool**self.m, num_classes)

    @property
    def input_order(self) -> int:
        """Order of the input jet: layer l consumes its K_l orders, so K_1 + ... + K_L (L * K) in all."""
        return sum(self.orders)

    def input_jet(self, spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor,
                  affine=None, chunk_size: int | None = None) -> torch.Tensor:
        """(N, M_{L K}, Q, C) pixel-unit jet of the INRs at coords (optionally through x -> A x + t)."""
        return inr_jet(spec, params, coords, self.input_order, self.spacing, affine=affine, chunk_size=chunk_size)

    def features(self, jet: torch.Tensor) -> torch.Tensor:
        """Last layer's values at the evaluation points: jet (N, M_{L K}, Q, C_in) -> (N, Q, width)."""
        expected = jet_space(self.m, self.input_order).size
        if jet.dim() != 4 or jet.shape[1] != expected or jet.shape[3] != self.in_channels:
            raise InspError(f"INSP-ConvNet expects an input jet (N, {expected}, Q, {self.in_channels}) "
                            f"(order {self.input_order}), got {tuple(jet.shape)}")
        y = jet
        for i, conv in enumerate(self.convs):
            y = conv(y, self.orders_out[i])
        return y[:, 0]

    def forward(self, jet: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (N, num_classes) from the input jet (N, M_{L K}, Q, C_in) at the points coords (Q, m)
        (needed when pool > 1)."""
        return self.head(self.pooled(self.features(jet), coords))

    def pooled(self, features: torch.Tensor, coords: torch.Tensor | None) -> torch.Tensor:
        """Average over the points: (N, Q, C) -> (N, C) for pool = 1, else the averages over the pool^m
        equal cells of [-1, 1]^m, (N, pool^m * C) (cells without points give 0)."""
        if self.pool == 1:
            return features.mean(dim=1)
        if coords is None or coords.shape[0] != features.shape[1]:
            raise InspError(f"pool={self.pool} averages over cells of the domain: pass the {features.shape[1]} "
                            "coordinates of the evaluation points")
        return torch.einsum("nqc,qb->nbc", features, self.cell_weights(coords).to(features)).flatten(1)

    def cell_weights(self, coords: torch.Tensor) -> torch.Tensor:
        """(Q, pool^m): 1 / (points in the cell) for the cell of each point (row-major over x, y, ...)."""
        b = self.pool
        cell = ((coords + 1) / 2 * b).floor().long().clamp(0, b - 1)  # (Q, m)
        flat = sum(cell[:, i] * b**i for i in range(self.m))
        onehot = torch.nn.functional.one_hot(flat, b**self.m).to(torch.float64)
        return onehot / onehot.sum(dim=0).clamp_min(1)

    @torch.no_grad()
    def calibrate(self, jet: torch.Tensor) -> None:
        """Set each layer's ``alpha_scale`` so that every derivative it combines has unit RMS on this batch.

        Layer by layer (a layer's input depends on the scales before it); a data-dependent initialisation,
        saved with the weights, never updated by training.
        """
        y = jet
        for i, conv in enumerate(self.convs):
            k = jet_space(self.m, conv.order).size
            rms = y[:, :k].pow(2).mean(dim=(0, 2, 3)).sqrt()
            conv.alpha_scale.copy_(1.0 / rms.clamp_min(1e-6))
            y = conv(y, self.orders_out[i])

    def activation_bytes(self, batch: int, points: int, itemsize: int = 4) -> int:
        """Estimated bytes of the activations autograd keeps for one training step (forward + backward)."""
        total = batch * jet_space(self.m, self.input_order).size * points * self.in_channels
        for i, conv in enumerate(self.convs):
            m_out = jet_space(self.m, self.orders_out[i]).size
            # depthwise output, mixed output, normalised output, ReLU output
            total += batch * m_out * points * (conv.in_channels * conv.multiplier + 3 * conv.out_channels)
        return total * itemsize * 2  # gradients of the same size during backward

    # ------------------------------------------------------------------ reference: nested autograd

    def forward_autograd(self, spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor,
                         affine=None) -> torch.Tensor:
        """The same network built the naive way: every D^alpha of every layer by nested torch.autograd.grad
        with create_graph (App. C: "we recursively call for gradient networks of the previous layer").

        Logits (N, num_classes), differentiable w.r.t. the network's parameters. coords: (Q, m).
        InstanceNorm statistics are functionals of the whole function, not of x: they are computed from a
        separate evaluation at a detached copy of the points, so no x-derivative flows through them.
        """
        n = params.shape[0]
        h = torch.tensor(self.spacing, dtype=params.dtype, device=params.device)
        if coords.dim() == 2:
            coords = coords.unsqueeze(0).expand(n, -1, -1)
        coords = coords.to(params)

        def phi(u):  # the INR in pixel coordinates u = x / h
            x = u * h
            if affine is not None:
                x = x @ affine[0].to(x).transpose(1, 2) + affine[1].to(x).unsqueeze(1)
            return siren_forward(spec, params, x)

        stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        last = len(self.convs)

        def pre_norm(l: int, u: torch.Tensor) -> torch.Tensor:
            """Layer l's derivative combination + mix at points u: (N, Q, C_out)."""
            conv = self.convs[l - 1]
            y = phi(u) if l == 1 else layer(l - 1, u)
            d = nested_derivatives(y, u, conv.order)  # (N, M_K, Q, C_in)
            theta = conv.kernel()  # (C_in, mult, M_K)
            z = torch.einsum("cja,naqc->nqcj", theta, d).reshape(n, -1, conv.in_channels * conv.multiplier)
            return torch.nn.functional.linear(z, conv.mix, None if conv.norm else conv.bias)

        def layer(l: int, u: torch.Tensor) -> torch.Tensor:
            conv = self.convs[l - 1]
            z = pre_norm(l, u)
            if conv.norm:
                if l not in stats:
                    # the last layer is never differentiated in x again, so its own values give its statistics
                    ref = z if l == last else pre_norm(l, u.detach().requires_grad_(True))
                    stats[l] = (ref.mean(dim=1), ref.var(dim=1, unbiased=False))
                z = conv.normalize(z.unsqueeze(1), *stats[l])[:, 0]
            if conv.activation is None:
                return z
            return torch.relu(z) if conv.activation == "relu" else torch.nn.functional.softplus(z)

        with torch.enable_grad():
            u = (coords / h).detach().requires_grad_(True)
            return self.head(self.pooled(layer(last, u), coords[0]))

