"""Bad and unusual input files: each is read by its real range or refused in one line that says what is wrong.

Images: float / 16-bit TIFF and PNG, animated GIF, EXR. Audio: silent, truncated, and bad files outside the
split. Meshes: extreme scale, NaN vertices, a binary STL whose size does not match its triangle count.
Every fixture is a tiny file written here from numpy.
"""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import trimesh
from PIL import Image
from scipy.io import wavfile
from typer.testing import CliRunner

from insp_cli.cli import app
from insp_cli.data import load_images
from insp_cli.data.audio import load_audio, phrase_split, read_wav, write_wav
from insp_cli.data.images import read_image
from insp_cli.data.meshes import load_meshes, read_mesh
from insp_cli.errors import InspError
from insp_cli.jobs.fit import check_finite_input

from test_audio import speech_like, write_raw_wav

RATE = 8000


def insp_here(*args):
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def one_error_line(code: int, err: str) -> str:
    """The CLI's contract for a refused input: non-zero exit, one `error:` line, no traceback."""
    assert code != 0 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------------------------- images


def _png16(path: Path, a: np.ndarray) -> Path:
    """A 16-bit PNG (gray or RGB) written by hand: Pillow cannot write 16-bit RGB."""
    a = np.asarray(a, dtype=">u2")
    h, w = a.shape[:2]
    kind = 0 if a.ndim == 2 else 2

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, kind, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def _smooth(h=16, w=16, c=3, seed=0) -> np.ndarray:
    """A smooth float64 image (h, w, c) spanning [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 16
    img = np.stack([np.sin(rng.uniform(1, 4) * x + rng.uniform(1, 4) * y + k) for k in range(c)], -1)
    return (img - img.min()) / (img.max() - img.min())


def test_uint8_png_is_read_as_before(tmp_path):
    folder = tmp_path / "png"
    folder.mkdir()
    arr = np.rint(_smooth() * 255).astype(np.uint8)
    Image.fromarray(arr).save(folder / "a.png")
    assert read_image(folder / "a.png").dtype == np.uint8 and np.array_equal(read_image(folder / "a.png"), arr)
    native = load_images("images", "all", folder=folder, size=16)
    assert np.array_equal(native.images[0], arr.astype(np.float32) / np.float32(255))
    small = load_images("images", "all", folder=folder, size=8)  # Pillow's antialiased bicubic on 8-bit pixels
    want = np.asarray(Image.fromarray(arr).resize((8, 8), Image.Resampling.BICUBIC)).astype(np.float32) / 255
    assert np.array_equal(small.images[0], want)


def test_float_tiff_in_unit_range_is_taken_as_it_is(tmp_path):
    folder = tmp_path / "tif"
    folder.mkdir()
    rgb = _smooth().astype(np.float32)
    tifffile.imwrite(folder / "a.tif", rgb)
    assert np.array_equal(read_image(folder / "a.tif"), rgb)  # not rgb / 255 (was: fitted as black)
    native = load_images("images", "all", folder=folder, size=16)
    assert native.images.dtype == np.float32 and np.array_equal(native.images[0], rgb)
    gray = _smooth(c=1)[..., 0].astype(np.float32)
    tifffile.imwrite(folder / "a.tif", gray)
    g = load_images("images", "all", folder=folder, size=16, channels=1)
    assert np.array_equal(g.images[0, ..., 0], gray)
    # resized: the same as the 8-bit copy of the image, up to its quantisation (1/510) and a little resampling
    tifffile.imwrite(folder / "a.tif", rgb)
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(tmp_path / "ref.png")
    ref = np.asarray(Image.open(tmp_path / "ref.png").resize((8, 8), Image.Resampling.BICUBIC)) / 255
    small = load_images("images", "all", folder=folder, size=8).images[0]
    assert small.shape == (8, 8, 3) and np.abs(small - ref).max() < 2 / 255
    # rounding just outside [0, 1] is clipped, not refused
    tifffile.imwrite(folder / "a.tif", np.array([[-1e-4, 0.5], [1.0005, 1.0]], np.float32))
    assert np.array_equal(read_image(folder / "a.tif"), np.array([[0, 0.5], [1, 1]], np.float32))


def test_16_bit_images_are_divided_by_65535(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 65536, (8, 8)).astype(np.uint16)
    rgb = rng.integers(0, 65536, (8, 8, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", gray)
    tifffile.imwrite(tmp_path / "c.tif", rgb)
    Image.fromarray(gray).save(tmp_path / "g.png")  # mode I;16
    for name, want in (("g.tif", gray), ("c.tif", rgb), ("g.png", gray)):
        got = read_image(tmp_path / name)
        assert got.dtype == np.float32 and np.abs(got - want / 65535).max() < 1e-7, name
    # a 16-bit RGB PNG: Pillow reads its high byte (8-bit precision, the right range)
    got = read_image(_png16(tmp_path / "c.png", rgb))
    assert got.dtype == np.uint8 and np.array_equal(got, (rgb >> 8).astype(np.uint8))


@pytest.mark.parametrize("case, message", [
    ("above", r"float pixels in \[0, 3\], outside \[0, 1\]"),
    ("negative", r"float pixels in \[-0.5, 0.5\], outside \[0, 1\]"),
    ("nan", "holds 1 NaN or infinite pixel values"),
    ("int32", "holds int32 pixels"),
    ("pages", "multi-page TIFF"),
    ("gif", r"animated or multi-page \(3 frames\)"),
    ("exr", "OpenEXR files are not read"),
])
def test_unreadable_images_are_one_line_naming_the_file(tmp_path, case, message):
    x = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    name = {"gif": "bad.gif", "exr": "bad.exr"}.get(case, "bad.tif")
    p = tmp_path / name
    if case == "above":
        tifffile.imwrite(p, 3 * x)
    elif case == "negative":
        tifffile.imwrite(p, x - 0.5)
    elif case == "nan":
        x[3, 3] = np.nan
        tifffile.imwrite(p, x)
    elif case == "int32":
        tifffile.imwrite(p, (x * 1000).astype(np.int32))
    elif case == "pages":
        tifffile.imwrite(p, np.stack([x, x]))
    elif case == "gif":
        frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 120, 250)]
        frames[0].save(p, save_all=True, append_images=frames[1:])
    else:
        p.write_bytes(b"v/1\x01" + bytes(60))
    with pytest.raises(InspError) as e:
        read_image(p)
    assert str(e.value).count(name) >= 1 and "\n" not in str(e.value)
    assert re.search(message, str(e.value)), str(e.value)


def test_a_still_gif_is_read(tmp_path):
    Image.fromarray(np.full((8, 8), 120, np.uint8)).save(tmp_path / "a.gif")
    assert np.array_equal(read_image(tmp_path / "a.gif"), np.full((8, 8), 120, np.uint8))


def test_fit_refuses_an_out_of_range_float_image_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "imgs"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", _smooth().astype(np.float32))
    tifffile.imwrite(folder / "b.tif", 255 * _smooth(seed=1).astype(np.float32))  # 0..255 stored as float
    code, out, err = insp_here("fit", "data=images", f"data.folder={folder}", "data.split=all", "data.size=8",
                               f"store={tmp_path / 's'}")
    line = one_error_line(code, err)
    assert "b.tif holds float pixels in [0, 255], outside [0, 1]" in line
    assert not list((tmp_path / "s").glob("shard-*"))


# -------------------------------------------------------------------------------------------------- audio


def _wavs(folder: Path, names: list[str], seconds: float = 0.6) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        write_wav(folder / f"{n}.wav", 0.5 * speech_like(seconds, seed=i), RATE)


def test_a_silent_wav_is_called_silent(tmp_path):
    wavfile.write(tmp_path / "quiet.wav", RATE, np.zeros(RATE, np.int16))  # 1 s of silence
    with pytest.raises(InspError) as e:
        load_audio(folder=tmp_path, split="all")
    assert "1 silent: quiet.wav" in str(e.value) and "at least" not in str(e.value)


def test_a_silent_wav_among_good_ones_is_named(tmp_path, caplog):
    _wavs(tmp_path, ["a", "b", "c"])
    wavfile.write(tmp_path / "quiet.wav", RATE, np.zeros(RATE, np.int16))
    wavfile.write(tmp_path / "hiss.wav", RATE, np.array([1, -1, 0, 1] * 2000, np.int16))  # within 1 step
    with caplog.at_level("WARNING", logger="insp"):
        clips = load_audio(folder=tmp_path, split="all", length=4000)
    assert clips.names == ["a", "b", "c"]
    assert "left out 2 silent WAV file(s)" in caplog.text and "hiss.wav, quiet.wav" in caplog.text
    # good clips are unchanged: the first 4000 samples at 16-bit precision, scaled to peak 1
    x = read_wav(tmp_path / "a.wav", RATE)[:4000]
    assert np.array_equal(clips.clips[0], (x / np.abs(x).max()).astype(np.float32))


def test_a_truncated_wav_is_one_line_without_a_scipy_warning(tmp_path):
    write_wav(tmp_path / "a.wav", 0.5 * speech_like(0.5), RATE)
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "a.wav").write_bytes(data[: 44 + 2 * 1000 + 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a raw WavFileWarning would fail here
        with pytest.raises(InspError) as e:
            read_wav(tmp_path / "a.wav", RATE)
        assert str(e.value) == (f"{tmp_path / 'a.wav'} is truncated: its header announces 4000 samples but the "
                                "file holds 1000; export it again")
        with pytest.raises(InspError, match="is truncated"):
            load_audio(folder=tmp_path, split="all")


def _outside(split: str, prefix: str) -> str:
    """A file name whose phrase falls outside ``split``."""
    return next(n for n in (f"{prefix}{i}" for i in range(100)) if phrase_split(n) != split)


def test_every_wav_of_a_folder_is_checked_whatever_its_split(tmp_path):
    names = [f"p{i:02d}" for i in range(12)]
    _wavs(tmp_path, names)
    ok = load_audio(folder=tmp_path, split="train", length=2000)
    stereo = _outside("train", "stereo")
    wavfile.write(tmp_path / f"{stereo}.wav", RATE, np.zeros((RATE, 2), np.int16))
    with pytest.raises(InspError) as e:
        load_audio(folder=tmp_path, split="train", length=2000)
    assert str(e.value).startswith(f"{tmp_path / stereo}.wav has 2 channels")
    eight = _outside("train", "eight")
    write_raw_wav(tmp_path / f"{eight}.wav", b"\x80" * 100, bits=8)
    with pytest.raises(InspError) as e:
        load_audio(folder=tmp_path, split="train", length=2000)
    msg = str(e.value)
    assert msg.startswith(f"2 of the 14 WAV files in {tmp_path} cannot be read (every file is checked")
    assert f"{eight}.wav (8-bit PCM)" in msg and f"{stereo}.wav (2 channels)" in msg and "\n" not in msg
    for bad in (stereo, eight):
        (tmp_path / f"{bad}.wav").unlink()
    again = load_audio(folder=tmp_path, split="train", length=2000)
    assert again.names == ok.names and np.array_equal(again.clips, ok.clips)


def test_fit_names_a_bad_wav_outside_the_split_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    wavs = tmp_path / "wavs"
    _wavs(wavs, [f"p{i:02d}" for i in range(6)], seconds=0.2)
    stereo = _outside("train", "stereo")
    wavfile.write(wavs / f"{stereo}.wav", RATE, np.zeros((RATE, 2), np.int16))
    code, out, err = insp_here("fit", "data=audio", f"data.folder={wavs}", "data.split=train", "data.length=400",
                               "data.min_seconds=0.05", "model.hidden=8", "fit.steps=2", f"store={tmp_path / 's'}")
    line = one_error_line(code, err)
    assert f"{stereo}.wav has 2 channels" in line


def test_fit_errors_about_audio_speak_of_clips(tmp_path, monkeypatch):
    bad = np.zeros((2, 1, 5, 1), np.float32)
    bad[1, 0, 2, 0] = np.nan
    with pytest.raises(InspError) as e:
        check_finite_input(bad, bad, np.arange(2), "audio folder", "clean")
    assert "NaN or inf samples (1 clips, first index 1)" in str(e.value) and "image" not in str(e.value)
    monkeypatch.setenv("INSP_RUNS", str(tmp_path / "runs"))
    wavs = tmp_path / "wavs"
    _wavs(wavs, ["a", "b"], seconds=0.1)
    code, out, err = insp_here("fit", "data=audio", f"data.folder={wavs}", "data.split=all", "data.length=200",
                               "data.min_seconds=0.05", "model.hidden=8", "fit.steps=3", "fit.lr=1e9",
                               f"store={tmp_path / 's'}")
    line = one_error_line(code, err)
    assert code == 3 and "the fit diverged" in line and "a silent clip" in line and "image" not in line


# ------------------------------------------------------------------------------------------------- meshes


def _off(path: Path, v: np.ndarray, f: np.ndarray) -> Path:
    """An OFF file at full float64 precision (trimesh's export rounds 1e-30 to 0)."""
    lines = ["OFF", f"{len(v)} {len(f)} 0"] + [" ".join(repr(float(c)) for c in row) for row in v]
    path.write_text("\n".join(lines + [f"3 {a} {b} {c}" for a, b, c in f]) + "\n")
    return path


def _cube():
    c = trimesh.creation.box()
    return np.asarray(c.vertices, dtype=np.float64), np.asarray(c.faces)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_a_cube_of_extreme_scale_is_said_to_be_so(tmp_path, scale):
    v, f = _cube()
    with pytest.raises(InspError) as e:
        read_mesh(_off(tmp_path / "cube.off", v * scale, f))
    msg = str(e.value)
    assert f"has an extreme scale (bounding box {scale:.3g} x {scale:.3g} x {scale:.3g})" in msg
    assert "manifold" not in msg and "\n" not in msg
    got_v, got_f = read_mesh(_off(tmp_path / "unit.off", v, f))  # the same cube at scale 1 is fine, unchanged
    assert len(got_f) == 12 and np.allclose(np.sort(got_v, axis=0), np.sort(v, axis=0))


def test_a_nan_vertex_is_named(tmp_path):
    v, f = _cube()
    v[3, 1] = np.nan
    with pytest.raises(InspError) as e:
        read_mesh(_off(tmp_path / "nan.off", v, f))
    assert "non-finite vertex coordinates (NaN or inf) at 1 of its 8 vertices (the first is vertex 3)" in str(e.value)
    assert "watertight" not in str(e.value)


def test_a_binary_stl_with_a_wrong_triangle_count_says_so(tmp_path):
    good = tmp_path / "good.stl"
    trimesh.creation.box().export(good)
    data = good.read_bytes()
    assert len(data) == 84 + 50 * 12
    (tmp_path / "count.stl").write_bytes(data[:80] + struct.pack("<I", 20) + data[84:])
    (tmp_path / "cut.stl").write_bytes(data[:-30])
    (tmp_path / "long.stl").write_bytes(data + bytes(50))
    for name, text in (("count", "announces 20 triangles (1084 bytes) but the file has 684 bytes (room for 12 "
                                 "triangles): truncated, or a wrong count"),
                       ("cut", "announces 12 triangles (684 bytes) but the file has 654 bytes"),
                       ("long", "file has 734 bytes (room for 13 triangles): a wrong count in its header, or "
                                "trailing data")):
        with pytest.raises(InspError) as e:
            read_mesh(tmp_path / f"{name}.stl")
        assert text in str(e.value) and "no triangles" not in str(e.value), str(e.value)
    assert len(read_mesh(good)[1]) == 12
    # in a folder, a damaged STL is found whatever split it falls in (train = the first file by name)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.stl").write_bytes(data)
    (folder / "z.stl").write_bytes(data[:-30])
    with pytest.raises(InspError, match="z.stl is a binary STL"):
        load_meshes("train", folder=folder, train_count=1)
    (folder / "z.stl").write_bytes(data)
    assert load_meshes("train", folder=folder, train_count=1).names == ["a"]
