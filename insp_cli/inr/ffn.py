"""Batches of ReLU MLPs, plain (``relu``) or on Gaussian Fourier features (``ffn``, Tancik et al. 2020).

    gamma(v) = [cos(2 pi B v), sin(2 pi B v)]        B: (features, m), B_ij ~ N(0, sigma^2), fixed (not trained)
    h_1 = relu(W_0 gamma(v) + b_0),  h_l = relu(W_l h_{l-1} + b_l)  (l < depth),  Phi = W_depth h + b_depth

The plain ReLU MLP is the same network with gamma(v) = v. Coordinates v in [-1, 1]^m (twice the [0, 1] range of
Tancik et al., so sigma here is half of theirs for the same functions: their sigma 10 is sigma 5 here), outputs
in [-1, 1], trained parameters one tensor ``params: (N, P)`` as for SIREN. B is one draw per store: drawn from
``b_seed`` (float64 normal, times sigma, rounded to float32) when the spec is built and then recorded, value by
value, in ``to_dict`` (the store header), so a store decodes exactly whatever the random generator does later.
B is not a parameter: ``num_params`` counts what an optimiser updates (equal-budget comparisons).
Initialisation: hidden ReLU layers He-uniform U(+-sqrt(6 / fan_in)), the linear output layer and all biases
nn.Linear's U(+-1 / sqrt(fan_in)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .registry import Backbone, MLPSpec, register
from .siren import layout_views


def _mlp_layout(spec, d_in: int) -> list[tuple[str, tuple[int, ...], int]]:
    """W0, b0 (hidden, d_in), ..., W_depth, b_depth (out_features, hidden): [(name, shape, offset)]."""
    dims = [(spec.hidden, d_in)] + [(spec.hidden, spec.hidden)] * (spec.depth - 1) + [(spec.out_features, spec.hidden)]
    out, offset = [], 0
    for i, (o, n) in enumerate(dims):
        out += [(f"W{i}", (o, n), offset), (f"b{i}", (o,), offset + o * n)]
        offset += o * n + o
    return out


@dataclass(frozen=True)
class ReluSpec(MLPSpec):
    """A plain ReLU MLP R^in_features -> R^out_features: ``depth`` ReLU layers of width ``hidden``, linear output."""

    kind = "relu"
    title = "ReLU MLP"

    @property
    def input_width(self) -> int:
        return self.in_features

    @property
    def layout(self) -> list[tuple[str, tuple[int, ...], int]]:
        return _mlp_layout(self, self.input_width)

    @property
    def num_params(self) -> int:
        h = self.hidden
        return h * self.input_width + h + (self.depth - 1) * (h * h + h) + self.out_features * (h + 1)

    def describe(self) -> str:
        return f"ReLU MLP {self.depth}x{self.hidden}"


def draw_b(features: int, m: int, sigma: float, seed: int) -> tuple[tuple[float, ...], ...]:
    """B (features, m) ~ N(0, sigma^2) from ``seed`` alone, rounded to float32 (exact in float32 and in JSON)."""
    g = torch.Generator().manual_seed(int(seed))
    b = (torch.randn(features, m, generator=g, dtype=torch.float64) * sigma).float()
    return tuple(tuple(float(v) for v in row) for row in b.tolist())


@dataclass(frozen=True)
class FFNSpec(MLPSpec):
    """A ReLU MLP on Gaussian Fourier features: gamma(v) of 2 x ``features`` channels, then as ``ReluSpec``.

    ``B`` (features x in_features) is drawn from ``b_seed`` and ``sigma`` when not given; a recorded B (a store
    header's) is used as it is."""

    features: int = 256
    sigma: float = 5.0
    b_seed: int = 0
    B: tuple = field(default=(), repr=False)

    kind = "ffn"
    title = "FFN"

    def __post_init__(self):
        super().__post_init__()
        if not self.features >= 1:
            raise ValueError(f"an FFN needs at least 1 Fourier feature, got features={self.features}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"the Fourier features' sigma must be a positive number, got sigma={self.sigma}")
        b = self.B or draw_b(self.features, self.in_features, self.sigma, self.b_seed)
        b = tuple(tuple(float(v) for v in row) for row in b)
        if len(b) != self.features or any(len(row) != self.in_features for row in b) or \
                not all(math.isfinite(v) for row in b for v in row):
            raise ValueError(f"the recorded Fourier matrix B must be {self.features}x{self.in_features} finite "
                             "numbers")
        object.__setattr__(self, "B", b)

    @property
    def input_width(self) -> int:
        return 2 * self.features

    @property
    def layout(self) -> list[tuple[str, tuple[int, ...], int]]:
        return _mlp_layout(self, self.input_width)

    num_params = ReluSpec.num_params

    def b_matrix(self, dtype=torch.float32, device="cpu") -> torch.Tensor:
        """B as a tensor (features, in_features)."""
        return torch.tensor(self.B, dtype=dtype, device=device)

    @classmethod
    def from_dict(cls, d: dict) -> "FFNSpec":
        if not d.get("B"):
            raise ValueError("an FFN architecture must record its Fourier matrix B")
        return super().from_dict(d)

    def describe(self) -> str:
        return (f"FFN {self.features} Fourier features sigma {self.sigma:g} (B seed {self.b_seed}) -> "
                f"ReLU MLP {self.depth}x{self.hidden}")


def init_params(spec: ReluSpec | FFNSpec, n: int, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
    chunks = []
    for name, shape, _ in spec.layout:
        fan_in = shape[1] if name.startswith("W") else (spec.input_width if name == "b0" else spec.hidden)
        hidden_weight = name.startswith("W") and name != f"W{spec.depth}"
        bound = math.sqrt(6.0 / fan_in) if hidden_weight else 1.0 / math.sqrt(fan_in)
        chunks.append((torch.rand(n, math.prod(shape), generator=generator, dtype=dtype) * 2 - 1) * bound)
    return torch.cat(chunks, dim=1).to(device)


def fourier_features(spec: FFNSpec, x: torch.Tensor) -> torch.Tensor:
    """gamma(x) = [cos(2 pi B x), sin(2 pi B x)]: x (..., m) -> (..., 2 features)."""
    u = torch.matmul(x, spec.b_matrix(x.dtype, x.device).t() * (2 * math.pi))
    return torch.cat([torch.cos(u), torch.sin(u)], dim=-1)


def mlp_forward(spec: ReluSpec | FFNSpec, params: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate N ReLU MLPs or FFNs. params: (N, P); coords: (Q, m) or (N, Q, m). Returns (N, Q, out_features)."""
    v = layout_views(spec, params)
    n = params.shape[0]
    x = coords if coords.dim() == 3 else coords.unsqueeze(0).expand(n, -1, -1)
    h = fourier_features(spec, x) if spec.kind == "ffn" else x
    for i in range(spec.depth):
        h = torch.relu(torch.baddbmm(v[f"b{i}"].unsqueeze(1), h, v[f"W{i}"].transpose(1, 2)))
    L = spec.depth
    return torch.baddbmm(v[f"b{L}"].unsqueeze(1), h, v[f"W{L}"].transpose(1, 2))


def ffn_from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> FFNSpec:
    """conf/model/ffn.yaml settings -> the FFN of m-D signals with c channels (B drawn from b_seed and sigma)."""
    return FFNSpec(in_features=m, out_features=c, hidden=int(model["hidden"]), depth=int(model["depth"]),
                   features=int(model["features"]), sigma=float(model["sigma"]), b_seed=int(model.get("b_seed") or 0))


def relu_from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> ReluSpec:
    """conf/model/relu.yaml settings -> the ReLU MLP of m-D signals with c channels."""
    return ReluSpec(in_features=m, out_features=c, hidden=int(model["hidden"]), depth=int(model["depth"]))


FFN = register(Backbone(kind="ffn", name="FFN", spec=FFNSpec, forward=mlp_forward, init=init_params,
                        from_cfg=ffn_from_cfg))
RELU = register(Backbone(kind="relu", name="ReLU MLP", spec=ReluSpec, forward=mlp_forward, init=init_params,
                         from_cfg=relu_from_cfg))
