"""``load_images``: the one entry point to every image source (see data/README.md for the data root)."""

from __future__ import annotations

from pathlib import Path

from insp_cli.data.cifar import cifar10_split
from insp_cli.data.images import DEFAULT_TRAIN_COUNT, bundled_split, folder_split
from insp_cli.data.imageset import ImageSet, RawSplit, conform, select_range
from insp_cli.data.mnist import mnist_split
from insp_cli.data.photos import photos_split
from insp_cli.errors import InspError

DATASETS = ("mnist", "fashion_mnist", "cifar10", "images", "photos")


def _raw_split(name: str, split: str, root: Path, folder, download: bool, train_count: int, size, crops,
               channels) -> RawSplit:
    if name in ("mnist", "fashion_mnist"):
        return mnist_split(name, split, root, download)
    if name == "cifar10":
        return cifar10_split(split, root, download)
    if name == "images":
        return bundled_split(split) if folder is None else folder_split(folder, split, train_count, size, channels)
    if name == "photos":
        return photos_split(split, root, 128 if size is None else int(size), int(crops))
    raise InspError(f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})")


def load_images(name: str, split: str = "train", start: int = 0, limit: int | None = None,
                size: int | None = None, channels: int | None = None, root: str | Path = "data",
                folder: str | Path | None = None, download: bool = False,
                train_count: int = DEFAULT_TRAIN_COUNT, crops: int = 5) -> ImageSet:
    """Images ``start .. start+limit-1`` of a split, as float32 (N, size, size, C) in [0, 1].

    name: mnist | fashion_mnist | cifar10 | images (bundled photos, or ``folder`` when given).
    split: train | test (mnist, fashion_mnist, cifar10); train | test | all (images); train | val | test | all
    (photos: the offline real RGB photos, disjoint by image).
    size: None = native (28 MNIST, 32 CIFAR, 256 for natural images); else center crop + resize.
    channels: None = native (1 MNIST, 3 CIFAR and natural images); 1 = luma, 3 = RGB (gray replicated).
    root: data root with torchvision's files and the MNIST cache. download: let torchvision fetch (internet).
    train_count: for a folder, how many images (by name) form the train split; test is the rest.
    crops: photos only: INRs per training photo (the whole photo, then random square crops; data/photos.py).
    """
    if folder is not None and name != "images":
        raise InspError(f"folder= only applies to dataset 'images', not {name!r}")
    raw = _raw_split(name, split, Path(root).expanduser(), folder, download, train_count, size, crops,
                     channels)
    idx = select_range(raw.count, start, limit, f"{name} {split}")
    channels = raw.channels if channels is None else channels
    size = raw.size if size is None else size
    images = conform(raw.read(idx), size, channels)
    labels = None if raw.labels is None else raw.labels[idx]
    meta = {"name": name, "split": split, "root": str(root), "count": raw.count, "start": int(start),
            "limit": limit, "size": int(images.shape[1]), "channels": int(images.shape[3]), **raw.meta}
    return ImageSet(images=images, labels=labels, indices=idx, names=raw.names(idx), meta=meta)
