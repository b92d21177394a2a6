"""A batch of multiplicative filter networks (MFN, Fathony et al. 2021), FourierNet variant.

No activation between layers; instead every layer multiplies by a sinusoidal filter of the input:

    g_i(x) = sin(Omega_i x + phi_i),   z_0 = g_0(x),   z_i = (W_i z_{i-1} + b_i) * g_i(x)  (i = 1..depth),
    Phi(x) = W_out z_depth + b_out

so the output is a linear combination of sinusoids of x. Initialisation as in the paper: Omega_i ~
U(-1, 1) * input_scale / sqrt(depth + 1) / sqrt(m), phi_i ~ U(-pi, pi), W_i ~ U(-1/sqrt(hidden), 1/sqrt(hidden)).
Coordinates in [-1, 1]^m (the paper's [0, 1] with input_scale 256 is this with 128), outputs in [-1, 1],
parameters one tensor ``params: (N, P)``. The Gabor-filter variant (GaborNet) is not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .siren import layout_views
from .registry import Backbone, MLPSpec, register


@dataclass(frozen=True)
class MFNSpec(MLPSpec):
    """Architecture of one FourierNet: depth + 1 filters of width hidden, depth linear layers, a linear output."""

    hidden: int = 32
    input_scale: float = 128.0

    kind = "mfn"
    title = "MFN"

    def __post_init__(self):
        super().__post_init__()
        if not self.input_scale > 0:
            raise ValueError(f"invalid MFN architecture: input_scale must be > 0, got {self.input_scale}")

    @property
    def layout(self) -> list[tuple[str, tuple[int, ...], int]]:
        h, m, out, offset = self.hidden, self.in_features, [], 0
        shapes = []
        for i in range(self.depth + 1):
            shapes += [(f"F{i}", (h, m)), (f"p{i}", (h,))]
        for i in range(1, self.depth + 1):
            shapes += [(f"W{i}", (h, h)), (f"b{i}", (h,))]
        shapes += [("Wout", (self.out_features, h)), ("bout", (self.out_features,))]
        for name, s in shapes:
            out.append((name, s, offset))
            offset += math.prod(s)
        return out

    @property
    def num_params(self) -> int:
        h, m = self.hidden, self.in_features
        return (self.depth + 1) * (h * m + h) + self.depth * (h * h + h) + self.out_features * (h + 1)

    def describe(self) -> str:
        return f"MFN (Fourier) {self.depth}x{self.hidden} input scale {self.input_scale:g}"


def init_params(spec: MFNSpec, n: int, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
    def u(shape, bound):
        return (torch.rand(n, math.prod(shape), generator=generator, dtype=dtype) * 2 - 1) * bound
    chunks = []
    for name, shape, _ in spec.layout:
        if name.startswith("F"):
            bound = spec.input_scale / math.sqrt(spec.depth + 1) / math.sqrt(spec.in_features)
        elif name.startswith("p"):
            bound = math.pi
        else:
            bound = 1.0 / math.sqrt(spec.hidden)
        chunks.append(u(shape, bound))
    return torch.cat(chunks, dim=1).to(device)


def mfn_forward(spec: MFNSpec, params: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate N MFNs. params: (N, P); coords: (Q, m) or (N, Q, m). Returns (N, Q, out_features)."""
    v = layout_views(spec, params)
    n = params.shape[0]
    x = coords if coords.dim() == 3 else coords.unsqueeze(0).expand(n, -1, -1)

    def filt(i):
        return torch.sin(torch.baddbmm(v[f"p{i}"].unsqueeze(1), x, v[f"F{i}"].transpose(1, 2)))
    z = filt(0)
    for i in range(1, spec.depth + 1):
        z = torch.baddbmm(v[f"b{i}"].unsqueeze(1), z, v[f"W{i}"].transpose(1, 2)) * filt(i)
    return torch.baddbmm(v["bout"].unsqueeze(1), z, v["Wout"].transpose(1, 2))


def from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> MFNSpec:
    """conf/model/mfn.yaml settings -> the MFN of m-D signals with c channels."""
    return MFNSpec(in_features=m, out_features=c, hidden=int(model["hidden"]), depth=int(model["depth"]),
                   input_scale=float(model["input_scale"]))


BACKBONE = register(Backbone(kind="mfn", name="MFN", spec=MFNSpec, forward=mfn_forward, init=init_params,
                             from_cfg=from_cfg))
