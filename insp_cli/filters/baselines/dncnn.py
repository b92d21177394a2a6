"""A learned pixel-domain twin of a denoising INSP-Net: a small DnCNN (Zhang et al. 2017) on decoded images.

Issue 27: what does working on the INR cost or gain against pixels, all else equal? The twin gets what Pi
gets: the same decoded noisy training INRs and clean targets, the same number of AdamW steps of the same number
of training pixels (``pixels`` per step, as Pi's ``train.batch_points``: patches of ``patch`` x ``patch``), the
same learning-rate schedule and weight decay, the same flips / quarter turns and colour permutations, and as
many parameters as Pi (``dncnn_for_budget`` picks the width for a given depth). Like Pi it is residual: the
last convolution starts at zero, so training starts from the input image (DnCNN's residual learning).
No batch normalisation (a few patches per step would make its statistics noise).

Layouts: images (N, H, W, c) in [0, 1] (numpy or torch) at the edges of this module, (N, c, H, W) inside.
Nothing here knows about Hydra, W&B or files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from insp_cli.errors import InspError
from insp_cli.filters.insp_net import ensemble_views
from insp_cli.filters.jet_cnn import turn_back, turn_image
from insp_cli.training import cosine_factor, train_steps


class DnCNN(nn.Module):
    """(N, c, H, W) -> (N, c, H, W): x + body(x), body = conv 3x3 (c -> width) + ReLU, depth - 2 x [conv 3x3
    (width -> width) + ReLU], conv 3x3 (width -> c) starting at zero. Zero padding keeps the size."""

    def __init__(self, channels: int, width: int, depth: int):
        super().__init__()
        if depth < 2 or width < 1 or channels < 1:
            raise InspError(f"a DnCNN needs depth >= 2 and width >= 1 (got depth {depth}, width {width})")
        self.channels, self.width, self.depth = channels, width, depth
        mods: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            mods += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        last = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*mods, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters (buffers such as Pi's feature statistics are not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def dncnn_parameters(channels: int, width: int, depth: int) -> int:
    """Parameters of ``DnCNN(channels, width, depth)`` without building it."""
    c, w = channels, width
    return (9 * c + 1) * w + (depth - 2) * (9 * w + 1) * w + 9 * w * c + c


def dncnn_for_budget(channels: int, budget: int, depth: int) -> DnCNN:
    """The DnCNN of ``depth`` layers whose parameter count is closest to ``budget`` (its width solves the
    quadratic ``dncnn_parameters(channels, w, depth) = budget``)."""
    if budget < dncnn_parameters(channels, 1, depth):
        raise InspError(f"a budget of {budget} parameters is below the smallest DnCNN of depth {depth}")
    a, b, c0 = 9 * (depth - 2), 18 * channels + 1 + (depth - 2), channels - budget
    w = (-b + math.sqrt(b * b - 4 * a * c0)) / (2 * a) if a else -c0 / b
    best = min({max(1, math.floor(w)), max(1, math.ceil(w))},
               key=lambda k: abs(dncnn_parameters(channels, k, depth) - budget))
    return DnCNN(channels, best, depth)


@dataclass
class TwinTraining:
    """The training budget the twin shares with Pi: steps, pixels per step, AdamW lr -> lr_final (cosine),
    weight decay, augmentation, seed; patch: the side of the square training patches."""

    steps: int
    pixels: int
    lr: float
    lr_final: float | None
    weight_decay: float
    augment: bool
    seed: int
    patch: int = 32


def _patches(inputs: torch.Tensor, targets: torch.Tensor, count: int, patch: int, augment: bool,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random patch pairs (count, c, p, p) of random images (N, c, H, W), each flipped / turned and
    colour-permuted the same way in input and target when ``augment``."""
    n, c, h, w = inputs.shape
    xs, ys = [], []
    for _ in range(count):
        i = int(torch.randint(n, (1,), generator=gen))
        top = int(torch.randint(h - patch + 1, (1,), generator=gen))
        left = int(torch.randint(w - patch + 1, (1,), generator=gen))
        x = inputs[i, :, top:top + patch, left:left + patch]
        y = targets[i, :, top:top + patch, left:left + patch]
        if augment:
            g = int(torch.randint(8, (1,), generator=gen))
            perm = torch.argsort(torch.rand(c, generator=gen))
            x, y = x[perm], y[perm]
            if g & 4:
                x, y = x.transpose(1, 2), y.transpose(1, 2)
            dims = [d for d, bit in ((1, 2), (2, 1)) if g & bit]
            if dims:
                x, y = x.flip(dims), y.flip(dims)
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


def train_twin(model: DnCNN, inputs, targets, t: TwinTraining) -> float:
    """Train ``model`` to map the noisy ``inputs`` (N, H, W, c) to ``targets`` (N, H, W, c) with the budget
    ``t`` (its initial weights are the caller's: seed torch before building it); returns the training PSNR (dB, peak 1) of its last tenth of steps."""
    x = torch.as_tensor(np.asarray(inputs, np.float32)).permute(0, 3, 1, 2).contiguous()
    y = torch.as_tensor(np.asarray(targets, np.float32)).permute(0, 3, 1, 2).contiguous()
    if x.shape != y.shape:
        raise InspError(f"twin inputs {tuple(x.shape)} and targets {tuple(y.shape)} differ in shape")
    patch = min(t.patch, x.shape[2], x.shape[3])
    count = max(1, round(t.pixels / patch ** 2))
    gen = torch.Generator().manual_seed(t.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    losses: list[float] = []

    def loss_at(step: int) -> torch.Tensor:
        xb, yb = _patches(x, y, count, patch, t.augment, gen)
        loss = (model(xb) - yb).pow(2).mean()
        losses.append(float(loss.detach()))
        return loss

    def lr_at(step: int) -> float:
        if t.lr_final is None or t.steps <= 1:
            return t.lr
        return t.lr_final + (t.lr - t.lr_final) * cosine_factor(step, t.steps - 1)

    model.train()
    train_steps(model, opt, loss_at, 0, t.steps, lr_at, lambda done: None, "pixel twin",
                where=lambda step: f"twin step {step}", hint="lower train.lr")
    model.eval()
    tail = losses[-max(1, len(losses) // 10):]
    return -10 * math.log10(max(float(np.mean(tail)), 1e-20))


def apply_twin(model: DnCNN, images, batch: int = 8, ensemble: int = 1) -> np.ndarray:
    """The trained twin on whole images (N, H, W, c) -> (N, H, W, c), clipped to [0, 1]. ensemble: the same
    test-time self-ensemble as Pi's (``filters.insp_net.self_ensemble``), on pixels: the mean over the 8 flips /
    quarter turns of the image (8) and the 6 colour permutations (48) of the twin's output on the transformed
    image, transformed back; 1 = the twin alone."""
    x = torch.as_tensor(np.asarray(images, np.float32)).permute(0, 3, 1, 2)
    groups, perms = ensemble_views(ensemble, x.shape[1], "these images")

    def run(xb: torch.Tensor) -> torch.Tensor:
        if ensemble == 1:
            return model(xb)
        total = 0
        for g in groups:
            for perm, inv in perms:
                total = total + turn_back(model(turn_image(xb, g, rows=2)[:, perm])[:, inv], g, rows=2)
        return total / (len(groups) * len(perms))

    with torch.no_grad():
        out = torch.cat([run(x[a:a + batch]) for a in range(0, len(x), batch)])
    return out.clamp(0, 1).permute(0, 2, 3, 1).numpy()
