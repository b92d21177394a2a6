"""Audio clips for the 1-D INRs (paper App. F, Fig. 15): real speech and music that install offline.

Sources (``load_audio(name, ...)``), all 8 kHz mono 16-bit, CC-BY-SA-3.0 (see data/README.md):
- ``speech``: Debian ``asterisk-core-sounds-en-wav``, 568 English prompts by one speaker (Allison Smith);
  the ten files of ``silence/`` and clips shorter than ``min_seconds`` are left out. One clip per file.
- ``music``: Debian ``asterisk-moh-opsound-wav``, 5 tracks of 73-322 s, cut into consecutive clips.
- ``speakers``: Debian ``asterisk-core-sounds-{en,es,fr,it}-wav``, split by SPEAKER (``SPEAKER_SPLITS``): train =
  Allison Smith (en_US and es_MX, 1,102 prompts), val = June (fr_CA, 568), test = Carlo (it_IT, male, 606); no
  voice is in two splits. Clips ordered by the sha256 of their names (so ``limit`` takes a mix of both languages
  of the train speaker); ``silence/`` and clips shorter than ``min_seconds`` are left out.
- ``folder``: any folder of 16-bit mono WAV files at ``rate`` (searched recursively, sorted by path).
The Debian packages are used where installed (/usr/share/asterisk/...), else fetched once with
``apt-get download`` and unpacked with ``dpkg -x`` under ``root/debian/<package>/``.

Checks (files: speech, folder): the header of EVERY file is read first, whatever split it falls in; a file that
is not 16-bit PCM mono at ``rate`` (stereo, 8/24/32-bit, float, compressed, another rate) or is empty or
truncated (its header announces more samples than the file holds) is one InspError line naming it, or naming
all of them when there are several. Of the split's files, silent ones (every sample within one 16-bit step of
zero) are left out with a warning naming them, and so are files shorter than ``min_seconds`` of a folder; a
split with nothing left is one line saying why.

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
import logging
import os
import re
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from insp_cli.data.debian import place, unpacked_deb
from insp_cli.data.imageset import select_range
from insp_cli.errors import InspError
from insp_cli.files import atomic_write

log = logging.getLogger("insp")

DEFAULT_RATE = 8000
DEFAULT_LENGTH = 12000  # 1.5 s at 8 kHz: covers the median speech prompt (1.39 s)
SILENT_PEAK = 1 / 32768  # a file whose every sample is within one 16-bit step of zero is silent
SPLITS = ("train", "val", "test", "all")
FRACTIONS = {"train": (0.0, 0.7), "val": (0.7, 0.8), "test": (0.8, 1.0), "all": (0.0, 1.0)}
SOURCES = ("speech", "music", "speakers")

# name -> (Debian package, folder inside the package, glob)
PACKAGES = {
    "speech": ("asterisk-core-sounds-en-wav", "usr/share/asterisk/sounds/en_US_f_Allison", "**/*.wav"),
    "music": ("asterisk-moh-opsound-wav", "usr/share/asterisk/moh", "*.wav"),
    "speech-es": ("asterisk-core-sounds-es-wav", "usr/share/asterisk/sounds/es_MX_f_Allison", "**/*.wav"),
    "speech-fr": ("asterisk-core-sounds-fr-wav", "usr/share/asterisk/sounds/fr_CA_f_June", "**/*.wav"),
    "speech-it": ("asterisk-core-sounds-it-wav", "usr/share/asterisk/sounds/it_IT_m_Carlo", "**/*.wav"),
}
# source=speakers: split -> the packages of its speaker(s); one voice per package, no voice in two splits
SPEAKER_SPLITS = {"train": ("speech", "speech-es"), "val": ("speech-fr",), "test": ("speech-it",)}
SPEAKER_SPLITS["all"] = sum(SPEAKER_SPLITS.values(), ())


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


class WavHeader(NamedTuple):
    """What a WAV's header says: format tag, channels, rate, bits per sample; the data chunk's size in bytes as
    announced (``announced``) and as present in the file (``available``)."""

    tag: int
    channels: int
    rate: int
    bits: int
    announced: int
    available: int


def wav_header(path: Path) -> WavHeader:
    """The header of a WAV, read without its samples; InspError (one line) if it is not a readable WAV."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                raise InspError(f"{path} is not a WAV file (no RIFF/WAVE header)")
            endian = "<" if head[:4] == b"RIFF" else ">"
            fmt = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    raise InspError(f"{path} is not a readable WAV file (no fmt chunk)" if fmt is None else
                                    f"{path} is a truncated WAV file (no data chunk after its fmt chunk)")
                cid, length = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
                if cid == b"fmt ":
                    body = f.read(length)
                    if len(body) < 16:
                        raise InspError(f"{path} has a truncated WAV fmt chunk")
                    tag, channels, rate, _, _, bits = struct.unpack(endian + "HHIIHH", body[:16])
                    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag is in the GUID
                        tag = struct.unpack(endian + "H", body[24:26])[0]
                    fmt = (tag, channels, rate, bits)
                    f.seek(length & 1, os.SEEK_CUR)
                elif cid == b"data" and fmt is not None:
                    return WavHeader(*fmt, announced=length, available=max(0, size - f.tell()))
                else:
                    f.seek(length + (length & 1), os.SEEK_CUR)
    except OSError as e:
        raise InspError(f"cannot read {path}: {e.strerror}") from None


def wav_problem(h: WavHeader, rate: int) -> tuple[str, str] | None:
    """Why a WAV of header ``h`` cannot be read as 16-bit PCM mono at ``rate``: (short reason, the sentence that
    follows its path), or None when it can."""
    fix = f"convert it, e.g. `sox IN -b 16 -c 1 -r {rate} OUT.wav`"
    if h.tag == 3:
        return f"{h.bits}-bit float", f"holds {h.bits}-bit float samples; insp reads 16-bit PCM mono WAV ({fix})"
    if h.tag != 1:
        return (f"format {h.tag:#x}", f"is a WAV of format {h.tag:#x} (compressed?); insp reads 16-bit PCM mono "
                f"WAV ({fix})")
    if h.bits != 16:
        return f"{h.bits}-bit PCM", f"is {h.bits}-bit PCM; insp reads 16-bit PCM mono WAV ({fix})"
    if h.channels != 1:
        return f"{h.channels} channels", f"has {h.channels} channels (stereo?); insp reads mono WAV ({fix})"
    if h.rate != rate:
        return (f"{h.rate} Hz", f"is sampled at {h.rate} Hz, not the {rate} Hz asked for (pass rate={h.rate}, "
                f"or {fix})")
    if h.announced == 0:
        return "empty", "is an empty WAV (no samples)"
    if h.announced == 0xFFFFFFFF:
        return ("data size unset", "leaves its data size unset in the header (0xFFFFFFFF: written as a stream?); "
                "rewrite it as a complete WAV")
    if h.available < h.announced:
        return (f"truncated: {h.available // 2} of {h.announced // 2} samples",
                f"is truncated: its header announces {h.announced // 2} samples but the file holds "
                f"{h.available // 2}; export it again")
    return None


def read_wav(path: str | Path, rate: int = DEFAULT_RATE) -> np.ndarray:
    """A 16-bit PCM mono WAV at ``rate`` -> (T,) float32 = int16 / 32768; one InspError line for anything else
    (``wav_problem``: another format, rate or channel count, an empty or truncated file)."""
    import warnings

    from scipy.io import wavfile

    path = Path(path)
    problem = wav_problem(wav_header(path), rate)
    if problem is not None:
        raise InspError(f"{path} {problem[1]}")
    try:
        with warnings.catch_warnings():  # scipy's WavFileWarning (unknown chunks): the header is checked above
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            _, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as e:
        raise InspError(f"cannot read WAV {path}: {e}".replace("\n", " ")) from None
    if data.size == 0:
        raise InspError(f"{path} is an empty WAV (no samples)")
    return (data.reshape(-1).astype(np.float32) / 32768.0)


def check_wavs(files: list[Path], rel: list[str], folder: Path, rate: int) -> None:
    """Every file's header, whatever split it falls in: one InspError line naming the files that cannot be read
    as 16-bit PCM mono at ``rate`` (the whole sentence when it is one file)."""
    bad = []
    for path, r in zip(files, rel):
        try:
            problem = wav_problem(wav_header(path), rate)
        except InspError as e:  # not a WAV, no fmt chunk, unreadable
            short = re.sub(r"^(is|has) ", "", str(e).replace(f" {path}", "").replace(f"{path} ", ""))
            problem = (short, str(e))
        if problem is not None:
            bad.append((path, r, problem))
    if len(bad) == 1:
        path, _, (_, sentence) = bad[0]
        raise InspError(sentence if sentence.startswith(str(path)) else f"{path} {sentence}")
    if bad:
        listed = ", ".join(f"{r} ({short})" for _, r, (short, _) in bad[:8]) + (
            f" and {len(bad) - 8} more" if len(bad) > 8 else "")
        raise InspError(f"{len(bad)} of the {len(files)} WAV files in {folder} cannot be read (every file is "
                        f"checked, whatever its split): {listed}; insp reads 16-bit PCM mono WAV at {rate} Hz: "
                        f"convert them (e.g. `sox IN -b 16 -c 1 -r {rate} OUT.wav`) or move them out")


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
        place(tree, target)  # appears complete or not at all
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
                skip: tuple[str, ...] = (), report_short: bool = True
                ) -> tuple[list[np.ndarray], list[int], list[str]]:
    """The clips of the files of a split (by phrase). Every file's header is checked first, whatever its split
    (``check_wavs``); silent files of the split are left out with a warning naming them, and so are files shorter
    than ``min_samples`` when ``report_short``; a split left empty is one InspError line saying why."""
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))
    rel = [p.relative_to(folder).as_posix() for p in files]
    if not files:
        raise InspError(f"no .wav files in {folder}")
    kept = [(p, r) for p, r in zip(files, rel) if not r.startswith(skip)]
    check_wavs([p for p, _ in kept], [r for _, r in kept], folder, rate)
    clips, reals, names, silent, short, in_split = [], [], [], [], [], 0
    for path, r in kept:
        if split != "all" and phrase_split(phrase_of(r)) != split:
            continue
        in_split += 1
        signal = read_wav(path, rate)
        if np.abs(signal).max() <= SILENT_PEAK:
            silent.append(r)
            continue
        if len(signal) < min_samples:
            short.append(r)
            continue
        clip, real = fit_length(signal, length)
        clips.append(clip)
        reals.append(real)
        names.append(r.rsplit(".", 1)[0])
    seconds = f"{min_samples / rate:g} s"
    if not clips:
        why = "; ".join(w for w in (
            f"{len(silent)} silent: {_listed(silent)}" if silent else "",
            f"{len(short)} shorter than min_seconds={seconds}: {_listed(short)}" if short else "") if w)
        raise InspError(f"split {split} of audio {folder} is empty: " + (
            f"all {in_split} of its file(s) are left out ({why})" if in_split else
            f"none of the {len(kept)} files falls in it (files are split by phrase: sha256 of the name)"))
    if silent:
        log.warning("warning: left out %d silent WAV file(s) of %s (every sample within one 16-bit step of zero): "
                    "%s", len(silent), folder, _listed(silent))
    if short and report_short:
        log.warning("warning: left out %d WAV file(s) of %s shorter than min_seconds=%s: %s", len(short), folder,
                    seconds, _listed(short))
    return clips, reals, names


def _listed(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


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


def _speaker_clips(split: str, rate: int, length: int, min_samples: int, root: Path):
    """source=speakers: every file of the packages of the split's speaker(s) (``SPEAKER_SPLITS``), named
    ``<voice folder>/<path>`` and ordered by the sha256 of that name. Returns (clips, reals, names, meta)."""
    rows, versions, paths = [], {}, []
    for pkg in SPEAKER_SPLITS[split]:
        where = debian_folder(pkg, root)
        c, r, n = _file_clips(where, PACKAGES[pkg][2], "all", rate, length, min_samples, skip=("silence/",),
                              report_short=False)
        rows += [(f"{where.name}/{a}", x, b) for x, b, a in zip(c, r, n)]
        versions[PACKAGES[pkg][0]] = package_version_of(where, pkg)
        paths.append(str(where))
    rows.sort(key=lambda row: hashlib.sha256(row[0].encode()).digest())
    meta = {"origin": "Debian " + ", ".join(versions), "version": versions, "path": paths,
            "speakers": sorted({n.split("/", 1)[0] for n, _, _ in rows})}
    return [x for _, x, _ in rows], [b for _, _, b in rows], [n for n, _, _ in rows], meta


def load_audio(name: str = "speech", split: str = "train", start: int = 0, limit: int | None = None,
               length: int = DEFAULT_LENGTH, rate: int = DEFAULT_RATE, root: str | Path = "data",
               folder: str | Path | None = None, normalize: bool = True, min_seconds: float = 0.5) -> AudioSet:
    """Clips ``start .. start+limit-1`` of a split as float32 (N, length).

    name: speech | music | speakers (Debian packages), ignored when ``folder`` is given. split: train | val |
    test | all (speakers: by speaker).
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
    elif name == "speakers":
        clips, reals, names, meta = _speaker_clips(split, rate, length, min_samples, root)
    elif name in SOURCES:
        where = debian_folder(name, root)
        if name == "speech":
            clips, reals, names = _file_clips(where, PACKAGES[name][2], split, rate, length, min_samples,
                                              skip=("silence/",), report_short=False)
        else:
            clips, reals, names = _track_clips(where, split, rate, length)
        meta = {"origin": f"Debian {PACKAGES[name][0]}", "version": package_version_of(where, name),
                "path": str(where)}
    else:
        raise InspError(f"unknown audio source {name!r} (choose from {', '.join(SOURCES)}, or pass folder=DIR)")
    if not clips:  # music: tracks too short for a clip in this split (files: _file_clips says why)
        raise InspError(f"split {split} of audio {meta['path']} is empty: its tracks are too short to give a "
                        f"{split} clip of length={length} samples")
    idx = select_range(len(clips), start, limit, f"audio {name} {split}")
    data = np.stack([clips[i] for i in idx]).astype(np.float32)
    if normalize:
        data /= np.abs(data).max(axis=1, keepdims=True).clip(min=1e-12)
    rule = ("tracks: first 70 % of each track's clips train, next 10 % val, last 20 % test" if name == "music"
            and folder is None else "by speaker: train Allison (en_US, es_MX), val June (fr_CA), test Carlo "
            "(it_IT); clips ordered by sha256 of their names" if name == "speakers" and folder is None else
            "phrase = path minus trailing -<digits>; sha256(phrase) in [0,.7) train, [.7,.8) val, [.8,1) test")
    meta.update(name=name if folder is None else "folder", split=split, count=len(clips), start=int(start),
                limit=limit, length=int(length), rate=int(rate), normalize=bool(normalize),
                min_seconds=float(min_seconds), rule=rule)
    return AudioSet(clips=data, lengths=np.asarray([reals[i] for i in idx], dtype=np.int64),
                    indices=np.asarray(idx, dtype=np.int64), names=[names[i] for i in idx], rate=int(rate), meta=meta)
