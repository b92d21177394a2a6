"""The photo set (data=photos): splits disjoint by image and deterministic, crops, pinned files, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from insp_cli.config import compose
from insp_cli.data import load_images
from insp_cli.data.photos import PHOTOS, crop_box, opencv_data, photo_names, photo_path, split_of_photos
from insp_cli.errors import InspError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def _have_opencv() -> bool:
    try:
        opencv_data(DATA, fetch=False)
        return True
    except InspError:
        return False


needs_opencv = pytest.mark.skipif(not _have_opencv(), reason="opencv-doc examples not fetched (first `insp fit "
                                  "data=photos` fetches them with apt-get)")


def test_splits_are_disjoint_deterministic_and_mix_smooth_and_textured_scenes():
    names = [p[0] for p in PHOTOS]
    assert len(names) == len(set(names)) == 50
    assert len({p[3] for p in PHOTOS}) == 50  # no two pinned files with the same content
    train, val, test = (photo_names(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (19, 5, 26)
    assert not (set(train) & set(test)) and not (set(train) & set(val)) and not (set(val) & set(test))
    assert sorted(train + val + test) == sorted(names) == sorted(photo_names("all"))
    assert split_of_photos() == split_of_photos()
    tags = {p[0]: p[4] for p in PHOTOS}
    for split in (train, test):
        assert {"smooth", "texture", "mixed"} <= {tags[n] for n in split}
    with pytest.raises(InspError, match="unknown split"):
        photo_names("validation")


def test_crop_boxes_are_seeded_by_photo_and_crop_only():
    a = crop_box((480, 640), 128, "ab12", 3)
    assert a == crop_box((480, 640), 128, "ab12", 3) and a != crop_box((480, 640), 128, "ab12", 4)
    assert crop_box((480, 640), 128, "ab12", 0) == (0, 80, 480)  # crop 0: the centred square
    for k in range(1, 50):
        top, left, side = crop_box((300, 451), 200, "ff", k)
        assert 200 <= side <= 300 and 0 <= top <= 300 - side and 0 <= left <= 451 - side


def test_package_photos_are_pinned_by_sha256():
    path = photo_path("astronaut", DATA)
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith("88431cd9653ccd53")


@needs_opencv
def test_load_photo_splits_whole_test_photos_and_training_crops():
    test = load_images("photos", "test", size=24, root=DATA)
    assert test.images.shape == (26, 24, 24, 3) and test.names[0] == "astronaut"
    assert test.meta["crops_per_photo"] == 1 and test.meta["photos"] == photo_names("test")
    train = load_images("photos", "train", size=24, root=DATA, crops=2, limit=4)
    assert train.names == ["rocket", "rocket-crop1", "immunohistochemistry", "immunohistochemistry-crop1"]
    again = load_images("photos", "train", size=24, root=DATA, crops=2, limit=4)
    np.testing.assert_array_equal(train.images, again.images)
    assert np.abs(train.images[0] - train.images[1]).mean() > 0.01  # a crop is not the whole photo
    with pytest.raises(InspError, match="smaller than size=400"):
        load_images("photos", "test", size=400, root=DATA)


def test_config_composes_the_photo_set():
    cfg = compose("fit", ["data=photos", "data.split=val"])
    assert cfg.data.name == "photos" and cfg.data.size == 128 and cfg.data.crops == 5


def test_missing_opencv_without_fetching_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("insp_cli.data.photos.OPENCV_SYSTEM", tmp_path / "nowhere")
    with pytest.raises(InspError, match="opencv-doc"):
        opencv_data(tmp_path, fetch=False)
