"""Batched fitting of SIREN signed distance functions (m = 3): N shapes at once, one Adam per INR.

Two losses (``SDF_LOSSES``):
- ``regression`` (default, fast): mean squared error between Phi and the exact signed distance at the shape's
  training points (a near-surface band plus uniform points, ``data.meshes.sdf_samples``). It is the image fit's
  loss on other coordinates, so it uses the same hand-written backward pass (``siren_mse_and_grad``).
- ``pointcloud``: the SIREN authors' loss from an oriented point cloud (Sitzmann et al. 2020, Sec. 4.2; IGR):
  on surface points s with normals n,  w_s |Phi(s)| + w_n (1 - cos(grad Phi(s), n)); on uniform points o,
  w_o exp(-100 |Phi(o)|); on both, w_e | |grad Phi| - 1 |. Weights 3e3, 1e2, 1e2, 5e1 as in the authors' code.
  It needs grad Phi inside the loss (autograd with create_graph), so it is several times slower per step.
Either way an INR is scored by the PSNR of its values against the exact SDF at its training points
(``metrics.shapes.band_psnr``'s scale: 10 log10(4 / MSE)), and ``ok`` means finite and above the lower of the
zero function's PSNR and its initialisation's (the image fit's floor). Each INR draws its initialisation and
its points from ``inr_seed(seed, index)``, so batching and resuming change nothing.
Nothing here knows about Hydra or files.
"""

from __future__ import annotations

from typing import Callable

import torch

from .fit import FitResult, FitSettings, _as_batch, _BatchedAdam, init_inrs, inr_seed, refit_failed
from .siren import SirenSpec, siren_forward, siren_mse_and_grad

SDF_LOSSES = ("regression", "pointcloud")
POINTCLOUD_WEIGHTS = {"surface": 3e3, "normal": 1e2, "off_surface": 1e2, "eikonal": 5e1}


def sdf_psnr(spec: SirenSpec, params: torch.Tensor, points: torch.Tensor, sdf: torch.Tensor,
             chunk: int = 65536) -> torch.Tensor:
    """PSNR (N,) of N SDF INRs at their points (N, Q, 3) against sdf (N, Q): 10 log10(4 / MSE); NaN if broken."""
    se = torch.zeros(params.shape[0], dtype=torch.float64, device=params.device)
    with torch.no_grad():
        for a in range(0, points.shape[1], chunk):
            out = _as_batch(siren_forward, spec, params, points[:, a:a + chunk])[..., 0]
            se += (out - sdf[:, a:a + chunk]).double().pow(2).sum(1)
    psnr = 10 * torch.log10(4.0 / (se / points.shape[1]).clamp_min(1e-20))
    return torch.where(torch.isfinite(params).all(1), psnr, torch.full_like(psnr, float("nan"))).float()


def zero_psnr(sdf: torch.Tensor) -> torch.Tensor:
    """PSNR (N,) of the zero function: the floor a fitted SDF must beat."""
    return (10 * torch.log10(4.0 / sdf.double().pow(2).mean(1).clamp_min(1e-20))).float()


def _batch(gens, rows, q: int, size: int, device) -> torch.Tensor:
    return torch.stack([torch.randint(q, (size,), generator=gens[int(r)]) for r in rows]).to(device)


def _regression_step(spec, work, points, sdf, rows, gens, size):
    pick = _batch(gens, rows.cpu(), points.shape[1], size, points.device)  # (n, B)
    x = points[rows].gather(1, pick.unsqueeze(-1).expand(-1, -1, 3))
    y = sdf[rows].gather(1, pick).unsqueeze(-1)
    return _as_batch(siren_mse_and_grad, spec, work, x, y)


def pointcloud_loss(spec: SirenSpec, params: torch.Tensor, surface: torch.Tensor, normals: torch.Tensor,
                    off: torch.Tensor) -> torch.Tensor:
    """The SIREN oriented-point-cloud loss (N,) of each INR (module docstring). surface, normals: (N, S, 3);
    off: (N, O, 3) uniform points. Differentiable in params."""
    w = POINTCLOUD_WEIGHTS
    x = torch.cat([surface, off], 1).requires_grad_(True)
    out = siren_forward(spec, params, x)[..., 0]  # (N, S + O)
    grad, = torch.autograd.grad(out.sum(), x, create_graph=True)
    s = surface.shape[1]
    cos = torch.nn.functional.cosine_similarity(grad[:, :s], normals, dim=-1)
    return (w["surface"] * out[:, :s].abs().mean(1) + w["normal"] * (1 - cos).mean(1)
            + w["off_surface"] * torch.exp(-100 * out[:, s:].abs()).mean(1)
            + w["eikonal"] * (grad.norm(dim=-1) - 1).abs().mean(1))


def _pointcloud_step(spec, work, surface, normals, rows, gens, size):
    pick = _batch(gens, rows.cpu(), surface.shape[1], size // 2, surface.device)
    idx = pick.unsqueeze(-1).expand(-1, -1, 3)
    off = torch.stack([torch.rand(size // 2, 3, generator=gens[int(r)]) * 2 - 1 for r in rows.cpu()])
    p = work.detach().requires_grad_(True)
    loss = pointcloud_loss(spec, p, surface[rows].gather(1, idx), normals[rows].gather(1, idx), off.to(work.device))
    grad, = torch.autograd.grad(loss.sum(), p)
    return loss.detach(), grad


def _fit_once(spec, points, sdf, surface, normals, settings: FitSettings, loss: str, params, gens, on_step):
    n = points.shape[0]
    work, rows = params.clone(), torch.arange(n, device=points.device)
    opt = _BatchedAdam(work)
    size = int(settings.batch_pixels or points.shape[1])
    for step in range(settings.steps):
        if loss == "regression":
            per_inr, grad = _regression_step(spec, work, points, sdf, rows, gens, size)
        else:
            per_inr, grad = _pointcloud_step(spec, work, surface, normals, rows, gens, size)
        opt.step(work, grad, settings.lr_at(step))
        if on_step is not None:
            on_step(step, n, per_inr / 4.0)  # the MSE of (sdf + 1) / 2, as the images' pixel scale
    return work


def fit_sdfs(spec: SirenSpec, points: torch.Tensor, sdf: torch.Tensor, settings: FitSettings, loss: str = "regression",
             surface: torch.Tensor | None = None, normals: torch.Tensor | None = None, seed: int = 0, indices=None,
             on_step: Callable[[int, int, torch.Tensor], None] | None = None) -> FitResult:
    """Fit N SIREN SDFs at once.

    points: (N, Q, 3) training points in [-1, 1]^3, sdf: (N, Q) their exact signed distances; surface, normals:
    (N, S, 3) oriented surface samples (``loss="pointcloud"`` only). ``settings.batch_pixels`` is the number of
    points per INR and step (None: all Q). INRs that end non-finite or under their floor are refitted
    ``settings.retries`` times at half the learning rate. Returns params (N, P) and the PSNR at the points.
    """
    if loss not in SDF_LOSSES:
        raise ValueError(f"unknown SDF loss {loss!r}")
    if loss == "pointcloud" and (surface is None or normals is None):
        raise ValueError("the pointcloud loss needs surface points and normals")
    n = points.shape[0]
    indices = list(range(n)) if indices is None else [int(i) for i in indices]
    gens = [torch.Generator().manual_seed(inr_seed(seed, i)) for i in indices]
    params = init_inrs(spec, gens, points.device)
    floor = torch.minimum(zero_psnr(sdf), sdf_psnr(spec, params, points, sdf).nan_to_num(0.0))
    params = _fit_once(spec, points, sdf, surface, normals, settings, loss, params, gens, on_step)

    def refit(bad: torch.Tensor, retry: FitSettings, gr: list[torch.Generator]) -> torch.Tensor:
        sub = (None if t is None else t[bad] for t in (surface, normals))
        pb = _fit_once(spec, points[bad], sdf[bad], *sub, retry, loss, init_inrs(spec, gr, points.device), gr,
                       on_step)  # refits report too: their step count starts again at 0
        params[bad] = pb
        return sdf_psnr(spec, pb, points[bad], sdf[bad])

    psnr, ok = refit_failed(sdf_psnr(spec, params, points, sdf), floor, settings, seed, indices, refit)
    return FitResult(params=params.detach().float().cpu(), psnr=psnr.cpu(),
                     steps=torch.full((n,), settings.steps, dtype=torch.long), ok=ok.cpu(), floor=floor.cpu())
