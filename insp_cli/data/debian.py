"""Data that ships in Debian packages (speech, music, photos): ``apt-get download`` + ``dpkg -x`` on first use.

``unpacked_deb`` is the one place that fetches a package: it unpacks it in a temporary folder under the data
root and yields the unpacked tree; the caller renames what it keeps out of it (``place``: a rename is atomic, so
a source folder appears complete or not at all; a concurrent fetch's copy placed first is kept), and the rest
is removed. Without apt-get/dpkg, or when the download fails, it raises one InspError line that ends with the
caller's hint (what to do by hand).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote
from typing import Iterator

from insp_cli.errors import InspError


def place(src: Path, target: Path) -> None:
    """Rename ``src`` (a folder of an unpacked tree) to ``target`` atomically, so a source folder appears complete
    or not at all. When another process sharing the data root placed ``target`` first (two commands fetching the
    same package at once: the second rename finds a non-empty folder), its copy is kept and ``src`` is left to
    be removed with the temporary folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, target)
    except OSError:
        if not (target.is_dir() and any(target.iterdir())):
            raise


@contextlib.contextmanager
def unpacked_deb(package: str, root: Path, hint: str) -> Iterator[tuple[Path, str]]:
    """Yield (the unpacked file tree of Debian ``package``, its version as Debian writes it, epoch included:
    ``4:22.12.3-1``), in a temporary folder under ``root``."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise InspError(f"Debian package {package} is needed and this machine has no apt-get/dpkg: {hint}")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{package}-") as tmp:
        try:
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True, capture_output=True, text=True,
                           timeout=600)
            deb = next(Path(tmp).glob(f"{package}_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(Path(tmp) / "x")], check=True, capture_output=True,
                           text=True, timeout=600)
        except subprocess.CalledProcessError as e:
            last = (e.stderr or e.stdout or "").strip().splitlines()
            raise InspError(f"`apt-get download {package}` failed ({last[-1] if last else e.returncode}); run "
                            f"`apt-get update` first, or {hint}") from None
        except (StopIteration, subprocess.TimeoutExpired, OSError) as e:
            raise InspError(f"fetching Debian package {package} failed ({e or type(e).__name__}): {hint}") from None
        yield Path(tmp) / "x", unquote(deb.name.split("_")[1])  # apt names an epoch 4: as 4%3a
