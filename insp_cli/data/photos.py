"""``photos``: every real RGB photograph that ships offline, in train / val / test splits disjoint by image.

50 photos (docs/photos.md lists each with its source and licence): 8 from scikit-image, 2 from scikit-learn,
20 ImageNet photos from foolbox 3.3.4 and 20 from Debian's ``opencv-doc`` (its examples/data folder, fetched
into the data root on first use with ``apt-get download`` + ``dpkg -x`` when it is not installed). Each file is
pinned by the first 16 hex digits of its sha256; another version is refused.

Splits (fixed before any result, never tuned): each photo has a scene tag (smooth: large flat areas such as
sky, water, walls or plain backgrounds; texture: fine texture dominates; mixed). Within each tag, photos are
ordered by their sha256; position p goes to ``test`` when p is even, to ``val`` when p % 10 == 5, else to
``train`` (26 test, 5 val, 19 train photos; both smooth and textured scenes in each split).
``test`` and ``val`` are whole photos (center square crop, resized to ``size``); ``train`` has ``crops`` INRs per
photo: the whole photo, then ``crops - 1`` random squares (side between half the short side and all of it, but
at least ``size``), each seeded by (photo, crop number) only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from insp_cli.data.debian import place, unpacked_deb
from insp_cli.data.images import read_image
from insp_cli.data.imageset import RawSplit, package_dir, package_version
from insp_cli.errors import InspError

SPLITS = ("train", "val", "test", "all")
OPENCV_SYSTEM = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_IN_ROOT = Path("opencv-doc") / "examples" / "data"
_PIP = {"skimage": "scikit-image", "sklearn": "scikit-learn", "foolbox": "foolbox==3.3.4"}

# (name, origin, file inside the origin, sha256[:16], scene tag)
PHOTOS: list[tuple[str, str, str, str, str]] = [
    ("astronaut", "skimage", "data/astronaut.png", "88431cd9653ccd53", "mixed"),
    ("chelsea", "skimage", "data/chelsea.png", "596aa1e7cb875eb7", "texture"),
    ("coffee", "skimage", "data/coffee.png", "cc02f8ca188b167c", "smooth"),
    ("rocket", "skimage", "data/rocket.jpg", "c2dd0de7c538df8d", "smooth"),
    ("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "3a19c5dd8a927a93", "texture"),
    ("immunohistochemistry", "skimage", "data/ihc.png", "f8dd1aa387ddd1f4", "texture"),
    ("retina", "skimage", "data/retina.jpg", "38a07f36f27f095e", "smooth"),
    ("stereo_motorcycle", "skimage", "data/motorcycle_left.png", "db18e9c415761740", "mixed"),
    ("china", "sklearn", "datasets/images/china.jpg", "8378025ad2519d64", "smooth"),
    ("flower", "sklearn", "datasets/images/flower.jpg", "a77f6ec41e353afd", "smooth"),
    ("imagenet_00_243", "foolbox", "data/imagenet_00_243.jpg", "28b7b933c8028c6e", "mixed"),
    ("imagenet_01_559", "foolbox", "data/imagenet_01_559.jpg", "5f03b0c74dff01b5", "smooth"),
    ("imagenet_02_438", "foolbox", "data/imagenet_02_438.jpg", "ccef0734c1a65549", "smooth"),
    ("imagenet_03_990", "foolbox", "data/imagenet_03_990.jpg", "c7f0b2f1e9ee39d8", "texture"),
    ("imagenet_04_949", "foolbox", "data/imagenet_04_949.jpg", "a7f62f3c1d214de4", "mixed"),
    ("imagenet_05_853", "foolbox", "data/imagenet_05_853.jpg", "8a449436c61da867", "texture"),
    ("imagenet_06_609", "foolbox", "data/imagenet_06_609.jpg", "fb061102a4e58b3e", "mixed"),
    ("imagenet_07_609", "foolbox", "data/imagenet_07_609.jpg", "2c297ad1e5c4804a", "texture"),
    ("imagenet_08_915", "foolbox", "data/imagenet_08_915.jpg", "c6a3411a3987799f", "texture"),
    ("imagenet_09_455", "foolbox", "data/imagenet_09_455.jpg", "ace3716b60ac5843", "mixed"),
    ("imagenet_10_541", "foolbox", "data/imagenet_10_541.jpg", "f325c71d9f4290ee", "mixed"),
    ("imagenet_11_630", "foolbox", "data/imagenet_11_630.jpg", "892dff58fc528fe6", "smooth"),
    ("imagenet_12_741", "foolbox", "data/imagenet_12_741.jpg", "6c256e17545b25bb", "texture"),
    ("imagenet_13_471", "foolbox", "data/imagenet_13_471.jpg", "52ed0e738b90d27a", "mixed"),
    ("imagenet_14_129", "foolbox", "data/imagenet_14_129.jpg", "ad9371d813bf24b0", "smooth"),
    ("imagenet_15_99", "foolbox", "data/imagenet_15_99.jpg", "4b588649cd835d4c", "texture"),
    ("imagenet_16_251", "foolbox", "data/imagenet_16_251.jpg", "ce3440a3b7beb6ca", "texture"),
    ("imagenet_17_22", "foolbox", "data/imagenet_17_22.jpg", "b432341845620e9c", "smooth"),
    ("imagenet_18_317", "foolbox", "data/imagenet_18_317.jpg", "b9412f92f0b1c3fa", "smooth"),
    ("imagenet_19_305", "foolbox", "data/imagenet_19_305.jpg", "e1f58f00e2e47ce9", "texture"),
    ("aero1", "opencv", "aero1.jpg", "d9a69191f6e3642e", "texture"),
    ("aero3", "opencv", "aero3.jpg", "1c407146f8762b3b", "texture"),
    ("aloeL", "opencv", "aloeL.jpg", "cce5736808efe80d", "texture"),
    ("apple", "opencv", "apple.jpg", "e86879de3d9a807d", "smooth"),
    ("baboon", "opencv", "baboon.jpg", "1a1dd18d78eec444", "texture"),
    ("board", "opencv", "board.jpg", "4c9a24ba67138ad5", "texture"),
    ("building", "opencv", "building.jpg", "742a1baad62ac82e", "smooth"),
    ("butterfly", "opencv", "butterfly.jpg", "34a99716b78ded10", "mixed"),
    ("chicky_512", "opencv", "chicky_512.png", "4d2cf040de084fd3", "mixed"),
    ("ela_original", "opencv", "ela_original.jpg", "b55798b35e2dcb24", "mixed"),
    ("fruits", "opencv", "fruits.jpg", "9c031d80a1c52da5", "mixed"),
    ("graf1", "opencv", "graf1.png", "1504b769303c7bde", "texture"),
    ("home", "opencv", "home.jpg", "23b8cf46a1965d0e", "smooth"),
    ("left", "opencv", "left.jpg", "fb314330c3eb0a81", "mixed"),
    ("leuvenA", "opencv", "leuvenA.jpg", "b2977cdbd9fb3f94", "mixed"),
    ("messi5", "opencv", "messi5.jpg", "1d570e49654e84c7", "mixed"),
    ("orange", "opencv", "orange.jpg", "152c20d2f380ac98", "smooth"),
    ("rubberwhale1", "opencv", "rubberwhale1.png", "eb312435369dac9e", "mixed"),
    ("squirrel_cls", "opencv", "squirrel_cls.jpg", "20bb6e8ae96918a3", "texture"),
    ("stuff", "opencv", "stuff.jpg", "21cd00afbdd0727f", "mixed"),
]


def split_of_photos() -> dict[str, str]:
    """name -> train | val | test, by the rule of the module docstring."""
    out = {}
    for tag in ("smooth", "texture", "mixed"):
        group = sorted((p for p in PHOTOS if p[4] == tag), key=lambda p: p[3])
        for pos, p in enumerate(group):
            out[p[0]] = "test" if pos % 2 == 0 else "val" if pos % 10 == 5 else "train"
    return out


def photo_names(split: str) -> list[str]:
    """Photos of a split in PHOTOS order."""
    if split not in SPLITS:
        raise InspError(f"unknown split {split!r} for photos (use {', '.join(SPLITS)})")
    which = split_of_photos()
    return [p[0] for p in PHOTOS if split == "all" or which[p[0]] == split]


def opencv_data(root: Path, fetch: bool = True) -> Path:
    """opencv-doc's examples/data: the system copy, else ``root/opencv-doc/examples/data``, else fetched there."""
    for d in (OPENCV_SYSTEM, root / OPENCV_IN_ROOT):
        if (d / "baboon.jpg").is_file():
            return d
    if not fetch:
        raise InspError(f"opencv-doc's examples are not in {OPENCV_SYSTEM} nor {root / OPENCV_IN_ROOT}")
    how = (f"`apt-get download opencv-doc && dpkg -x opencv-doc_*.deb X` and move "
           f"X/usr/share/doc/opencv-doc/examples/data to {root / OPENCV_IN_ROOT}")
    with unpacked_deb("opencv-doc", root, how) as (tree, _):
        target = root / OPENCV_IN_ROOT
        place(tree / "usr/share/doc/opencv-doc/examples/data", target)  # atomic: complete or absent
    return target


def photo_path(name: str, root: Path) -> Path:
    entry = next((p for p in PHOTOS if p[0] == name), None)
    if entry is None:
        raise InspError(f"unknown photo {name!r}")
    _, origin, rel, _, _ = entry
    if origin == "opencv":
        return opencv_data(root) / rel
    base = package_dir(origin)
    path = None if base is None else base / rel
    if path is None or not path.is_file():
        raise InspError(f"photo {name!r} needs {rel} from package {origin} (pip install {_PIP[origin]})")
    return path


def read_photo(name: str, root: Path) -> np.ndarray:
    """uint8 (H, W, 3) of one photo, after checking its pinned sha256."""
    path = photo_path(name, root)
    want = next(p[3] for p in PHOTOS if p[0] == name)
    have = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    if have != want:
        raise InspError(f"photo {name!r}: {path} has sha256 {have}..., expected {want}... (another package version?)")
    return read_image(path)


def crop_box(shape: tuple[int, int], size: int, key: str, k: int, seed: int = 0) -> tuple[int, int, int]:
    """(top, left, side) of crop ``k`` of a photo: k = 0 the centred square, else a random square."""
    h, w = shape
    short = min(h, w)
    if k == 0:
        return (h - short) // 2, (w - short) // 2, short
    rng = np.random.default_rng([seed, int(key, 16) % 2**32, k])
    side = int(rng.integers(max(size, short // 2), short + 1))
    return int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side


def photos_split(split: str, root: Path, size: int, crops: int = 5, seed: int = 0) -> RawSplit:
    """The photo set's split as a RawSplit; train has ``crops`` INRs per photo (the whole photo first)."""
    names = photo_names(split)
    if crops < 1:
        raise InspError(f"crops={crops} must be at least 1")
    per = crops if split == "train" else 1
    items = [(n, k) for n in names for k in range(per)]
    keys = {p[0]: p[3] for p in PHOTOS}

    def read(idx):
        out = []
        for i in idx:
            name, k = items[i]
            img = read_photo(name, root)
            if img.ndim != 3:
                raise InspError(f"photo {name!r} is grayscale; the photo set is RGB only")
            if min(img.shape[:2]) < size:
                raise InspError(f"photo {name!r} is {img.shape[1]}x{img.shape[0]}, smaller than size={size}")
            top, left, side = crop_box(img.shape[:2], size, keys[name], k, seed)
            out.append(img[top:top + side, left:left + side])
        return out

    which = split_of_photos()
    meta = {"origin": "photos", "photos": names, "crops_per_photo": per, "crop_seed": seed,
            "splits_count": {s: sum(v == s for v in which.values()) for s in ("train", "val", "test")},
            "packages": {p: package_version(_PIP[p].split("==")[0]) for p in _PIP},
            "rule": "per scene tag, by sha256: even positions test, p % 10 == 5 val, else train (data/photos.py)"}
    return RawSplit(count=len(items), read=read, labels=None,
                    names=lambda idx: [items[i][0] + (f"-crop{items[i][1]}" if items[i][1] else "") for i in idx],
                    meta=meta, channels=3, size=128)
