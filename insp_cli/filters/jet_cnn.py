"""A convolutional Pi over the jet field (issue 27): Psi(x) = Phi(x) + CNN(jets of Phi at x + o h).

The context Pi (``filters.context``) hands one MLP the jets of a square around x, flattened; a DnCNN instead stacks
3x3 convolutions, so its reach grows with depth while its weights are shared across space. ``ConvFusion`` is that
stack on the jets of the INR: ``layers`` hidden 3x3 convolutions of ``hidden`` channels with ReLU, then a 3x3
convolution to the c output channels, all without padding, on the standardised pixel-unit jets (c * M features per
point, ``insp_net.FeatureScaler``). Its output at x depends on the jets at x + o h for every o of the
(2 R + 1)^2 square, R = layers + 1 (its ``offsets``): Psi is still an operator on the continuous INR, read at any
x (``forward``: the features of that square per point, as a context Pi's), and on a grid it runs once on the jets
of the grid padded by R points (``on_field``), so no jet is computed twice and no point pays for its own
convolution stack. Residual: the last convolution starts at zero and Phi(x) is added, so training starts from
the decoded input, as the pixel twin (``baselines.dncnn.DnCNN``) does: with the same depth and parameter count the
two differ only in what they read, the INR's jets or its decoded pixels.

Layouts: per-point features (B, O * c * M), offset major (``filters.context.neighbourhood`` order: x fastest, so
the O = (2R + 1)^2 offsets reshape to a (2R + 1, 2R + 1) array, rows = y), channel major within a point; fields
(N, H, W, c * M) in array order (rows = y), outputs (N, H, W, c). Nothing here knows about Hydra, W&B or files.
"""

from __future__ import annotations

import torch
from torch import nn

from insp_cli.errors import InspError
from insp_cli.filters.context import dihedral, neighbourhood
from insp_cli.filters.insp_net import FeatureScaler, ensemble_views
from insp_cli.jets import jet_space


class ConvFusion(nn.Module):
    """Pi as a CNN on the jet field: fields (N, H + 2R, W + 2R, c * M) -> (N, H, W, c) (``on_field``), or per
    point features (..., O * c * M) of the (2R + 1)^2 square -> (..., c) (``forward``). m = 2 only."""

    convolutional = True  # ``INSPFilter.decode`` runs it on the padded jet field

    def __init__(self, channels: int, order: int, m: int = 2, hidden: int = 64, layers: int = 4,
                 residual: bool = True):
        super().__init__()
        if m != 2:
            raise InspError(f"fusion.kind=conv is a 2-D convolution over image jets; these INRs are {m}-D")
        if layers < 1 or hidden < 1:
            raise InspError(f"fusion.kind=conv needs fusion.layers >= 1 and fusion.hidden >= 1 (got {layers}, "
                            f"{hidden})")
        self.channels, self.order, self.m, self.residual = channels, order, m, residual
        self.M = self.E = jet_space(2, order).size
        self.extra, self.prior, self.orders = 0, None, None  # what a cascade / multi-scale Pi would hold
        self.reach = layers + 1
        self.offsets = neighbourhood(self.reach, 1, 2)
        nf = channels * self.M
        self.scaler = FeatureScaler(nf)
        dims = [nf] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Conv2d(a, b, 3), nn.ReLU()]
        last = nn.Conv2d(dims[-1], channels, 3)
        if residual:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*mods, last)

    @property
    def pad(self) -> int:
        """Grid points beyond each border whose jets the border points read."""
        return self.reach

    @property
    def features_read(self) -> int:
        """Features per point the first convolution reads (c * M)."""
        return self.channels * self.M

    def on_field(self, field: torch.Tensor) -> torch.Tensor:
        """field: (N, H + 2R, W + 2R, c * M) pixel-unit jets on a grid of spacing h -> (N, H, W, c), not clamped."""
        r = self.reach
        if field.shape[1] <= 2 * r or field.shape[2] <= 2 * r:
            raise InspError(f"a jet field of {field.shape[1]}x{field.shape[2]} points is smaller than the "
                            f"{2 * r + 1}x{2 * r + 1} reach of this Pi")
        out = self.body(self.scaler(field).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        if self.residual:  # each channel's order-0 entry at the output points: Phi(x)
            out = out + field[:, r:-r, r:-r, ::self.M]
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., O * c * M) of the (2R + 1)^2 offsets around each point -> (..., c)."""
        side, lead = 2 * self.reach + 1, features.shape[:-1]
        out = self.on_field(features.reshape(-1, side, side, self.channels * self.M))
        return out.reshape(*lead, self.channels)


# --------------------------------------------------------------------------- flips and turns of a jet field


def turn_image(x: torch.Tensor, g: int, rows: int = 1) -> torch.Tensor:
    """Arrays (N, H, W, ...) (or, with ``rows`` = 2, (N, c, H, W)) as seen in the image flipped / turned by element g
    of the 8 flips and quarter turns (``filters.context.dihedral_tables`` order): transposed when g >= 4, then
    columns reversed when bit 1 of g is set, rows when bit 0 is (the pixel twin's turns too)."""
    if g >= 4:
        x = x.transpose(rows, rows + 1)
    dims = [d for d, bit in ((rows + 1, 2), (rows, 1)) if g & bit]
    return x.flip(dims) if dims else x


def turn_back(x: torch.Tensor, g: int, rows: int = 1) -> torch.Tensor:
    """The inverse of ``turn_image``."""
    dims = [d for d, bit in ((rows + 1, 2), (rows, 1)) if g & bit]
    x = x.flip(dims) if dims else x
    return x.transpose(rows, rows + 1) if g >= 4 else x


def turn_field(field: torch.Tensor, g: int, order: int, channels: int) -> torch.Tensor:
    """The jet field (N, H, W, c * M) of the INR turned by g: the points moved (``turn_image``) and each
    point's jet transformed (``filters.context.dihedral``)."""
    n, h, w, f = field.shape
    jets = dihedral(field.reshape(-1, f), torch.full((n * h * w,), g, dtype=torch.long, device=field.device),
                    order, channels).reshape(n, h, w, f)
    return turn_image(jets, g)


def permute_channels(field: torch.Tensor, perm, channels: int) -> torch.Tensor:
    """(..., c * M) channel major with its c blocks reordered by ``perm``."""
    lead = field.shape[:-1]
    return field.reshape(*lead, channels, -1)[..., list(perm), :].reshape(*lead, -1)


def field_ensemble(pi, field: torch.Tensor, order: int, channels: int, count: int) -> torch.Tensor:
    """Test-time self-ensemble of a convolutional Pi on a jet field (N, H + 2R, W + 2R, c * M) -> (N, H, W, c):
    the mean over the 8 flips / quarter turns g (and, for count 48, the 6 colour permutations) of Pi on the field of
    the turned INR, turned (permuted) back; the per-point ``insp_net.self_ensemble`` on every grid point, computed
    once per view for the whole grid. count 1 is ``pi.on_field(field)``."""
    if count == 1:
        return pi.on_field(field)
    groups, perms = ensemble_views(count, channels, "these INRs")
    total = None
    for g in groups:
        turned = turn_field(field, g, order, channels)
        for perm, inv in perms:
            out = turn_back(pi.on_field(permute_channels(turned, perm, channels))[..., inv], g)
            total = out if total is None else total + out
    return total / (len(groups) * len(perms))


def augment_fields(fields: torch.Tensor, targets: torch.Tensor, order: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Training patches flipped / turned and colour-permuted, one random view per patch: fields (B, S + 2R,
    S + 2R, c * M) and targets (B, S, S, c) move together (the field's jets transform as ``turn_field``)."""
    b, c = fields.shape[0], targets.shape[-1]
    xs, ys = [], []
    for i in range(b):
        g = int(torch.randint(8, (1,), generator=generator))
        perm = torch.argsort(torch.rand(c, generator=generator)).tolist()
        xs.append(permute_channels(turn_field(fields[i:i + 1], g, order, c), perm, c))
        ys.append(turn_image(targets[i:i + 1], g)[..., perm])
    return torch.cat(xs), torch.cat(ys)
