"""Closed triangle meshes for the SDF INRs (paper Sec. 5.2, Figs. 8/14): real models that install offline.

Sources (``load_meshes(split, ...)``):
- the default: Debian ``libcgal-demo``'s ``/usr/share/doc/libcgal-dev/data.tar.gz`` (CGAL's test data, 143 files
  in ``data/meshes/``), fetched once with ``apt-get download`` + ``dpkg -x`` (``data.debian.unpacked_deb``) and
  its ``data/meshes/`` unpacked into ``root/debian/libcgal-demo/meshes/``. ``SHAPES`` lists the models used, all
  watertight, consistently wound, one body (checked with trimesh 5.2.0; data/README.md lists each one).
- ``folder=DIR``: any OFF / PLY / OBJ / STL files (sorted by name; the first ``train_count`` are train, the rest
  test).
Splits are fixed by shape: ``train`` / ``test`` / ``all``; test shapes never appear in train.

Every mesh is checked (``read_mesh``, ``check_mesh``): an empty file, a binary STL whose size does not match
its header's triangle count (truncated, or a wrong count; checked for every file of a folder, whatever its
split), NaN / inf vertex coordinates, fewer than 4 triangles, non-manifold edges, or an open surface (signed
distance needs a closed one) is one InspError line; a mesh that fails only because of its scale (trimesh merges
vertices closer than 1e-8, so a closed cube of side 1e-30 or 1e30 breaks) is said to be of an extreme scale,
with its bounding box. ``repair=True`` fills holes (trimesh.repair.fill_holes) with a warning that says how
many, and refuses if that does not close it.
Normalisation: centred on its bounding box and scaled so that its largest side spans [-0.9, 0.9].
"""

from __future__ import annotations

import logging
import struct
import tarfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from insp_cli.data.debian import place, unpacked_deb
from insp_cli.data.imageset import select_range
from insp_cli.errors import InspError
from insp_cli.mesh import Mesh, as_mesh, exact_sdf, sample_surface

log = logging.getLogger("insp")

PACKAGE = "libcgal-demo"
TARBALL = "usr/share/doc/libcgal-dev/data.tar.gz"
# tarfile's "data" extraction filter where this Python has it (3.11.4+, 3.12); the members extracted are plain files
# directly under data/meshes/ (checked above each extract), so older Pythons extract them as they are
SAFE = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
SPLITS = ("train", "test", "all")
EXTENSIONS = (".off", ".ply", ".obj", ".stl")
HALF_SIDE = 0.9  # normalised meshes fill [-0.9, 0.9] along their largest side
# libcgal-demo 5.5.1-2 data/meshes/*.off used here; test shapes (held out) first. Left out: open or multi-body
# meshes (ChineseDragon-10kv, diplodocus, lion, ...), near-copies of a test shape (bear_bis) and of a train
# shape (refined_elephant, fandisk_large), meshes of under 1,500 triangles and simple primitives or blobs.
TEST = ("armadillo", "bear", "bunny00", "dino")
TRAIN = ("anchor_dense", "bull", "camel", "cheese", "couplingdown", "cow", "elephant", "elk", "fandisk", "femur",
         "hand", "homer", "knot1", "man", "retinal", "rotor_small", "triceratops", "turbine")
SHAPES = {**{n: "test" for n in TEST}, **{n: "train" for n in TRAIN}}


@dataclass
class MeshSet:
    """Normalised meshes of one split: meshes[i] = (V (n, 3), F (f, 3)); indices: (N,) positions in the split;
    names: file stems; scales / centers: the normalisation x' = (x - center) * scale; meta: JSON-able source."""

    meshes: list[Mesh]
    indices: np.ndarray
    names: list[str]
    centers: np.ndarray
    scales: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.meshes)


def cgal_folder(root: Path) -> Path:
    """root/debian/libcgal-demo/meshes/, unpacked from the package on first use."""
    target = root / "debian" / PACKAGE
    if (target / "meshes").is_dir():
        return target / "meshes"
    hint = f"unpack data/meshes/ of its {TARBALL} into {target}/meshes/, or pass data.folder=DIR of OFF/PLY/OBJ files"
    with unpacked_deb(PACKAGE, root, hint) as (tree, version):
        out = tree / "keep"
        with tarfile.open(tree / TARBALL) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith("data/meshes/")
                       and "/" not in m.name[len("data/meshes/"):]]
            for m in members:
                m.name = m.name[len("data/"):]
                tar.extract(m, out, **SAFE)
        (out / "DEBIAN_VERSION").write_text(version + "\n")
        place(out, target)  # appears complete or not at all
    return target / "meshes"


def read_mesh(path: str | Path, repair: bool = False) -> Mesh:
    """A closed, manifold triangle mesh from OFF / PLY / OBJ / STL, checked (``check_mesh``). Before that: a binary
    STL whose size does not match its header's triangle count, and NaN / inf vertex coordinates, are named as
    such; a mesh that fails the checks only because of its scale is said to be of an extreme scale."""
    path = Path(path)
    check_mesh_file(path)
    raw = _load(path, process=False)
    v = np.asarray(raw.vertices, dtype=np.float64).reshape(-1, 3)
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        raise InspError(f"{path} has non-finite vertex coordinates (NaN or inf) at {int(bad.sum())} of its "
                        f"{len(v)} vertices (the first is vertex {int(np.argmax(bad))}); fix the file")
    try:
        return check_mesh(_load(path, process=True), str(path), repair)
    except InspError:
        _refuse_extreme_scale(raw, str(path), repair)
        raise


def _load(path: Path, process: bool):
    import trimesh

    try:  # at extreme scales trimesh's vertex merging overflows int64 with a RuntimeWarning: _refuse_extreme_scale
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return trimesh.load(path, force="mesh", process=process)
    except Exception as e:  # trimesh raises many kinds for a bad file
        raise InspError(f"cannot read mesh {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _refuse_extreme_scale(raw, where: str, repair: bool) -> None:
    """One InspError line about the scale when the mesh ``raw`` (unprocessed) fails the checks at its own scale
    but passes them once centred and scaled to a unit bounding box (trimesh merges vertices closer than 1e-8 in
    absolute units); returns when the scale is not the cause."""
    import trimesh

    v, f = np.asarray(raw.vertices, dtype=np.float64), np.asarray(raw.faces)
    if len(v) == 0 or len(f) == 0:
        return
    lo, hi = v.min(0), v.max(0)
    ext = hi - lo
    box = " x ".join(f"{x:.3g}" for x in ext)
    if not ext.max() > 0:
        raise InspError(f"{where} is degenerate: all its vertices coincide (bounding box {box})")
    unit = trimesh.Trimesh((v - (lo + hi) / 2) / ext.max(), f, process=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_mesh(unit, where, repair, quiet=True)
    except InspError:
        return
    raise InspError(f"{where} has an extreme scale (bounding box {box}): trimesh, which checks meshes, merges "
                    f"vertices closer than {trimesh.tol.merge:g} and rounds coordinates to 64-bit integers, which "
                    f"breaks it at this size; rescale it to a size near 1 (e.g. trimesh's "
                    f"mesh.apply_scale({1 / ext.max():.3g}))")


def check_mesh_file(path: Path) -> None:
    """The checks that need no parsing: an empty file, and a binary STL whose size is not 84 + 50 x the triangle
    count of its header (truncated, or a wrong count); one InspError line each."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise InspError(f"{path} is an empty file")
        if path.suffix.lower() != ".stl" or size < 84:
            return
        with open(path, "rb") as fh:
            head, sample = fh.read(84), fh.read(1000)
    except OSError as e:
        raise InspError(f"cannot read mesh {path}: {e.strerror}") from None
    if b"\0" not in head[80:] + sample and head.lstrip()[:5].lower() == b"solid":
        return  # an ASCII STL (binary ones hold zero bytes: the attribute count of each triangle)
    count = struct.unpack("<I", head[80:84])[0]
    expected = 84 + 50 * count
    if size != expected:
        room = (size - 84) // 50
        raise InspError(f"{path} is a binary STL whose header announces {count} triangles ({expected} bytes) but "
                        f"the file has {size} bytes (room for {room} triangles): "
                        + ("truncated, or a wrong count in its header; export it again" if size < expected else
                           "a wrong count in its header, or trailing data; export it again"))


def check_mesh(m, where: str, repair: bool = False, quiet: bool = False) -> Mesh:
    """The trimesh ``m`` as (V, F) if it bounds a volume; one InspError line otherwise (see the module doc).
    quiet: no warning for a repair (a trial run)."""
    import trimesh

    f = np.asarray(getattr(m, "faces", np.zeros((0, 3))))
    if len(f) == 0:
        raise InspError(f"{where} holds no triangles (an empty mesh, or a point cloud)")
    if len(f) < 4:
        raise InspError(f"{where} has {len(f)} triangle(s): a closed surface needs at least 4")
    edges = np.sort(m.edges, axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    if (counts > 2).any():
        raise InspError(f"{where} is not manifold: {int((counts > 2).sum())} edges are shared by more than two "
                        "triangles; signed distance is undefined there (fix the mesh, e.g. with MeshLab)")
    if not m.is_watertight:
        open_edges = int((counts == 1).sum())
        if not repair:
            raise InspError(f"{where} is not watertight ({open_edges} boundary edges): signed distance needs a "
                            "closed surface; pass data.repair=true to fill its holes, or close it yourself")
        trimesh.repair.fill_holes(m)
        if not m.is_watertight:
            raise InspError(f"{where} is not watertight ({open_edges} boundary edges) and filling its holes "
                            "(trimesh.repair.fill_holes) did not close it: fix the mesh")
        quiet or log.warning("%s: repaired: filled the holes of %d boundary edges with trimesh.repair.fill_holes",
                    where, open_edges)
    if not m.is_winding_consistent:
        trimesh.repair.fix_winding(m)
        quiet or log.warning("%s: made the triangles' winding consistent (trimesh.repair.fix_winding)", where)
    if m.volume < 0:
        m.invert()  # outward normals, so that the signed distance is negative inside
    return as_mesh(m.vertices, m.faces)


def normalise(mesh: Mesh) -> tuple[Mesh, np.ndarray, float]:
    """Centre on the bounding box, scale the largest side to 2 * HALF_SIDE: (mesh, center (3,), scale)."""
    v, f = mesh
    lo, hi = v.min(0), v.max(0)
    center, side = (lo + hi) / 2, float((hi - lo).max())
    if not side > 0:
        raise InspError("the mesh is degenerate (all its vertices coincide)")
    scale = 2 * HALF_SIDE / side
    return ((v - center) * scale, f), center, scale


def vertex_noise(mesh: Mesh, sigma: float, rng: np.random.Generator) -> Mesh:
    """A noisy scan: every vertex moved by Gaussian noise of std ``sigma`` * the largest bounding-box side along
    each axis (the connectivity stays, so a closed mesh stays closed)."""
    v, f = mesh
    side = float((v.max(0) - v.min(0)).max())
    return v + rng.normal(0.0, sigma * side, v.shape), f


def sdf_samples(mesh: Mesh, count: int, seed: int, near: float = 0.6, spread=(0.005, 0.05)
                ) -> tuple[np.ndarray, np.ndarray]:
    """Training points of an SDF INR and their exact signed distances: (count, 3) float32, (count,) float32.

    A fraction ``near`` lies in a band around the surface (surface samples moved by Gaussian offsets of each std
    in ``spread``, half each), the rest uniformly in [-1, 1]^3.
    """
    rng = np.random.default_rng(seed)
    n_near = int(round(count * near))
    p, _ = sample_surface(mesh, n_near, seed)
    std = np.where(np.arange(n_near) % 2 == 0, spread[0], spread[1])[:, None]
    pts = np.concatenate([p + rng.normal(size=p.shape) * std, rng.uniform(-1, 1, (count - n_near, 3))])
    pts = np.clip(pts, -1, 1)
    return pts.astype(np.float32), exact_sdf(pts, mesh).astype(np.float32)


def _folder_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InspError(f"mesh folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise InspError(f"no OFF / PLY / OBJ / STL files in {folder}")
    return files


def load_meshes(split: str = "train", start: int = 0, limit: int | None = None, root: str | Path = "data",
                folder: str | Path | None = None, train_count: int = 90, repair: bool = False) -> MeshSet:
    """Meshes ``start .. start+limit-1`` of a split, checked and normalised (see the module docstring)."""
    if split not in SPLITS:
        raise InspError(f"unknown mesh split {split!r} (use {', '.join(SPLITS)})")
    root = Path(root).expanduser()
    if folder is not None:
        where = Path(folder).expanduser()
        files = _folder_files(where)
        for p in files:  # whatever split it falls in: the checks that need no parsing (empty, STL size)
            check_mesh_file(p)
        cut = {"train": slice(0, train_count), "test": slice(train_count, None), "all": slice(None)}[split]
        chosen = files[cut]
        meta = {"origin": "folder", "path": str(where.resolve()), "train_count": int(train_count),
                "rule": "files sorted by name: the first train_count train, the rest test"}
    else:
        where = cgal_folder(root)
        names = [n for n, s in SHAPES.items() if split in (s, "all")]
        chosen = [where / f"{n}.off" for n in names]
        missing = [str(p) for p in chosen if not p.is_file()]
        if missing:
            raise InspError(f"{missing[0]} is missing from the unpacked {PACKAGE}; remove {where.parent} to fetch "
                            "it again")
        stamp = where.parent / "DEBIAN_VERSION"
        meta = {"origin": f"Debian {PACKAGE}", "version": stamp.read_text().strip() if stamp.is_file() else None,
                "path": str(where), "rule": "fixed lists of shapes (insp_cli.data.meshes.TEST / TRAIN)"}
    idx = select_range(len(chosen), start, limit, f"meshes {split}")
    meshes, centers, scales = [], [], []
    for i in idx:
        m, c, s = normalise(read_mesh(chosen[i], repair))
        meshes.append(m), centers.append(c), scales.append(s)
    meta.update(name="meshes", modality="shapes", split=split, count=len(chosen), repair=bool(repair),
                shapes=[p.stem for p in chosen], normalisation=f"bounding-box centre, largest side to "
                f"[-{HALF_SIDE}, {HALF_SIDE}]")
    return MeshSet(meshes=meshes, indices=idx, names=[chosen[i].stem for i in idx], centers=np.array(centers),
                   scales=np.array(scales), meta=meta)
