"""The INR store: many fitted INRs in sharded safetensors files with their metadata.

A store is a directory::

    store.json                          format, version, architecture, what was fitted and how
    shard-0000000-0000256.safetensors   INRs with source indices [0, 256)
    shard-0000256-0000512.safetensors   ...

Every shard is self-describing (its safetensors metadata repeats store.json), holds the tensors
``params (n, P) float32``, ``indices (n,) int64``, ``psnr (n,) float32``, ``ok (n,) uint8`` and, when the
source has them, ``labels (n,) int64``, and is written under a temporary name and renamed when complete, so
a shard that exists is finished. See docs/store.md for decoding an INR with numpy alone.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from ..errors import InspError
from .fit import decode_pixels
from .siren import SirenSpec, grid_coords, siren_forward

FORMAT = "insp-inr-store"
VERSION = 1
SHARD_RE = re.compile(r"^shard-(\d+)-(\d+)\.safetensors$")


def shard_name(start: int, stop: int) -> str:
    return f"shard-{start:07d}-{stop:07d}.safetensors"


@dataclass
class StoreHeader:
    """What every shard of a store shares: the architecture and how the INRs came to be."""

    spec: SirenSpec
    source: dict  # dataset name, split, size, channels, origin...
    degradation: dict  # kind + parameters applied before fitting ({"kind": "clean"} for none)
    fit: dict  # fit settings and seed
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "architecture": self.spec.to_dict(),
                "layout": [[n, list(s), o] for n, s, o in self.spec.layout],
                "output": {"range": [-1, 1], "pixel": "clamp(0.5 * value + 0.5, 0, 1)",
                           "coords": "x = column, y = row, pixel centres linspace(-1, 1, side)"},
                "source": self.source, "degradation": self.degradation, "fit": self.fit, "extra": self.extra}

    @classmethod
    def from_json(cls, d: dict, where: str) -> "StoreHeader":
        if d.get("format") != FORMAT:
            raise InspError(f"{where} is not an insp INR store (format {d.get('format')!r})")
        if int(d.get("version", 0)) > VERSION:
            raise InspError(f"{where} was written by a newer insp (store format version {d['version']}; "
                            f"this insp reads up to {VERSION}): upgrade insp")
        try:
            spec = SirenSpec.from_dict(d["architecture"])
        except (KeyError, TypeError, ValueError) as e:
            raise InspError(f"{where}: unsupported or broken INR architecture ({e})") from None
        return cls(spec=spec, source=d.get("source", {}), degradation=d.get("degradation", {}),
                   fit=d.get("fit", {}), extra=d.get("extra", {}))

    def same_kind(self, other: "StoreHeader") -> str | None:
        """None if two headers describe INRs of one dataset, else what differs."""
        a, b = self.to_json(), other.to_json()
        for key in ("architecture", "source", "degradation", "fit"):
            if a[key] != b[key]:
                diff = {k for k in set(a[key]) | set(b[key]) if a[key].get(k) != b[key].get(k)}
                return f"{key} differs ({', '.join(sorted(diff))})"
        return None


def _create_json_once(path: Path, obj: dict) -> bool:
    """Write ``path`` complete and only if it does not exist yet (False: another process was first).
    os.link is atomic and exclusive, so of several jobs of a sweep creating one store exactly one header wins
    and every other job compares itself against it instead of overwriting it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: last writer wins, as before
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _is_temporary(p: Path) -> bool:
    """A file another process is still writing (``.NAME.tmp-PID``, renamed when complete)."""
    return p.name.startswith(".") and ".tmp-" in p.name


def prepare_store(directory: str | Path, header: StoreHeader) -> Path:
    """Create a store directory, or check that an existing one holds INRs of the same kind (resume).
    Safe when several processes (the jobs of a sweep) prepare the same directory at once."""
    directory = Path(directory)
    manifest = directory / "store.json"
    if not manifest.exists():
        strangers = [p for p in directory.iterdir() if not _is_temporary(p)] if directory.is_dir() else []
        if strangers and not manifest.exists():  # re-check: another job may have created it meanwhile
            raise InspError(f"{directory} exists and is not an INR store; pass another store=PATH")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if _create_json_once(manifest, header.to_json()):
                return directory
        except OSError as e:
            raise InspError(f"cannot create store {directory}: {e.strerror}") from None
    old = read_header(directory)
    why = old.same_kind(header)
    if why:
        raise InspError(f"store {directory} already holds other INRs: {why}; "
                        "pass another store=PATH or remove it")
    return directory


def read_header(directory: str | Path) -> StoreHeader:
    manifest = Path(directory) / "store.json"
    if not manifest.exists():
        raise InspError(f"{directory} is not an INR store (no store.json); fit one with `insp fit`")
    try:
        d = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InspError(f"{manifest} is unreadable or corrupt ({e})") from None
    return StoreHeader.from_json(d, str(directory))


def finished_shards(directory: str | Path) -> dict[tuple[int, int], Path]:
    """{(start, stop): path} of the complete shards in a store directory."""
    out = {}
    for p in Path(directory).glob("shard-*.safetensors"):
        m = SHARD_RE.match(p.name)
        if m:
            out[(int(m.group(1)), int(m.group(2)))] = p
    return dict(sorted(out.items()))


def write_shard(directory: str | Path, header: StoreHeader, start: int, stop: int, params: torch.Tensor,
                indices: np.ndarray, psnr: np.ndarray, ok: np.ndarray, labels: np.ndarray | None = None) -> Path:
    """Write one shard atomically: params (n, P), indices/psnr/ok/labels (n,)."""
    n = params.shape[0]
    if not (len(indices) == len(psnr) == len(ok) == n) or (labels is not None and len(labels) != n):
        raise ValueError("shard arrays must all have one row per INR")
    tensors = {"params": params.detach().cpu().float().numpy(), "indices": np.asarray(indices, np.int64),
               "psnr": np.asarray(psnr, np.float32), "ok": np.asarray(ok, np.uint8)}
    if labels is not None:
        tensors["labels"] = np.asarray(labels, np.int64)
    meta = {"insp": json.dumps({**header.to_json(), "start": start, "stop": stop}, sort_keys=True)}
    path = Path(directory) / shard_name(start, stop)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InspError(f"cannot write {path}: {e.strerror}") from None
    return path


def _read_shard(path: Path, expected: StoreHeader | None) -> tuple[StoreHeader, dict[str, np.ndarray]]:
    try:
        with open(path, "rb") as f:
            hlen = int.from_bytes(f.read(8), "little")
            head = json.loads(f.read(hlen))
        meta = json.loads(head.get("__metadata__", {}).get("insp", "null"))
        if meta is None:
            raise InspError(f"{path} is not an insp shard (no insp metadata)")
        header = StoreHeader.from_json(meta, str(path))
        arrays = load_file(str(path))
    except InspError:
        raise
    except (OSError, ValueError, SafetensorError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InspError(f"{path} is corrupt or truncated ({type(e).__name__})") from None
    if expected is not None:
        why = expected.same_kind(header)
        if why:
            raise InspError(f"{path} does not belong with the other shards: {why}")
    n = arrays.get("params", np.zeros((0, 0))).shape[0]
    if "params" not in arrays or arrays["params"].shape[1] != header.spec.num_params or any(
            len(arrays[k]) != n for k in ("indices", "psnr", "ok")):
        raise InspError(f"{path} is corrupt (inconsistent tensors)")
    return header, arrays


class INRStore:
    """A dataset of fitted INRs, opened from one or more store directories (or shard files).

    Attributes: ``spec``, ``header``, ``params (N, P)``, ``indices (N,)``, ``psnr (N,)``, ``ok (N,)``,
    ``labels (N,) | None``, all ordered by source index. Shards from several directories (parts fitted by
    different processes or machines) merge into one dataset; overlapping index ranges are an error.
    """

    def __init__(self, header: StoreHeader, arrays: dict[str, np.ndarray], paths: list[Path]):
        self.header, self.spec, self.paths = header, header.spec, paths
        order = np.argsort(arrays["indices"], kind="stable")
        self.indices = arrays["indices"][order]
        self.params = torch.from_numpy(arrays["params"][order])
        self.psnr = arrays["psnr"][order]
        self.ok = arrays["ok"][order].astype(bool)
        self.labels = arrays["labels"][order] if "labels" in arrays else None

    @classmethod
    def open(cls, paths: str | Path | list, only_ok: bool = True) -> "INRStore":
        paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
        files: list[Path] = []
        header: StoreHeader | None = None
        for p in paths:
            if p.is_dir():
                hdr = read_header(p)
                header = header or hdr
                why = header.same_kind(hdr)
                if why:
                    raise InspError(f"{p} cannot be opened with {paths[0]}: {why}")
                files += list(finished_shards(p).values())
            elif p.is_file():
                files.append(p)
            else:
                raise InspError(f"INR store {p} does not exist; fit one with `insp fit store={p}`")
        if not files:
            raise InspError(f"INR store {', '.join(map(str, paths))} holds no finished shards")
        parts = []
        for f in files:
            hdr, arrays = _read_shard(f, header)
            header = header or hdr
            parts.append(arrays)
        keys = set.intersection(*(set(a) for a in parts))
        merged = {k: np.concatenate([a[k] for a in parts]) for k in keys}
        if len(np.unique(merged["indices"])) != len(merged["indices"]):
            raise InspError(f"shards of {', '.join(map(str, paths))} overlap (an index appears twice)")
        store = cls(header, merged, files)
        if only_ok and not store.ok.all():
            store = store.subset(np.nonzero(store.ok)[0])
        return store

    def __len__(self) -> int:
        return len(self.indices)

    def subset(self, rows) -> "INRStore":
        rows = np.asarray(rows)
        arrays = {"indices": self.indices[rows], "params": self.params.numpy()[rows], "psnr": self.psnr[rows],
                  "ok": self.ok[rows].astype(np.uint8)}
        if self.labels is not None:
            arrays["labels"] = self.labels[rows]
        return INRStore(self.header, arrays, self.paths)

    @property
    def size(self) -> tuple[int, int] | None:
        """(H, W) of the images the INRs were fitted to, if known."""
        s = self.header.source.get("size")
        return None if s is None else (int(s[0]), int(s[1])) if isinstance(s, (list, tuple)) else (int(s), int(s))

    def evaluate(self, coords: torch.Tensor, rows=None, device="cpu", chunk: int = 65536) -> torch.Tensor:
        """Raw INR values at any coordinates: coords (Q, m) -> (n, Q, c)."""
        params = self.params if rows is None else self.params[torch.as_tensor(np.asarray(rows))]
        params = params.to(device)
        coords = coords.to(device=device, dtype=params.dtype)
        with torch.no_grad():
            return torch.cat([siren_forward(self.spec, params, coords[a:a + chunk])
                              for a in range(0, coords.shape[0], chunk)], dim=1)

    def decode(self, size: int | tuple[int, int] | None = None, rows=None, device="cpu") -> torch.Tensor:
        """Images decoded at any resolution: (n, H, W, c) pixels in [0, 1]."""
        size = size or self.size
        if size is None:
            raise InspError("this store does not record its image size; pass a size to decode")
        h, w = (size, size) if isinstance(size, int) else size
        vals = self.evaluate(grid_coords((h, w)), rows=rows, device=device)
        return decode_pixels(vals).reshape(vals.shape[0], h, w, -1).cpu()
