"""Training data of a learned INSP-Net Pi: random (INR, pixel) pairs with their jet features and target pixel,
and the augmentations that act on jets (flips, quarter turns, colour permutations).

Layouts as ``filters.insp_net``: features (B, c * M) channel major, targets (B, c).
"""

from __future__ import annotations

import torch

from insp_cli.errors import InspError
from insp_cli.filters.insp_net import jet_features, pixel_jets
from insp_cli.inr.siren import SirenSpec, grid_coords
from insp_cli.jets import jet_space


class PixelSampler:
    """Random (INR, pixel) pairs with the jet features of the INR there and the target pixel.

    params: (N, P) INRs fitted on an H x W grid; targets: (N, H * W, c) target pixels on that grid.
    Features are pixel-unit jets (``jet_features``), computed without autograd (the INR is fixed). When
    N * H * W * F floats fit in ``cache_bytes`` every pixel's features are computed once up front (each
    training step then costs only Pi); otherwise each batch computes the jets of its own points.
    """

    def __init__(self, spec: SirenSpec, params: torch.Tensor, targets: torch.Tensor, order: int,
                 size: tuple[int, int], cache_bytes: float = 2e9, images_per_batch: int = 8,
                 inrs_per_chunk: int = 8):
        n, q, c = targets.shape
        if params.shape[0] != n or q != size[0] * size[1]:
            raise InspError(f"{params.shape[0]} INRs on a {size[0]}x{size[1]} grid do not match targets "
                            f"{tuple(targets.shape)}")
        self.spec, self.params, self.targets, self.order, self.size = spec, params, targets, order, tuple(size)
        self.coords = grid_coords(self.size).to(params)
        self.images_per_batch = images_per_batch
        self.num_features = c * jet_space(2, order).size
        self.cache = None
        if n * q * self.num_features * 4 <= cache_bytes:
            self.cache = torch.cat([jet_features(pixel_jets(spec, params[a:a + inrs_per_chunk], self.coords,
                                                            order, self.size))
                                    for a in range(0, n, inrs_per_chunk)]).float()

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, F), targets (B, c)) for B random pixels of random INRs."""
        n, q, _ = self.targets.shape
        if self.cache is not None:
            dev = self.cache.device
            img = torch.randint(n, (batch,), generator=generator).to(dev)
            pix = torch.randint(q, (batch,), generator=generator).to(dev)
            return self.cache[img, pix], self.targets[img, pix]
        k = min(self.images_per_batch, batch)
        per = -(-batch // k)
        dev = self.params.device
        img = torch.randint(n, (k,), generator=generator).to(dev)
        pix = torch.randint(q, (k, per), generator=generator).to(dev)
        feats = jet_features(pixel_jets(self.spec, self.params[img], self.coords[pix], self.order,
                                        self.size)).float()
        return feats.reshape(k * per, -1)[:batch], self.targets[img[:, None], pix].reshape(k * per, -1)[:batch]


def dihedral_tables(order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8 flips/quarter turns of the plane acting on a 2-D jet: (index (8, M), sign (8, M)).

    For Phi'(x, y) = Phi(s_x x, s_y y), D^(a, b) Phi' = s_x^a s_y^b D^(a, b) Phi at the mapped point; for
    Phi'(x, y) = Phi(s_y y, s_x x) it is s_x^a s_y^b D^(b, a) Phi. So jet'[i] = sign[i] * jet[index[i]].
    """
    space = jet_space(2, order)
    index, sign = [], []
    for swap in (False, True):
        for sx in (1, -1):
            for sy in (1, -1):
                index.append([space.index[(b, a) if swap else (a, b)] for a, b in space.alphas])
                sign.append([sx ** a * sy ** b for a, b in space.alphas])
    return torch.tensor(index), torch.tensor(sign, dtype=torch.float32)


def augment(features: torch.Tensor, targets: torch.Tensor, order: int, generator: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flips / quarter turns and colour-channel permutations, one per point.

    features: (B, c * M) channel major; targets: (B, c). The geometric maps act on the jet (``dihedral_tables``)
    and leave the target pixel alone; a channel permutation moves features and target together. Both keep
    i.i.d. pixel noise i.i.d., so a denoiser learns the same task on more varied signals (with 27 small
    training images, the MLP otherwise learns one image set's orientations and hues).
    """
    b, c = targets.shape
    x = features.reshape(b, c, -1)
    index, sign = dihedral_tables(order)
    g = torch.randint(8, (b,), generator=generator)
    idx = index[g].to(x.device)[:, None, :].expand_as(x)
    x = torch.gather(x, 2, idx) * sign[g].to(x)[:, None, :]
    perm = torch.argsort(torch.rand(b, c, generator=generator), dim=1).to(x.device)
    x = torch.gather(x, 1, perm[:, :, None].expand_as(x))
    return x.reshape(b, -1), torch.gather(targets, 1, perm)
