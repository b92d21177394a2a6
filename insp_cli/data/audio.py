"""Audio clips for the 1-D INRs (paper App. F, Fig. 15): real speech and music that install offline.

Sources (``load_audio(name, ...)``), all 8 kHz mono 16-bit, CC-BY-SA-3.0 (see data/README.md):
- ``speech``: Debian ``asterisk-core-sounds-en-wav``, 568 English prompts by one speaker (Allison Smith);
  the ten files of ``silence/`` and clips shorter than ``min_seconds`` are left out. One clip per file.
- ``music``: Debian ``asterisk-moh-opsound-wav``, 5 tracks of 73-322 s, cut into consecutive clips.
- ``folder``: any folder of 16-bit mono WAV files at ``rate`` (searched recursively, sorted by path).
The Debian packages are used where installed (/usr/share/asterisk/...), else fetched once with
``apt-get download`` and unpacked with ``dpkg -x`` under ``root/debian/<package>/``.

Clips: the first ``length`` samples of a file (default 12,000 = 1.5 s at 8 kHz), zero-padded at the end when
the file is shorter; each clip is scaled so that its peak |x| is 1 (``normalize``), so a noise sigma relative
to the clip's peak is an absolute sigma. Music tracks give consecutive, non-overlapping clips.

Splits, fixed and disjoint by clip: ``train`` / ``val`` / ``test`` / ``all``.
- files (speech, folder): by phrase. A file's phrase is its path without a trailing ``-<digits>`` (so
  ``conf-adminmenu-162`` and ``conf-adminmenu-18`` share one) and the split is fixed by the sha256 of that
  phrase: [0, 0.7) train, [0.7, 0.8) val, [0.8, 1) test. Adding files never moves the others.
- music: per track, the first 70 % of its clips train, the next 10 % val, the last 20 % test (in time order).
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from insp_cli.data.debian import unpacked_deb
from insp_cli.data.imageset import select_range
from insp_cli.errors import InspError
from insp_cli.files import atomic_write

DEFAULT_RATE = 8000
DEFAULT_LENGTH = 12000  # 1.5 s at 8 kHz: covers the median speech prompt (1.39 s)
SPLITS = ("train", "val", "test", "all")
FRACTIONS = {"train": (0.0, 0.7), "val": (0.7, 0.8), "test": (0.8, 1.0), "all": (0.0, 1.0)}
SOURCES = ("speech", "music")

# name -> (Debian package, folder inside the package, glob)
PACKAGES = {
    "speech": ("asterisk-core-sounds-en-wav", "usr/share/asterisk/sounds/en_US_f_Allison", "**/*.wav"),
    "music": ("asterisk-moh-opsound-wav", "usr/share/asterisk/moh", "*.wav"),
}


@dataclass
class AudioSet:
    """Clips of one source split.

    clips: (N, L) float32, peak |x| = 1 per clip when normalized (else int16 / 32768).
    lengths: (N,) int64 samples of real audio in each clip (the rest is zero padding).
    indices: (N,) int64 position of each clip inside its split (what shards and seeds key on).
    names: N short names (``digits/1``, ``macroform-cold_day@017``).
    rate: samples per second. meta: JSON-able description of the source and the split rule.
    """

    clips: np.ndarray
    lengths: np.ndarray
    indices: np.ndarray
    names: list[str]
    rate: int
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.clips)


# -------------------------------------------------------------------------------------------------- WAV


def wav_format(path: Path) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits per sample) from a WAV header; InspError if it is not a WAV."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                raise InspError(f"{path} is not a WAV file (no RIFF/WAVE header)")
            endian = "<" if head[:4] == b"RIFF" else ">"
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    raise InspError(f"{path} is not a readable WAV file (no fmt chunk)")
                cid, size = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
                if cid == b"fmt ":
                    body = f.read(size)
                    if len(body) < 16:
                        raise InspError(f"{path} has a truncated WAV fmt chunk")
                    tag, channels, rate, _, _, bits = struct.unpack(endian + "HHIIHH", body[:16])
                    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag is in the GUID
                        tag = struct.unpack(endian + "H", body[24:26])[0]
                    return tag, channels, rate, bits
                f.seek(size + (size & 1), os.SEEK_CUR)
    except OSError as e:
        raise InspError(f"cannot read {path}: {e.strerror}") from None


def read_wav(path: str | Path, rate: int = DEFAULT_RATE) -> np.ndarray:
    """A 16-bit PCM mono WAV at ``rate`` -> (T,) float32 = int16 / 32768; one InspError line for anything else."""
    from scipy.io import wavfile

    path = Path(path)
    tag, channels, have_rate, bits = wav_format(path)
    fix = "convert it, e.g. `sox IN -b 16 -c 1 -r {r} OUT.wav`".format(r=rate)
    if tag == 3:
        raise InspError(f"{path} holds {bits}-bit float samples; insp reads 16-bit PCM mono WAV ({fix})")
    if tag != 1:
        raise InspError(f"{path} is a WAV of format {tag:#x} (compressed?); insp reads 16-bit PCM mono WAV ({fix})")
    if bits != 16:
        raise InspError(f"{path} is {bits}-bit PCM; insp reads 16-bit PCM mono WAV ({fix})")
    if channels != 1:
        raise InspError(f"{path} has {channels} channels (stereo?); insp reads mono WAV ({fix})")
    if have_rate != rate:
        raise InspError(f"{path} is sampled at {have_rate} Hz, not the {rate} Hz asked for (pass rate={have_rate}, "
                        f"or {fix})")
    try:
        _, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as e:
        raise InspError(f"cannot read WAV {path}: {e}".replace("\n", " ")) from None
    if data.size == 0:
        raise InspError(f"{path} is an empty WAV (no samples)")
    return (data.reshape(-1).astype(np.float32) / 32768.0)


def write_wav(path: str | Path, clip: np.ndarray, rate: int) -> None:
    """(T,) floats in [-1, 1] -> 16-bit PCM mono WAV (clipped), written atomically (files.atomic_write)."""
    from scipy.io import wavfile

    path = Path(path)
    pcm = np.clip(np.rint(np.asarray(clip, dtype=np.float64) * 32767), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: wavfile.write(tmp, int(rate), pcm))


# ----------------------------------------------------------------------------------------- Debian packages


def debian_folder(name: str, root: Path) -> Path:
    """The unpacked folder of a source's Debian package: the system's install, else root/debian/<package>/."""
    package, inside, _ = PACKAGES[name]
    system = Path("/") / inside
    if system.is_dir():
        return system
    target = root / "debian" / package
    if (target / inside).is_dir():
        return target / inside
    with unpacked_deb(package, root, f"unpack its .deb into {target}/ (dpkg -x), or pass folder=DIR of 16-bit mono "
                                     "WAV files") as (tree, version):
        (tree / "DEBIAN_VERSION").write_text(version + "\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tree, target)  # appears complete or not at all
    return target / inside


def package_version_of(folder: Path, name: str) -> str | None:
    """The Debian version of an unpacked source (root/debian/... records it; an installed one: dpkg-query)."""
    package, inside, _ = PACKAGES[name]
    base = Path(str(folder)[: -len(inside)]) if str(folder).endswith(inside) else folder
    stamp = base / "DEBIAN_VERSION"
    if stamp.is_file():
        return stamp.read_text().strip()
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


# ------------------------------------------------------------------------------------------------ splits


def phrase_of(relative: str) -> str:
    """The phrase a file records: its relative path without extension and without a trailing -<digits>."""
    stem = relative.rsplit(".", 1)[0]
    return re.sub(r"-\d+$", "", stem)


def phrase_split(phrase: str) -> str:
    """train / val / test of a phrase: the sha256 of its name as a number in [0, 1) against ``FRACTIONS``."""
    u = int.from_bytes(hashlib.sha256(phrase.encode()).digest()[:8], "big") / 2.0**64
    return next(s for s in ("train", "val", "test") if FRACTIONS[s][0] <= u < FRACTIONS[s][1])


def fit_length(signal: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """The first ``length`` samples, zero-padded at the end: ((length,), samples of real audio)."""
    real = min(len(signal), length)
    out = np.zeros(length, dtype=np.float32)
    out[:real] = signal[:real]
    return out, real


def _file_clips(folder: Path, pattern: str, split: str, rate: int, length: int, min_samples: int,
                skip: tuple[str, ...] = ()) -> tuple[list[np.ndarray], list[int], list[str]]:
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))
    rel = [p.relative_to(folder).as_posix() for p in files]
    if not files:
        raise InspError(f"no .wav files in {folder}")
    clips, reals, names = [], [], []
    for path, r in zip(files, rel):
        if r.startswith(skip) or (split != "all" and phrase_split(phrase_of(r)) != split):
            continue
        signal = read_wav(path, rate)
        if len(signal) < min_samples or not np.any(signal):
            continue
        clip, real = fit_length(signal, length)
        clips.append(clip)
        reals.append(real)
        names.append(r.rsplit(".", 1)[0])
    return clips, reals, names


def _track_clips(folder: Path, split: str, rate: int, length: int) -> tuple[list[np.ndarray], list[int], list[str]]:
    clips, reals, names = [], [], []
    for path in sorted(folder.glob("*.wav")):
        signal = read_wav(path, rate)
        count = len(signal) // length
        lo, hi = (round(count * f) for f in FRACTIONS[split])
        for k in range(lo, hi):
            clips.append(signal[k * length:(k + 1) * length].copy())
            reals.append(length)
            names.append(f"{path.stem}@{k:03d}")
    return clips, reals, names


def load_audio(name: str = "speech", split: str = "train", start: int = 0, limit: int | None = None,
               length: int = DEFAULT_LENGTH, rate: int = DEFAULT_RATE, root: str | Path = "data",
               folder: str | Path | None = None, normalize: bool = True, min_seconds: float = 0.5) -> AudioSet:
    """Clips ``start .. start+limit-1`` of a split as float32 (N, length).

    name: speech | music (Debian packages), ignored when ``folder`` is given. split: train | val | test | all.
    length: samples per clip (cut or zero-padded). rate: the sample rate every file must have (no resampling).
    root: data root where Debian packages are unpacked. min_seconds: shorter files are left out (files only).
    normalize: scale each clip to peak |x| = 1.
    """
    if split not in SPLITS:
        raise InspError(f"unknown audio split {split!r} (use {', '.join(SPLITS)})")
    if length < 2 or rate < 1:
        raise InspError(f"audio needs length >= 2 and rate >= 1, got length={length}, rate={rate}")
    root = Path(root).expanduser()
    min_samples = max(1, int(round(min_seconds * rate)))
    if folder is not None:
        where = Path(folder).expanduser()
        if not where.is_dir():
            raise InspError(f"audio folder {where} does not exist")
        clips, reals, names = _file_clips(where, "**/*.wav", split, rate, length, min_samples)
        meta = {"origin": "folder", "path": str(where.resolve())}
    elif name in SOURCES:
        where = debian_folder(name, root)
        if name == "speech":
            clips, reals, names = _file_clips(where, PACKAGES[name][2], split, rate, length, min_samples,
                                              skip=("silence/",))
        else:
            clips, reals, names = _track_clips(where, split, rate, length)
        meta = {"origin": f"Debian {PACKAGES[name][0]}", "version": package_version_of(where, name),
                "path": str(where)}
    else:
        raise InspError(f"unknown audio source {name!r} (choose from {', '.join(SOURCES)}, or pass folder=DIR)")
    if not clips:
        raise InspError(f"split {split} of audio {meta['path']} is empty (no file of at least {min_seconds:g} s "
                        f"falls in it)")
    idx = select_range(len(clips), start, limit, f"audio {name} {split}")
    data = np.stack([clips[i] for i in idx]).astype(np.float32)
    if normalize:
        data /= np.abs(data).max(axis=1, keepdims=True).clip(min=1e-12)
    rule = ("tracks: first 70 % of each track's clips train, next 10 % val, last 20 % test" if name == "music"
            and folder is None else "phrase = path minus trailing -<digits>; sha256(phrase) in [0,.7) train, "
            "[.7,.8) val, [.8,1) test")
    meta.update(name=name if folder is None else "folder", split=split, count=len(clips), start=int(start),
                limit=limit, length=int(length), rate=int(rate), normalize=bool(normalize),
                min_seconds=float(min_seconds), rule=rule)
    return AudioSet(clips=data, lengths=np.asarray([reals[i] for i in idx], dtype=np.int64),
                    indices=np.asarray(idx, dtype=np.int64), names=[names[i] for i in idx], rate=int(rate), meta=meta)
