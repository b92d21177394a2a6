"""A batch of WIRE INRs (Saragadam et al. 2023): MLPs with complex Gabor wavelet activations.

    psi(z) = exp(j omega0 z) exp(-|sigma0 z|^2)
    h_1 = psi(W_0 x + b_0)          (real weights; the activation makes the features complex)
    h_l = psi(W_l h_{l-1} + b_l)    (complex weights and biases)
    Phi = Re(W_L h) + b_L           (complex weights, a real bias: the imaginary bias would never be used)

Every complex number is two real parameters, so ``num_params`` counts what an optimiser updates and budgets
compare with real-valued backbones. The arithmetic is written on real and imaginary parts (no complex
autograd). Coordinates in [-1, 1]^m, outputs in [-1, 1], one tensor ``params: (N, P)`` as for SIREN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .siren import layout_views
from .registry import Backbone, MLPSpec, register


@dataclass(frozen=True)
class WireSpec(MLPSpec):
    """Architecture of one WIRE: R^in_features -> R^out_features with ``depth`` Gabor layers."""

    hidden: int = 32
    omega0: float = 20.0  # the wavelet's frequency (WIRE's default)
    sigma0: float = 10.0  # the wavelet's inverse width (WIRE's default "scale")

    kind = "wire"
    title = "WIRE"
    @property
    def layout(self) -> list[tuple[str, tuple[int, ...], int]]:
        """[(name, shape, offset)]: W0, b0 real; then Wr, Wi, br, bi per complex layer; Wr, Wi, b of the output."""
        h, out, offset = self.hidden, [], 0

        def add(name, shape):
            nonlocal offset
            out.append((name, shape, offset))
            offset += math.prod(shape)
        add("W0", (h, self.in_features)), add("b0", (h,))
        for i in range(1, self.depth):
            add(f"W{i}r", (h, h)), add(f"W{i}i", (h, h)), add(f"b{i}r", (h,)), add(f"b{i}i", (h,))
        add(f"W{self.depth}r", (self.out_features, h)), add(f"W{self.depth}i", (self.out_features, h))
        add(f"b{self.depth}", (self.out_features,))
        return out

    @property
    def num_params(self) -> int:
        h = self.hidden
        return h * self.in_features + h + (self.depth - 1) * 2 * (h * h + h) + 2 * self.out_features * h + \
            self.out_features

    def describe(self) -> str:
        return f"WIRE {self.depth}x{self.hidden} omega0 {self.omega0:g} sigma0 {self.sigma0:g}"


def init_params(spec: WireSpec, n: int, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
    """nn.Linear's initialisation on every real and imaginary part: U(-1/sqrt(in), 1/sqrt(in))."""
    chunks = []
    for name, shape, _ in spec.layout:
        fan_in = spec.in_features if name.startswith(("W0", "b0")) else spec.hidden
        bound = 1.0 / math.sqrt(fan_in)
        chunks.append((torch.rand(n, math.prod(shape), generator=generator, dtype=dtype) * 2 - 1) * bound)
    return torch.cat(chunks, dim=1).to(device)


def _gabor(zr: torch.Tensor, zi: torch.Tensor | None, spec: WireSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """psi(zr + j zi) as (real, imaginary) parts: exp(-omega0 zi - sigma0^2 |z|^2) e^(j omega0 zr)."""
    w, s2 = spec.omega0, spec.sigma0 ** 2
    mag2 = zr * zr if zi is None else zr * zr + zi * zi
    log_amp = -s2 * mag2 if zi is None else -s2 * mag2 - w * zi
    # an envelope below e^-20 (~2e-9) is set to exactly 0: such tiny values otherwise breed denormal floats in
    # the products of the backward pass, which make CPU matrix products ~20x slower
    keep = log_amp > -20.0
    amp = torch.where(keep, torch.exp(log_amp.clamp_min(-20.0)), torch.zeros((), dtype=zr.dtype))
    return amp * torch.cos(w * zr), amp * torch.sin(w * zr)


def wire_forward(spec: WireSpec, params: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate N WIREs. params: (N, P); coords: (Q, m) or (N, Q, m). Returns (N, Q, out_features)."""
    v = layout_views(spec, params)
    n = params.shape[0]
    x = coords if coords.dim() == 3 else coords.unsqueeze(0).expand(n, -1, -1)
    z = torch.baddbmm(v["b0"].unsqueeze(1), x, v["W0"].transpose(1, 2))
    hr, hi = _gabor(z, None, spec)
    for i in range(1, spec.depth):
        wr, wi = v[f"W{i}r"].transpose(1, 2), v[f"W{i}i"].transpose(1, 2)
        zr = torch.baddbmm(v[f"b{i}r"].unsqueeze(1), hr, wr) - torch.bmm(hi, wi)
        zi = torch.baddbmm(v[f"b{i}i"].unsqueeze(1), hr, wi) + torch.bmm(hi, wr)
        hr, hi = _gabor(zr, zi, spec)
    L = spec.depth
    return torch.baddbmm(v[f"b{L}"].unsqueeze(1), hr, v[f"W{L}r"].transpose(1, 2)) - \
        torch.bmm(hi, v[f"W{L}i"].transpose(1, 2))


def from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> WireSpec:
    """conf/model/wire.yaml settings -> the WIRE of m-D signals with c channels."""
    return WireSpec(in_features=m, out_features=c, hidden=int(model["hidden"]), depth=int(model["depth"]),
                    omega0=float(model["omega0"]), sigma0=float(model["sigma0"]))


BACKBONE = register(Backbone(kind="wire", name="WIRE", spec=WireSpec, forward=wire_forward, init=init_params,
                             from_cfg=from_cfg))
