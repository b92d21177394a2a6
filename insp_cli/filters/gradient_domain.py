"""Gradient-domain editing of INRs: fit a new SIREN Phi to a target gradient field read from the jets of stored
INRs, without decoding them (the INR lecture's "image blending in the gradient domain"; SIREN's Poisson
experiments; Perez et al. 2003 for the discrete version, ``filters/baselines/poisson.py``).

Formulation. Omega = [-1, 1]^2, M a subset of Omega (the mask: where f2 is pasted), alpha in [0, 1] the weight
of f1 inside M (alpha = 0: seamless cloning of f2, 0 < alpha < 1: a mixed blend). The guidance field is

    g(x) = grad f1(x) + k(x) (1 - alpha) (grad f2(x) - grad f1(x)),      k = 1_M

i.e. grad f1 outside M and alpha grad f1 + (1 - alpha) grad f2 inside, the lecture's composite gradient. Seamless
cloning is: minimise int_M |grad Phi - g|^2 subject to Phi = f1 on Omega \\ M. Its minimiser solves the Poisson
equation  Laplace Phi = div g  in M with the Dirichlet condition Phi = f1 on the boundary of M (Euler-Lagrange:
for every variation eta vanishing outside M, int_M (grad Phi - g) . grad eta = 0, integrate by parts). A network
cannot take a hard constraint, so the constraint becomes a penalty over the whole domain:

    L(Phi) = E_x~U(Omega) [ |h grad Phi(x) - h g(x)|^2  +  lambda (1 - k(x)) |Phi(x) - f1(x)|^2 ]      (1)

Outside M the gradient term and the value term agree (both are zero at Phi = f1); as lambda grows, Phi -> f1 on
Omega \\ M in L^2 and, Phi being continuous, the trace on the boundary of M tends to f1's: the minimisers of (1)
tend to the Poisson solution. h is the pixel pitch of the stored INRs' grid (``grid_spacing``): gradients are
compared per pixel, so lambda (``value_weight``) is dimensionless (value_weight = 1: a value error of one output
unit costs what a gradient error of one unit per pixel costs). Reconstruction from gradients alone is the special
case f2 = None, k = 0, lambda = 0: Phi = f + const, the constant fixed afterwards by centring Phi (mean 0 over
Omega, i.e. mid-gray), since gradients say nothing about it.

Reconstruction with paths. The gradient term weighs a Fourier mode k of the error by |k h|^2: the low
frequencies, which dominate the PSNR, are the last to converge (the pilot in experiments/gradient_blend: colour
drifts over the whole image). Since a gradient field determines every difference f(b) - f(a) as a path integral,
the reconstruction loss adds that multi-scale form of the same information:

    L_rec(Phi) = E_x |h grad Phi(x) - h grad f(x)|^2
                 + mu E_(a,b) |Phi(b) - Phi(a) - int_0^1 grad f(a + t (b - a)) . (b - a) dt|^2              (2)

over random segments (a, b) up to ``path_length`` long. For f's own gradient field the integral is f(b) - f(a),
so (2) has the same minimisers as the gradient term alone (Phi = f + const), but a segment of length d weighs
mode k by |exp(i k . d) - 1|^2, about 1 for long segments, instead of |k h|^2. The integrals are read from f's
order-1 jets by the midpoint rule at points half a pixel apart (gradients alone: no value of f is read). Blends
do not use it: for a guidance field that is not a gradient (it jumps across the mask's boundary) a path integral
depends on the path, and (2) would no longer be the Poisson problem.

The expectation in (1) is estimated on a batch of points per step (shared by the N INRs of a batch), drawn from a
pool of ``pool_points`` uniform random points (4x the pixels of a 128 x 128 grid by default) whose targets
grad f1, grad f2 and f1 are the order-1 jets of the stored INRs (``inr_jet``, closed form), read once; grad Phi
is the order-1 jet of the new SIREN (``siren_jet``), differentiated with respect to Phi's parameters by autograd.
Optimiser: the batched Adam of ``inr/fit.py`` (one per INR) with its cosine learning-rate decay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import InspError
from ..inr.fit import _BatchedAdam, init_inrs, inr_seed
from ..inr.siren import SirenSpec, grid_coords, siren_forward, unflatten
from ..jets.derivative_network import siren_jet
from ..jets.inr_jet import inr_jet
from ..jets.scale import grid_spacing
from ..training import cosine_factor

MASK_SHAPES = ("disc", "rect")


@dataclass(frozen=True)
class Mask:
    """The region M where f2's gradients replace f1's, as a function of [-1, 1]^2 coordinates (x = column,
    y = row, as ``grid_coords``).

    Built-in: ``disc`` (centre (cx, cy), radius r) and ``rect`` (centre (cx, cy), half sizes (rx, ry)); or a
    boolean pixel array ``pixels (H, W)`` read by nearest pixel centre (a PNG mask). ``inside(coords (Q, 2))``
    -> (Q,) bool; ``grid((H, W))`` -> (H, W) bool at the pixel centres.
    """

    shape: str
    centre: tuple[float, float] = (0.0, 0.0)
    radius: tuple[float, float] = (0.5, 0.5)
    pixels: np.ndarray | None = None

    @classmethod
    def disc(cls, cx: float, cy: float, r: float) -> "Mask":
        if not r > 0:
            raise InspError(f"a disc mask needs a radius > 0, got {r}")
        return cls("disc", (float(cx), float(cy)), (float(r), float(r)))

    @classmethod
    def rect(cls, cx: float, cy: float, rx: float, ry: float) -> "Mask":
        if not (rx > 0 and ry > 0):
            raise InspError(f"a rect mask needs half sizes > 0, got ({rx}, {ry})")
        return cls("rect", (float(cx), float(cy)), (float(rx), float(ry)))

    @classmethod
    def from_pixels(cls, pixels: np.ndarray) -> "Mask":
        pixels = np.asarray(pixels, dtype=bool)
        if pixels.ndim != 2 or min(pixels.shape) < 2:
            raise InspError(f"a mask image must be 2-D with sides >= 2, got shape {pixels.shape}")
        return cls("pixels", pixels=pixels)

    def inside(self, coords: torch.Tensor) -> torch.Tensor:
        """coords (Q, 2) in [-1, 1] -> (Q,) bool."""
        if self.shape == "pixels":
            h, w = self.pixels.shape
            col = ((coords[:, 0] + 1) * (w - 1) / 2).round().long().clamp(0, w - 1)
            row = ((coords[:, 1] + 1) * (h - 1) / 2).round().long().clamp(0, h - 1)
            return torch.from_numpy(self.pixels).to(coords.device)[row, col]
        d = (coords - torch.tensor(self.centre, dtype=coords.dtype, device=coords.device)) / \
            torch.tensor(self.radius, dtype=coords.dtype, device=coords.device)
        return d.pow(2).sum(-1) <= 1 if self.shape == "disc" else d.abs().amax(-1) <= 1

    def grid(self, size: tuple[int, int]) -> np.ndarray:
        """(H, W) bool at the pixel centres of ``grid_coords(size)``."""
        return self.inside(grid_coords(size)).reshape(size).numpy()


@dataclass
class GradientFitSettings:
    """How Phi is fitted to a gradient field (defaults: the recorded experiment's, experiments/gradient_blend)."""

    steps: int = 600
    lr: float = 2e-3
    lr_final: float = 2e-5  # cosine decay to this
    batch_points: int = 4096  # points per step, drawn from the pool, shared by the INRs of a batch
    pool_points: int = 65536  # uniform random points whose targets are read from the jets once, up front
    value_weight: float = 10.0  # lambda in (1); blending only
    path_weight: float = 10.0  # mu in (2); reconstruction only (0: the plain gradient loss)
    path_pairs: int = 2048  # segments whose path integrals are read from the jets once, up front
    path_length: float = 1.0  # longest segment, in [-1, 1] units (1.0: half the image)

    def lr_at(self, step: int) -> float:
        return self.lr_final + (self.lr - self.lr_final) * cosine_factor(step, max(self.steps - 1, 1))


def guidance(spec, f1: torch.Tensor, f2: torch.Tensor | None, coords: torch.Tensor, inside: torch.Tensor | None,
             alpha: float, spacing: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """The target field of (1) at coords, from the order-1 jets of the stored INRs (no decoding).

    spec: the stored INRs' architecture; f1, f2: (N, P) their parameters (f2 None: reconstruction); coords (Q, 2);
    inside (Q,) bool (None: nowhere); spacing: pixel pitch per axis (x, y). Returns
    g (N, Q, C, 2) = h (grad f1 + k (1 - alpha) (grad f2 - grad f1)) per pixel, and f1 (N, Q, C) its values.
    """
    h = torch.tensor(spacing, dtype=f1.dtype, device=f1.device)
    with torch.no_grad():
        j1 = inr_jet(spec, f1, coords, 1)  # (N, 3, Q, C): f, fx, fy
        g = j1[:, 1:3].permute(0, 2, 3, 1) * h  # (N, Q, C, 2)
        if f2 is not None and inside is not None:
            g2 = inr_jet(spec, f2, coords, 1)[:, 1:3].permute(0, 2, 3, 1) * h
            k = inside.to(g.dtype).view(1, -1, 1, 1) * (1.0 - alpha)
            g = g + k * (g2 - g)
    return g, j1[:, 0]


@dataclass
class GradientFit:
    params: torch.Tensor  # (N, P) float32 on CPU: the new SIRENs
    loss: torch.Tensor  # (N,) the last step's loss (1)
    grad_rmse: torch.Tensor  # (N,) the last step's RMS gradient error per pixel (output units)
    ok: torch.Tensor  # (N,) bool: finite parameters and loss


def _check_fit(spec: SirenSpec, source_spec, second: bool, masked: bool, alpha: float) -> None:
    """InspError unless alpha is in [0, 1], a blend has a second INR and a mask (a reconstruction neither), and
    both architectures are 2-D image INRs of the same channels."""
    if not 0.0 <= alpha <= 1.0:
        raise InspError(f"alpha must be in [0, 1], got {alpha}")
    if second != masked:
        raise InspError("a blend needs both a second INR and a mask; a reconstruction neither")
    if spec.in_features != 2 or source_spec.in_features != 2 or spec.out_features != source_spec.out_features:
        raise InspError(f"gradient-domain editing takes 2-D image INRs with matching channels, got "
                        f"{source_spec.in_features}-D -> {source_spec.out_features} and {spec.in_features}-D -> "
                        f"{spec.out_features}")


def fit_to_gradients(spec: SirenSpec, source_spec, f1: torch.Tensor, f2: torch.Tensor | None, mask: Mask | None,
                     alpha: float, size: tuple[int, int], settings: GradientFitSettings, seed: int = 0,
                     indices=None, on_step: Callable[[int, torch.Tensor], None] | None = None) -> GradientFit:
    """Fit N new SIRENs ``spec`` to the guidance fields of N stored INRs (pairs) by minimising (1).

    source_spec: the stored INRs' architecture (any backbone with jets at any point); f1, f2: (N, P_source)
    (f2 None: reconstruction from f1's gradients alone, Phi centred to mean 0); mask: M (None with f2 None);
    alpha in [0, 1]; size (H, W): the grid whose pixel pitch sets the units of (1). INR i is initialised from
    ``inr_seed(seed, indices[i])``; the points come from one generator seeded by ``seed``.
    ``settings.path_weight`` > 0 adds the path term (2) to a reconstruction. ``on_step(step, loss (N,))`` after
    every step. Returns ``GradientFit``.
    """
    _check_fit(spec, source_spec, f2 is not None, mask is not None, alpha)
    device, n = f1.device, f1.shape[0]
    spacing = grid_spacing(size)
    h = torch.tensor(spacing, dtype=f1.dtype, device=device)
    indices = range(n) if indices is None else [int(i) for i in indices]
    work = init_inrs(spec, [torch.Generator().manual_seed(inr_seed(seed, i)) for i in indices], device)
    opt = _BatchedAdam(work)
    points = torch.Generator().manual_seed(inr_seed(seed, 2**62))
    lam = float(settings.value_weight) if f2 is not None else 0.0
    mu = float(settings.path_weight) if f2 is None else 0.0
    if mu > 0:
        starts, ends = segments(settings.path_pairs, settings.path_length, points, device, f1.dtype)
        path = path_integrals(source_spec, f1, starts, ends, _quadrature_points(settings.path_length, size))
    # the targets at a pool of uniform random points, read once (the stored INRs do not change while Phi is fitted)
    pool = (torch.rand(settings.pool_points, 2, generator=points) * 2 - 1).to(device=device, dtype=f1.dtype)
    pool_in = None if mask is None else mask.inside(pool)
    pool_g, pool_v = guidance(source_spec, f1, f2, pool, pool_in, alpha, spacing)  # (N, R, C, 2), (N, R, C)
    loss = grad_mse = torch.zeros(n, device=device)
    for step in range(settings.steps):
        pick = torch.randint(settings.pool_points, (settings.batch_points,), generator=points).to(device)
        x, g, v = pool[pick], pool_g[:, pick], pool_v[:, pick]
        inside = None if pool_in is None else pool_in[pick]
        p = work.detach().requires_grad_(True)
        with torch.enable_grad():
            j = siren_jet(spec, p, x, 1)  # (N, 3, Q, C)
            grad_mse = (j[:, 1:3].permute(0, 2, 3, 1) * h - g).pow(2).sum(-1).mean((1, 2))  # (N,)
            loss = grad_mse
            if lam > 0:
                outside = (~inside).to(j.dtype).view(1, -1)
                loss = loss + lam * ((j[:, 0] - v).pow(2).mean(-1) * outside).mean(1)
            if mu > 0:
                k = torch.randint(settings.path_pairs, (max(1, settings.batch_points // 4),), generator=points)
                k = k.to(device)
                ends_values = siren_forward(spec, p, torch.cat([starts[k], ends[k]]))  # (N, 2B, C)
                diff = ends_values[:, len(k):] - ends_values[:, :len(k)]
                loss = loss + mu * (diff - path[:, k]).pow(2).mean((1, 2))
            (grad,) = torch.autograd.grad(loss.sum(), p)
        opt.step(work, grad, settings.lr_at(step))
        if on_step is not None:
            on_step(step, loss.detach())
    if f2 is None:
        work = centred(spec, work)
    ok = torch.isfinite(work).all(1) & torch.isfinite(loss.detach())
    return GradientFit(params=work.detach().float().cpu(), loss=loss.detach().cpu(),
                       grad_rmse=grad_mse.detach().sqrt().cpu(), ok=ok.cpu())


def segments(count: int, longest: float, generator: torch.Generator, device, dtype=torch.float32):
    """``count`` random segments inside [-1, 1]^2 no longer than ``longest``: (starts (S, 2), ends (S, 2)).
    Both ends uniform, then the end pulled towards the start where the segment is too long (Omega is convex, so
    it stays inside)."""
    a = torch.rand(count, 2, generator=generator) * 2 - 1
    b = torch.rand(count, 2, generator=generator) * 2 - 1
    d = b - a
    scale = (longest / d.norm(dim=1).clamp_min(1e-12)).clamp(max=1.0)
    return a.to(device=device, dtype=dtype), (a + d * scale[:, None]).to(device=device, dtype=dtype)


def _quadrature_points(longest: float, size: tuple[int, int]) -> int:
    """Midpoints per segment so that they are at most half a pixel apart on the longest segment."""
    return max(8, math.ceil(longest / (0.5 * min(grid_spacing(size)))))


def path_integrals(spec, f: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor, points: int,
                   chunk: int = 256) -> torch.Tensor:
    """int_0^1 grad f(a + t (b - a)) . (b - a) dt = f(b) - f(a) for N stored INRs and S segments, by the midpoint
    rule on ``points`` points, from the order-1 jets alone: f (N, P), starts, ends (S, 2) -> (N, S, C)."""
    t = (torch.arange(points, dtype=starts.dtype, device=starts.device) + 0.5) / points  # (K,)
    out = []
    with torch.no_grad():
        for s in range(0, len(starts), chunk):
            a, d = starts[s:s + chunk], ends[s:s + chunk] - starts[s:s + chunk]  # (c, 2)
            x = (a[:, None] + t[None, :, None] * d[:, None]).reshape(-1, 2)  # (c K, 2)
            g = inr_jet(spec, f, x, 1)[:, 1:3]  # (N, 2, c K, C)
            g = g.reshape(g.shape[0], 2, len(a), points, -1)  # (N, 2, c, K, C)
            out.append((g * d.T[None, :, :, None, None]).sum(1).mean(2))  # (N, c, C)
    return torch.cat(out, dim=1)


def centred(spec: SirenSpec, params: torch.Tensor, side: int = 64) -> torch.Tensor:
    """The INRs shifted by a constant so that their mean over [-1, 1]^2 (a side x side grid of the INR's own
    values) is 0 per channel: the constant a gradient field leaves free. params (N, P) -> (N, P)."""
    out = params.detach().clone()
    with torch.no_grad():
        mean = siren_forward(spec, out, grid_coords(side, dtype=out.dtype, device=out.device)).mean(1)  # (N, C)
        unflatten(spec, out)[-1][1].sub_(mean)  # the last layer's bias, a view into ``out``
    return out


def check_pairs(pairs, n1: int, n2: int | None) -> list[tuple[int, int]]:
    """[(i, j)] positions into store 1 (and 2); one error line for a malformed pair or one out of range."""
    out = []
    for p in pairs:
        p = [p] if isinstance(p, int) else list(p)
        if len(p) != (1 if n2 is None else 2) or not all(isinstance(i, int) and not isinstance(i, bool) for i in p):
            want = "an index i" if n2 is None else "a pair [i, j]"
            raise InspError(f"bad pair {p}: each entry of pairs must be {want} of integers")
        i, j = p[0], p[-1]
        if not 0 <= i < n1:
            raise InspError(f"pair {p}: index {i} is out of range for the first store ({n1} INRs: 0..{n1 - 1})")
        if n2 is not None and not 0 <= j < n2:
            raise InspError(f"pair {p}: index {j} is out of range for the second store ({n2} INRs: 0..{n2 - 1})")
        out.append((i, j))
    if not out:
        raise InspError("no pairs to process: set pairs (e.g. pairs=[[0,1]]) or pairs=all")
    return out


__all__ = ["MASK_SHAPES", "GradientFit", "GradientFitSettings", "Mask", "centred", "check_pairs", "fit_to_gradients",
           "path_integrals", "segments",
           "guidance"]
