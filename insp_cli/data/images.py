"""Natural images for the low-level tasks (the paper uses DIV2K / Set5 / Set14 resized to 256x256).

Two sources:
- ``bundled`` (default): 40 real photos that ship inside pip packages, so they load with no network. Fixed
  order (``BUNDLED``); split ``test`` = every third image (positions 2, 5, 8, ...: 13 images), ``train`` = the
  other 27, ``all`` = all 40. Gray ones are replicated to RGB (or kept gray with channels=1).
- ``folder``: any folder of images (DIV2K, Set14, /usr/share/doc/opencv-doc/examples/data, ...), files with an
  image extension sorted by name; ``train`` = the first ``train_count`` (default 90, as in the paper),
  ``test`` = the rest, ``all`` = every image. For DIV2K as in the paper: ``folder=DIV2K_train_HR split=train``
  and ``folder=DIV2K_valid_HR split=all`` (its 100 images).
Images are center-cropped to a square and resized to ``size`` (default 256) by ``conform``. Pixel values come by
the file's real range (``read_image``): 8-bit / 255, 16-bit / 65535, float as it is within [0, 1]; anything
else (a float image outside [0, 1], an animated GIF, an EXR) is one error line naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from insp_cli.data.imageset import RawSplit, package_dir, package_version
from insp_cli.errors import InspError

DEFAULT_SIZE = 256  # the paper's resolution
DEFAULT_TRAIN_COUNT = 90  # the paper: 90 images for training, the others for evaluation
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm", ".gif",
                    ".exr", ".hdr")
# listed so that a folder holding them is refused by name rather than these files being skipped unseen
UNREAD_EXTENSIONS = {".exr": "OpenEXR", ".hdr": "Radiance HDR"}
FLOAT_SLACK = 1e-3  # a float image may stray this far outside [0, 1] (rounding); it is then clipped

# (name, package, file inside the package). scikit-image's files are the ones its data.<name>() functions read;
# only those shipped in the wheel are listed (brain, cells3d, eagle, kidney, lily, skin, ... need pooch + network).
_SKIMAGE_RGB = [("astronaut", "astronaut.png"), ("chelsea", "chelsea.png"), ("coffee", "coffee.png"),
                ("rocket", "rocket.jpg"), ("hubble_deep_field", "hubble_deep_field.jpg"),
                ("immunohistochemistry", "ihc.png"), ("retina", "retina.jpg"),
                ("stereo_motorcycle", "motorcycle_left.png")]
_SKIMAGE_GRAY = [("camera", "camera.png"), ("moon", "moon.png"), ("brick", "brick.png"), ("grass", "grass.png"),
                 ("gravel", "gravel.png"), ("coins", "coins.png"), ("page", "page.png"), ("text", "text.png"),
                 ("cell", "cell.png"), ("clock", "clock_motion.png")]
_FOOLBOX_IMAGENET = ["imagenet_00_243", "imagenet_01_559", "imagenet_02_438", "imagenet_03_990", "imagenet_04_949",
                     "imagenet_05_853", "imagenet_06_609", "imagenet_07_609", "imagenet_08_915", "imagenet_09_455",
                     "imagenet_10_541", "imagenet_11_630", "imagenet_12_741", "imagenet_13_471", "imagenet_14_129",
                     "imagenet_15_99", "imagenet_16_251", "imagenet_17_22", "imagenet_18_317", "imagenet_19_305"]
BUNDLED: list[tuple[str, str, str]] = (
    [(n, "skimage", f"data/{f}") for n, f in _SKIMAGE_RGB + _SKIMAGE_GRAY]
    + [("china", "sklearn", "datasets/images/china.jpg"), ("flower", "sklearn", "datasets/images/flower.jpg")]
    + [(n, "foolbox", f"data/{n}.jpg") for n in _FOOLBOX_IMAGENET]
)
_PIP_NAME = {"skimage": "scikit-image", "sklearn": "scikit-learn", "foolbox": "foolbox==3.3.4"}
SPLITS = ("train", "test", "all")


def bundled_positions(split: str) -> list[int]:
    """Positions in BUNDLED of a split: test = every third image (2, 5, 8, ...), train = the others."""
    if split not in SPLITS:
        raise InspError(f"unknown split {split!r} for bundled images (use {', '.join(SPLITS)})")
    every = range(len(BUNDLED))
    return list(every) if split == "all" else [i for i in every if (i % 3 == 2) == (split == "test")]


def read_image(path: Path) -> np.ndarray:
    """One image file -> (H, W) or (H, W, 3) pixels by their real range; alpha is dropped.

    8-bit files -> uint8 (``conform`` divides by 255). 16-bit files -> float32 / 65535 (16-bit RGB PNGs: Pillow
    reads their high byte, i.e. uint8). Float TIFFs -> float32 as they are when within [0, 1] (up to FLOAT_SLACK,
    then clipped); any other range, NaN/inf, signed or 32-bit integer pixels, an animated GIF/PNG/WebP or a
    multi-page TIFF, and OpenEXR/HDR files are one InspError line naming the file.
    """
    path = Path(path)
    if path.suffix.lower() in UNREAD_EXTENSIONS:
        raise InspError(f"cannot read image {path}: {UNREAD_EXTENSIONS[path.suffix.lower()]} files are not read by "
                        "the installed readers (Pillow, tifffile); save it as a 32-bit float TIFF in [0, 1], or "
                        "as an 8/16-bit PNG")
    tiff_error = None
    if path.suffix.lower() in (".tif", ".tiff"):
        pixels, tiff_error = _read_tiff(path)
        if pixels is not None:
            return pixels
    try:
        with Image.open(path) as img:
            frames = getattr(img, "n_frames", 1)
            # MPO: a camera JPEG with a preview, frame 1 is the photo; a TIFF's pages were judged by tifffile
            vetted = img.format == "MPO" or (img.format == "TIFF" and tiff_error is None)
            if frames > 1 and not vetted:
                raise InspError(f"image {path} is animated or multi-page ({frames} frames); insp reads still "
                                f"images: save the frame you want as its own file (e.g. `convert '{path.name}[0]' "
                                f"{path.stem}-frame0.png`)")
            img = ImageOps.exif_transpose(img)  # phone photos: store pixels upright
            if img.mode == "F":
                return _float_pixels(np.asarray(img, dtype=np.float32), path)
            if img.mode.startswith("I"):  # 16-bit PNG / PGM / TIFF (Pillow scales a PGM's maxval to 65535)
                arr = np.asarray(img)
                if arr.dtype != np.uint16 and (img.format == "TIFF" or arr.min() < 0 or arr.max() > 65535):
                    raise InspError(f"image {path} holds {arr.dtype} pixels (range [{arr.min()}, {arr.max()}]); "
                                    "insp reads 8/16-bit unsigned integer and float images: save it as 16-bit, "
                                    "or as float in [0, 1]")
                return (arr.astype(np.float64) / 65535).astype(np.float32)
            keep_gray = img.mode in ("1", "L", "LA") or (img.mode == "P" and _palette_is_gray(img))
            return np.asarray(img.convert("L" if keep_gray else "RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        why = tiff_error or str(e)
        raise InspError(f"cannot read image {path}: {why}".replace("\n", " ")) from None


def _float_pixels(arr: np.ndarray, path: Path) -> np.ndarray:
    """Float pixels (H, W[, 3]) taken as they are: within [0, 1] up to FLOAT_SLACK (then clipped), else refused."""
    finite = np.isfinite(arr)
    if not finite.all():
        raise InspError(f"image {path} holds {int((~finite).sum())} NaN or infinite pixel values; fix the file")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -FLOAT_SLACK or hi > 1 + FLOAT_SLACK:
        raise InspError(f"image {path} holds float pixels in [{lo:.4g}, {hi:.4g}], outside [0, 1]: insp takes "
                        "float images as they are (0 black, 1 white) and guesses no scale; rescale it to [0, 1] "
                        "or save it as 8/16-bit")
    return np.clip(arr, 0, 1).astype(np.float32)


def _read_tiff(path: Path) -> tuple[np.ndarray | None, str | None]:
    """A TIFF's pixels by its real sample type with tifffile: (pixels, None); (None, None) for 8-bit and 1-bit
    TIFFs (read by Pillow as before: orientation, palettes, CMYK); (None, why) when tifffile cannot decode it
    (Pillow then tries, and ``why`` is the message if it fails too)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            dtype, axes = np.dtype(series.dtype), series.axes
            if dtype in (np.uint8, np.bool_) and axes in ("YX", "YXS"):
                return None, None
            if axes not in ("YX", "YXS", "SYX"):
                raise InspError(f"image {path} is a multi-page TIFF (shape {series.shape}, axes {axes}); insp "
                                "reads single images: save the page you want as its own file")
            photometric = int(tif.pages[0].photometric)
            arr = series.asarray()
    except InspError:
        raise
    except Exception as e:  # tifffile raises many kinds (a missing codec: ValueError; damaged: TiffFileError)
        return None, str(e) or type(e).__name__
    if axes == "SYX":
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3:  # samples: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (alpha dropped)
        if photometric not in (1, 2) or arr.shape[2] > 4:  # MINISBLACK, RGB
            raise InspError(f"image {path} is a {dtype} TIFF with {arr.shape[2]} samples of photometric "
                            f"interpretation {photometric}; insp reads gray or RGB(A) 16-bit and float TIFFs")
        arr = arr[..., 0] if arr.shape[2] <= 2 else arr[..., :3]
    elif photometric != 1:
        raise InspError(f"image {path} is a one-sample {dtype} TIFF of photometric interpretation {photometric} "
                        "(0: white is zero, 3: palette); insp reads 16-bit and float TIFFs with 0 = black")
    if dtype == np.uint8:  # planar 8-bit RGB
        return arr, None
    if dtype == np.uint16:
        return (arr.astype(np.float64) / 65535).astype(np.float32), None
    if dtype.kind == "f":
        return _float_pixels(arr, path), None
    raise InspError(f"image {path} holds {dtype} pixels; insp reads 8/16-bit unsigned integer images (/ 255, "
                    "/ 65535) and float images in [0, 1]: convert it")


def _palette_is_gray(img: Image.Image) -> bool:
    pal = np.asarray(img.convert("RGB"))
    return bool((pal[..., 0] == pal[..., 1]).all() and (pal[..., 1] == pal[..., 2]).all())


def _files_split(files: list[Path], names: list[str], meta: dict, size: int,
                 read=None) -> RawSplit:
    return RawSplit(count=len(files), read=read or (lambda idx: [read_image(files[i]) for i in idx]), labels=None,
                    names=lambda idx: [names[i] for i in idx], meta=meta, channels=3, size=size)


def _checked_reader(files: list[Path], size: int | None, channels: int | None):
    """A folder's reader that refuses, in one line naming the files, images smaller than ``size`` (they would be
    upscaled, inventing detail) and grayscale images among RGB ones (unless channels=1 asks for luma)."""
    def read(idx):
        imgs = [read_image(files[i]) for i in idx]
        small = [files[i].name for i, im in zip(idx, imgs) if size is not None and min(im.shape[:2]) < size]
        if small:
            raise InspError(f"{len(small)} image(s) are smaller than size={size} ({', '.join(small[:5])}"
                            f"{', ...' if len(small) > 5 else ''}); pass a smaller data.size or remove them")
        gray = [files[i].name for i, im in zip(idx, imgs) if im.ndim == 2]
        if gray and len(gray) < len(imgs) and channels != 1:
            raise InspError(f"the folder mixes grayscale and RGB images (grayscale: {', '.join(gray[:5])}"
                            f"{', ...' if len(gray) > 5 else ''}); convert them, or pass data.channels=1 for luma")
        return imgs
    return read


def _same_files(train: list[Path], test: list[Path]) -> list[tuple[str, str]]:
    """(train file, test file) pairs with byte-identical content (sha256)."""
    import hashlib

    def digest(p: Path) -> str:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    seen = {digest(p): p.name for p in train}
    return [(seen[d], p.name) for p in test if (d := digest(p)) in seen]


def bundled_split(split: str) -> RawSplit:
    positions = bundled_positions(split)
    files, names = [], []
    for i in positions:
        name, pkg, rel = BUNDLED[i]
        base = package_dir(pkg)
        path = base / rel if base is not None else None
        if path is None or not path.is_file():
            raise InspError(f"bundled image {name!r} needs {rel} from package {pkg} "
                            f"(pip install {_PIP_NAME[pkg]})")
        files.append(path)
        names.append(name)
    meta = {"origin": "bundled", "positions": positions,
            "packages": {p: package_version(_PIP_NAME[p].split("==")[0]) for p in ("skimage", "sklearn", "foolbox")},
            "rule": "test = every third of the 40 BUNDLED images (positions 2, 5, 8, ...), train = the others"}
    return _files_split(files, names, meta, DEFAULT_SIZE)


def folder_split(folder: str | Path, split: str, train_count: int = DEFAULT_TRAIN_COUNT, size: int | None = None,
                 channels: int | None = None) -> RawSplit:
    """Files sorted by name; train = the first ``train_count``, test = the rest. Refused, one line naming the
    files: a test file byte-identical to a train file, images smaller than ``size``, gray among RGB."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        from insp_cli.files import describe_path

        raise InspError(f"image folder {folder} {describe_path(folder)}, not a folder of images")
    if split not in SPLITS:
        raise InspError(f"unknown split {split!r} for an image folder (use {', '.join(SPLITS)})")
    if train_count < 0:
        raise InspError(f"train_count={train_count} must be >= 0")
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
    if not files:
        raise InspError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {folder}")
    chosen = {"train": files[:train_count], "test": files[train_count:], "all": files}[split]
    if not chosen:
        raise InspError(f"split {split} of folder {folder} is empty: it has {len(files)} images and "
                        f"train_count={train_count} (train = the first train_count by name, test = the rest)")
    if split != "all":
        dup = _same_files(files[:train_count], files[train_count:])
        if dup:
            raise InspError(f"{len(dup)} test image(s) of folder {folder} are copies of training images ("
                            + ", ".join(f"{b} = {a}" for a, b in dup[:5]) + (", ..." if len(dup) > 5 else "")
                            + "): remove the duplicates so that the test images are held out")
    first = 0 if split != "test" else min(train_count, len(files))
    meta = {"origin": "folder", "path": str(folder.resolve()), "train_count": train_count,
            "first_position": first, "folder_count": len(files),
            "rule": "files sorted by name; train = the first train_count, test = the rest"}
    return _files_split(chosen, [p.stem for p in chosen], meta, DEFAULT_SIZE,
                        read=_checked_reader(chosen, size or DEFAULT_SIZE, channels))
