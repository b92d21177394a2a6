"""The reliability battery of issue 24, rerun as a hostile new user: every case of the issue's "Why" list and the
store/CLI faults it says were handled, each as a subprocess `insp ...` on tiny fixtures built in a temporary folder.

    PYTHONPATH=$PWD .venv/bin/python scripts/battery.py [--quick] [--keep] [--only WORD]

For each case: the exit code (non-zero, or 0 where good data must pass), exactly one line starting with `error:`
(none for good data; `warning:` lines only where documented), no "Traceback" in stdout + stderr, no temporary or
half-written file left, and the good fixtures byte-identical afterwards. One line per case (PASS/FAIL/SKIP and what
was seen), a summary per group; exit 1 if any case fails. --quick leaves out the slowest cases (repeated signals,
the progress pipe). Full disks are real: a tiny tmpfs in a private mount namespace (`unshare -rm`), or /dev/full
reached through a symlink at the temporary name a writer uses; where neither is possible the case is skipped with
the reason.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("insp")
INSP = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "insp_cli.cli"]
ENV = {**os.environ, "INSP_WANDB_MODE": "disabled", "WANDB_SILENT": "true", "INSP_COMPILE": "false",
       "INSP_PROGRESS_EVERY": "null", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
           "PYTHONPATH")]))}

MNIST = ["data.split=test", "fit.steps=20", "fit.shard_size=4", "samples=0"]
PHOTOS = ["data=images", "data.size=16", "degradation=noise", "model.hidden=16", "fit.steps=30", "samples=0"]
TRAIN = ["task=denoise", "fusion.order=1", "fusion.hidden=8", "fusion.layers=1", "train.batch_points=256",
         "train.stat_points=512", "train.log_every=5"]
EVAL = ["lpips=false", "check_2x=false", "grid=0"]
CLASSIFY = ["classifier=weight_mlp", "train_limit=8", "test_offset=8", "classifier.hidden=8"]
AUDIO = ["data=audio", "data.length=400", "data.min_seconds=0.05", "model.hidden=8", "fit.steps=2"]
RATE = 8000


# ------------------------------------------------------------------------------------------------ running insp

@dataclass
class R:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def errors(self) -> list[str]:
        return [ln for ln in self.err.splitlines() + self.out.splitlines() if ln.startswith("error:")]

    def brief(self) -> str:
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        return f"exit {self.code}: " + (self.errors[0] if self.errors else (lines[-1] if lines else "(no stderr)"))


def insp(*args, cwd: Path | None = None, env: dict | None = None, timeout: int = 600) -> R:
    p = subprocess.run([*INSP, *map(str, args)], capture_output=True, text=True, cwd=cwd or WORK,
                       env={**ENV, **(env or {})}, timeout=timeout)
    return R(p.returncode, p.stdout, p.stderr)


def popen(*args, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*INSP, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd or WORK, env={**ENV, **(env or {})})


# ------------------------------------------------------------------------------------------------ checks

class Failed(Exception):
    pass


class Skipped(Exception):
    pass


def need(cond: bool, what: str) -> None:
    if not cond:
        raise Failed(what)


def one_error(r: R, *words: str, exit: int | None = None, warnings: int = 0) -> R:
    """The refused-input contract: non-zero exit, one `error:` line holding every word, no traceback."""
    need("Traceback" not in r.text, f"a traceback ({r.brief()})")
    need(r.code != 0, f"exit 0, expected an error ({r.brief()})")
    need(exit is None or r.code == exit, f"exit {r.code}, expected {exit} ({r.brief()})")
    need(len(r.errors) == 1, f"{len(r.errors)} error: lines: {r.errors or r.err.strip()[-300:]}")
    for w in words:
        need(w in r.errors[0], f"{w!r} not in {r.errors[0]!r}")
    extra = [ln for ln in r.err.splitlines() if ln.strip() and not ln.startswith(("error:", "warning:"))]
    need(not extra or r.code in (130, 143), f"other stderr lines: {extra[:3]}")
    warned = [ln for ln in r.text.splitlines() if "warning:" in ln]
    need(len(warned) <= warnings, f"undocumented warnings: {warned[:3]}")
    return r


def ok(r: R, warnings: int = 0) -> R:
    need("Traceback" not in r.text, f"a traceback ({r.brief()})")
    need(r.code == 0, f"good data refused: {r.brief()}")
    need(not r.errors, f"error lines on success: {r.errors}")
    warned = [ln for ln in r.text.splitlines() if "warning:" in ln]
    need(len(warned) <= warnings, f"undocumented warnings: {warned[:3]}")
    return r


def temporaries(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.name.startswith(".") and ".tmp" in p.name
            or p.name.startswith("tmp") and p.suffix in (".safetensors", ".json")]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "runs" not in p.relative_to(folder).parts}


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("metrics.json"))]


# ------------------------------------------------------------------------------------------------ file damage

def st_header(path: Path) -> tuple[dict, int]:
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]), 8 + n


def same_shard(a: Path, b: Path) -> bool:
    """The same tensors and metadata (safetensors orders the header's __metadata__ keys as a hash map does: the
    bytes of two identical shards may differ there, so the header is compared as JSON)."""
    (ha, sa), (hb, sb) = st_header(a), st_header(b)
    return ha == hb and a.read_bytes()[sa:] == b.read_bytes()[sb:]


def flip(path: Path, tensor: str | None = None, count: int = 64) -> None:
    """Invert ``count`` bytes inside one tensor's data (the largest if none is named)."""
    head, start = st_header(path)
    if tensor is None:
        tensor = max((k for k in head if k != "__metadata__"), key=lambda k: head[k]["data_offsets"][1]
                     - head[k]["data_offsets"][0])
    a, b = head[tensor]["data_offsets"]
    blob = bytearray(path.read_bytes())
    for i in range(start + a, start + a + min(count, b - a)):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))


def set_metadata(src: Path, dst: Path, key: str, value) -> None:
    """The same tensors under changed `insp` metadata (so the data checksum still matches): key dotted, value
    KeyError to delete."""
    head, start = st_header(src)
    data = src.read_bytes()[start:]
    meta = json.loads(head["__metadata__"]["insp"])
    node = meta
    *parents, last = key.split(".")
    for p in parents:
        node = node[p]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    head["__metadata__"]["insp"] = json.dumps(meta)
    text = json.dumps(head, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(len(text).to_bytes(8, "little") + text + data)


# ------------------------------------------------------------------------------------------------ tiny inputs

def write_wav(path: Path, samples: list[float] | bytes, rate: int = RATE, channels: int = 1, width: int = 2) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if isinstance(samples, bytes):
            w.writeframes(samples)
        else:
            w.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, s)) * 32000)) for s in samples))


def speech_like(seconds: float, seed: int) -> list[float]:
    n = int(seconds * RATE)
    f1, f2 = 180 + 40 * seed, 700 + 90 * seed
    return [0.5 * math.sin(math.pi * i / n) * (math.sin(2 * math.pi * f1 * i / RATE)
                                               + 0.4 * math.sin(2 * math.pi * f2 * i / RATE)) for i in range(n)]


def cube() -> tuple[list[list[float]], list[list[int]]]:
    v = [[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
    f = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6], [0, 2, 6],
         [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    return v, f


def write_off(path: Path, v, f) -> Path:
    lines = ["OFF", f"{len(v)} {len(f)} 0"] + [" ".join(repr(float(c)) for c in row) for row in v]
    path.write_text("\n".join(lines + [f"3 {a} {b} {c}" for a, b, c in f]) + "\n")
    return path


def write_stl(path: Path, count: int | None = None) -> Path:
    v, f = cube()
    body = b"".join(struct.pack("<12fH", 0, 0, 0, *v[a], *v[b], *v[c], 0) for a, b, c in f)
    path.write_bytes(b"\0" * 80 + struct.pack("<I", len(f) if count is None else count) + body)
    return path


def tiny_images(folder: Path, kind: str) -> Path:
    import numpy as np
    import tifffile
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:16, 0:16] / 16
    img = np.stack([np.sin(2 * x + 3 * y + k) for k in range(3)], -1)
    img = ((img - img.min()) / (img.max() - img.min())).astype(np.float32)
    if kind == "png":
        Image.fromarray(np.rint(img * 255).astype(np.uint8)).save(folder / "a.png")
    elif kind == "tif01":
        tifffile.imwrite(folder / "a.tif", np.rint(img * 255).astype(np.float32) / 255)
    elif kind == "tif255":
        tifffile.imwrite(folder / "a.tif", 255 * img)
    elif kind == "gif":
        frames = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (0, 120, 250)]
        frames[0].save(folder / "a.gif", save_all=True, append_images=frames[1:])
    return folder


# ------------------------------------------------------------------------------------------------ full disks

def can_mount_tmpfs() -> str | None:
    """None when `unshare -rm` can mount a tmpfs here; else the reason it cannot."""
    if not shutil.which("unshare"):
        return "no unshare"
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {d}"],
                           capture_output=True, text=True)
    return None if p.returncode == 0 else f"cannot mount a tmpfs: {p.stderr.strip()[:100]}"


def on_full_tmpfs(mount: Path, prepare: str, args: list, leave_kib: int, size_kib: int = 8192,
                  env: dict | None = None) -> tuple[R, str]:
    """Run `insp ARGS` with ``mount`` a tmpfs of ``size_kib`` filled to ``leave_kib`` free (after ``prepare``, a
    shell line run first). Returns the result and a listing of the tmpfs afterwards (`find` with sizes and
    sha256 of every file), taken before the namespace goes."""
    mount.mkdir(parents=True, exist_ok=True)
    out = mount.parent / (mount.name + ".listing")
    cmd = " ".join(map(sh_quote, [*INSP, *map(str, args)]))
    script = f"""set -e
mount -t tmpfs -o size={size_kib}k tmpfs {sh_quote(mount)}
{prepare}
free=$(df -k --output=avail {sh_quote(mount)} | tail -1)
fill=$((free - {leave_kib}))
if [ $fill -gt 0 ]; then dd if=/dev/zero of={sh_quote(mount)}/filler bs=1k count=$fill 2>/dev/null || true; fi
set +e
{cmd} >{sh_quote(out)}.out 2>{sh_quote(out)}.err
echo $? >{sh_quote(out)}.rc
cd {sh_quote(mount)} && find . -type f ! -name filler -exec sha256sum {{}} + | sort -k2 >{sh_quote(out)}
"""
    p = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, cwd=WORK,
                       env={**ENV, **(env or {})}, timeout=600)
    if p.returncode != 0 or not Path(f"{out}.rc").exists():
        raise Failed(f"could not set up the tmpfs: {p.stderr.strip()[-200:]}")
    r = R(int(Path(f"{out}.rc").read_text()), Path(f"{out}.out").read_text(), Path(f"{out}.err").read_text())
    return r, out.read_text()


def sh_quote(s) -> str:
    s = str(s)
    return "'" + s.replace("'", "'\"'\"'") + "'"


# ------------------------------------------------------------------------------------------------ the cases

CASES: list[tuple[str, str, object, bool]] = []  # (group, name, function, slow)


def case(group: str, name: str, slow: bool = False):
    def add(fn):
        CASES.append((group, name, fn, slow))
        return fn
    return add


def fixtures(d: Path) -> None:
    """Good inputs every case copies before damaging: a 12-INR MNIST store (3 shards), 2 + 1 noisy photo INRs,
    a 10-step filter, a 1-epoch classifier run."""
    for args in ([*MNIST, "data.limit=12", f"store={d / 'mnist'}"],
                 [*PHOTOS, "data.split=train", "data.limit=2", f"store={d / 'train'}"],
                 [*PHOTOS, "data.split=test", "data.limit=1", f"store={d / 'test'}"]):
        r = insp("fit", *args)
        if r.code:
            sys.exit(f"battery: fixture fit failed: {r.brief()}\n{r.err[-2000:]}")
    r = insp("train-filter", *TRAIN, "train.steps=10", "train.save_every=5", f"store={d / 'train'}",
             f"filter={d / 'filter.safetensors'}")
    if r.code:
        sys.exit(f"battery: fixture filter failed: {r.brief()}\n{r.err[-2000:]}")
    r = insp("classify", *CLASSIFY, f"train_store={d / 'mnist'}", f"test_store={d / 'mnist'}", "epochs=1",
             f"hydra.run.dir={d / 'cls'}")
    if r.code:
        sys.exit(f"battery: fixture classifier failed: {r.brief()}\n{r.err[-2000:]}")


def copy(name: str, dst: Path) -> Path:
    src = GOOD / name
    (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    return dst


# ---- silent wrong results --------------------------------------------------------------------------------------

@case("silent", "float TIFF in [0, 1] fits like its 8-bit PNG (not divided by 255)")
def _(t: Path):
    fit = ["fit", "data=images", "data.split=all", "data.size=16", "model.hidden=16", "fit.steps=20", "samples=0"]
    ok(insp(*fit, f"data.folder={tiny_images(t / 'png', 'png')}", f"store={t / 'sp'}", f"hydra.run.dir={t / 'rp'}"))
    ok(insp(*fit, f"data.folder={tiny_images(t / 'tif', 'tif01')}", f"store={t / 'st'}", f"hydra.run.dir={t / 'rt'}"))
    a, b = (json.loads((t / r / "metrics.json").read_text()) for r in ("rp", "rt"))
    key = next(k for k in a if "psnr" in k and isinstance(a[k], (int, float)))
    need(abs(a[key] - b[key]) < 0.5, f"{key}: PNG {a[key]:.2f}, TIFF {b[key]:.2f}")
    return f"{key} PNG {a[key]:.2f} / TIFF {b[key]:.2f} dB"


@case("silent", "float TIFF stored as 0..255 is refused")
def _(t: Path):
    r = one_error(insp("fit", "data=images", "data.split=all", "data.size=16",
                       f"data.folder={tiny_images(t / 'f', 'tif255')}", f"store={t / 's'}"), "outside [0, 1]")
    need(not list((t / "s").glob("shard-*")), "a shard was written")
    return r.brief()


@case("silent", "animated GIF is refused, not read as frame 1")
def _(t: Path):
    return one_error(insp("fit", "data=images", "data.split=all", "data.size=16",
                          f"data.folder={tiny_images(t / 'f', 'gif')}", f"store={t / 's'}"), "a.gif",
                     "animated").brief()


@case("silent", "filter with 64 flipped weight bytes: eval refuses")
def _(t: Path):
    f = copy("filter.safetensors", t / "f.safetensors")
    flip(f)
    return one_error(insp("eval", f"filter={f}", f"store={GOOD / 'test'}", *EVAL), str(f), "checksum").brief()


@case("silent", "filter with flipped bytes: train-filter does not resume it")
def _(t: Path):
    f = copy("filter.safetensors", t / "f.safetensors")
    flip(f)
    before = f.read_bytes()
    r = one_error(insp("train-filter", *TRAIN, "train.steps=20", "train.save_every=5", f"store={GOOD / 'train'}",
                       f"filter={f}"), str(f), "checksum")
    need(f.read_bytes() == before, "the damaged file was changed")
    return r.brief()


@case("silent", "classifier checkpoint with flipped bytes is not resumed")
def _(t: Path):
    a = copy("cls", t / "a")
    flip(a / "checkpoint.safetensors")
    return one_error(insp("classify", *CLASSIFY, f"train_store={GOOD / 'mnist'}", f"test_store={GOOD / 'mnist'}",
                          "epochs=2", f"resume={a}", f"hydra.run.dir={t / 'x'}"), "checksum").brief()


@case("silent", "store without manifest.json is damaged")
def _(t: Path):
    s = copy("mnist", t / "s")
    (s / "manifest.json").unlink()
    return one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"),
                     "manifest.json").brief()


@case("silent", "store without manifest.json and one shard: classify refuses (not 8 of 12)")
def _(t: Path):
    s = copy("mnist", t / "s")
    (s / "manifest.json").unlink()
    sorted(s.glob("shard-*"))[-1].unlink()
    r = one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"), str(s))
    need(not (s / "manifest.json").exists(), "a manifest was written for the damaged store")
    return r.brief()


@case("silent", "filter=[a,b] writes no file named ['a', 'b']")
def _(t: Path):
    r = one_error(insp("train-filter", f"store={GOOD / 'train'}", "filter=[a,b]", cwd=t), "one path", exit=2)
    need(not [p for p in t.iterdir() if "[" in p.name], "a file named like a list was written")
    return r.brief()


def classify_run(root: Path, name: str, acc, seed: int) -> Path:
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nscale: cpu\nmodel:\n  kind: insp_convnet\n")
    (d / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
    m = {"job": "classify", "status": "complete", "model": "insp_convnet", "dataset": "mnist", "train_count": 10,
         "test_count": 5, "test_accuracy": acc, "scale": "cpu"}
    (d / "metrics.json").write_text(json.dumps(m))
    return d


@case("silent", "table: a NaN-accuracy run is marked diverged, not counted")
def _(t: Path):
    root = t / "cls"
    classify_run(root, "a", 0.8, 0)
    classify_run(root, "b", 0.6, 1)
    classify_run(root, "c", float("nan"), 2)
    r = ok(insp("table", "table=table1", f"runs=[{root}]"))
    row = next((ln for ln in r.out.splitlines() if ln.startswith("| MNIST | INSP-ConvNet")), "")
    cells = [c.strip() for c in row.strip("|").split("|")]
    need(len(cells) > 6 and cells[2] == "70.00 ± 14.14" and cells[6] == "2", f"row {row!r}")
    need("diverged" in r.out, "the NaN run is not named")
    return f"row mean {cells[2]}, runs {cells[6]}, NaN run listed as diverged"


# ---- tracebacks --------------------------------------------------------------------------------------------------

TMPFS = None


def need_tmpfs():
    if TMPFS is not None:
        raise Skipped(TMPFS)


@case("tracebacks", "filter checkpoint onto a full disk (tmpfs): one line, old filter kept")
def _(t: Path):
    need_tmpfs()
    m = t / "m"
    f = m / "denoise.safetensors"
    prep = f"cp {sh_quote(GOOD / 'filter.safetensors')} {sh_quote(f)}"
    r, listing = on_full_tmpfs(m, prep, ["train-filter", *TRAIN, "train.steps=4", "train.save_every=2",
                                         f"store={GOOD / 'train'}", f"filter={f}", "overwrite=true"], leave_kib=0)
    one_error(r, "no space left on device", str(f), exit=1)
    good = hashlib.sha256((GOOD / "filter.safetensors").read_bytes()).hexdigest()
    need(listing.split() == [good, "./denoise.safetensors"], f"the disk holds: {listing.strip()!r}")
    return r.brief()


@case("tracebacks", "classifier checkpoint onto a full disk (tmpfs): one line, nothing half-written")
def _(t: Path):
    need_tmpfs()
    m = t / "m"
    r, listing = on_full_tmpfs(m, "", ["classify", "classifier=weight_mlp", "train_limit=8", "test_offset=8",
                                       "classifier.hidden=512", f"train_store={GOOD / 'mnist'}",
                                       f"test_store={GOOD / 'mnist'}", "epochs=1", f"hydra.run.dir={m / 'run'}"],
                               leave_kib=64)
    one_error(r, "no space left on device", exit=1)
    need("checkpoint.safetensors" not in listing, f"a checkpoint on the full disk: {listing!r}")
    need(".tmp" not in listing, f"a temporary file left: {listing!r}")
    return r.brief()


@case("tracebacks", "runs folder on a full disk (tmpfs, 0 KiB free): one line")
def _(t: Path):
    need_tmpfs()
    m = t / "m"
    r, listing = on_full_tmpfs(m, "", ["fit", *MNIST, "data.limit=2", f"store={t / 's'}"], leave_kib=0,
                               env={"INSP_RUNS": str(m)})
    one_error(r, "no space left on device")
    need(".tmp" not in listing, f"a temporary file left: {listing!r}")
    return r.brief()


@case("tracebacks", "runs folder nearly full (tmpfs, 12 KiB free): one line, no lost record")
def _(t: Path):
    need_tmpfs()
    m = t / "m"
    r, listing = on_full_tmpfs(m, "", ["fit", *MNIST, "data.limit=2", f"store={t / 's'}"], leave_kib=12,
                               env={"INSP_RUNS": str(m)})
    need("Traceback" not in r.text, f"a traceback ({r.brief()})")
    if r.code == 0:
        need("metrics.json" in listing, f"exit 0 but no metrics.json: {listing!r}")
        return "fitted within the space left, record written"
    one_error(r, "no space left on device", warnings=1)
    need(".tmp" not in listing, f"a temporary file left: {listing!r}")
    return r.brief()


@case("tracebacks", "store on a full disk (tmpfs): one line, no shard")
def _(t: Path):
    need_tmpfs()
    m = t / "m"
    r, listing = on_full_tmpfs(m, "", ["fit", *MNIST, "data.limit=8", f"store={m / 's'}"], leave_kib=4)
    one_error(r, "no space left on device", exit=1)
    need(".tmp" not in listing, f"a temporary file left: {listing!r}")
    return r.brief()


@case("tracebacks", "run log to /dev/full: a warning, one error, the record kept")
def _(t: Path):
    if not Path("/dev/full").is_char_device():
        raise Skipped("/dev/full is not a character device")
    r = insp("fit", *MNIST, "data.limit=2", f"store={t / 's'}", "hydra.job_logging.handlers.file.filename=/dev/full",
             f"hydra.run.dir={t / 'run'}")
    one_error(r, "no space left on device: /dev/full", exit=1, warnings=1)
    (rec,) = records(t / "run")
    need(rec.get("status") == "complete" and "log_error" in rec, f"record {rec.get('status')}")
    return r.brief()


@case("tracebacks", "metrics.json onto /dev/full (its temporary name): one line, no partial record, no lost record")
def _(t: Path):
    if not Path("/dev/full").is_char_device():
        raise Skipped("/dev/full is not a character device")
    run = t / "run"
    run.mkdir()
    p = popen("fit", *MNIST, "data.limit=2", f"store={t / 's'}", f"hydra.run.dir={run}")
    (run / f".metrics.json.tmp-{p.pid}").symlink_to("/dev/full")
    out, err = p.communicate(timeout=600)
    r = one_error(R(p.returncode, out, err), f"no space left on device: {run / 'metrics.json'}", exit=1)
    # the fault hits one write: the failure record after it (a fresh temporary name) fits and says so
    rec = records(run)
    need(rec == [] or rec[0].get("status") == "failed" and "no space" in rec[0].get("error", ""),
         f"a metrics.json that does not say failed: {rec}")
    return r.brief() + (", then a failure record" if rec else "")


@case("tracebacks", "filter metadata version='abc'")
def _(t: Path):
    f = t / "f.safetensors"
    set_metadata(GOOD / "filter.safetensors", f, "version", "abc")
    return one_error(insp("eval", f"filter={f}", f"store={GOOD / 'test'}", *EVAL), str(f), "version").brief()


@case("tracebacks", "filter metadata order='two'")
def _(t: Path):
    f = t / "f.safetensors"
    set_metadata(GOOD / "filter.safetensors", f, "order", "two")
    return one_error(insp("eval", f"filter={f}", f"store={GOOD / 'test'}", *EVAL), str(f), "order").brief()


@case("tracebacks", "filter metadata without fusion")
def _(t: Path):
    f = t / "f.safetensors"
    set_metadata(GOOD / "filter.safetensors", f, "fusion", KeyError)
    return one_error(insp("eval", f"filter={f}", f"store={GOOD / 'test'}", *EVAL), str(f), "fusion").brief()


@case("tracebacks", "store=[a,b] for fit")
def _(t: Path):
    return one_error(insp("fit", "store=[a,b]", cwd=t), "one path", exit=2).brief()


@case("tracebacks", "data.folder=[a,b]")
def _(t: Path):
    return one_error(insp("fit", "data=images", "data.folder=[a,b]", cwd=t), "one path", exit=2).brief()


@case("tracebacks", "non-UTF-8 metrics.json in insp table")
def _(t: Path):
    root = t / "cls"
    classify_run(root, "a", 0.8, 0)
    bad = classify_run(root, "b", 0.6, 1) / "metrics.json"
    bad.write_bytes(bad.read_bytes().replace(b"mnist", b"mn\xefst"))
    return one_error(insp("table", "table=table1", f"runs=[{root}]"), str(bad), "UTF-8", exit=2).brief()


def wait_for(p: subprocess.Popen, done, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while not done() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
    need(done(), "the job never got there")


def log_has(folder: Path, name: str, text: str):
    def check():
        logs = list(folder.rglob(name))
        return bool(logs) and text in logs[0].read_text(errors="replace")
    return check


def double_sigterm(t: Path, tries: int) -> str:
    for k in range(tries):
        d = t / str(k)
        f = d / "f.safetensors"
        p = popen("train-filter", *TRAIN, "train.steps=1000000", "train.save_every=5", f"store={GOOD / 'train'}",
                  f"filter={f}", env={"INSP_RUNS": str(d / "runs")})
        wait_for(p, f.exists)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.05 * (k + 1))
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=300)
        r = R(p.returncode, out, err)
        need("Traceback" not in r.text, f"try {k + 1}: a traceback ({r.brief()})")
        need(r.code == 143, f"try {k + 1}: exit {r.code}")
        last = [ln for ln in err.splitlines() if ln.strip()][-1]
        need(last.startswith("terminated: the filter checkpoint of step"), f"try {k + 1}: {last!r}")
        (rec,) = records(d / "runs")
        need(rec["status"] == "interrupted", f"try {k + 1}: record {rec['status']}")
        need(not temporaries(d), f"try {k + 1}: temporaries {temporaries(d)}")
    return f"{tries} tries: exit 143, 'terminated: the filter checkpoint of step ...', record interrupted"


@case("tracebacks", "a second SIGTERM during exit (1 try)")
def _(t: Path):
    return double_sigterm(t, 1)


@case("tracebacks", "a second SIGTERM during exit (3 more tries)", slow=True)
def _(t: Path):
    return double_sigterm(t, 3)


# ---- misleading messages -----------------------------------------------------------------------------------------

def mesh_fit(folder: Path, t: Path) -> R:
    return insp("fit", "data=meshes", f"data.folder={folder}", "data.split=all", f"store={t / 's'}")


@case("messages", "closed cube scaled by 1e-30: extreme scale, not 'not manifold'")
def _(t: Path):
    v, f = cube()
    (t / "m").mkdir()
    write_off(t / "m" / "cube.off", [[c * 1e-30 for c in row] for row in v], f)
    r = one_error(mesh_fit(t / "m", t), "extreme scale")
    need("manifold" not in r.errors[0], r.errors[0])
    return r.brief()


@case("messages", "closed cube scaled by 1e30: extreme scale")
def _(t: Path):
    v, f = cube()
    (t / "m").mkdir()
    write_off(t / "m" / "cube.off", [[c * 1e30 for c in row] for row in v], f)
    r = one_error(mesh_fit(t / "m", t), "extreme scale")
    need("manifold" not in r.errors[0], r.errors[0])
    return r.brief()


@case("messages", "a NaN vertex is named, not 'not watertight'")
def _(t: Path):
    v, f = cube()
    v[3][1] = float("nan")
    (t / "m").mkdir()
    write_off(t / "m" / "nan.off", v, f)
    r = one_error(mesh_fit(t / "m", t), "non-finite")
    need("watertight" not in r.errors[0], r.errors[0])
    return r.brief()


@case("messages", "binary STL with a wrong triangle count says so")
def _(t: Path):
    (t / "m").mkdir()
    write_stl(t / "m" / "count.stl", count=20)
    r = one_error(mesh_fit(t / "m", t), "announces 20 triangles")
    need("no triangles" not in r.errors[0], r.errors[0])
    return r.brief()


@case("messages", "a 1 s silent WAV is called silent")
def _(t: Path):
    (t / "w").mkdir()
    write_wav(t / "w" / "quiet.wav", [0.0] * RATE)
    r = one_error(insp("fit", *AUDIO, f"data.folder={t / 'w'}", "data.split=all", f"store={t / 's'}"), "silent")
    need("at least" not in r.errors[0], r.errors[0])
    return r.brief()


@case("messages", "a silent WAV among good ones is named (a warning), the good ones fitted")
def _(t: Path):
    w = t / "w"
    w.mkdir()
    for i in range(3):
        write_wav(w / f"g{i}.wav", speech_like(0.2, i))
    write_wav(w / "quiet.wav", [0.0] * RATE)
    r = ok(insp("fit", *AUDIO, f"data.folder={w}", "data.split=all", f"store={t / 's'}"), warnings=1)
    need("quiet.wav" in r.text and "silent" in r.text, "the silent file is not named")
    return "exit 0, " + next(ln.strip() for ln in r.text.splitlines() if "quiet.wav" in ln)[:110]


@case("messages", "a truncated WAV is one line, no raw scipy warning")
def _(t: Path):
    w = t / "w"
    w.mkdir()
    write_wav(w / "a.wav", speech_like(0.5, 0))
    data = (w / "a.wav").read_bytes()
    (w / "a.wav").write_bytes(data[:44 + 2 * 1000 + 1])
    r = one_error(insp("fit", *AUDIO, f"data.folder={w}", "data.split=all", f"store={t / 's'}"), "truncated")
    need("WavFileWarning" not in r.text, "scipy's warning shows")
    return r.brief()


def outside(split: str, prefix: str) -> str:
    from insp_cli.data.audio import phrase_split
    return next(n for n in (f"{prefix}{i}" for i in range(100)) if phrase_split(n) != split)


@case("messages", "a stereo WAV outside the split is named")
def _(t: Path):
    w = t / "w"
    w.mkdir()
    for i in range(6):
        write_wav(w / f"p{i:02d}.wav", speech_like(0.2, i))
    name = outside("train", "stereo")
    write_wav(w / f"{name}.wav", bytes(4 * RATE), channels=2)
    return one_error(insp("fit", *AUDIO, f"data.folder={w}", "data.split=train", f"store={t / 's'}"),
                     f"{name}.wav", "2 channels").brief()


@case("messages", "an 8-bit WAV outside the split is named")
def _(t: Path):
    w = t / "w"
    w.mkdir()
    for i in range(6):
        write_wav(w / f"p{i:02d}.wav", speech_like(0.2, i))
    name = outside("train", "eight")
    write_wav(w / f"{name}.wav", b"\x80" * 400, width=1)
    return one_error(insp("fit", *AUDIO, f"data.folder={w}", "data.split=train", f"store={t / 's'}"),
                     f"{name}.wav", "8-bit").brief()


@case("messages", "a diverged audio fit speaks of clips, not images")
def _(t: Path):
    w = t / "w"
    w.mkdir()
    for i in range(2):
        write_wav(w / f"a{i}.wav", speech_like(0.1, i))
    r = one_error(insp("fit", "data=audio", f"data.folder={w}", "data.split=all", "data.length=200",
                       "data.min_seconds=0.05", "model.hidden=8", "fit.steps=3", "fit.lr=1e9", f"store={t / 's'}"),
                  "diverged")
    need("image" not in r.errors[0], r.errors[0])
    return r.brief()


@case("messages", "targets=/dev/full is 'not a regular file', not 'pickled data'")
def _(t: Path):
    r = one_error(insp("train-filter", *TRAIN, "train.steps=2", f"store={GOOD / 'train'}",
                       f"filter={t / 'f.safetensors'}", "targets=/dev/full"), "not a regular file", exit=2)
    need("pickle" not in r.errors[0], r.errors[0])
    need(not (t / "f.safetensors").exists(), "a filter was written")
    return r.brief()


@case("messages", "train-filter terminated before its first checkpoint keeps nothing, says so")
def _(t: Path):
    f = t / "f.safetensors"
    p = popen("train-filter", *TRAIN, "train.steps=1000000", "train.save_every=1000000", "train.log_every=1",
              f"store={GOOD / 'train'}", f"filter={f}", env={"INSP_RUNS": str(t / "runs")})
    wait_for(p, log_has(t / "runs", "train-filter.log", "train-filter denoise:"))
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=300)
    r = R(p.returncode, out, err)
    need("Traceback" not in r.text and r.code == 143, r.brief())
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    need(last.startswith("terminated: nothing of this training is kept yet"), repr(last))
    need(not f.exists(), "a filter file exists")
    return last[:100]


# ---- store and CLI cases already handled -----------------------------------------------------------------------

@case("handled", "unknown key data.limt: did you mean data.limit?")
def _(t: Path):
    return one_error(insp("fit", "data.limt=3"), "unknown key 'data.limt'", "data.limit", exit=2).brief()


@case("handled", "unknown option data=mnsit")
def _(t: Path):
    return one_error(insp("fit", "data=mnsit"), "data=mnist", exit=2).brief()


for _key, _value in (("data.limit", "abc"), ("fit.steps", "-3"), ("model.hidden", "1.5"), ("fit.lr", "fast"),
                     ("device", "tpu")):
    def _wrong(t: Path, key=_key, value=_value):
        return one_error(insp("fit", f"{key}={value}", f"store={t / 's'}"), key, exit=2).brief()
    case("handled", f"wrong-type value {_key}={_value}")(_wrong)


@case("handled", "missing dataset folder")
def _(t: Path):
    r = one_error(insp("fit", "data=images", f"data.folder={t / 'nothing'}", f"store={t / 's'}"), "nothing")
    need(not (t / "s").exists() or not list((t / "s").glob("shard-*")), "a shard was written")
    return r.brief()


@case("handled", "empty image folder")
def _(t: Path):
    (t / "empty").mkdir()
    return one_error(insp("fit", "data=images", f"data.folder={t / 'empty'}", f"store={t / 's'}")).brief()


@case("handled", "missing store for classify / eval")
def _(t: Path):
    one_error(insp("classify", f"train_store={t / 'no'}", f"test_store={t / 'no'}"), "no")
    return one_error(insp("eval", f"filter={GOOD / 'filter.safetensors'}", f"store={t / 'no'}", *EVAL)).brief()


@case("handled", "missing filter file for eval")
def _(t: Path):
    return one_error(insp("eval", f"filter={t / 'no.safetensors'}", f"store={GOOD / 'test'}", *EVAL)).brief()


@case("handled", "corrupt shard (flipped bytes): classify refuses")
def _(t: Path):
    s = copy("mnist", t / "s")
    flip(sorted(s.glob("shard-*"))[1])
    return one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"),
                     "shard-").brief()


@case("handled", "truncated shard: classify refuses, fit resume refits it")
def _(t: Path):
    s = copy("mnist", t / "s")
    shard = sorted(s.glob("shard-*"))[1]
    shard.write_bytes(shard.read_bytes()[:-100])
    one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"), shard.name)
    ok(insp("fit", *MNIST, "data.limit=12", f"store={s}"), warnings=1)
    need(same_shard(shard, GOOD / "mnist" / shard.name), "the refitted shard differs")
    return "refused, then refitted to identical tensors and metadata"


@case("handled", "broken store.json")
def _(t: Path):
    s = copy("mnist", t / "s")
    (s / "store.json").write_text("{not json")
    return one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"),
                     "store.json").brief()


@case("handled", "a plain file given as store")
def _(t: Path):
    (t / "file").write_text("x")
    return one_error(insp("classify", *CLASSIFY, f"train_store={t / 'file'}", f"test_store={t / 'file'}")).brief()


@case("handled", "NaN loss: a diverged fit ends failed in one line")
def _(t: Path):
    r = one_error(insp("fit", *MNIST, "data.limit=4", "fit.lr=1e9", f"store={t / 's'}", f"hydra.run.dir={t / 'run'}"),
                  "diverged")
    (rec,) = records(t / "run")
    need(rec.get("status") == "failed", f"record {rec.get('status')}")
    return r.brief()  # its shards are kept flagged not-ok (docs/store.md), never read as good INRs


@case("handled", "NaN loss: a diverged filter training ends in one line")
def _(t: Path):
    f = t / "f.safetensors"
    r = one_error(insp("train-filter", *TRAIN, "train.steps=10", "train.lr=1e12", f"store={GOOD / 'train'}",
                       f"filter={f}"), "loss became", "train.lr")
    need(not f.exists(), "a filter file of a diverged training was written")
    return r.brief()


def interrupt_fit(t: Path, sig: int, code: int, word: str) -> str:
    s = t / "s"
    args = ["fit", *MNIST, "data.limit=12", "fit.steps=150", f"store={s}"]
    p = popen(*args, env={"INSP_RUNS": str(t / "runs")})
    wait_for(p, lambda: bool(list(s.glob("shard-*.safetensors"))))
    p.send_signal(sig)
    out, err = p.communicate(timeout=300)
    r = R(p.returncode, out, err)
    need("Traceback" not in r.text and r.code == code, r.brief())
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    need(last.startswith(word), repr(last))
    (rec,) = records(t / "runs")
    need(rec["status"] == "interrupted", f"record {rec['status']}")
    need(not temporaries(s), f"temporaries left: {temporaries(s)}")
    kept = len(list(s.glob("shard-*.safetensors")))
    ok(insp(*args, env={"INSP_RUNS": str(t / "runs2")}), warnings=1)
    need(len(list(s.glob("shard-*.safetensors"))) == 3, "the resumed store is not complete")
    return f"exit {code}, {kept} shard(s) kept, rerun resumed to 3 shards"


@case("handled", "Ctrl-C (SIGINT) mid-fit: 130, shards kept, rerun resumes")
def _(t: Path):
    return interrupt_fit(t, signal.SIGINT, 130, "interrupted:")


@case("handled", "SIGTERM mid-fit: 143, shards kept, rerun resumes")
def _(t: Path):
    return interrupt_fit(t, signal.SIGTERM, 143, "terminated:")


# ---- more hostile inputs (not in the list) ---------------------------------------------------------------

@case("extra", "a truncated filter file")
def _(t: Path):
    f = t / "f.safetensors"
    f.write_bytes((GOOD / "filter.safetensors").read_bytes()[:-200])
    return one_error(insp("eval", f"filter={f}", f"store={GOOD / 'test'}", *EVAL), str(f)).brief()


@case("extra", "an empty (0-byte) filter file")
def _(t: Path):
    f = t / "f.safetensors"
    f.write_bytes(b"")
    return one_error(insp("eval", f"filter={f}", f"store={GOOD / 'test'}", *EVAL), str(f)).brief()


@case("extra", "a folder given as filter: eval and train-filter say so")
def _(t: Path):
    r = one_error(insp("eval", f"filter={t}", f"store={GOOD / 'test'}", *EVAL), str(t), "is a directory")
    one_error(insp("train-filter", *TRAIN, "train.steps=2", f"store={GOOD / 'train'}", f"filter={t}"), str(t))
    return r.brief()


@case("extra", "a truncated classifier checkpoint is not resumed")
def _(t: Path):
    a = copy("cls", t / "a")
    ck = a / "checkpoint.safetensors"
    ck.write_bytes(ck.read_bytes()[:-100])
    return one_error(insp("classify", *CLASSIFY, f"train_store={GOOD / 'mnist'}", f"test_store={GOOD / 'mnist'}",
                          "epochs=2", f"resume={a}", f"hydra.run.dir={t / 'x'}"), str(ck)).brief()


@case("extra", "resume= a folder that does not exist")
def _(t: Path):
    return one_error(insp("classify", *CLASSIFY, f"train_store={GOOD / 'mnist'}", f"test_store={GOOD / 'mnist'}",
                          "epochs=1", f"resume={t / 'none'}")).brief()


@case("extra", "store= below a plain file")
def _(t: Path):
    (t / "file").write_text("x")
    return one_error(insp("fit", *MNIST, "data.limit=2", f"store={t / 'file' / 's'}")).brief()


@case("extra", "insp table runs= a folder that does not exist")
def _(t: Path):
    r = insp("table", "table=table1", f"runs=[{t / 'none'}]")
    need("Traceback" not in r.text, f"a traceback ({r.brief()})")
    need(r.code != 0 and len(r.errors) == 1 or r.code == 0 and not r.errors, r.brief())
    return r.brief()


@case("extra", "progress.every_s=-1 and INSP_PROGRESS_EVERY=abc")
def _(t: Path):
    one_error(insp("fit", *MNIST, "data.limit=2", "progress.every_s=-1", f"store={t / 's'}"), "progress.every_s")
    return one_error(insp("fit", *MNIST, "data.limit=2", f"store={t / 's'}", env={"INSP_PROGRESS_EVERY": "abc"}),
                     "every").brief()


@case("extra", "a sweep with one bad value")
def _(t: Path):
    return one_error(insp("fit", "-m", "data.limit=2,abc", f"store={t / 's'}"), "data.limit").brief()


@case("extra", "a filter applied to a store of another modality (MNIST vs photos)")
def _(t: Path):
    r = insp("eval", f"filter={GOOD / 'filter.safetensors'}", f"store={GOOD / 'mnist'}", *EVAL)
    need("Traceback" not in r.text, f"a traceback ({r.brief()})")
    need(r.code == 0 and not r.errors or r.code != 0 and len(r.errors) == 1, r.brief())
    return r.brief()


@case("extra", "a store.json that is a valid JSON list")
def _(t: Path):
    s = copy("mnist", t / "s")
    (s / "store.json").write_text("[1, 2]")
    return one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"),
                     str(s), "header").brief()


@case("extra", "a manifest.json that is not JSON")
def _(t: Path):
    s = copy("mnist", t / "s")
    (s / "manifest.json").write_bytes(b"\xff\xfe garbage")
    return one_error(insp("classify", *CLASSIFY, f"train_store={s}", f"test_store={s}", "epochs=1"),
                     "manifest.json").brief()


@case("extra", "insp table: a truncated metrics.json and one that is a JSON list")
def _(t: Path):
    root = t / "cls"
    classify_run(root, "a", 0.8, 0)
    bad = classify_run(root, "b", 0.6, 1) / "metrics.json"
    bad.write_text(bad.read_text()[:40])
    one_error(insp("table", "table=table1", f"runs=[{root}]"), str(bad))
    bad.write_text("[1, 2]")
    return one_error(insp("table", "table=table1", f"runs=[{root}]"), str(bad)).brief()


@case("extra", "SIGKILL mid-fit, then the same command resumes to the same shards")
def _(t: Path):
    s = t / "s"
    args = ["fit", *MNIST, "data.limit=12", f"store={s}"]
    p = popen(*args, env={"INSP_RUNS": str(t / "runs")})
    wait_for(p, lambda: bool(list(s.glob("shard-*.safetensors"))))
    p.kill()
    p.communicate(timeout=60)
    ok(insp(*args, env={"INSP_RUNS": str(t / "runs2")}), warnings=1)
    for shard in sorted((GOOD / "mnist").glob("shard-*")):
        need(same_shard(s / shard.name, shard), f"{shard.name} differs from a fit in one go")
    return "resumed; every shard's tensors and metadata identical to the uninterrupted fixture"


@case("extra", "SIGINT mid-classify: 130, then resume=auto continues it")
def _(t: Path):
    args = ["classify", *CLASSIFY, f"train_store={GOOD / 'mnist'}", f"test_store={GOOD / 'mnist'}", "epochs=100000"]
    p = popen(*args, f"hydra.run.dir={t / 'a'}", env={"INSP_RUNS": str(t / "runs")})
    wait_for(p, (t / "a" / "checkpoint.safetensors").exists)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    r = R(p.returncode, out, err)
    need("Traceback" not in r.text and r.code == 130, r.brief())
    need([ln for ln in err.splitlines() if ln.strip()][-1].startswith("interrupted:"), err[-200:])
    (rec,) = records(t / "a")
    need(rec["status"] == "interrupted", f"record {rec['status']}")
    r = ok(insp(*args[:-1], "epochs=3", f"resume={t / 'a'}", f"hydra.run.dir={t / 'b'}"))
    need("resumed from" in r.text, "not resumed")
    return "exit 130, record interrupted, resumed from its checkpoint"


# ---- progress ----------------------------------------------------------------------------------------------------

@case("progress", "a fit through a pipe prints progress lines every 2 s", slow=True)
def _(t: Path):
    p = popen("fit", *MNIST[:-1], "data.limit=4000", "fit.steps=200", "fit.shard_size=8", "samples=0",
              f"store={t / 's'}", "progress.every_s=2", env={"INSP_PROGRESS_EVERY": "30"})
    time.sleep(30)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=300)
    lines = [ln for ln in err.splitlines() if ln.startswith("progress:")]
    need(len(lines) >= 5, f"{len(lines)} progress lines in 30 s")
    return f"{len(lines)} progress lines in 30 s; last: {lines[-1][:90]}"


# ------------------------------------------------------------------------------------------------ main

def main() -> int:
    global WORK, GOOD, TMPFS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="leave out the slow cases")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--only", default="", help="run only the cases whose group or name holds this word")
    a = ap.parse_args()
    top = Path(tempfile.mkdtemp(prefix="insp-battery-"))
    WORK, GOOD = top, top / "good"
    ENV.update(INSP_RUNS=str(top / "runs"), INSP_STORES=str(top / "stores"), INSP_FILTERS=str(top / "filters"))
    TMPFS = can_mount_tmpfs()
    t0 = time.time()
    print(f"battery: fixtures in {GOOD} ...", flush=True)
    GOOD.mkdir()
    fixtures(GOOD)
    good = snapshot(GOOD)
    print(f"battery: fixtures ready ({time.time() - t0:.0f} s); full disks: "
          f"{'tmpfs via unshare -rm' if TMPFS is None else 'skipped: ' + TMPFS}", flush=True)
    results: dict[str, list[str]] = {}
    for i, (group, name, fn, slow) in enumerate(CASES):
        if a.only and a.only not in group and a.only not in name:
            continue
        if slow and a.quick:
            results.setdefault(group, []).append("SKIP")
            print(f"SKIP  [{group}] {name}: --quick", flush=True)
            continue
        t = top / f"case{i:02d}"
        t.mkdir()
        t1 = time.time()
        try:
            seen = fn(t)
            left = temporaries(t)
            need(not left, f"temporary files left: {left[:3]}")
            need(snapshot(GOOD) == good, "the good fixtures changed")
            verdict = "PASS"
        except Skipped as e:
            verdict, seen = "SKIP", str(e)
        except Failed as e:
            verdict, seen = "FAIL", str(e)
        except Exception as e:  # the battery's own fault: say so, count it as a failure
            verdict, seen = "FAIL", f"battery error {type(e).__name__}: {e}"
        results.setdefault(group, []).append(verdict)
        print(f"{verdict}  [{group}] {name}: {seen} ({time.time() - t1:.0f} s)", flush=True)
    print()
    total = {v: sum(r.count(v) for r in results.values()) for v in ("PASS", "FAIL", "SKIP")}
    for group, r in results.items():
        print(f"{group:11s} {r.count('PASS')} pass, {r.count('FAIL')} fail, {r.count('SKIP')} skip")
    print(f"battery: {sum(total.values())} cases: {total['PASS']} pass, {total['FAIL']} fail, {total['SKIP']} skip "
          f"({time.time() - t0:.0f} s)")
    if a.keep:
        print(f"battery: kept {top}")
    else:
        shutil.rmtree(top, ignore_errors=True)
    return 1 if total["FAIL"] else 0


WORK = GOOD = Path(".")

if __name__ == "__main__":
    sys.exit(main())
