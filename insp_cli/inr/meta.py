"""Meta-learned starting points for fitting SIRENs: a learned initialisation and functa.

Both learners run on the batched SIREN of ``siren.py`` (``siren_forward`` and its hand-written gradient); there
is no second SIREN here.

**(a) Learned initialisation, Reptile** (Nichol et al. 2018; one of the two learners of Tancik et al. 2021,
"Learned Initializations for Optimizing Coordinate-Based Neural Representations"). One weight vector
theta (P,) is shared by every signal. An outer step takes a batch of N training signals, fits each from theta with
*the fit's own inner loop* (``fit._fit_once``: batched Adam, ``K`` steps, cosine learning rate), giving
phi_i (N, P), and moves theta towards their mean:

    theta <- theta - eps * (theta - mean_i phi_i)

written as the gradient of the surrogate ``0.5 ||theta - mean_i phi_i||^2`` (phi detached), so that the one
training loop of ``training.py`` runs it with ``torch.optim.SGD(lr=eps)``. Reptile rather than MAML: it needs no
second-order gradients through Adam, so the inner loop is exactly the (fast, hand-differentiated) loop a later
``insp fit fit.init=...`` runs, and meta-training costs about what fitting the same signals costs.

**(b) Functa** (Dupont et al. 2022, "From data to functa"). A shared base SIREN theta (P,) whose sine layers are
shifted per signal: layer l computes ``sin(omega0 (W_l h + b_l + s_l))`` with the shifts

    s = z @ W_mod + b_mod,      z (N, d) the signal's latent, W_mod (d, S), b_mod (S,), S = depth * hidden.

A shift modulation is a bias: a modulated SIREN IS a SIREN whose hidden biases are b + s, so ``Functa.expand``
turns latents into ordinary per-INR SIREN parameters (N, P) in the usual layout (``hidden_bias_slots``) and
everything downstream (store, jets, filters, classifiers) sees plain SIRENs. Fitting a signal is ``K`` SGD steps
on its latent alone, from z = 0, with per-dimension learning rates alpha (d,) (Meta-SGD, Li et al. 2017):

    z_{k+1} = z_k - alpha * dL/dz (z_k),    L(z) = mean over pixels and channels of (Phi(x; z) - y)^2

with y the targets in [-1, 1]. Meta-learning minimises the mean of L(z_K) over training signals with respect to
theta, W_mod, b_mod and alpha by Adam, differentiating through the K inner steps (second order, autograd).
At fitting time dL/dz needs no autograd: dL/dz = (dL/dparams at the hidden-bias slots) @ W_mod^T, by the chain
rule, from the hand-written SIREN gradient (``latent_grad``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .fit import FitSettings, _as_batch, _fit_once, psnr_of_fit
from .siren import SirenSpec, init_params, siren_forward, siren_mse_and_grad

MODES = ("weights", "functa")
AUGMENTS = ("none", "flips")  # meta.augment: the training signals as drawn, or each under a random grid symmetry


def flip_signals(targets: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Each signal under a random symmetry of its grid (data augmentation for meta-learning; ``meta.augment=flips``).

    targets (N, Q, c), Q = prod(shape) samples in row-major order over ``shape``: (H, W) images or (T,) clips.
    Each signal draws k in 0..7 from ``generator``: bit 0 flips the first axis, bit 1 the second (images), bit 2
    transposes a square image; a clip is reversed in time on bit 0. A square image takes each of the 8 symmetries
    of the square with probability 1/8; a non-square one its 4 flips. Returns (N, Q, c), each row a permutation
    of the same row of ``targets``."""
    n, q, c = targets.shape
    grid = targets.reshape(n, *shape, c)
    draws = torch.randint(8, (n,), generator=generator).tolist()
    out = []
    for g, k in zip(grid, draws):
        for axis in range(len(shape)):
            if k >> axis & 1:
                g = g.flip(axis)
        if len(shape) == 2 and shape[0] == shape[1] and k >> 2 & 1:
            g = g.transpose(0, 1)
        out.append(g.reshape(q, c))
    return torch.stack(out)


def hidden_bias_slots(spec: SirenSpec) -> torch.Tensor:
    """Positions (S,) of the sine layers' biases b0 .. b_{depth-1} inside one INR's flat parameters, in layer
    order; S = depth * hidden. The last (linear) layer's bias is not modulated."""
    slots = [torch.arange(off, off + shape[0]) for name, shape, off in spec.layout
             if name.startswith("b") and int(name[1:]) < spec.depth]
    return torch.cat(slots)


@dataclass
class Functa:
    """A shared base SIREN with a latent-to-shift map and Meta-SGD learning rates.

    base (P,), w_mod (d, S), b_mod (S,), lrs (d,): tensors, possibly requiring grad (meta-training)."""

    spec: SirenSpec
    base: torch.Tensor
    w_mod: torch.Tensor
    b_mod: torch.Tensor
    lrs: torch.Tensor

    @property
    def latent_dim(self) -> int:
        return self.w_mod.shape[0]

    def shifts(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (N, d) -> shifts (N, S) added to the hidden biases."""
        return latents @ self.w_mod + self.b_mod

    def expand(self, latents: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """latents (N, d) -> ordinary SIREN parameters (N, P): the base with hidden biases b + s. ``out`` (N, P):
        written in place instead (no autograd; a store expanding its latents chunk by chunk into one tensor)."""
        slots = hidden_bias_slots(self.spec).to(self.base.device)
        n = latents.shape[0]
        if out is None:
            return self.base.unsqueeze(0).expand(n, -1).index_add(1, slots, self.shifts(latents))
        return out.copy_(self.base.unsqueeze(0).expand(n, -1)).index_add_(1, slots, self.shifts(latents))

    def step_sizes(self) -> torch.Tensor:
        """The Meta-SGD rates used (d,): never negative (a negative rate would climb the loss)."""
        return self.lrs.clamp_min(0.0)


def latent_grad(f: Functa, latents: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-INR MSE (N,) and its gradient with respect to the latents (N, d), through the hand-written SIREN
    gradient: dL/dz = dL/dparams[:, slots] @ W_mod^T. coords (Q, m); targets (N, Q, c) in [-1, 1]."""
    params = f.expand(latents).detach()
    mse, grad = _as_batch(siren_mse_and_grad, f.spec, params, coords, targets, mask)
    slots = hidden_bias_slots(f.spec).to(grad.device)
    return mse, grad[:, slots] @ f.w_mod.detach().T


@dataclass
class LatentFit:
    latents: torch.Tensor  # (N, d)
    params: torch.Tensor  # (N, P) the expanded SIREN parameters
    psnr: torch.Tensor  # (N,) dB against the pixel targets (observed pixels)
    ok: torch.Tensor  # (N,) bool: finite


def fit_latents(f: Functa, pixels: torch.Tensor, coords: torch.Tensor, steps: int,
                mask: torch.Tensor | None = None,
                on_step: Callable[[int, int, torch.Tensor], None] | None = None) -> LatentFit:
    """Fit N signals by ``steps`` Meta-SGD steps on their latents alone, from z = 0 (module docstring).

    pixels (N, Q, c) in [0, 1]; coords (Q, m); mask (N, Q) of observed pixels. Every INR's fit depends on its
    own signal only (no randomness, no batch coupling). ``on_step(step, n, mse_pixels (N,))`` after each step."""
    n = pixels.shape[0]
    targets = pixels * 2.0 - 1.0
    z = torch.zeros(n, f.latent_dim, dtype=pixels.dtype, device=pixels.device)
    alpha = f.step_sizes().detach()
    with torch.no_grad():
        for k in range(steps):
            mse, g = latent_grad(f, z, coords, targets, mask)
            z = z - alpha * g
            if on_step is not None:
                on_step(k, n, mse / 4.0)
        params = f.expand(z).detach()
    psnr = psnr_of_fit(f.spec, params, coords, pixels, mask)
    return LatentFit(latents=z, params=params, psnr=psnr, ok=torch.isfinite(psnr))


def _mse(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (siren_forward(spec, params, coords) - targets).pow(2).mean((1, 2))


def functa_loss(f: Functa, coords: torch.Tensor, targets: torch.Tensor, steps: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The meta-objective of a batch: mean over signals of L(z_K), differentiable (second order) in f's tensors.
    coords (Q, m); targets (N, Q, c) in [-1, 1]. Returns (loss (), per-INR MSE after the K steps (N,))."""
    n = targets.shape[0]
    z = torch.zeros(n, f.latent_dim, dtype=targets.dtype, device=targets.device, requires_grad=True)
    alpha = f.step_sizes()
    for _ in range(steps):
        mse = _mse(f.spec, f.expand(z), coords, targets)
        (g,) = torch.autograd.grad(mse.sum(), z, create_graph=True)
        z = z - alpha * g
    mse = _mse(f.spec, f.expand(z), coords, targets)
    return mse.mean(), mse.detach()


def reptile_loss(spec: SirenSpec, init: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                 inner: FitSettings, generators: list[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
    """Reptile's surrogate for a batch: 0.5 ||theta - mean_i phi_i||^2 with phi_i the fit of signal i from theta
    by ``inner`` (the fit's batched Adam); its gradient is theta - mean phi. init (P,) the learnable theta;
    targets (N, Q, c) in [-1, 1]. Returns (surrogate (), per-INR MSE at the end of the inner fit (N,))."""
    n = targets.shape[0]
    start = init.detach().unsqueeze(0).expand(n, -1).contiguous()
    phi, _ = _fit_once(spec, targets, coords, None, inner, start, generators, None)
    with torch.no_grad():
        mse = _as_batch(siren_mse_and_grad, spec, phi, coords, targets)[0]
    return 0.5 * (init - phi.mean(0)).pow(2).sum(), mse


class MetaINR(nn.Module):
    """The learnable tensors of either mode, as an nn.Module (for the training loop and its checkpoints).

    weights: ``init`` (P,). functa: ``base`` (P,), ``w_mod`` (d, S), ``b_mod`` (S,), ``lrs`` (d,)."""

    def __init__(self, spec: SirenSpec, mode: str, latent_dim: int = 64, inner_lr: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"meta-learning mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.spec, self.mode = spec, mode
        theta = init_params(spec, 1, generator=generator)[0]
        if mode == "weights":
            self.init = nn.Parameter(theta)
            return
        s = hidden_bias_slots(spec).numel()
        # nn.Linear's range for the latent-to-shift map, over omega0: a shift s moves a sine's phase by omega0 s,
        # so a unit latent then moves phases by O(1) rad, as a unit input does in the first layer
        bound = 1.0 / (latent_dim ** 0.5 * spec.omega0)
        self.base = nn.Parameter(theta)
        self.w_mod = nn.Parameter((torch.rand(latent_dim, s, generator=generator) * 2 - 1) * bound)
        self.b_mod = nn.Parameter(torch.zeros(s))
        self.lrs = nn.Parameter(torch.full((latent_dim,), float(inner_lr)))

    def functa(self) -> Functa:
        return Functa(self.spec, self.base, self.w_mod, self.b_mod, self.lrs)
