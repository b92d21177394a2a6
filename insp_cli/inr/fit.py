"""Batched INR fitting: N INRs at once (stacked weights, batched matmul or grouped convolutions), one Adam
per INR; any backbone of ``backbones.py`` (SIREN by default).

The authors' recipe fits one INR per process (Adam, lr 1e-4, full batch, 1,001+ steps). Here N INRs share
each step: the loss is the SUM of the per-INR mean squared errors, so every INR receives exactly the gradient
it would receive alone, and Adam is elementwise, so the batch changes throughput, not the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..compiled import Compiled
from ..errors import InspError
from ..training import cosine_factor
from .regularised import RegSettings, Regularised
from .backbones import backbone_of, forward, mse_and_grad
from .backbones import init_inrs as _init_any
from .siren import SirenSpec


@dataclass
class FitSettings:
    """How to fit. Defaults: the former MNIST schedule with torch's Adam betas (library callers and tests keep it);
    `insp fit` takes each dataset's recipe from conf/data/*.yaml (MNIST: 32 steps, warm-up 3, betas 0.75 / 0.9;
    docs/fit.md)."""

    steps: int = 60
    lr: float = 5e-3
    lr_final: float = 1.5e-4  # cosine decay to this; set equal to lr for a constant rate
    warmup: int = 0  # linear warm-up over the first ``warmup`` steps (lr/warmup, 2 lr/warmup, ..., lr), then the cosine
    beta1: float = 0.9  # Adam's moment decays (torch's defaults); a short fit gains from shorter memories
    beta2: float = 0.999
    batch_pixels: int | None = None  # None = full batch; else random pixels per step (shared by the batch)
    target_psnr: float | None = None  # stop an INR once its training PSNR reaches this (dB, pixel scale)
    retries: int = 1  # refits of INRs whose loss went NaN/inf, each with half the learning rate
    reg: RegSettings | None = None  # a regulariser (fit.reg; needs the image shape and full-batch pixels)
    shared_init: bool = False  # every INR starts from one initialisation (of ``seed`` alone): aligned weights
    prox: float = 0.0  # L2-SP pull to the start: + prox/2 ||theta - theta_0||^2 per INR (0 = none; docs/fit.md)

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): ``warmup`` linear steps up to ``lr``, then the cosine from
        ``lr`` (at step ``warmup``) to ``lr_final`` (at the last step)."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        span = self.steps - 1 - self.warmup
        if span < 1 or self.lr_final == self.lr:
            return self.lr
        return self.lr_final + (self.lr - self.lr_final) * cosine_factor(step - self.warmup, span)


@dataclass
class FitResult:
    params: torch.Tensor  # (N, P) float32 on CPU
    psnr: torch.Tensor  # (N,) final PSNR in dB of the decoded INR vs its target (observed pixels only)
    steps: torch.Tensor  # (N,) steps run per INR (less than settings.steps where target_psnr stopped it)
    ok: torch.Tensor  # (N,) bool; False = non-finite or not above ``floor`` after the retries (never used as fine)
    floor: torch.Tensor | None = None  # (N,) the PSNR an INR had to beat: min(gray_psnr, PSNR at init)
    latents: torch.Tensor | None = None  # (N, d) functa latents (fit.mode=functa), stored beside params


def decode_pixels(values: torch.Tensor) -> torch.Tensor:
    """INR outputs in [-1, 1] -> pixels in [0, 1] (clamped): the one place this convention lives."""
    return (values * 0.5 + 0.5).clamp(0.0, 1.0)


def encode_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> INR targets in [-1, 1]."""
    return pixels * 2.0 - 1.0


def psnr_of_fit(spec: SirenSpec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor | None = None, chunk: int = 65536) -> torch.Tensor:
    """PSNR (dB) of decoded INRs against pixel targets.

    params: (N, P); coords: (Q, m); targets: (N, Q, c) pixels in [0, 1]; mask: (N, Q) bool of observed pixels.
    Returns (N,). Non-finite parameters give NaN.
    """
    n = params.shape[0]
    if not getattr(spec, "pointwise", True):
        chunk = coords.shape[0]  # a grid backbone decodes its whole grid at once
    se = torch.zeros(n, dtype=torch.float64, device=params.device)
    count = torch.zeros(n, dtype=torch.float64, device=params.device)
    with torch.no_grad():
        for a in range(0, coords.shape[0], chunk):
            pred = decode_pixels(_as_batch(forward, spec, params, coords[a : a + chunk]))
            err = (pred - targets[:, a : a + chunk]).double().pow(2).sum(-1)
            if mask is not None:
                m = mask[:, a : a + chunk].double()
                err, cnt = err * m, m.sum(1) * targets.shape[-1]
            else:
                cnt = torch.full((n,), float(err.shape[1] * targets.shape[-1]), dtype=torch.float64,
                                 device=params.device)
            se += err.sum(1)
            count += cnt
    mse = se / count.clamp_min(1)
    psnr = -10.0 * torch.log10(mse.clamp_min(1e-20))
    finite = torch.isfinite(params).all(dim=1)
    return torch.where(finite, psnr, torch.full_like(psnr, float("nan"))).float()


def _as_batch(fn, spec, params, coords, *rows):
    """``fn(spec, params, coords, *rows)`` with a single INR computed as a batch of two identical ones:
    torch's bmm takes another kernel for a batch of one (weight gradients differ by ~1e-7, and 60 Adam steps
    turn that into ~0.2 dB), so without this an INR would fit differently when it ends up alone in a batch."""
    if params.shape[0] != 1:
        return fn(spec, params, coords, *rows)
    two = [None if t is None else t.expand(2, *t.shape[1:]) for t in (params, *rows)]
    x = coords.expand(2, *coords.shape[1:]) if coords.dim() == 3 else coords
    out = fn(spec, two[0].contiguous(), x, *two[1:])
    return tuple(o[:1] for o in out) if isinstance(out, tuple) else out[:1]


_STEP = Compiled(mse_and_grad, "the fitting step", "fitting eagerly")


def set_compile(enabled: bool) -> None:
    """Run the fitting step (loss and hand-written gradient, ``mse_and_grad``) through ``torch.compile``: inductor
    fuses each layer's sine, cosine and scaling into one loop with SLEEF's vectorised sin/cos (ATen's are ~3.6x
    slower per element on CPU), 1.5x faster per step for a 3x32 SIREN on MNIST (docs/benchmarks.md). Off by
    default (the library and the tests run eagerly); ``compile=true`` of ``insp fit`` turns it on. The first step
    of a process compiles for ~10-30 s (cached on disk afterwards); one compilation serves every batch size. Where
    compiling fails, one warning is printed and the step runs eagerly: the same numbers to float32 rounding."""
    _STEP.enabled = bool(enabled)


def compile_enabled() -> bool:
    return _STEP.enabled


def step_grad(spec, params: torch.Tensor, coords: torch.Tensor, targets: torch.Tensor,
              mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``mse_and_grad`` of one fitting step (same contract: mse (N,), grad (N, P)), compiled when
    ``set_compile(True)`` and the backbone has a hand-written gradient (SIREN; autograd backbones run eagerly)."""
    if _STEP.enabled and backbone_of(spec).mse_and_grad is not None:
        for t in (params, coords, targets, mask):  # one kernel for every batch size (the last batch, early stops,
            if t is not None and t.dim() > 1 and t.shape[0] == params.shape[0]:  # refits); the rest stays static
                torch._dynamo.maybe_mark_dynamic(t, 0)
        return _STEP(spec, params, coords, targets, mask)
    return mse_and_grad(spec, params, coords, targets, mask)


class _BatchedAdam:
    """Adam over the rows of one (N, P) tensor, with the ability to drop finished rows (early stop)."""

    def __init__(self, params: torch.Tensor, betas=(0.9, 0.999), eps=1e-8):
        self.m = torch.zeros_like(params)
        self.v = torch.zeros_like(params)
        self.betas, self.eps, self.t = betas, eps, 0

    def step(self, params: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        b1, b2 = self.betas
        self.t += 1
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = (self.v / (1 - b2**self.t)).sqrt_().add_(self.eps)
        params.addcdiv_(self.m, denom, value=-lr / (1 - b1**self.t))

    def keep(self, rows: torch.Tensor) -> None:
        self.m, self.v = self.m[rows], self.v[rows]


def _fit_once(spec, targets, coords, mask, settings, params, generators, on_step, shape=None):
    """Runs Adam on all rows; returns (params, steps_run). targets: (N, Q, c) in [-1, 1]; generators: one per
    row (each row samples its own pixels when ``batch_pixels`` is set, so a row's fit ignores its batch)."""
    n, q = targets.shape[0], coords.shape[0]
    device = targets.device
    params = params.clone()
    steps_run = torch.full((n,), settings.steps, dtype=torch.long)
    active = torch.arange(n, device=device)  # global row ids of the rows still being optimised
    work = params.clone()
    opt = _BatchedAdam(work, betas=(settings.beta1, settings.beta2))
    anchor = params.clone() if settings.prox else None  # (n, P) theta_0 of each row: the proximal term's centre
    reg = Regularised(settings.reg, spec, shape, generators, device) if settings.reg and settings.reg.active else None
    for step in range(settings.steps):
        if settings.batch_pixels and settings.batch_pixels < q and getattr(spec, "pointwise", True):
            pix = torch.stack([torch.randint(q, (settings.batch_pixels,), generator=generators[int(r)])
                               for r in active.cpu()]).to(device)  # (n_active, batch_pixels)
            x = coords[pix]  # (n_active, batch_pixels, m): per-INR coordinates
            y = targets[active].gather(1, pix.unsqueeze(-1).expand(-1, -1, targets.shape[-1]))
            mk = mask[active].gather(1, pix) if mask is not None else None
        else:
            x = coords
            y = targets if len(active) == n else targets[active]
            mk = None if mask is None else (mask if len(active) == n else mask[active])
        if reg is not None:  # full grid: the regulariser sees every pixel (docs/fit.md)
            per_inr, grad = reg.loss_and_grad(work, x, y, mk)
        else:
            per_inr, grad = _as_batch(step_grad, spec, work, x, y, mk)
        if anchor is not None:  # d/dtheta of prox/2 ||theta - theta_0||^2 (the reported loss stays the data term)
            grad = grad + settings.prox * (work - anchor)
        opt.step(work, grad, settings.lr_at(step))
        mse_pix = per_inr / 4.0  # targets live in [-1, 1]: pixel-scale MSE is a quarter
        if on_step is not None:
            on_step(step, len(active), mse_pix)
        if settings.target_psnr is not None:
            done = -10 * torch.log10(mse_pix.clamp_min(1e-20)) >= settings.target_psnr
            if done.any():
                params[active[done]] = work[done]
                steps_run[active[done].cpu()] = step + 1
                keep = ~done
                active = active[keep]
                if len(active) == 0:
                    break
                opt.keep(keep)
                if reg is not None:
                    reg.keep(keep)
                work = work[keep]
                if anchor is not None:
                    anchor = anchor[keep]  # (n_active, P), shrunk with the rows as work and Adam's moments are
    if len(active):
        params[active] = work
    return params, steps_run


SEEDING = "per-inr: torch.Generator(SeedSequence([seed, index]))"  # recorded in store headers


def inr_seed(seed: int, index: int, attempt: int = 0) -> int:
    """The seed of INR ``index`` (its position in the source split) under run ``seed``: fixes its initialisation
    and its pixel sampling, whatever batch it shares. ``attempt`` > 0 for refits. SeedSequence mixes the numbers,
    so (seed, index) pairs never collide as ``seed * K + index`` would."""
    entropy = [int(seed) % 2**64, int(index) % 2**64] + ([int(attempt)] if attempt else [])
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))


def gray_psnr(pixels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """PSNR (dB) of the flat mid-gray image (what an INR that outputs 0 everywhere decodes to) against the
    data: the floor a fitted INR must beat. pixels: (N, Q, c) in [0, 1]; mask: (N, Q). Returns (N,)."""
    err = (pixels.double() - 0.5).pow(2).sum(-1)
    if mask is None:
        mse = err.mean(1) / pixels.shape[-1]
    else:
        m = mask.double()
        mse = (err * m).sum(1) / (m.sum(1).clamp_min(1) * pixels.shape[-1])
    return (-10.0 * torch.log10(mse.clamp_min(1e-20))).float()


def fit_inrs(spec: SirenSpec, pixels: torch.Tensor, coords: torch.Tensor, settings: FitSettings,
             mask: torch.Tensor | None = None, seed: int = 0, indices=None,
             on_step: Callable[[int, int, torch.Tensor], None] | None = None,
             shape: tuple[int, int] | None = None, start: torch.Tensor | None = None) -> FitResult:
    """Fit N SIRENs to N images at once.

    pixels: (N, Q, c) in [0, 1] on the target device; coords: (Q, m) in [-1, 1];
    mask: (N, Q) bool, True where a pixel is observed (None = all). indices: (N,) the images' positions in
    their source (default 0..N-1). INR i is initialised and samples its pixels from its own generator,
    seeded by ``inr_seed(seed, indices[i])``, so it fits identically in any batch, resumed or not.
    An INR is ``ok`` when its PSNR is finite and above its floor: the lower of ``gray_psnr`` (a flat mid-gray
    image) and the PSNR of its initialisation, i.e. the fit did not diverge; the others are refitted
    ``settings.retries`` times at half the learning rate each.
    ``on_step(step, n_active, mse_pixels (n_active,))`` is called after every step (progress), refits included
    (their step count starts again at 0).
    ``shape``: (H, W) with H * W = Q, needed by ``settings.reg`` (which also needs ``batch_pixels`` None).
    ``start``: (P,) weights every INR starts from (a meta-learned initialisation, inr/meta.py) instead of its
    random draw; refits start from it too.
    """
    device, n = pixels.device, pixels.shape[0]
    check_fit_inputs(pixels, coords, mask, settings, shape, indices, spec)
    indices = range(n) if indices is None else [int(i) for i in indices]
    gens = [torch.Generator().manual_seed(inr_seed(seed, i)) for i in indices]
    if start is not None:
        if start.shape != (spec.num_params,):
            raise InspError(f"a starting point must have {spec.num_params} parameters, not {tuple(start.shape)}")
        params = start.to(device=device, dtype=pixels.dtype).unsqueeze(0).expand(n, -1).contiguous()
    elif settings.shared_init:  # one draw for all: weight-space methods compare INRs coordinate by coordinate
        one = torch.Generator().manual_seed(inr_seed(seed, 2**63))
        params = init_inrs(spec, [one], device).expand(n, -1).contiguous()
    else:
        params = init_inrs(spec, gens, device)
    targets = encode_pixels(pixels)
    # the floor: a fit must not end worse than both a flat mid-gray image and its own initialisation
    floor = torch.minimum(gray_psnr(pixels, mask), psnr_of_fit(spec, params, coords, pixels, mask).nan_to_num(0.0))
    params, steps = _fit_once(spec, targets, coords, mask, settings, params, gens, on_step, shape)

    def refit(bad: torch.Tensor, retry: FitSettings, gens_r: list[torch.Generator]) -> torch.Tensor:
        p0 = init_inrs(spec, gens_r, device) if start is None else start.to(device=device, dtype=params.dtype).expand(
            len(bad), -1).contiguous()
        pb, sb = _fit_once(spec, targets[bad], coords, None if mask is None else mask[bad], retry, p0, gens_r,
                           on_step, shape)
        params[bad], steps[bad.cpu()] = pb, sb
        return psnr_of_fit(spec, pb, coords, pixels[bad], None if mask is None else mask[bad])

    psnr, ok = refit_failed(psnr_of_fit(spec, params, coords, pixels, mask), floor, settings, seed, indices, refit)
    return FitResult(params=params.detach().float().cpu(), psnr=psnr.cpu(), steps=steps, ok=ok.cpu(),
                     floor=floor.cpu())


def refit_failed(psnr: torch.Tensor, floor: torch.Tensor, settings: FitSettings, seed: int, indices: list[int],
                 refit: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    """(psnr (N,), ok (N,)) after refitting the INRs whose fit ended non-finite or not above its floor,
    ``settings.retries`` times at half the learning rates each, INR i from the generator of
    ``inr_seed(seed, indices[i], attempt)``: ``refit(bad (K,), settings, generators) -> psnr (K,)`` refits those
    rows (and keeps their parameters)."""
    ok = torch.isfinite(psnr) & (psnr > floor)
    scale = 1.0
    for attempt in range(settings.retries):
        bad = (~ok).nonzero().flatten()
        if len(bad) == 0:
            break
        scale *= 0.5
        retry = FitSettings(**{**settings.__dict__, "lr": settings.lr * scale, "lr_final": settings.lr_final * scale})
        gens = [torch.Generator().manual_seed(inr_seed(seed, indices[int(k)], attempt + 1)) for k in bad]
        psnr[bad] = refit(bad, retry, gens)
        ok = torch.isfinite(psnr) & (psnr > floor)
    return psnr, ok


def init_inrs(spec, generators: list[torch.Generator], device="cpu") -> torch.Tensor:
    """Initialisation of one INR per generator (any backbone): (N, P), row i drawn from generators[i] alone."""
    return _init_any(spec, generators, device)


def check_fit_inputs(pixels, coords, mask, settings: FitSettings, shape, indices, spec=None) -> None:
    """One clear error for a mask of the wrong size, an image with no observed pixel, or a regulariser that
    cannot run (needs the (H, W) grid and full-batch pixels)."""
    n, q = pixels.shape[0], pixels.shape[1]
    if mask is not None:
        if tuple(mask.shape) != (n, q):
            raise InspError(f"mask shape {tuple(mask.shape)} does not match {n} images of {q} pixels (N, Q)")
        empty = (mask.reshape(n, -1).sum(1) == 0).nonzero().flatten()
        if len(empty):
            i = int(empty[0]) if indices is None else int(list(indices)[int(empty[0])])
            raise InspError(f"{len(empty)} image(s) have every pixel missing (first: index {i}): nothing to fit")
    if settings.reg is not None and settings.reg.active:
        if not backbone_of(spec).regularisable:
            raise InspError(f"fit.reg={settings.reg.kind} regularises SIRENs only, not {backbone_of(spec).name}")
        if shape is None or int(shape[0]) * int(shape[1]) != q or coords.shape[0] != q:
            raise InspError(f"fit.reg={settings.reg.kind} needs the image grid: shape {shape} for {q} pixels")
        if settings.batch_pixels:
            raise InspError(f"fit.reg={settings.reg.kind} needs full-batch pixels (fit.batch_pixels=null), "
                            f"got {settings.batch_pixels}")
