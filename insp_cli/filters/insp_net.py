"""INSP-Net (paper Sec. 3.1, Eq. 3): a new INR Psi(x) = Pi(Phi(x), grad Phi(x), ..., grad^K Phi(x)).

The paper's Pi is pointwise: at each coordinate it sees only the jet of the input INR Phi there (value and all
distinct partials up to order K, ``insp_cli.jets``). A learned Pi may also read the jets at x + o h for the pixel
offsets o of a neighbourhood (``filters.context``; Psi stays an operator on the continuous INR). It is either hand-made (gradient magnitude for edges, Laplacian,
unsharp masking) or a learned MLP (the paper's 4 hidden ReLU layers of 256).

Units. Jets come w.r.t. the [-1, 1] coordinates of the INR and of its raw output. ``pixel_jet`` turns them into
derivatives of the pixel intensity (0.5 Phi + 0.5) per pixel of a reference grid (the grid the INRs were
fitted on): D^alpha -> 0.5 * D^alpha * prod_i h_i^alpha_i with h_i = 2 / (side_i - 1) (``jets.grid_spacing``,
``jets.to_pixel_units``).
With these units a filter means the same thing whatever resolution Psi is decoded at, and the learned Pi sees
features of comparable size across orders (with omega0 = 30, raw 4th derivatives reach 1e6). The learned Pi
then standardises each feature with statistics of the training INRs (``FeatureScaler``).

Layouts: jets are (N, M, Q, c) with axis M in ``jet_space`` graded order; features are (N, Q, c * M), channel
major (channel 0's M derivatives first). Pixel outputs are (N, Q, c_out).
Training data for a learned Pi: ``filters.sampler``. Nothing here knows about Hydra, W&B or files.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from insp_cli.errors import InspError
from insp_cli.filters.context import (
    axes_coords,
    centre_index,
    dihedral,
    gather,
    interleave,
    offsets_pad,
    offsets_tensor,
    padded_axes,
)
from insp_cli.inr.siren import SirenSpec, grid_coords
from insp_cli.jets import JetStandardizer, grid_spacing, jet_space, to_pixel_units
from insp_cli.jets.inr_jet import inr_jet

# ITU-R BT.709 luma weights, as skimage.color.rgb2gray (which Sobel/Prewitt/Canny in baselines/images.py use).
LUMA = (0.2125, 0.7154, 0.0721)


# ------------------------------------------------------------------------------------------------ units


def pixel_jet(jet: torch.Tensor, size: tuple[int, ...], intensity: bool = True) -> torch.Tensor:
    """Raw INR jet (N, M, Q, c) -> per-pixel-unit jet on grid ``size`` of the pixel intensity 0.5 Phi + 0.5
    (``intensity``; images) or of Phi itself (audio amplitudes)."""
    m = len(size)
    order = next((k for k in range(64) if jet_space(m, k).size == jet.shape[1]), None)
    if order is None:
        raise InspError(f"a jet with {jet.shape[1]} derivatives is not a full {m}-D jet")
    out = to_pixel_units(jet, jet_space(m, order), grid_spacing(size))
    if intensity:
        out = 0.5 * out
        out[:, 0] += 0.5
    return out


def pixel_jets(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, order: int,
               size: tuple[int, ...], chunk_size: int | None = None, intensity: bool = True) -> torch.Tensor:
    """Pixel-unit jets of N INRs at coords (Q, m) or (N, Q, m): (N, M, Q, c), no autograd (the INR is fixed);
    ``intensity`` as ``pixel_jet``."""
    with torch.no_grad():
        return pixel_jet(inr_jet(spec, params, coords, order, chunk_size=chunk_size), size, intensity)


def jet_features(pj: torch.Tensor) -> torch.Tensor:
    """Pixel jet (N, M, Q, c) -> features (N, Q, c * M), channel major."""
    n, mm, q, c = pj.shape
    return pj.permute(0, 2, 3, 1).reshape(n, q, c * mm)


# ------------------------------------------------------------------------------------------ standardiser


class FeatureScaler(nn.Module):
    """Per-feature standardisation z = (f - mean) / std with statistics of the training INRs.

    mean, std: (F,) = (c * M,) channel major, computed by ``jets.JetStandardizer`` (per multi-index and
    channel). Buffers, so they travel in the filter's state dict.
    """

    def __init__(self, num_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))

    @torch.no_grad()
    def fit(self, features: torch.Tensor, channels: int) -> "FeatureScaler":
        """features: (B, c * M) samples from the training INRs, channel major."""
        b = features.shape[0]
        jet = features.reshape(b, channels, -1).permute(2, 0, 1).unsqueeze(0)  # (1, M, B, c)
        st = JetStandardizer().fit(jet)
        self.mean.copy_(st.mean.T.reshape(-1))
        self.std.copy_(st.std.T.reshape(-1))
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


# ----------------------------------------------------------------------------------------------- fusions


def fusion_mlp(features: int, hidden: int, layers: int, outputs: int, zero_last: bool) -> nn.Sequential:
    """Pi's MLP: ``layers`` hidden ReLU layers of ``hidden`` units, then a linear layer to ``outputs``; with
    zero_last the last layer starts at zero (a residual Pi then starts as the identity)."""
    dims = [features] + [hidden] * layers
    mods: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    last = nn.Linear(dims[-1], outputs)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*mods, last)


class LearnedFusion(nn.Module):
    """Pi as an MLP: features (..., O * c * M) -> pixels (..., c).

    ``layers`` hidden ReLU layers of ``hidden`` units (paper: 4 x 256). residual=True predicts a correction
    to the pixel value Phi(x) (which is part of the jet), and the last layer starts at zero, so training
    starts from Psi = Phi (the decoded input) rather than from noise. ``offsets`` (pixel steps, coordinate
    order, ``filters.context``): the points x + o h whose jets Pi reads, offset major; None = [(0,) * m], the
    paper's pointwise Pi (features (..., c * M)). ``orders`` (one per offset, ``filters.context.offset_orders``):
    the MLP reads at offset i only the derivatives up to orders[i] (the first entries of each channel's jet,
    graded order); the features still arrive whole, so flips, turns and the self-ensemble act on them as before
    (the orders must be the same at o and at its flips / turns, as on a fine + coarse neighbourhood); None = K
    at every offset.

    Cascade (``prior``, a trained one-stage 2-D ``LearnedFusion``, frozen): a second Pi that also reads the first
    one's output Psi_1 (with its self-ensemble of ``prior_ensemble`` views, clamped to [0, 1]) at each of its
    offsets, Psi_2(x) = Pi_2(jets of Phi and Psi_1 at x + o h). Each channel then carries E = M + 1 values per
    offset (its jet, then Psi_1: ``filters.context.interleave``); the residual adds Psi_1(x) instead of Phi(x),
    so training starts from the first stage. Psi_2 is still an operator on the continuous INR (Psi_1 is one).
    The features Psi_1 needs are built by ``INSPFilter`` (decoding) and ``filters.sampler`` (training).
    """

    def __init__(self, channels: int, order: int, m: int = 2, hidden: int = 256, layers: int = 4,
                 residual: bool = True, offsets: list[tuple[int, ...]] | None = None,
                 orders: list[int] | None = None, prior: "LearnedFusion | None" = None, prior_ensemble: int = 1):
        super().__init__()
        self.channels, self.order, self.m, self.residual = channels, order, m, residual
        self.offsets = [tuple(int(v) for v in o) for o in (offsets or [(0,) * m])]
        if any(len(o) != m for o in self.offsets):
            raise InspError(f"a {m}-D filter takes {m}-D offsets, got {self.offsets}")
        self.M = jet_space(m, order).size
        self.prior, self.prior_ensemble, self.extra = _check_prior(prior, prior_ensemble, channels, m, orders)
        self.E = self.M + self.extra  # values per channel and offset
        # Phi(x)'s jet among the features (a cascade: Psi_1(x), the last value of each channel's block)
        self.value = centre_index(self.offsets) * channels * self.E + self.extra * (self.E - 1)
        nf = len(self.offsets) * channels * self.E
        self.orders = None if orders is None else [int(k) for k in orders]
        self.keep = None  # (F',) the features the MLP reads, when some offsets read lower orders
        if self.orders is not None:
            if len(self.orders) != len(self.offsets) or not all(0 <= k <= order for k in self.orders):
                raise InspError(f"per-offset orders {self.orders} must be one of 0..{order} for each of the "
                                f"{len(self.offsets)} offsets")
            self.keep = torch.tensor([(i * channels + ch) * self.M + j for i, k in enumerate(self.orders)
                                      for ch in range(channels) for j in range(jet_space(m, k).size)])
        self.scaler = FeatureScaler(nf)
        self.mlp = fusion_mlp(nf if self.keep is None else len(self.keep), hidden, layers, channels,
                              zero_last=residual)

    @property
    def pad(self) -> int:
        """Pixels beyond each border whose jets the border pixels read."""
        return offsets_pad(self.offsets)

    @property
    def features_read(self) -> int:
        """Features the MLP reads (fewer than it is given where coarse offsets read lower orders)."""
        return self.mlp[0].in_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., O * c * E) pixel-unit jets (E = M; a cascade's: M + 1) -> (..., c) pixels (not
        clamped)."""
        z = self.scaler(features)
        out = self.mlp(z if self.keep is None else z[..., self.keep.to(z.device)])
        if self.residual:  # the order-0 entry of each channel at offset 0 = the pixel value (a cascade: Psi_1)
            out = out + features[..., self.value:self.value + self.channels * self.E:self.E]
        return out


def _check_prior(prior, ensemble: int, channels: int, m: int, orders) -> tuple:
    """(the frozen first stage or None, its self-ensemble, extra values per channel: 1 or 0) of a cascade;
    InspError for a first stage that cannot be one."""
    if prior is None:
        return None, 1, 0
    if m != 2 or prior.m != 2 or prior.channels != channels:
        raise InspError(f"fusion.prior: a cascade stacks two image filters of one channel count; the first "
                        f"stage is {prior.m}-D with {prior.channels} channels, this one {m}-D with {channels}")
    if getattr(prior, "convolutional", False):
        raise InspError("fusion.prior: the first stage must be an MLP Pi (a convolutional Pi is not a first stage)")
    if getattr(prior, "prior", None) is not None or orders is not None:
        raise InspError("fusion.prior: the first stage must be a one-stage filter, and the cascade reads every "
                        "offset at one order (no fusion.coarse_order)")
    ensemble_views(int(ensemble), channels, "the first stage's images")
    return prior.requires_grad_(False), int(ensemble), 1


class MeanFusion(nn.Module):
    """An ensemble of learned Pi (e.g. trained with different seeds) that read the same jets: features
    (..., O * c * M) -> the mean of the members' outputs (..., c).

    members: ``LearnedFusion`` of one channel count, order K, dimension m, offsets and per-offset orders (widths
    and depths may differ). Averaging is linear, so the test-time self-ensemble of this mean (``self_ensemble``:
    the mean over the views of Pi) is the mean of each member's self-ensembled output, exactly, and the jets and
    their views are computed once for all members. ``INSPFilter`` clamps (``decode``) the mean, not each member.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise InspError("an ensemble of filters needs at least one filter")
        if any(getattr(f, "prior", None) is not None for f in members):
            raise InspError("an ensemble of cascades (filters trained with fusion.prior) is not supported; score each "
                            "cascade on its own")
        first = members[0]
        self.convolutional = all(getattr(f, "convolutional", False) for f in members)
        if any(getattr(f, "convolutional", False) for f in members) and not self.convolutional:
            raise InspError("an ensemble mixes convolutional and MLP filters; average filters of one kind")
        self.channels, self.order, self.m = first.channels, first.order, first.m
        self.offsets, self.orders, self.extra = first.offsets, first.orders, first.extra
        for f in members[1:]:
            if (f.channels, f.order, f.m, f.offsets, f.orders, f.extra) != (
                    self.channels, self.order, self.m, self.offsets, self.orders, self.extra):
                raise InspError("the filters of an ensemble must read the same jets (channels, order, offsets)")
        self.members = nn.ModuleList(members)

    @property
    def pad(self) -> int:
        """Pixels beyond each border whose jets the border pixels read (the members')."""
        return offsets_pad(self.offsets)

    def on_field(self, field: torch.Tensor) -> torch.Tensor:
        """Convolutional members (``filters.jet_cnn``): a jet field -> the mean of their outputs on it."""
        total = self.members[0].on_field(field)
        for f in self.members[1:]:
            total = total + f.on_field(field)
        return total / len(self.members)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., O * c * M) -> (..., c): the mean of the members' outputs (not clamped)."""
        total = self.members[0](features)
        for f in self.members[1:]:
            total = total + f(features)
        return total / len(self.members)


ENSEMBLES = (1, 8, 48)  # Pi alone; the 8 flips / quarter turns; those x the 6 colour permutations


def ensemble_views(count: int, channels: int, what: str) -> tuple[list[int], list[tuple[list[int], list[int]]]]:
    """The views of a test-time self-ensemble of ``count`` (``ENSEMBLES``) on signals of ``channels`` channels:
    (the flips / quarter turns g, ``filters.context.dihedral_tables`` order: all 8, or [0] for count 1; the
    channel permutations as (perm, its inverse): the 6 of 3 colour channels for count 48, else the identity).
    Refuses another count, or 48 on other than 3 channels, in one line naming ``what`` holds them."""
    if count not in ENSEMBLES:
        raise InspError(f"self_ensemble={count}: choose one of {', '.join(map(str, ENSEMBLES))}")
    if count == 48 and channels != 3:
        raise InspError(f"self_ensemble=48 permutes 3 colour channels; {what} have {channels} (use 1 or 8)")
    perms = itertools.permutations(range(channels)) if count == 48 else [tuple(range(channels))]
    return list(range(8)) if count > 1 else [0], [(list(p), _inverse(p)) for p in perms]


def self_ensemble(pi, features: torch.Tensor, order: int, channels: int, offsets: list[tuple[int, int]],
                  count: int) -> torch.Tensor:
    """Test-time geometric self-ensemble of a 2-D Pi (as EDSR's / DnCNN's x8): the mean over the 8 flips /
    quarter turns g of Pi applied to the features of the image turned by g (``filters.context.dihedral``: the jets
    and offsets of Phi(A_g x), at the point that lands on x), and with count = 48 also over the 6 permutations of
    3 colour channels (Pi sees the channels permuted; its output is permuted back). A flip of the image moves
    the pixel and the jets together, so each term is already the output at x: nothing is moved back in space.

    features: (B, O * c * M) offset major, then channel major (``LearnedFusion``'s input); returns (B, c).
    count 1 is ``pi(features)`` itself.
    """
    groups, perms = ensemble_views(count, channels, "these INRs")
    if count == 1:
        return pi(features)
    b = features.shape[0]
    total = None
    for g in groups:
        turned = dihedral(features, torch.full((b,), g, dtype=torch.long, device=features.device), order,
                          channels, offsets, getattr(pi, "extra", 0)).reshape(b, len(offsets), channels, -1)
        for perm, inv in perms:
            out = pi(turned[:, :, perm].reshape(b, -1))[:, inv]
            total = out if total is None else total + out
    return total / (len(groups) * len(perms))


def _inverse(perm: tuple[int, ...]) -> list[int]:
    inv = [0] * len(perm)
    for k, p in enumerate(perm):
        inv[p] = k
    return inv


def gradient_magnitude(pj: torch.Tensor) -> torch.Tensor:
    """Edges (paper Sec. 5.1, theta_1 = 1): |grad L| of the luminance, (N, M, Q, c) -> (N, Q, 1).

    Scaled by sqrt(2) so that a ramp gives what skimage's Sobel/Prewitt give on its pixels
    (they return sqrt((gx^2 + gy^2) / 2) of central differences), and clipped to [0, 1] like them.
    """
    lum = _luminance(pj)
    g = lum[:, 1:3]  # fx, fy
    return (math.sqrt(2.0) * g.pow(2).sum(1).sqrt()).clamp(0, 1).unsqueeze(-1)


def laplacian(pj: torch.Tensor) -> torch.Tensor:
    """Delta f = f_xx + f_yy per channel in pixel units: (N, M, Q, c) with order >= 2 -> (N, Q, c)."""
    return pj[:, 3] + pj[:, 5]


def unsharp(pj: torch.Tensor, amount: float = 0.5) -> torch.Tensor:
    """Unsharp masking f - amount * Delta f (a Gaussian blur is f + (s^2/2) Delta f + ..., so this adds back
    the detail a blur would remove): (N, M, Q, c) -> (N, Q, c)."""
    return pj[:, 0] - amount * laplacian(pj)


def _luminance(pj: torch.Tensor) -> torch.Tensor:
    if pj.shape[-1] == 1:
        return pj[..., 0]
    if pj.shape[-1] != 3:
        raise InspError(f"luminance needs 1 or 3 channels, got {pj.shape[-1]}")
    return (pj * pj.new_tensor(LUMA)).sum(-1)


# name -> (fusion on the pixel jet, derivative order it needs, output channels: None = input's)
HANDMADE = {
    "edges": (gradient_magnitude, 1, 1),
    "laplacian": (laplacian, 2, None),
    "unsharp": (unsharp, 2, None),
}


# -------------------------------------------------------------------------------------------- the filter


@dataclass
class INSPFilter:
    """One INSP-Net: a fusion Pi, the order K of the jets it reads, the pixel grid that fixes the units.

    fusion: a LearnedFusion, or a callable on pixel jets (N, M, Q, c) -> (N, Q, c_out) for hand-made ones.
    units: the (H, W) grid whose pixel spacing h the derivatives, and a learned Pi's offsets o (it reads the
    jets at x + o h), are measured in (the fitted images' size). ensemble: a learned Pi's test-time
    self-ensemble (``self_ensemble``: 1, 8 flips / turns, 48 with the colour permutations); 1 = Pi alone.
    """

    fusion: object
    order: int
    units: tuple[int, int]
    ensemble: int = 1

    @property
    def offsets(self) -> list[tuple[int, ...]]:
        return list(getattr(self.fusion, "offsets", [(0, 0)]))

    @property
    def first_stage(self) -> "INSPFilter | None":
        """A cascade's first stage Psi_1 as a filter of its own (its Pi, order, units and self-ensemble); None
        for a one-stage Pi."""
        prior = getattr(self.fusion, "prior", None)
        if prior is None:
            return None
        return INSPFilter(fusion=prior, order=prior.order, units=self.units, ensemble=self.fusion.prior_ensemble)

    def features(self, spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor,
                 chunk_size: int | None = None) -> torch.Tensor:
        """A learned Pi's features at coords (Q, m) or (N, Q, m): (N, Q, c * E) at each point (E = M, or M + 1
        with a cascade's Psi_1, clamped to [0, 1], after each channel's jet)."""
        feats = jet_features(pixel_jets(spec, params, coords, self.order, self.units, chunk_size))
        first = self.first_stage
        return feats if first is None else interleave(feats, first(spec, params, coords, chunk_size).clamp(0, 1),
                                                      self.fusion.channels)

    def __call__(self, spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor,
                 chunk_size: int | None = None) -> torch.Tensor:
        """Psi of N INRs at coords (Q, m) or (N, Q, m) -> (N, Q, c_out) pixels (not clamped).

        With a context the jets are computed at each x + o h directly (len(offsets) jets per point); ``decode``
        shares them between neighbouring grid points instead."""
        if not isinstance(self.fusion, nn.Module):
            return self.fusion(pixel_jets(spec, params, coords, self.order, self.units, chunk_size))
        step = coords.new_tensor(grid_spacing(self.units))
        feats = [self.features(spec, params, coords + step * coords.new_tensor(o), chunk_size) for o in self.offsets]
        return self.apply_pi(torch.cat(feats, dim=-1) if len(feats) > 1 else feats[0])

    def apply_pi(self, features: torch.Tensor) -> torch.Tensor:
        """A learned Pi on features (..., O * c * M), with the filter's self-ensemble -> (..., c), no autograd."""
        shape = features.shape
        with torch.no_grad():
            if self.ensemble == 1:
                return self.fusion(features)
            out = self_ensemble(self.fusion, features.reshape(-1, shape[-1]), self.order, self.fusion.channels,
                                self.offsets, self.ensemble)
            return out.reshape(*shape[:-1], -1)

    def decode(self, spec: SirenSpec, params: torch.Tensor, size: tuple[int, int] | int, factor: int = 1,
               chunk_points: int = 16384, clamp: bool = True) -> torch.Tensor:
        """Psi decoded on a grid of array shape ``size`` ((H, W); (T,) or (D, H, W) for m = 1, 3):
        (N, H*f, W*f, c_out) pixels, clamped to [0, 1] unless clamp=False (signed outputs such as the Laplacian).

        factor 1: the pixel centres of an H x W image (``grid_coords``), any H, W. factor f > 1: f x f
        sub-pixel samples per pixel of the H x W grid, centred on it (``subpixel_grid``), so that averaging
        each f x f block gives back pixel-area averages at exactly the 1x pixel centres. A Pi with a context
        whose offsets land on decoding-grid points (the grid is the units' grid or f times finer) reads jets
        computed once on the grid extended beyond [-1, 1] (``decode_context``).
        """
        size = (size, size) if isinstance(size, int) else tuple(size)
        ratio = [factor * (s - 1) / (u - 1) for s, u in zip(size, self.units)]
        if getattr(self.fusion, "convolutional", False) and len({int(r) for r in ratio}) == 1 \
                and all(r == int(r) for r in ratio):
            out = self.decode_field(spec, params, size, factor, int(ratio[0]))
        elif (len(self.offsets) > 1 or self.first_stage is not None) and all(r == int(r) for r in ratio):
            out = self.decode_context(spec, params, size, factor, [int(r) for r in reversed(ratio)], chunk_points)
        else:
            coords = grid_coords(size) if factor == 1 else subpixel_grid(size, factor)
            coords = coords.to(params)
            out = torch.cat([self(spec, params, coords[a:a + chunk_points])
                             for a in range(0, len(coords), chunk_points)], dim=1)
        out = out.clamp(0, 1) if clamp else out
        return out.reshape(params.shape[0], *[s * factor for s in size], -1)

    def decode_context(self, spec: SirenSpec, params: torch.Tensor, size: tuple[int, int], factor: int,
                       steps: list[int], chunk_points: int = 16384, extend: int = 0) -> torch.Tensor:
        """Psi of a context Pi on the (sub-)pixel grid: (N, H f * W f, c), or with ``extend`` on that grid
        extended by ``extend`` points each side ((N, (H f + 2 extend) (W f + 2 extend), c), array order). Jets on
        the grid padded by pad * f + extend points (``filters.context``), gathered at offsets o * steps
        (decoding-grid points per unit pixel, per coordinate axis); a cascade's Psi_1 on the same padded grid
        (its own ``decode_context``, extended), interleaved with them."""
        pad = self.fusion.pad * max(steps) + extend
        axes = padded_axes(size, pad, factor)
        shape = [len(a) for a in axes]
        offs = offsets_tensor(self.offsets, params.device) * torch.tensor(steps, device=params.device)
        inner = torch.cartesian_prod(*[torch.arange(-extend, s * factor + extend, device=params.device)
                                       for s in size])
        inner = inner.reshape(-1, len(size))  # (Q, m): cartesian_prod of one axis is (Q,)
        coords = axes_coords(axes).to(params)
        first = self.first_stage
        out = []
        for i in range(params.shape[0]):
            table = jet_features(pixel_jets(spec, params[i:i + 1], coords, self.order, self.units))
            if first is not None:
                psi1 = first.decode_context(spec, params[i:i + 1], size, factor, steps, chunk_points, extend=pad)
                table = interleave(table, psi1.clamp(0, 1), self.fusion.channels)
            table = table.reshape(1, *shape, -1)
            which = torch.zeros(chunk_points, dtype=torch.long, device=params.device)
            out.append(torch.cat([self.apply_pi(gather(table, which[:len(p)], p, offs, pad))
                                  for p in inner.split(chunk_points)]))
        return torch.stack(out)

    def decode_field(self, spec: SirenSpec, params: torch.Tensor, size: tuple[int, int], factor: int,
                     step: int) -> torch.Tensor:
        """Psi of a convolutional Pi (``filters.jet_cnn``) on the (sub-)pixel grid: (N, H f * W f, c). The jets
        are computed once on the grid padded by R * step points (``step``: decoding-grid points per unit pixel,
        the same on both axes); the step x step phases of that grid are each a grid of spacing h, on which Pi
        runs as a convolution (with its self-ensemble, ``jet_cnn.field_ensemble``)."""
        from insp_cli.filters.jet_cnn import field_ensemble  # jet_cnn builds on this module

        pad = self.fusion.pad * step
        axes = padded_axes(size, pad, factor)
        shape = [len(a) for a in axes]
        inner = [s * factor for s in size]
        coords = axes_coords(axes).to(params)
        out = []
        for i in range(params.shape[0]):
            table = jet_features(pixel_jets(spec, params[i:i + 1], coords, self.order, self.units))
            table = table.reshape(1, *shape, -1)
            psi = table.new_empty(*inner, self.fusion.channels)
            for a in range(step):
                for b in range(step):
                    with torch.no_grad():
                        sub = field_ensemble(self.fusion, table[:, a::step, b::step], self.order,
                                             self.fusion.channels, self.ensemble)
                    psi[a::step, b::step] = sub[0, :len(range(a, inner[0], step)), :len(range(b, inner[1], step))]
            out.append(psi.reshape(-1, psi.shape[-1]))
        return torch.stack(out)


def subpixel_grid(size: tuple[int, int], factor: int) -> torch.Tensor:
    """(H f * W f, 2) coords of f x f samples per pixel of the H x W ``grid_coords`` grid.

    Pixel (i, j) of the 1x grid is the square of side h centred on its centre; its sub-pixels sit at
    centre + h (k + 1/2) / f - h / 2, k = 0..f-1, per axis (the outermost lie h/2 - h/(2f) beyond [-1, 1]):
    ``filters.context.padded_axes`` with no padding, so a context Pi's padded grid extends this very grid.
    """
    return axes_coords(padded_axes(tuple(size), 0, factor))


def box_downsample(images: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, H f, W f, c) -> (N, H, W, c): the mean of each f x f block."""
    n, hh, ww, c = images.shape
    return images.reshape(n, hh // factor, factor, ww // factor, factor, c).mean(dim=(2, 4))
