"""The INR store's format: its header (store.json, repeated in every shard's metadata), shard names, and
creating or reopening a store directory (several processes of a sweep may do so at once).

Reading and writing shards and opening a whole store are in store.py; the format is described in docs/store.md.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InspError
from ..files import atomic_write, describe_path, is_temporary, os_error_message, temporary_name
from ..schema import check_record
from ..spellings import degradation_record
from .backbones import Spec, spec_from_dict
from .integrity import LOCK

log = logging.getLogger("insp")
FORMAT = "insp-inr-store"
VERSION = 3  # the newest this insp reads. 2: shard checksums, manifest.json, per-INR seeding recorded in
# fit.seeding; 3: compact functa stores (a shared file + one latent per INR, header field "compact")
PLAIN_VERSION = 2  # stores of full per-INR parameters are still written as 2: insp before 3 reads them
COMPACT_KINDS = ("functa",)
VERIFY_MODES = ("full", "fast")
SHARD_RE = re.compile(r"^shard-(\d+)-(\d+)\.safetensors$")
HEADER_FIELDS = {  # header fields insp reads as numbers or lists, when present (schema.py's rules)
    "source.size": ("?order", 1, None), "source.channels": ("?int", 1, 4096), "source.length": ("?int", 1, None),
    "source.rate": ("?int", 1, None), "source.classes": ("?list", None, None),
    "source.train_count": ("?int", 1, None), "source.crops_per_photo": ("?int", 1, None),
    "degradation.kind": ("?str", None, None), "degradation.sigma": ("?float", 0, None),
    "fit.shard_size": ("?int", 1, None),
}


def shard_name(start: int, stop: int) -> str:
    return f"shard-{start:07d}-{stop:07d}.safetensors"


@dataclass
class StoreHeader:
    """What every shard of a store shares: the architecture and how the INRs came to be."""

    spec: Spec  # any backbone (backbones.py); architecture.kind says which
    source: dict  # dataset name, split, size, channels, origin...
    degradation: dict  # kind + parameters applied before fitting ({"kind": "clean"} for none)
    fit: dict  # fit settings and seed
    extra: dict = field(default_factory=dict)
    version: int | None = None  # the format version it was read with (1: no checksums); new: 2, or 3 if compact
    # a compact store's shards hold latents, not params: {"kind": "functa", "file": the shared tensors' file,
    # "latent_dim": d, "sha256": of the shared tensors (= fit.init.sha256)}; None: params in the shards
    compact: dict | None = None

    def __post_init__(self):
        if self.version is None:
            self.version = VERSION if self.compact is not None else PLAIN_VERSION

    def to_json(self) -> dict:
        out = {"format": FORMAT, "version": self.version, "architecture": self.spec.to_dict(),
               "layout": [[n, list(s), o] for n, s, o in self.spec.layout],
               "output": {"range": [-1, 1], "pixel": "clamp(0.5 * value + 0.5, 0, 1)",
                          "coords": "x = column, y = row, pixel centres linspace(-1, 1, side)"},
               "source": self.source, "degradation": self.degradation, "fit": self.fit, "extra": self.extra}
        if self.compact is not None:  # only then: a plain store's header stays as it was
            out["compact"] = self.compact
        return out

    @classmethod
    def from_json(cls, d, where: str) -> "StoreHeader":
        if not isinstance(d, dict):
            raise InspError(f"{where} is not an insp INR store (its header is a JSON {type(d).__name__}, "
                            "not an object)")
        if d.get("format") != FORMAT:
            raise InspError(f"{where} is not an insp INR store (format {d.get('format')!r})")
        version = d.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InspError(f"{where} is corrupt: store format version {version!r} is not a positive integer")
        if version > VERSION:
            raise InspError(f"{where} was written by a newer insp (store format version {version}; "
                            f"this insp reads up to {VERSION}): upgrade insp")
        parts = {k: d.get(k, {}) for k in ("source", "degradation", "fit", "extra")}
        parts["degradation"] = degradation_record(parts["degradation"])  # a kind's former spelling: today's
        bad = [k for k, v in parts.items() if not isinstance(v, dict)]
        if bad:
            raise InspError(f"{where} is corrupt: {', '.join(bad)} must be JSON objects")
        try:
            check_record(parts, HEADER_FIELDS)
        except InspError as e:
            raise InspError(f"{where} is corrupt: header {e}") from None
        try:
            spec = spec_from_dict(d["architecture"])
        except (KeyError, TypeError, ValueError) as e:
            if str(e).startswith("unknown INR architecture kind"):
                raise InspError(f"{where} holds INRs this insp cannot read: {e}") from None
            raise InspError(f"{where}: unsupported or broken INR architecture ({e})") from None
        return cls(spec=spec, version=version, compact=_compact_record(d.get("compact"), version, where), **parts)

    def same_kind(self, other: "StoreHeader") -> str | None:
        """None if two headers describe INRs of one dataset, else what differs."""
        a, b = self.to_json(), other.to_json()
        if a.get("compact") != b.get("compact") and a["fit"].get("init") == b["fit"].get("init"):
            return (f"one holds its INRs as {_stored_as(self)}, the other as {_stored_as(other)} (an older insp "
                    "wrote functa stores as full parameters); keep them apart, or fit into another store=PATH")
        for key in ("architecture", "source", "degradation", "fit"):
            if a[key] != b[key]:
                diff = {k for k in set(a[key]) | set(b[key]) if a[key].get(k) != b[key].get(k)}
                if key == "fit" and "init" in diff:
                    old, new = (x[key].get("init") or {} for x in (a, b))
                    return (f"its INRs were fitted from another initialisation (fit.init sha256 "
                            f"{str(old.get('sha256', 'none: random'))[:12]}, this fit: "
                            f"{str(new.get('sha256', 'none: random'))[:12]}), so resuming would mix them")
                if key == "fit" and "seeding" in diff:
                    old = a[key].get("seeding") or "one seed per batch, older insp"
                    return (f"its INRs were seeded another way ({old}; this fit: {b[key].get('seeding')}), "
                            "so resuming would mix seedings")
                return f"{key} differs ({', '.join(sorted(diff))})"
        return None


def _stored_as(h: StoreHeader) -> str:
    return "full SIREN parameters" if h.compact is None else f"{h.compact['kind']} latents and one shared file"


def _compact_record(c, version: int, where: str) -> dict | None:
    """The header's ``compact`` field checked: None, or {kind, file, latent_dim, sha256} of format version 3."""
    if c is None:
        return None
    ok = (isinstance(c, dict) and c.get("kind") in COMPACT_KINDS and isinstance(c.get("file"), str)
          and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.safetensors", c["file"]) is not None
          and not SHARD_RE.match(c["file"]) and isinstance(c.get("latent_dim"), int)
          and not isinstance(c.get("latent_dim"), bool) and c["latent_dim"] >= 1
          and isinstance(c.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", c["sha256"]) is not None)
    if not ok:
        raise InspError(f"{where} is corrupt: header field compact={json.dumps(c)[:120]} must be "
                        '{"kind": "functa", "file": NAME.safetensors, "latent_dim": d >= 1, "sha256": 64 hex digits}')
    if version < 3:
        raise InspError(f"{where} is corrupt: a compact store has format version 3 or later, its header says "
                        f"{version}")
    return dict(c)


def _create_json_once(path: Path, obj: dict) -> bool:
    """Write ``path`` complete and only if it does not exist yet (False: another process was first).
    os.link is atomic and exclusive, so of several jobs of a sweep creating one store exactly one header wins
    and every other job compares itself against it instead of overwriting it."""
    tmp = temporary_name(path)  # written completely (fsync, mode 0644) by atomic_write, then linked
    try:
        atomic_write(tmp, json.dumps(obj, indent=2, sort_keys=True))
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise
            os.replace(tmp, path)  # a file system without hard links: last writer wins, as before
    except OSError as e:
        raise InspError(os_error_message(e, path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return True


def prepare_store(directory: str | Path, header: StoreHeader) -> Path:
    """Create a store directory, or check that an existing one holds INRs of the same kind (resume).
    Safe when several processes (the jobs of a sweep) prepare the same directory at once."""
    directory = Path(directory)
    if ".." in directory.parts:  # x/../y: work in what the path means (y), never create an empty x on the way
        directory = Path(os.path.realpath(directory))
    what = describe_path(directory)
    if what not in ("is a directory", "does not exist"):
        raise InspError(f"store {directory} {what}, not a store directory; pass another store=PATH")
    manifest = directory / "store.json"
    if not manifest.exists():
        strangers = ([p for p in directory.iterdir() if not is_temporary(p) and p.name != LOCK]
                     if directory.is_dir() else [])
        if strangers and not manifest.exists():  # re-check: another job may have created it meanwhile
            raise InspError(f"{directory} exists and is not an INR store; pass another store=PATH")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if _create_json_once(manifest, header.to_json()):
                return directory
        except OSError as e:
            raise InspError(f"cannot create store {directory}: {os_error_message(e, directory)}") from None
    old = read_header(directory)
    why = old.same_kind(header)
    if why:
        raise InspError(f"store {directory} already holds other INRs: {why}; "
                        "pass another store=PATH or remove it")
    return directory


def read_header(directory: str | Path) -> StoreHeader:
    manifest = Path(directory) / "store.json"
    what = describe_path(manifest)
    if what == "does not exist":
        raise InspError(f"{directory} is not an INR store (no store.json); fit one with `insp fit`")
    if what != "is a file":
        raise InspError(f"{manifest} {what}, not a store header")
    try:
        d = json.loads(manifest.read_bytes().decode("utf-8"))
    except OSError as e:
        raise InspError(f"cannot read {manifest}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InspError(f"{manifest} is corrupt: it is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise InspError(f"{manifest} is corrupt: not valid JSON ({e.msg} at line {e.lineno})") from None
    return StoreHeader.from_json(d, str(directory))


def finished_shards(directory: str | Path) -> dict[tuple[int, int], Path]:
    """{(start, stop): path} of the complete shards in a store directory."""
    out = {}
    for p in Path(directory).glob("shard-*.safetensors"):
        m = SHARD_RE.match(p.name)
        if m:
            out[(int(m.group(1)), int(m.group(2)))] = p
    return dict(sorted(out.items()))
