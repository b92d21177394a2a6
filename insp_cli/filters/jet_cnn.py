"""A convolutional Pi over the jet field (issue 27): Psi(x) = Phi(x) + CNN(jets of Phi at x + o h).

Images (m = 2) and audio clips (m = 1, the same stack of 1-D convolutions; with ``dilation`` 2 its reach doubles
per layer, as in WaveNet-style speech denoisers, so a few layers read as far as a classical filter's window).

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
(N, H, W, c * M) in array order (rows = y), outputs (N, H, W, c); clips (N, T, c * M) -> (N, T, c). Nothing here
knows about Hydra, W&B or files.
"""

from __future__ import annotations

import torch
from torch import nn

from insp_cli.errors import InspError
from insp_cli.filters.context import dihedral, neighbourhood
from insp_cli.filters.insp_net import FeatureScaler, ensemble_views
from insp_cli.jets import jet_space


def conv_reach(layers: int, dilation: int = 1, kernel: int = 3) -> int:
    """Grid points each side that ``layers`` hidden convolutions and the output one read: the first of ``kernel``
    taps, the others of 3 dilated by dilation^i (i = 1 .. layers): layers + 1 for a plain 3-tap stack."""
    return (kernel - 1) // 2 + sum(dilation ** i for i in range(1, layers + 1))


def conv_record(fz: dict, m: int, meta: dict) -> list[tuple[int, ...]]:
    """Write a convolutional Pi's settings into ``meta["fusion"]`` (kind; dilation and kernel where they are not 1
    and 3, so the filters written before they existed read the same) from the fusion.* settings; returns its
    offsets (the (2R + 1)^m square it reads). Refuses a context, coarse context or prior: its reach is its own."""
    if fz.get("context") or fz.get("coarse_context") or fz.get("prior"):
        raise InspError("fusion.kind=conv reads the jets of its own receptive field (fusion.layers + 1 points "
                        "each side, more with fusion.dilation): pass fusion.context=0, and no fusion.coarse_context "
                        "or fusion.prior")
    dilation, kernel = int(fz.get("dilation") or 1), int(fz.get("kernel") or 3)
    meta["fusion"]["kind"] = "conv"
    if dilation != 1:
        meta["fusion"]["dilation"] = dilation
    if kernel != 3:
        meta["fusion"]["kernel"] = kernel
    return neighbourhood(conv_reach(int(fz["layers"]), dilation, kernel), 1, m)


class ConvFusion(nn.Module):
    """Pi as a CNN on the jet field of an m-D INR (m = 1: audio clips, m = 2: images): fields
    (N, S_1 + 2R, ..., S_m + 2R, c * M) -> (N, S_1, ..., S_m, c) (``on_field``), or per point features
    (..., O * c * M) of the (2R + 1)^m offsets -> (..., c) (``forward``). ``dilation`` b: convolution i (0-based)
    has dilation b^i (1: a plain stack, reach layers + 1; 2 with 5 hidden layers: reach 1 + 2 + ... + 32 = 63).
    ``kernel``: the first convolution's taps per axis (odd; 3 by default; e.g. 97 on a clip: a bank of learned
    97-sample filters over the jets, the context MLP's first layer applied at every sample)."""

    convolutional = True  # ``INSPFilter.decode`` runs it on the padded jet field

    def __init__(self, channels: int, order: int, m: int = 2, hidden: int = 64, layers: int = 4,
                 residual: bool = True, dilation: int = 1, kernel: int = 3):
        super().__init__()
        if m not in (1, 2):
            raise InspError(f"fusion.kind=conv convolves 1-D (audio) or 2-D (image) jet fields; these INRs are {m}-D")
        if layers < 1 or hidden < 1 or dilation < 1 or kernel < 1 or kernel % 2 == 0:
            raise InspError(f"fusion.kind=conv needs fusion.layers >= 1, fusion.hidden >= 1, fusion.dilation >= 1 and "
                            f"an odd fusion.kernel (got {layers}, {hidden}, {dilation}, {kernel})")
        self.channels, self.order, self.m, self.residual, self.dilation = channels, order, m, residual, dilation
        self.M = self.E = jet_space(m, order).size
        self.extra, self.prior, self.orders = 0, None, None  # what a cascade / multi-scale Pi would hold
        self.reach = conv_reach(layers, dilation, kernel)
        self.offsets = neighbourhood(self.reach, 1, m)
        nf = channels * self.M
        self.scaler = FeatureScaler(nf)
        conv = nn.Conv1d if m == 1 else nn.Conv2d
        dims = [nf] + [hidden] * layers
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            mods += [conv(a, b, kernel if i == 0 else 3, dilation=dilation ** i), nn.ReLU()]
        last = conv(dims[-1], channels, 3, dilation=dilation ** layers)
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
        """field: (N, S_1 + 2R, ..., S_m + 2R, c * M) grid-unit jets on a grid of spacing h -> (N, S_1, ..., S_m, c),
        not clamped."""
        r, m = self.reach, self.m
        if field.dim() != m + 2 or any(s <= 2 * r for s in field.shape[1:-1]):
            raise InspError(f"a jet field of {'x'.join(map(str, field.shape[1:-1]))} points is not a {m}-D field "
                            f"larger than the {2 * r + 1}-point reach of this Pi")
        out = self.body(self.scaler(field).movedim(-1, 1)).movedim(1, -1)
        if self.residual:  # each channel's order-0 entry at the output points: Phi(x)
            out = out + field[(slice(None), *[slice(r, -r)] * m)][..., ::self.M]
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., O * c * M) of the (2R + 1)^m offsets around each point -> (..., c)."""
        side, lead = 2 * self.reach + 1, features.shape[:-1]
        out = self.on_field(features.reshape(-1, *[side] * self.m, self.channels * self.M))
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


def turn_clip(x: torch.Tensor, g: int, order: int | None = None) -> torch.Tensor:
    """A clip's array (N, T, ...) as seen in the clip reversed in time (bit 0 of g) and / or negated (bit 1): the
    symmetries of a 1-D signal under white noise. With ``order``, x is a jet field (N, T, c * M) (M = order + 1 per
    channel) and each derivative of order k also changes sign (-1)^k under the reversal; its own inverse."""
    if g & 1:
        x = x.flip(1)
        if order is not None:
            sign = torch.tensor([(-1.0) ** (k % (order + 1)) for k in range(x.shape[-1])], dtype=x.dtype,
                                device=x.device)
            x = x * sign
    return -x if g & 2 else x


CLIP_ENSEMBLES = (1, 2, 4)  # a clip alone; and reversed in time; those and negated


def check_clip_ensemble(pi, count: int, where: str = "") -> None:
    """InspError (one line, after ``where``, e.g. 'store S holds audio INRs; ') unless ``count`` is 1, or 2 / 4
    (``CLIP_ENSEMBLES``) with a convolutional Pi: the views of a clip's self-ensemble (``clip_ensemble``)."""
    if count != 1 and (count not in CLIP_ENSEMBLES or not getattr(pi, "convolutional", False)):
        raise InspError(f"self_ensemble={count}: {where}a clip's self-ensemble is 2 or 4 views (reversed in time, "
                        "negated) of a convolutional Pi (fusion.kind=conv); use self_ensemble=1")


def clip_ensemble(pi, field: torch.Tensor, order: int, count: int) -> torch.Tensor:
    """Test-time self-ensemble of a convolutional Pi on clips' jet fields (N, T + 2R, M) -> (N, T, 1): the mean
    over the views g < count (``CLIP_ENSEMBLES``: 2 = the clip and its time reversal, 4 = both also negated) of Pi
    on the field of the reversed / negated INR (``turn_clip``), turned back. count 1 is ``pi.on_field(field)``."""
    check_clip_ensemble(pi, count)
    return sum(turn_clip(pi.on_field(turn_clip(field, g, order)), g) for g in range(count)) / count


def augment_fields(fields: torch.Tensor, targets: torch.Tensor, order: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Training windows, one random view each, fields and targets together. 2-D: fields (B, S + 2R, S + 2R,
    c * M), targets (B, S, S, c), flipped / turned (the jets transform as ``turn_field``) and colour-permuted;
    1-D: fields (B, S + 2R, c * M), targets (B, S, c), reversed in time and / or negated (``turn_clip``)."""
    b, c = fields.shape[0], targets.shape[-1]
    xs, ys = [], []
    for i in range(b):
        if fields.dim() == 3:
            g = int(torch.randint(4, (1,), generator=generator))
            xs.append(turn_clip(fields[i:i + 1], g, order))
            ys.append(turn_clip(targets[i:i + 1], g))
            continue
        g = int(torch.randint(8, (1,), generator=generator))
        perm = torch.argsort(torch.rand(c, generator=generator)).tolist()
        xs.append(permute_channels(turn_field(fields[i:i + 1], g, order, c), perm, c))
        ys.append(turn_image(targets[i:i + 1], g)[..., perm])
    return torch.cat(xs), torch.cat(ys)
