"""Degradations that make the inputs of the low-level tasks (denoise, deblur, inpaint, text removal).

Every image gets its own random stream ``numpy.random.default_rng([seed, index])`` keyed by its index in the
source split, so a fit split into shards (start/limit) degrades each image exactly as a single fit would.
``params`` come back resolved (defaults filled in) and JSON-able, to be stored with the INRs.

Kinds (defaults in DEFAULTS), each named as its config file conf/degradation/<kind>.yaml (the presets
random50.yaml and textural.yaml are mask and text with other parameters); the former spellings gaussian_noise,
gaussian_blur, random_mask, patch_mask and block_mask are read as noise, blur, mask, patch and blocks
(``insp_cli.spellings``):
- clean: a copy.
- noise: Gaussian noise, x + N(0, (sigma/255)^2) per pixel and channel (sigma in 8-bit units, paper: 25). Clipped
  to [0, 1] by default, because the paper's noisy inputs are images (and so are its baselines' inputs);
  clip=False keeps the pure additive model.
- blur: Gaussian blur, convolution with ``gaussian_psf(sigma, size)`` (size default 2*ceil(3*sigma)+1, odd) through
  ``data.blur.gaussian_filter``; the border is mirrored including the edge pixel (scipy 'reflect' =
  numpy 'symmetric'), as in the classical baselines. No noise, no clipping (a convex combination of pixels
  stays in [0, 1]).
- mask: random missing pixels, exactly round(ratio*H*W) pixels removed per image (paper: 30%), the same in every
  channel.
  Removed pixels are set to ``fill`` (0) and masks (N, H, W) are True where a pixel is KEPT; the fitter uses
  the mask to ignore the removed pixels.
- text: the words "INSP-Net" drawn ``count`` times at random positions with Pillow's bundled default font,
  ``max(6, scale * min(H, W))`` pixels high, antialiased, in ``color`` (white). masks are True where no text
  touches the pixel (as for mask: True = a clean observed pixel); the paper fits the contaminated
  image as it is, so the mask is there for baselines and metrics, and for a fitter that wants to ignore text.
- patch: ``count`` axis-aligned rectangles removed (INRR's "patch missing"), each side drawn uniformly
  in [min_size, max_size] x the image side (rounded, >= 1 pixel), top-left corner uniform so that it fits;
  rectangles may overlap. Default: 12 rectangles of 6-15 % of the side (about 10 % of the pixels). Mask and
  fill as for mask.
- blocks: the INRR public code's "patch" pattern (lizhemin15/INRR ``task.py``, ``mask_mode='patch_num'``,
  patch_num = ``blocks``): with period p = side // blocks, pixel (i, j) is removed where
  (i mod p - p/2) (j mod p - p/2) < 0, i.e. two opposite quarters of every p x p block (a checkerboard of
  p/2-sized squares; 41.1 % of the pixels at 128² with 10 blocks, 49.8 % at 256²). Deterministic: the same
  mask for every image and seed. Mask and fill as for mask.
- INRR's "textural missing" is ``text`` with a denser overlay (conf/degradation/textural.yaml).
- poisson: photon noise as in O-INR / WIRE: (Poisson(peak * x) + N(0, readout^2)) / peak with peak = 30
  photons and readout = 2 photons. Not clipped (values can leave [0, 1], as in WIRE's ``measure``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from insp_cli.data.blur import gaussian_filter
from insp_cli.errors import InspError
from insp_cli.spellings import degradation_kind

DEFAULTS: dict[str, dict] = {
    "clean": {},
    "noise": {"sigma": 25.0, "clip": True},
    "blur": {"sigma": 1.0, "size": None},
    "mask": {"ratio": 0.3, "fill": 0.0},
    "patch": {"count": 12, "min_size": 0.06, "max_size": 0.15, "fill": 0.0},
    "blocks": {"blocks": 10, "fill": 0.0},
    "text": {"text": "INSP-Net", "count": 3, "scale": 0.12, "color": 1.0},
    "poisson": {"peak": 30.0, "readout": 2.0, "clip": False},
}
KINDS = tuple(DEFAULTS)
MASKED = ("mask", "patch", "blocks", "text")  # kinds whose Degraded.masks is set


@dataclass
class Degraded:
    """images: (N, H, W, C) float32; masks: (N, H, W) bool (True = pixel observed) or None; params: JSON-able."""

    images: np.ndarray
    masks: np.ndarray | None
    params: dict


def resolve_params(kind: str, params: dict | None, seed: int) -> dict:
    """Defaults filled in and checked -> {"kind": ..., "seed": ..., **params} (JSON-able); a former spelling of
    the kind (gaussian_noise ...) comes back under today's name."""
    kind = degradation_kind(kind)
    if kind not in DEFAULTS:
        raise InspError(f"unknown degradation {kind!r} (choose from {', '.join(KINDS)})")
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULTS[kind]))
    if unknown:
        raise InspError(f"unknown parameter(s) {', '.join(unknown)} for degradation {kind} "
                        f"(known: {', '.join(DEFAULTS[kind]) or 'none'})")
    p = {**DEFAULTS[kind], **params}
    for key, default in DEFAULTS[kind].items():  # plain JSON types whatever the caller passed (numpy, strings)
        if isinstance(default, bool):
            p[key] = bool(p[key])
        elif isinstance(default, (int, float)) and not isinstance(p[key], (list, tuple, np.ndarray)):
            try:
                p[key] = type(default)(p[key])
            except (TypeError, ValueError):
                raise InspError(f"{kind} {key}={p[key]!r} is not a number") from None
    if kind == "noise" and not p["sigma"] >= 0:
        raise InspError(f"noise sigma={p['sigma']} must be >= 0 (8-bit units)")
    if kind == "blur":
        if not p["sigma"] > 0:
            raise InspError(f"blur sigma={p['sigma']} must be > 0")
        p["size"] = int(p["size"]) if p["size"] is not None else 2 * math.ceil(3 * p["sigma"]) + 1
        if p["size"] < 1 or p["size"] % 2 == 0:
            raise InspError(f"blur size={p['size']} must be a positive odd number")
    if kind == "mask" and not 0 <= p["ratio"] < 1:
        raise InspError(f"mask ratio={p['ratio']} must be in [0, 1)")
    if kind == "patch" and not (int(p["count"]) >= 1 and 0 < p["min_size"] <= p["max_size"] <= 1):
        raise InspError(f"patch needs count >= 1 and 0 < min_size <= max_size <= 1 (fractions of the side), "
                        f"got count={p['count']}, min_size={p['min_size']}, max_size={p['max_size']}")
    if kind == "blocks" and not int(p["blocks"]) >= 1:
        raise InspError(f"blocks needs blocks >= 1, got {p['blocks']}")
    if kind == "poisson" and not (p["peak"] > 0 and p["readout"] >= 0):
        raise InspError(f"poisson peak={p['peak']} must be > 0 and readout={p['readout']} >= 0")
    if kind == "text" and not (int(p["count"]) >= 1 and p["scale"] > 0 and p["text"]):
        raise InspError("text needs a non-empty text, count >= 1 and scale > 0")
    if isinstance(p.get("color"), (list, tuple, np.ndarray)):
        p["color"] = [float(c) for c in p["color"]]
    return {"kind": kind, "seed": int(seed), **p}


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of the image at ``index`` of its split (independent of how the split is sharded)."""
    return np.random.default_rng([int(seed), int(index)])


def degrade(images: np.ndarray, kind: str, params: dict | None = None, seed: int = 0,
            indices: np.ndarray | None = None) -> Degraded:
    """Degrade a batch; image i uses the stream ``image_rng(seed, indices[i])``.

    images: (N, H, W, C) in [0, 1]; indices: (N,) their indices in the source split (default 0..N-1, pass
    ImageSet.indices so that shards agree).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise InspError(f"degrade expects images (N, H, W, C), got shape {images.shape}")
    p = resolve_params(kind, params, seed)
    kind = p["kind"]
    n, h, w, c = images.shape
    indices = np.arange(n) if indices is None else np.asarray(indices)
    if indices.shape != (n,):
        raise InspError(f"indices shape {indices.shape} does not match {n} images")
    if kind == "text" and np.size(p["color"]) not in (1, c):
        raise InspError(f"text color {p['color']} needs 1 or {c} values for {c}-channel images")
    x = images.astype(np.float32, copy=False)
    masks = None
    if kind == "clean":
        y = x.copy()
    elif kind == "blur":  # deterministic: no random stream
        y = gaussian_blur(x, p["sigma"], p["size"])
    else:
        y = np.empty_like(x)
        masks = np.ones((n, h, w), dtype=bool) if kind in MASKED else None
        for i, j in enumerate(indices):  # per image in float64, stored as float32 (60k MNIST fit in memory)
            y[i], m = _degrade_one(kind, x[i].astype(np.float64), p, image_rng(seed, j))
            if masks is not None:
                masks[i] = m
    return Degraded(images=y, masks=masks, params=p)


def _degrade_one(kind: str, x: np.ndarray, p: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """x: (H, W, C) float64 -> (degraded (H, W, C), kept mask (H, W) or None)."""
    h, w, c = x.shape
    if kind == "noise":
        y = x + rng.normal(0.0, p["sigma"] / 255.0, x.shape)
        return (np.clip(y, 0.0, 1.0) if p["clip"] else y), None
    if kind == "poisson":
        photons = rng.poisson(p["peak"] * np.clip(x, 0.0, None))  # photon counts need a non-negative mean
        y = (photons + rng.normal(0.0, p["readout"], x.shape)) / p["peak"]
        return (np.clip(y, 0.0, 1.0) if p["clip"] else y), None
    if kind == "mask":
        keep = np.ones(h * w, dtype=bool)
        keep[rng.permutation(h * w)[:round(p["ratio"] * h * w)]] = False
        keep = keep.reshape(h, w)
        return np.where(keep[..., None], x, p["fill"]), keep
    if kind == "patch":
        keep = np.ones((h, w), dtype=bool)
        for _ in range(int(p["count"])):
            ph, pw = (max(1, round(rng.uniform(p["min_size"], p["max_size"]) * side)) for side in (h, w))
            y0, x0 = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
            keep[y0:y0 + ph, x0:x0 + pw] = False
        return np.where(keep[..., None], x, p["fill"]), keep
    if kind == "blocks":
        keep = block_keep(h, w, int(p["blocks"]))
        return np.where(keep[..., None], x, p["fill"]), keep
    if kind == "text":
        alpha = text_alpha(h, w, p, rng)[..., None]
        color = np.broadcast_to(np.asarray(p["color"], dtype=np.float64), (c,))
        return x * (1 - alpha) + color * alpha, alpha[..., 0] == 0
    raise AssertionError(kind)


def block_keep(h: int, w: int, blocks: int) -> np.ndarray:
    """(H, W) bool, True = kept: the checkerboard of ``blocks`` (period side // blocks, at least 3: a
    period of 2 or less removes nothing)."""
    ph, pw = h // blocks, w // blocks
    if min(ph, pw) < 3:
        raise InspError(f"blocks={blocks} (degradation blocks) needs images of at least {3 * blocks} pixels a side, "
                        f"got {h}x{w}")
    i, j = np.arange(h)[:, None] % ph - ph / 2, np.arange(w)[None, :] % pw - pw / 2
    return ~(i * j < 0)


def gaussian_blur(x: np.ndarray, sigma: float, size: int) -> np.ndarray:
    """x: (N, H, W, C) -> same shape and dtype: each image through the project's one Gaussian blur,
    ``data.blur.gaussian_filter`` (convolution with ``gaussian_psf(sigma, size)``, scipy 'reflect' border:
    d c b a | a b c d | d c b a), so blurred data and the classical baselines agree."""
    return np.stack([gaussian_filter(img, sigma, size) for img in x]) if len(x) else x.copy()


@lru_cache(maxsize=8)
def text_stamp(text: str, size: int) -> np.ndarray:
    """(th, tw) antialiased coverage in [0, 1] of ``text`` in Pillow's bundled default font at ``size`` px,
    cropped to its ink. Rendered once per (text, size): FreeType rendering is ~1000x slower than pasting."""
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(canvas).text((-left, -top), text, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float64) / 255.0


def text_alpha(h: int, w: int, p: dict, rng: np.random.Generator) -> np.ndarray:
    """(H, W) coverage in [0, 1] of ``p['count']`` copies of ``p['text']`` at random positions (a copy larger
    than the image is cut at the right/bottom); overlapping copies combine like stacked ink, 1-(1-a)(1-b)."""
    stamp = text_stamp(p["text"], max(6, round(p["scale"] * min(h, w))))
    th, tw = stamp.shape
    cover = np.zeros((h, w))
    for _ in range(int(p["count"])):
        x0 = int(rng.integers(0, max(w - tw, 0) + 1))
        y0 = int(rng.integers(0, max(h - th, 0) + 1))
        region = cover[y0:y0 + th, x0:x0 + tw]
        region[...] = 1 - (1 - region) * (1 - stamp[:region.shape[0], :region.shape[1]])
    return cover
