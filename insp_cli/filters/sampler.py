"""Training data of a learned INSP-Net Pi: random (INR, grid point) pairs with their jet features and target,
for m = 1, 2, 3 (``PixelSampler``), and the augmentations that act on jets (flips, quarter turns, colour permutations).

Layouts as ``filters.insp_net``: features (B, c * M) channel major, targets (B, c).
"""

from __future__ import annotations

import math

import torch

from insp_cli.errors import InspError
from insp_cli.filters.context import (
    axes_coords,
    dihedral,
    gather,
    interleave,
    offsets_pad,
    offsets_tensor,
    padded_axes,
)
from insp_cli.filters.insp_net import jet_features, pixel_jets
from insp_cli.inr.siren import SirenSpec, grid_coords
from insp_cli.jets import grid_spacing, jet_space


class PixelSampler:
    """Random (INR, grid point) pairs with the jet features of the INR there and the target value, for m-D
    signals of any m: pixels of images (m = 2), samples of clips (m = 1), voxels (m = 3).

    params: (N, P) INRs fitted on a grid of array shape ``size`` ((H, W), (T,), ...); targets: (N, prod(size), c)
    target values on that grid. Features are grid-unit jets (``jet_features`` of ``pixel_jets``: of the pixel
    intensity 0.5 Phi + 0.5 with ``intensity``, else of Phi itself, e.g. audio amplitudes) at the point x and,
    with ``offsets`` (grid steps, m-tuples or ints for m = 1, ``filters.context``), at x + o h:
    (B, O * c * M), offset major; None = the zero offset alone, pointwise. They are computed without autograd
    (the INR is fixed). When the jets of every point of the grid padded by the context's reach fit in
    ``cache_bytes`` they are computed once up front (each training step then costs only Pi and a gather);
    otherwise each batch computes the jets of its own points. ``prior`` (an ``INSPFilter``, 2-D only): a
    cascade's first stage, whose output Psi_1 (clamped to [0, 1]) follows each channel's jet in the features
    (``context.interleave``: c * (M + 1) per offset), computed on the padded grid with the jets.
    """

    def __init__(self, spec: SirenSpec, params: torch.Tensor, targets: torch.Tensor, order: int,
                 size: tuple[int, ...], cache_bytes: float = 2e9, images_per_batch: int = 8,
                 inrs_per_chunk: int = 8, offsets: list | None = None, intensity: bool = True, prior=None):
        n, q, c = targets.shape
        if params.shape[0] != n or q != math.prod(size):
            raise InspError(f"{params.shape[0]} INRs on a {'x'.join(map(str, size))} grid do not match targets "
                            f"{tuple(targets.shape)}")
        self.spec, self.params, self.targets, self.order, self.size = spec, params, targets, order, tuple(size)
        self.intensity, self.prior = intensity, prior
        self.offsets = list(offsets or [(0,) * len(size)])
        self.offs = offsets_tensor(self.offsets, params.device)
        self.pad = offsets_pad(self.offsets)
        self.coords = grid_coords(self.size).to(params)
        self.images_per_batch = images_per_batch
        point_features = c * (jet_space(len(size), order).size + (prior is not None))
        self.num_features = len(self.offsets) * point_features
        self.cache = None  # (N, S_1 + 2 pad, ..., S_m + 2 pad, c * M)
        padded = [s + 2 * self.pad for s in self.size]
        if n * math.prod(padded) * point_features * 4 <= cache_bytes:
            grid = self.coords if self.pad == 0 else axes_coords(padded_axes(self.size, self.pad)).to(params)
            self.cache = torch.cat([self._features(params[a:a + inrs_per_chunk], grid, on_grid=True)
                                    for a in range(0, n, inrs_per_chunk)]).float().reshape(n, *padded, -1)

    def _features(self, params: torch.Tensor, coords: torch.Tensor, on_grid: bool = False) -> torch.Tensor:
        """(N, Q, c * M) jet features of INRs ``params`` at ``coords`` (Q, m) or (N, Q, m); with a prior
        (N, Q, c * (M + 1)): Psi_1 after each channel's jet, from its ``decode_context`` when ``on_grid`` (coords
        are the grid padded by ``self.pad``), else at each point."""
        feats = jet_features(pixel_jets(self.spec, params, coords, self.order, self.size, intensity=self.intensity))
        if self.prior is None:
            return feats
        if on_grid:
            psi1 = self.prior.decode_context(self.spec, params, self.size, 1, [1] * len(self.size), extend=self.pad)
        else:
            psi1 = self.prior(self.spec, params, coords)
        return interleave(feats, psi1.clamp(0, 1), self.targets.shape[-1])

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, F), targets (B, c)) for B random points of random INRs."""
        n, q, _ = self.targets.shape
        if self.cache is not None:
            img = torch.randint(n, (batch,), generator=generator)
            pix = torch.randint(q, (batch,), generator=generator)
            return self._at(img, pix[:, None])
        k = min(self.images_per_batch, batch)
        per = -(-batch // k)
        img = torch.randint(n, (k,), generator=generator)
        pix = torch.randint(q, (k, per), generator=generator)
        feats, targets = self._at(img, pix)
        return feats[:batch], targets[:batch]

    def patches(self, count: int, side: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """From the feature cache, ``count`` random windows of random INRs for a convolutional Pi
        (``filters.jet_cnn``), S = ``side`` points a side (at most the grid's): 2-D squares (fields (count,
        S + 2 pad, S + 2 pad, F) of the cached per-point features, targets (count, S, S, c)); 1-D runs of a clip
        (fields (count, S + 2 pad, F), targets (count, S, c))."""
        if self.cache is None or len(self.size) > 2 or self.prior is not None:
            raise InspError("training patches come from the feature cache of a one-stage 1-D or 2-D filter: raise "
                            "train.feature_cache_gb")
        n, _, c = self.targets.shape
        s = min(side, *self.size)
        img = torch.randint(n, (count,), generator=generator)
        start = torch.stack([torch.randint(a - s + 1, (count,), generator=generator) for a in self.size], 1)
        grid = self.targets.reshape(n, *self.size, c)
        span = s + 2 * self.pad
        fields = torch.stack([self.cache[(i, *[slice(a, a + span) for a in at])] for i, at in zip(img, start)])
        targets = torch.stack([grid[(i, *[slice(a, a + s) for a in at])] for i, at in zip(img, start)])
        return fields, targets.to(fields)

    def windows(self, count: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """m = 1: ``count`` runs of ``length`` contiguous samples, each of a random clip from a random start.
        Returns (features (count * length, F), targets (count * length, c)), run major (``reshape(count,
        length, ...)`` gives the segments)."""
        n, q, _ = self.targets.shape
        if len(self.size) != 1 or not 1 <= length <= q:
            raise InspError(f"windows of {length} contiguous samples need 1-D clips of at least that many samples, "
                            f"not a {'x'.join(map(str, self.size))} grid")
        img = torch.randint(n, (count,), generator=generator)
        start = torch.randint(q - length + 1, (count,), generator=generator)
        return self._at(img, start[:, None] + torch.arange(length))

    def _at(self, img: torch.Tensor, pix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (k * per, F) and targets (k * per, c) of flat grid points pix (k, per) of INRs img (k,)."""
        k, per = pix.shape
        if self.cache is not None:
            dev = self.cache.device
            img, pix = img.to(dev)[:, None].expand(k, per).reshape(-1), pix.to(dev).reshape(-1)
            return gather(self.cache, img, _unravel(pix, self.size), self.offs, self.pad), self.targets[img, pix]
        dev = self.params.device
        img, pix = img.to(dev), pix.to(dev)
        step = self.coords.new_tensor(grid_spacing(self.size))
        at = self.coords[pix][:, :, None, :] + step * self.offs.to(self.coords)  # (k, per, O, m)
        feats = self._features(self.params[img], at.reshape(k, -1, len(self.size))).float()
        return feats.reshape(k * per, -1), self.targets[img[:, None], pix].reshape(k * per, -1)


def _unravel(flat: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Flat grid indices (B,) -> array indices (B, m) on a grid of array shape ``size``."""
    out = []
    for s in reversed(size):
        out.append(flat % s)
        flat = flat // s
    return torch.stack(out[::-1], dim=1)


def augment(features: torch.Tensor, targets: torch.Tensor, order: int, generator: torch.Generator,
            offsets: list[tuple[int, int]] | None = None, extra: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flips / quarter turns and colour-channel permutations, one per point.

    features: (B, O * c * (M + extra)), offset major then channel major (``extra``: values per channel after
    the jet that flips leave alone, ``context.dihedral``); targets: (B, c). The geometric maps act on the
    jet (``context.dihedral_tables``) and on the offsets (``context.dihedral_offsets``: the jets at x + o h of the
    turned image are the turned jets at x + (A o) h of the original) and leave the target pixel alone; a channel permutation
    moves features and target together. Both keep i.i.d. pixel noise i.i.d., so a denoiser learns the same task
    on more varied signals (with 27 small training images, the MLP otherwise learns one image set's
    orientations and hues).
    """
    b, c = targets.shape
    g = torch.randint(8, (b,), generator=generator)
    x = dihedral(features, g.to(features.device), order, c, offsets, extra).reshape(
        b, -1, c, jet_space(2, order).size + extra)
    perm = torch.argsort(torch.rand(b, c, generator=generator), dim=1).to(x.device)
    x = torch.gather(x, 2, perm[:, None, :, None].expand_as(x))
    return x.reshape(b, -1), torch.gather(targets, 1, perm)
