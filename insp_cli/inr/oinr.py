"""A batch of O-INRs (Operator INR, Arya et al. 2024): positional encodings on a grid -> 3x3 convolutions.

An O-INR maps the positional-encoding image of its sampling grid to the signal:

    P(x, y) = [sin(2^l pi x), cos(2^l pi x)]_{l<L} ++ [sin(2^l pi y), cos(2^l pi y)]_{l<L}     (4L channels)
    h_1 = sin(K_1 * P),  h_i = sin(K_i * h_{i-1}),  Phi = K_out * h_depth

with ``*`` a "same" (zero-padded) k x k convolution without bias. The grid is the pixel-centre grid of
``grid_coords(size)`` (x = column, y = row, both in [-1, 1]); the output is (N, H*W, c) in the same row-major
order as a SIREN's, in [-1, 1] (pixel = 0.5 * Phi + 0.5).

What an O-INR is a function of: the sampling grid. Given coordinates (Q, 2) with Q = H*W, read row-major as an
H x W grid, it encodes exactly those points and convolves on the H x W arrangement; on the fitted grid shifted by
a constant t it is the smooth function t -> Phi(grid + t) that its jets differentiate (``jets/oinr_jet.py``).
Any other number of points (another resolution) is refused: the discrete kernels are tied to the grid spacing
(the paper's continuous-kernel variant, which would resample, is not implemented).

The parameters of N O-INRs are one tensor ``params: (N, P)``; ``OINRSpec.layout`` names the kernels
K0, K1, ... with shapes (out, in, k, k) as in nn.Conv2d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .siren import layout_views
from .registry import Backbone, SpecDict, register


@dataclass(frozen=True)
class OINRSpec(SpecDict):
    """Architecture of one O-INR on an H x W grid: 4L encoding channels -> widths... -> out_features."""

    size: tuple[int, int] = (32, 32)  # (H, W) of the grid it was fitted on
    out_features: int = 3
    widths: tuple[int, ...] = (64, 128, 128, 64)  # channels of the sine layers (public code: 64-128-128-64)
    frequencies: int = 10  # L: sin/cos(2^l pi x) and of y for l = 0..L-1
    kernel: int = 3
    in_features: int = 2  # coordinates per point (2-D images only)

    kind = "oinr"
    pointwise = False  # every output depends on a neighbourhood of points, not one

    def __post_init__(self):
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.size) != 2 or min(self.size) < 1 or self.in_features != 2 or self.out_features < 1 or \
                not self.widths or min(self.widths) < 1 or self.frequencies < 1 or self.kernel < 1 or \
                self.kernel % 2 == 0:
            raise ValueError(f"invalid O-INR architecture {self}")

    @property
    def channels(self) -> int:
        """Channels of the positional encoding: 4L."""
        return 4 * self.frequencies

    @property
    def layer_dims(self) -> list[tuple[int, int]]:
        """(out, in) channels of each convolution, first to last."""
        chans = [self.channels, *self.widths, self.out_features]
        return list(zip(chans[1:], chans[:-1]))

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def hidden(self) -> int:
        return max(self.widths)

    @property
    def layout(self) -> list[tuple[str, tuple[int, ...], int]]:
        out, offset, k = [], 0, self.kernel
        for i, (o, n) in enumerate(self.layer_dims):
            out.append((f"K{i}", (o, n, k, k), offset))
            offset += o * n * k * k
        return out

    @property
    def num_params(self) -> int:
        return sum(o * n for o, n in self.layer_dims) * self.kernel ** 2

    def describe(self) -> str:
        return (f"O-INR {self.channels}->{'-'.join(map(str, self.widths))}->{self.out_features} "
                f"{self.kernel}x{self.kernel} on {self.size[0]}x{self.size[1]}")


def unflatten(spec: OINRSpec, params: torch.Tensor) -> list[torch.Tensor]:
    """Views of the flat parameters as kernels [(N, out, in, k, k)], one per convolution."""
    return list(layout_views(spec, params).values())


def init_params(spec: OINRSpec, n: int, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
    """nn.Conv2d's default initialisation for N O-INRs: K ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in k^2."""
    chunks = []
    for o, fan_in in spec.layer_dims:
        bound = 1.0 / math.sqrt(fan_in * spec.kernel ** 2)
        chunks.append((torch.rand(n, o * fan_in * spec.kernel ** 2, generator=generator, dtype=dtype) * 2 - 1)
                      * bound)
    return torch.cat(chunks, dim=1).to(device)


def check_grid(spec: OINRSpec, q: int) -> None:
    """One clear line when Q points are not the O-INR's H x W grid."""
    h, w = spec.size
    if q != h * w:
        raise ValueError(f"an O-INR decodes on its {h}x{w} grid only ({h * w} points), not on {q} points: "
                         "other resolutions are not supported by discrete kernels (docs/backbones.md)")


def frequencies(spec: OINRSpec, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """The angular frequencies 2^l pi, l = 0..L-1: (L,)."""
    return (2.0 ** torch.arange(spec.frequencies, dtype=dtype, device=device)) * math.pi


def encode(spec: OINRSpec, coords: torch.Tensor) -> torch.Tensor:
    """Positional encoding of points: coords (..., Q, 2) -> (..., 4L, Q), channels
    [sin(a_l x), cos(a_l x)]_l then [sin(a_l y), cos(a_l y)]_l with a_l = 2^l pi."""
    a = frequencies(spec, coords.dtype, coords.device)
    phase = coords.unsqueeze(-1) * a  # (..., Q, 2, L)
    enc = torch.stack([torch.sin(phase), torch.cos(phase)], dim=-1)  # (..., Q, 2, L, 2)
    return enc.flatten(-3).transpose(-1, -2)


def conv_batched(h: torch.Tensor, kernels: torch.Tensor, padding: int) -> torch.Tensor:
    """N independent convolutions as one grouped convolution.

    h: (B, N * in, H, W) or (B, in, H, W) shared by all N; kernels: (N, out, in, k, k). Returns (B, N * out, H, W).
    """
    n, o, i, k, _ = kernels.shape
    weight = kernels.reshape(n * o, i, k, k)
    if h.shape[1] not in (i, n * i):
        raise ValueError(f"input channels {h.shape[1]} match neither {i} nor {n} x {i}")
    groups = 1 if h.shape[1] == i else n
    return F.conv2d(h, weight, padding=padding, groups=groups)


def oinr_forward(spec: OINRSpec, params: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Evaluate N O-INRs on a grid of points.

    params: (N, P); coords: (Q, 2) shared by all INRs, or (N, Q, 2), Q = H * W row-major (usually
    ``grid_coords(spec.size)``, possibly shifted). Returns (N, Q, out_features).
    """
    n, q = params.shape[0], coords.shape[-2]
    check_grid(spec, q)
    h_, w_ = spec.size
    enc = encode(spec, coords)  # (4L, Q) or (N, 4L, Q)
    h = enc.reshape(1, -1, h_, w_)
    kernels = unflatten(spec, params)
    pad = spec.kernel // 2
    for i, k in enumerate(kernels):
        h = conv_batched(h, k, pad)
        if i < len(kernels) - 1:
            h = torch.sin(h)
    return h.reshape(n, spec.out_features, q).transpose(1, 2)


def oinr_widths(hidden: int, depth: int) -> tuple[int, ...]:
    """The public O-INR's shape at any size: narrow ends, wide middle (hidden 128, depth 4: 64-128-128-64)."""
    if depth < 1 or hidden < 1:
        raise ValueError(f"O-INR needs depth >= 1 and hidden >= 1, got depth {depth}, hidden {hidden}")
    if depth == 1:
        return (hidden,)
    half = max(1, hidden // 2)
    return (half,) + (hidden,) * (depth - 2) + (half,)


def from_cfg(model: dict, m: int, c: int, shape: tuple[int, ...]) -> OINRSpec:
    """conf/model/oinr.yaml settings -> the O-INR of 2-D images with c channels on their grid ``shape``."""
    if m != 2 or len(shape) != 2:
        raise ValueError(f"O-INR represents 2-D images on their grid, not {m}-D signals")
    widths = model.get("widths") or oinr_widths(int(model["hidden"]), int(model["depth"]))
    return OINRSpec(size=tuple(shape), out_features=c, widths=tuple(widths),
                    frequencies=int(model.get("frequencies", 10)), kernel=int(model.get("kernel", 3)))


def with_width(spec: OINRSpec, width: int) -> OINRSpec:
    """Every layer of ``widths`` scaled by width / max(widths) (64-128-128-64 at width 32 is 16-32-32-16)."""
    top = max(spec.widths)
    return OINRSpec(**{**spec.__dict__, "widths": tuple(max(1, round(w * width / top)) for w in spec.widths)})


BACKBONE = register(Backbone(kind="oinr", name="O-INR", spec=OINRSpec, forward=oinr_forward, init=init_params,
                             from_cfg=from_cfg, with_width=with_width))
