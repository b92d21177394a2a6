"""The INR store: many fitted INRs in sharded safetensors files with their metadata.

A store is a directory::

    store.json                          format, version, architecture, what was fitted and how
    shard-0000000-0000256.safetensors   INRs with source indices [0, 256)
    shard-0000256-0000512.safetensors   ...

Every shard is self-describing (its safetensors metadata repeats store.json), holds the tensors
``params (n, P) float32``, ``indices (n,) int64``, ``psnr (n,) float32``, ``ok (n,) uint8`` and, when the
source has them, ``labels (n,) int64``, and is written under a temporary name and renamed when complete, so
a shard that exists is finished. A compact functa store (format version 3, header ``compact``) holds
``latents (n, d) float32`` instead of ``params`` and the shared tensors once, in one more checksummed file
(``functa.safetensors``: base (P,), w_mod (d, S), b_mod (S,), lrs (d,)); ``params`` are then expanded from the
latents on read (``Functa.expand``), only for the rows asked for (``params_at``). Since format version 2 every
shard carries the sha256 of its data and ``manifest.json`` lists the finished shards and the planned index
ranges (integrity.py); opening a store verifies all of it (``verify="full"``, or ``"fast"``: sizes and headers
only; env ``INSP_STORE_VERIFY``).
See docs/store.md for the format and for decoding an INR with numpy alone.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..errors import InspError
from ..files import atomic_write, describe_path
from .backbones import forward
from .fit import decode_pixels
from .integrity import (SHA_KEY, check_complete, check_tensors, locked_manifest, merge_ranges, read_manifest,
                        read_shard_bytes, remove_stale_temporaries, shard_bytes, warn_once)
from .meta import Functa, hidden_bias_slots
from .meta_file import tensors_sha256
from .siren import grid_coords
from .store_format import (FORMAT, SHARD_RE, VERIFY_MODES, VERSION, StoreHeader, finished_shards,  # noqa: F401
                           prepare_store, read_header, shard_name)

log = logging.getLogger("insp")
SHARED_FILE = "functa.safetensors"  # a compact functa store's shared tensors (header compact.file)
SHARED_TENSORS = ("base", "w_mod", "b_mod", "lrs")  # as named in insp meta-learn's file: same tensors, same sha256
EXPAND_ROWS = 4096  # latents expanded to parameters this many rows at a time (~37 MB for MNIST's 2,241)


def write_shard(directory: str | Path, header: StoreHeader, start: int, stop: int, params: torch.Tensor | None,
                indices: np.ndarray, psnr: np.ndarray, ok: np.ndarray, labels: np.ndarray | None = None,
                extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write one shard atomically (fsync, mode 0644, with its data checksum) and record it in the manifest:
    params (n, P), indices/psnr/ok/labels (n,); ``extra``: further per-INR tensors (n, ...), e.g. functa
    ``latents`` (n, d). A compact store (``header.compact``) takes params=None and extra latents (n, d)."""
    n = len(indices)
    if header.compact is not None:
        z = (extra or {}).get("latents")
        if params is not None or z is None or z.shape != (n, header.compact["latent_dim"]):
            raise ValueError(f"a compact store's shard holds latents (n, {header.compact['latent_dim']}), "
                             "not params")
    elif params is None or params.shape[0] != n:
        raise ValueError("a store's shard holds params (n, P)")
    if not (len(psnr) == len(ok) == n) or (labels is not None and len(labels) != n):
        raise ValueError("shard arrays must all have one row per INR")
    tensors = {"indices": np.asarray(indices, np.int64), "psnr": np.asarray(psnr, np.float32),
               "ok": np.asarray(ok, np.uint8)}
    if params is not None:
        tensors["params"] = params.detach().cpu().float().numpy()
    if labels is not None:
        tensors["labels"] = np.asarray(labels, np.int64)
    for name, a in (extra or {}).items():
        if name in tensors or len(a) != n:
            raise ValueError(f"extra shard tensor {name!r} must be new and have one row per INR")
        tensors[name] = np.ascontiguousarray(a, np.float32 if name == "latents" else None)
    meta = {"insp": json.dumps({**header.to_json(), "start": start, "stop": stop}, sort_keys=True)}
    path = Path(directory) / shard_name(start, stop)
    data = shard_bytes(tensors, meta)
    atomic_write(path, data)  # ENOSPC -> "no space left on device: PATH", and no partial file
    _, _, facts = read_shard_bytes(path, "full")
    _record(Path(directory), path, facts, start, stop, n)
    return path


def _record(directory: Path, path: Path, facts: dict, start: int, stop: int, n: int) -> None:
    with locked_manifest(directory) as m:
        m["shards"][path.name] = {"start": start, "stop": stop, "count": n, "bytes": facts["bytes"],
                                  "sha256": facts["sha256"], "header_sha256": facts["header_sha256"]}


def write_shared(directory: str | Path, header: StoreHeader, functa: Functa) -> Path:
    """A compact store's shared tensors (``header.compact``): kept when present and sound, written when missing
    (atomically, checksummed like a shard, recorded in the manifest under ``shared``), moved aside
    (``NAME.bad-<time>``, one warning line) and written again when damaged. Its sha256 is the header's (the
    initialisation file's), so a rewrite restores the very tensors the latents were fitted with. Under the
    manifest lock: the jobs of a sweep fitting one store write it once."""
    directory, c = Path(directory), header.compact
    tensors = {k: getattr(functa, k).detach().cpu().float().contiguous() for k in SHARED_TENSORS}
    if tensors_sha256(tensors) != c["sha256"] or functa.latent_dim != c["latent_dim"]:
        raise InspError(f"the functa tensors to share do not match store {directory}'s header (sha256 "
                        f"{c['sha256'][:12]}, latent_dim {c['latent_dim']})")
    path = directory / c["file"]
    with locked_manifest(directory) as m:
        entry = m.setdefault("shared", {}).get(path.name)
        if path.exists():
            try:
                _read_shared(path, header, "full", entry)
                return path
            except InspError as e:
                aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
                os.replace(path, aside)
                log.warning("warning: %s; moved it aside to %s and writing it again", e, aside.name)
        meta = {"insp": json.dumps({"format": FORMAT, "kind": c["kind"], "sha256": c["sha256"],
                                    "init": header.fit.get("init")}, sort_keys=True)}
        atomic_write(path, shard_bytes({k: t.numpy() for k, t in tensors.items()}, meta))
        _, _, facts = read_shard_bytes(path, "full")
        m["shared"][path.name] = {k: facts[k] for k in ("bytes", "sha256", "header_sha256")}
    return path


def _read_shared(path: Path, header: StoreHeader, verify: str, entry: dict | None) -> Functa:
    """Open a compact store's shared tensors, checked as a shard is (size, header, data sha256 against the
    manifest and its own metadata) and against the header: their sha256 must be ``compact.sha256``."""
    remedy = ("rerun the `insp fit` command that made it (its fit.init file) to write it again, or fit into a "
              "new store")
    where = f"store {path.parent} is damaged: its shared functa tensors {path.name}"
    if describe_path(path) == "does not exist":
        raise InspError(f"{where} are missing (without them its latents are not INRs); {remedy}")
    try:
        meta, arrays, facts = read_shard_bytes(path, verify)
        _check_sums(path, meta, facts, entry, header.version, remedy="")
    except InspError as e:  # "PATH is damaged: why" -> "store DIR's shared functa tensors NAME is damaged: why"
        raise InspError(f"store {path.parent}'s shared functa tensors {path.name} "
                        f"{str(e).removeprefix(f'{path} ')}; {remedy}") from None
    spec, d = header.spec, header.compact["latent_dim"]
    s = hidden_bias_slots(spec).numel()
    want = {"base": (spec.num_params,), "w_mod": (d, s), "b_mod": (s,), "lrs": (d,)}
    got = {k: (str(a.dtype), tuple(a.shape)) for k, a in arrays.items()}
    if got != {k: ("float32", v) for k, v in want.items()}:
        raise InspError(f"{where} hold {got}, not float32 {want}; {remedy}")
    tensors = {k: torch.from_numpy(np.array(arrays[k])) for k in SHARED_TENSORS}  # copies: ~P + d S floats
    if tensors_sha256(tensors) != header.compact["sha256"]:
        raise InspError(f"{where} are not the ones its header records (sha256 {header.compact['sha256'][:12]}); "
                        f"{remedy}")
    return Functa(spec, **tensors)


def _check_sums(path: Path, meta: dict, facts: dict, entry: dict | None, version: int,
                remedy: str = "; refit it (rerun the `insp fit` command: damaged shards are moved aside)") -> None:
    """A file's size, header sha256 and data sha256 against the manifest ``entry`` and its own metadata."""
    recorded = (entry or {}).get("sha256") or meta.get(SHA_KEY)
    if entry and entry.get("bytes") != facts["bytes"]:
        raise InspError(f"{path} is damaged: {facts['bytes']} bytes, the manifest recorded {entry.get('bytes')}")
    if entry and entry.get("header_sha256") not in (None, facts["header_sha256"]):
        raise InspError(f"{path} is damaged: its header does not match the manifest's checksum")
    if recorded is None and version >= 2:
        raise InspError(f"{path} is damaged: it carries no checksum although its format (version "
                        f"{version}) has one")
    if facts["sha256"] is not None and recorded is not None and facts["sha256"] != recorded:
        raise InspError(f"{path} is damaged: the sha256 of its data does not match the one recorded when it was "
                        f"written{remedy}")


def plan_range(directory: str | Path, start: int, stop: int) -> None:
    """Record that a fit means to fill [start, stop): the store then knows how many INRs it should hold."""
    with locked_manifest(Path(directory)) as m:
        m["planned"] = merge_ranges(m["planned"] + [[start, stop]])


def _verify_mode(verify: str | None) -> str:
    mode = verify or os.environ.get("INSP_STORE_VERIFY") or "full"
    if mode not in VERIFY_MODES:
        raise InspError(f"store verification {mode!r} is not one of {', '.join(VERIFY_MODES)} (INSP_STORE_VERIFY)")
    return mode


def _read_shard(path: Path, expected: StoreHeader | None, verify: str = "full",
                entry: dict | None = None) -> tuple[StoreHeader, dict[str, np.ndarray]]:
    """Open one shard, checking its bytes against its own checksum and the manifest ``entry`` (if any)."""
    meta, arrays, facts = read_shard_bytes(path, verify)
    try:
        info = json.loads(meta["insp"])
    except (KeyError, TypeError, ValueError):
        raise InspError(f"{path} is not an insp shard (no insp metadata)") from None
    header = StoreHeader.from_json(info, str(path))
    if expected is not None:
        why = expected.same_kind(header)
        if why:
            raise InspError(f"{path} does not belong with the other shards: {why}")
    n = check_tensors(arrays, header.spec.num_params, path,
                      None if header.compact is None else header.compact["latent_dim"])
    named = SHARD_RE.match(path.name)
    if entry is None and named and n != int(named.group(2)) - int(named.group(1)):
        raise InspError(f"{path} is damaged: its name says INRs [{int(named.group(1))}, {int(named.group(2))}), "
                        f"it holds {n}")
    _check_sums(path, meta, facts, entry, header.version)
    if (entry or {}).get("sha256") is None and meta.get(SHA_KEY) is None:
        warn_once(str(path.parent), f"store {path.parent} has format version {header.version}: its shards carry no "
                                     "checksums and it has no manifest, so damage inside a shard or a deleted first "
                                     "or last shard cannot be detected (fit it again to add them)")
    return header, arrays


def verify_for_resume(directory: str | Path, header: StoreHeader, start: int, stop: int) -> list[Path]:
    """Before a fit counts shards of [start, stop) as done: remove stale temporary files of dead processes and
    move every shard that fails verification aside (``NAME.bad-<time>``, one warning line each) so that it is
    refitted. Unrecorded good shards (a crash between rename and manifest update) are recorded. Returns the
    shards moved aside."""
    directory = Path(directory)
    for p in remove_stale_temporaries(directory):
        log.info("removed %s (a temporary file of a process that is no longer running)", p)
    manifest = read_manifest(directory) or {"shards": {}}
    moved = []
    for (a, b), path in finished_shards(directory).items():
        if b <= start or a >= stop:
            continue
        entry = manifest["shards"].get(path.name)
        try:
            _, arrays = _read_shard(path, header, "full", entry)
        except InspError as e:
            aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(path, aside)
            except FileNotFoundError:  # another process moved it first
                continue
            with locked_manifest(directory) as m:
                m["shards"].pop(path.name, None)
            log.warning("warning: %s; moved it aside to %s and fitting it again", e, aside.name)
            moved.append(aside)
            continue
        if entry is None and read_manifest(directory) is not None:
            _, _, facts = read_shard_bytes(path, "full")
            _record(directory, path, facts, a, b, len(arrays["indices"]))
    return moved


class INRStore:
    """A dataset of fitted INRs, opened from one or more store directories (or shard files).

    Attributes: ``spec``, ``header``, ``params (N, P)``, ``indices (N,)``, ``psnr (N,)``, ``ok (N,)``,
    ``labels (N,) | None``, ``latents (N, d) | None`` (functa stores), all ordered by source index. Shards from
    several directories (parts fitted by different processes or machines) merge into one dataset; overlapping
    index ranges are an error. ``params_at(rows)`` gives the parameters of some rows; in a compact functa
    store (``functa`` set) it expands only their latents, and ``params`` expands all of them once, when first
    read.
    """

    def __init__(self, header: StoreHeader, arrays: dict[str, np.ndarray], paths: list[Path],
                 functa: Functa | None = None):
        self.header, self.spec, self.paths, self.functa = header, header.spec, paths, functa
        idx = arrays["indices"]
        # in source order; already so (shards read in order) = no copy of the (N, P) parameters
        order = slice(None) if np.all(idx[1:] > idx[:-1]) else np.argsort(idx, kind="stable")
        self.indices = idx[order]
        self._params = (None if functa is not None
                        else torch.from_numpy(np.require(arrays["params"][order], requirements="W")))
        self.psnr = arrays["psnr"][order]
        self.ok = arrays["ok"][order].astype(bool)
        self.labels = arrays["labels"][order] if "labels" in arrays else None
        self.latents = arrays["latents"][order] if "latents" in arrays else None  # functa stores (docs/meta.md)

    @property
    def params(self) -> torch.Tensor:
        """The parameters of every INR (N, P) float32; a compact store's are expanded once, when first read."""
        if self._params is None:
            self._params = self._expand(self.latents)
        return self._params

    def params_at(self, rows) -> torch.Tensor:
        """The parameters (n, P) of ``rows`` (a slice, or positions: a list, an array or a tensor); a compact
        store expands those rows' latents alone, so readers that go through a store in chunks never hold
        all of them."""
        if self._params is not None or self.functa is None:
            return self.params[rows if isinstance(rows, slice) else torch.as_tensor(np.asarray(rows))]
        return self._expand(self.latents[rows if isinstance(rows, slice) else np.asarray(rows)])

    def _expand(self, latents: np.ndarray) -> torch.Tensor:
        """latents (n, d) -> SIREN parameters (n, P) by ``Functa.expand``, EXPAND_ROWS rows at a time."""
        out = torch.empty(len(latents), self.spec.num_params)
        for a in range(0, len(latents), EXPAND_ROWS):
            z = torch.from_numpy(np.array(latents[a:a + EXPAND_ROWS]))  # a copy: the shards are read-only maps
            self.functa.expand(z, out=out[a:a + EXPAND_ROWS])
        return out

    @classmethod
    def open(cls, paths: str | Path | list, only_ok: bool = True, verify: str | None = None) -> "INRStore":
        """Open store directories (or shard files) and verify them: ``verify="full"`` (default; env
        ``INSP_STORE_VERIFY``) checks sizes, headers, tensors and every shard's sha256; ``"fast"`` all but the
        sha256 (docs/store.md has the cost of each)."""
        mode = _verify_mode(verify)
        paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
        files: list[tuple[Path, dict | None]] = []
        header: StoreHeader | None = None
        for p in paths:
            what = describe_path(p)
            if what == "is a directory":
                hdr = read_header(p)
                header = header or hdr
                why = header.same_kind(hdr)
                if why:
                    raise InspError(f"{p} cannot be opened with {paths[0]}: {why}")
                manifest = read_manifest(p)
                present = finished_shards(p)
                check_complete(p, manifest, present, hdr.version)
                files += [(f, (manifest or {"shards": {}})["shards"].get(f.name)) for f in present.values()]
            elif what == "is a file":
                manifest = read_manifest(p.parent) if (p.parent / "store.json").exists() else None
                files.append((p, (manifest or {"shards": {}})["shards"].get(p.name)))
            elif what == "does not exist":
                raise InspError(f"INR store {p} does not exist; fit one with `insp fit store={p}`")
            else:
                raise InspError(f"INR store {p} {what}, not a store directory or shard file")
        if not files:
            raise InspError(f"INR store {', '.join(map(str, paths))} holds no finished shards")
        if header is None:  # shard files only: the first one sets the kind the others must match
            header = _read_shard(files[0][0], None, "fast", files[0][1])[0]
        # reading and sha256 release the GIL: shards are checked in parallel (about 2x on 2 cores)
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            done = list(pool.map(lambda fe: _read_shard(fe[0], header, mode, fe[1]), files))
        functa = None
        if header.compact is not None:  # every directory's shared tensors, checked; they are one (same header)
            for d in dict.fromkeys(f.parent for f, _ in files):
                entry = (read_manifest(d) or {}).get("shared", {}).get(header.compact["file"])
                functa = _read_shared(d / header.compact["file"], header, mode, entry)
        parts = [arrays for _, arrays in done]
        keys = set.intersection(*(set(a) for a in parts))
        merged = {k: np.concatenate([a[k] for a in parts]) for k in keys}
        if len(np.unique(merged["indices"])) != len(merged["indices"]):
            raise InspError(f"shards of {', '.join(map(str, paths))} overlap (an index appears twice)")
        store = cls(header, merged, [f for f, _ in files], functa)
        if only_ok and not store.ok.all():
            store = store.subset(np.nonzero(store.ok)[0])
        return store

    def __len__(self) -> int:
        return len(self.indices)

    def subset(self, rows) -> "INRStore":
        rows = np.asarray(rows)
        arrays = {"indices": self.indices[rows], "psnr": self.psnr[rows], "ok": self.ok[rows].astype(np.uint8)}
        if self.functa is None:
            arrays["params"] = self.params.numpy()[rows]
        if self.labels is not None:
            arrays["labels"] = self.labels[rows]
        if self.latents is not None:
            arrays["latents"] = self.latents[rows]
        return INRStore(self.header, arrays, self.paths, self.functa)

    @property
    def size(self) -> tuple[int, int] | None:
        """(H, W) of the images the INRs were fitted to, if known."""
        s = self.header.source.get("size")
        return None if s is None else (int(s[0]), int(s[1])) if isinstance(s, (list, tuple)) else (int(s), int(s))

    def evaluate(self, coords: torch.Tensor, rows=None, device="cpu", chunk: int = 65536) -> torch.Tensor:
        """Raw INR values at any coordinates: coords (Q, m) -> (n, Q, c)."""
        params = (self.params if rows is None else self.params_at(rows)).to(device)
        coords = coords.to(device=device, dtype=params.dtype)
        if not getattr(self.spec, "pointwise", True):  # a grid backbone (O-INR) evaluates its grid at once
            try:
                with torch.no_grad():
                    return forward(self.spec, params, coords)
            except ValueError as e:
                raise InspError(str(e)) from None
        with torch.no_grad():
            return torch.cat([forward(self.spec, params, coords[a:a + chunk])
                              for a in range(0, coords.shape[0], chunk)], dim=1)

    def decode(self, size: int | tuple[int, int] | None = None, rows=None, device="cpu") -> torch.Tensor:
        """Images decoded at any resolution: (n, H, W, c) pixels in [0, 1]."""
        size = size or self.size
        if size is None:
            raise InspError("this store does not record its image size; pass a size to decode")
        h, w = (size, size) if isinstance(size, int) else size
        grid = getattr(self.spec, "size", None)
        if grid is not None and (int(h), int(w)) != tuple(grid):
            raise InspError(f"these O-INRs decode on their {grid[0]}x{grid[1]} grid only, not at {h}x{w}: "
                            "discrete kernels are tied to the grid spacing (docs/backbones.md)")
        vals = self.evaluate(grid_coords((h, w)), rows=rows, device=device)
        return decode_pixels(vals).reshape(vals.shape[0], h, w, -1).cpu()
