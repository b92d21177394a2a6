"""Integrity of the files insp reads back: safetensors bytes with a checksum (INR store shards, and the
checkpoints of ``training.py``: filters, classifiers), reading a shard without trusting it, the store manifest.

A safetensors file is 8 bytes little-endian header length ``L``, ``L`` bytes of JSON header, then the tensor
data. insp writes ``insp_sha256``, the sha256 of the data bytes (everything after the header), into its metadata
(``checksummed``) and compares it with ``data_sha256`` of the bytes it reads.
``read_shard_bytes`` checks ``L`` against the file size before reading anything (a flipped byte there once
asked for terabytes), parses the header, checks every tensor's dtype, shape and byte range, and hashes the
data when asked to.

``manifest.json`` beside ``store.json`` lists every finished shard (size, data sha256, header sha256, INR
count) and the index ranges fits planned, so a deleted shard or an unfinished store is noticed. Several
processes (sweep jobs, array-job parts) update it under an exclusive ``flock`` on ``.manifest.lock``:
read, change, write atomically, so no update is lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from safetensors.numpy import save

from ..errors import InspError
from ..files import TMP_MARK, atomic_write_json, describe_path

log = logging.getLogger("insp")
MANIFEST = "manifest.json"
LOCK = ".manifest.lock"
SHA_KEY = "insp_sha256"
MAX_HEADER = 100 << 20  # a shard header is a few kB; anything near this is damage, not data
DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
          "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_warned: set[str] = set()
STALE_SECONDS = 60  # a temporary file untouched this long whose writer is not running is debris


def data_sha256(blob: bytes) -> str:
    """The sha256 of a safetensors file's data bytes (everything after the 8-byte length and the header)."""
    return hashlib.sha256(memoryview(blob)[8 + int.from_bytes(blob[:8], "little"):]).hexdigest()


def checksummed(save_fn: Callable[..., bytes], tensors: dict, metadata: dict[str, str]) -> bytes:
    """The bytes of a safetensors file (``save_fn``: safetensors.numpy.save or safetensors.torch.save) whose
    metadata also holds the sha256 of its data bytes (``SHA_KEY``). The data section does not depend on the
    metadata, so the sum of a first serialisation is the sum of the second."""
    return save_fn(tensors, metadata={**metadata, SHA_KEY: data_sha256(save_fn(tensors, metadata=metadata))})


def shard_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A store shard: a safetensors file whose metadata also holds the sha256 of its data bytes (``SHA_KEY``)."""
    return checksummed(save, tensors, metadata)


def read_shard_bytes(path: Path, verify: str) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read one shard without trusting it: (metadata, arrays, facts). ``verify``: "full" also hashes the data
    (facts["sha256"]); "fast" checks sizes and headers only. facts: bytes, header_sha256, sha256 (or None)."""
    what = describe_path(path)
    if what != "is a file":
        raise InspError(f"shard {path} {what}")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise InspError(f"{path} is not a safetensors shard ({size} bytes)")
            hlen = int.from_bytes(f.read(8), "little")
            if hlen > min(size - 8, MAX_HEADER):
                raise InspError(f"{path} is corrupt or not a shard: its header length field says {hlen} bytes, "
                                f"the file has {size}")
            head_raw = f.read(hlen)
            # the data mapped, not read: the arrays below are views of the file's pages, which the kernel drops
            # when they are no longer used (a read copy was heap memory the process kept: ~3x a large store)
            data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))[8 + hlen:]
    except OSError as e:
        raise InspError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        head = json.loads(head_raw)
        meta = head.pop("__metadata__", None) or {}
        if not isinstance(head, dict) or not isinstance(meta, dict):
            raise ValueError("header is not an object")
    except (ValueError, UnicodeDecodeError):
        raise InspError(f"{path} is corrupt: the {hlen}-byte header its length field announces is not valid "
                        "JSON") from None
    arrays, end = {}, 0
    for name, spec in sorted(head.items(), key=lambda kv: _offsets(kv[1])[0] if isinstance(kv[1], dict) else 0):
        if not isinstance(spec, dict) or spec.get("dtype") not in DTYPES or not _shape_ok(spec.get("shape")):
            raise InspError(f"{path} is corrupt: tensor {name!r} has a broken entry in the header")
        a, b = _offsets(spec)
        dtype = np.dtype(DTYPES[spec["dtype"]])
        if a != end or b - a != int(np.prod(spec["shape"], dtype=np.int64)) * dtype.itemsize:
            raise InspError(f"{path} is corrupt: tensor {name!r} has a wrong byte range in the header")
        if b > len(data):
            raise InspError(f"{path} is truncated: its header describes at least {b} data bytes, the file holds "
                            f"{len(data)}")
        end = b
        arrays[name] = (np.frombuffer(data, dtype=dtype, count=(b - a) // dtype.itemsize, offset=a).reshape(
            spec["shape"]) if b > a else np.zeros(spec["shape"], dtype))
    if end != len(data):
        raise InspError(f"{path} is truncated or has trailing bytes: its header describes {end} data bytes, "
                        f"the file holds {len(data)}")
    facts = {"bytes": size, "header_sha256": hashlib.sha256(head_raw).hexdigest(),
             "sha256": hashlib.sha256(data).hexdigest() if verify == "full" else None}
    return meta, arrays, facts


def _offsets(spec: dict) -> tuple[int, int]:
    o = spec.get("data_offsets")
    if not (isinstance(o, list) and len(o) == 2 and all(isinstance(v, int) and v >= 0 for v in o) and o[0] <= o[1]):
        return (-1, -1)
    return o[0], o[1]


def _shape_ok(shape) -> bool:
    return isinstance(shape, list) and len(shape) <= 4 and all(isinstance(v, int) and v >= 0 for v in shape)


def check_tensors(arrays: dict[str, np.ndarray], num_params: int, path: Path, latent_dim: int | None = None) -> int:
    """The tensors an insp shard must hold, with their dtypes and shapes; returns n (INRs in the shard).
    ``latent_dim``: a compact store's shard (header ``compact``), which holds ``latents (n, d)`` instead of
    ``params (n, P)``."""
    name, width = ("params", num_params) if latent_dim is None else ("latents", latent_dim)
    p = arrays.get(name)
    if p is None:
        raise InspError(f"{path} is corrupt: it has no {name!r} tensor")
    if p.dtype != np.float32 or p.ndim != 2 or p.shape[1] != width:
        raise InspError(f"{path} is corrupt: {name} must be float32 (n, {width}) as the "
                        f"{'layout' if latent_dim is None else 'header'} says, not {p.dtype} {p.shape}")
    if latent_dim is not None and "params" in arrays:
        raise InspError(f"{path} is corrupt: a compact store's shard holds latents, not params")
    n = p.shape[0]
    want = {"indices": np.int64, "psnr": np.float32, "ok": np.uint8, "labels": np.int64}
    for name, dtype in want.items():
        a = arrays.get(name)
        if a is None and name == "labels":
            continue
        if a is None:
            raise InspError(f"{path} is corrupt: it has no {name!r} tensor")
        if a.dtype != dtype or a.shape != (n,):
            raise InspError(f"{path} is corrupt: {name} must be {np.dtype(dtype)} of shape ({n},) (one per INR), "
                            f"not {a.dtype} {a.shape}")
    return n


# ---- the manifest ----

def read_manifest(directory: Path) -> dict | None:
    """The manifest of a store directory, or None (a version-1 store, or a store being created)."""
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        m = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:
        raise InspError(f"{path} is unreadable or corrupt ({type(e).__name__})") from None
    if not (isinstance(m, dict) and isinstance(m.get("shards"), dict) and isinstance(m.get("planned"), list)):
        raise InspError(f"{path} is corrupt (not an insp store manifest)")
    return m


@contextlib.contextmanager
def locked_manifest(directory: Path) -> Iterator[dict]:
    """Read-change-write the manifest under an exclusive lock: ``with locked_manifest(d) as m: m[...] = ...``."""
    import fcntl

    try:
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise InspError(f"cannot write store {directory}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: last writer wins
            pass
        m = read_manifest(directory) or {"format": "insp-inr-store-manifest", "version": 1, "planned": [],
                                         "shards": {}}
        yield m
        atomic_write_json(directory / MANIFEST, m)
    finally:
        os.close(fd)  # releases the lock


def merge_ranges(ranges: list) -> list[list[int]]:
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in ranges if int(a) < int(b)):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def uncovered(planned: list, done: list) -> list[list[int]]:
    """Parts of the planned ranges that no finished shard covers."""
    gaps = merge_ranges(planned)
    for da, db in done:
        gaps = [g for ga, gb in gaps for g in ([ga, min(gb, da)], [max(ga, db), gb]) if g[0] < g[1]]
    return gaps


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("warning: %s", message)


def check_complete(directory: Path, manifest: dict | None, present: dict, version: int) -> None:
    """Recorded shards must exist (a deleted shard is an error); planned but unfitted ranges are a warning.
    Without a manifest: a store of format version 2 or later is damaged (it always has one once a shard exists);
    a version-1 store (which never had one) must have no gap between its shards' index ranges."""
    if manifest is None:
        if version >= 2 and present:
            raise InspError(f"store {directory} is damaged: its {MANIFEST} is missing (a store of format version "
                            f"{version} always has one; without it a deleted shard cannot be noticed); rerun the "
                            "`insp fit` command that made it to rebuild it (its good shards are kept)")
        ranges = list(present)  # sorted (start, stop)
        gaps = [(b, c) for (_, b), (c, _) in zip(ranges, ranges[1:]) if c > b]
        if gaps:
            raise InspError(f"store {directory} (format version {version}, no manifest) is missing the INRs "
                            f"{', '.join(f'[{a}, {b})' for a, b in gaps[:4])} between its shards (deleted or moved? "
                            "fit the dataset again into a new store)")
        return
    names = {p.name for p in present.values()}  # present: {(start, stop): path}
    gone = sorted(name for name in manifest["shards"] if name not in names)
    if gone:
        total = len(set(manifest["shards"]) | names)
        raise InspError(f"store {directory} holds {total - len(gone)} of {total} shards; missing: "
                        f"{', '.join(gone[:4])}{' ...' if len(gone) > 4 else ''} (deleted or moved? rerun the "
                        "`insp fit` command to refit them)")
    gaps = uncovered(manifest["planned"], list(present))
    if gaps:
        planned = sum(b - a for a, b in merge_ranges(manifest["planned"]))
        have = planned - sum(b - a for a, b in gaps)
        warn_once(f"gap:{directory}", f"store {directory} holds {have} of the {planned} INRs its fits planned; "
                   f"not fitted yet: {', '.join(f'[{a}, {b})' for a, b in gaps[:4])} (a fit was interrupted or is "
                   "still running: rerun it to finish)")


# ---- debris ----

def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Remove ``.NAME.tmp-PID`` files whose process is not running here and that nobody touched for
    STALE_SECONDS (a writer on another machine of a shared file system keeps its file fresh while it writes)."""
    removed = []
    for p in directory.iterdir():
        if not (p.name.startswith(".") and TMP_MARK in p.name):
            continue
        pid = p.name.rsplit(TMP_MARK, 1)[1]
        try:
            if not pid.isdigit() or _alive(int(pid)) or time.time() - p.stat().st_mtime < STALE_SECONDS:
                continue
            p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
