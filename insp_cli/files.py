"""File helpers every module shares: atomic writes that always clean up, and sha256 of a file.

``atomic_write(path)`` is the one way insp writes a file that others may read: the bytes go to a temporary
name beside ``path`` (``.NAME.tmp-PID``), are flushed and fsynced, get the usual mode (0644 under the
default umask, not mkstemp's 0600), and only then replace ``path``. On any failure the temporary file is
removed and the error is raised again; a file-system fault (``ENOSPC``: ``no space left on device: PATH``)
becomes one clear ``InspError``, also when a library wraps it (safetensors' ``SafetensorError``: ``disk_fault``).
``atomic_dir(path)`` does the same for a folder filled in a staging folder.
``RunLogHandler`` is the run log's file handler: a write error stops the log with one warning, no traceback.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import InspError

TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """``.NAME.tmp-PID`` beside ``path``: hidden, and recognisable as unfinished by ``is_temporary``."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def is_temporary(path: Path) -> bool:
    """A file some process is writing or was writing when it died (never a finished output)."""
    return path.name.startswith(".") and TMP_MARK in path.name


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def os_error_message(e: OSError, path: Path | str) -> str:
    """One line for a file-system fault (no traceback): ENOSPC says so and names the path."""
    if e.errno == errno.ENOSPC:
        return f"no space left on device: {path}"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: {e.strerror}"
    return f"cannot write {path}: {e.strerror or e}"


_WRAPPED_ERRNO = re.compile(r"\(os error (\d+)\)")  # how Rust libraries (safetensors) quote an errno


def disk_fault(e: BaseException) -> OSError | None:
    """The file-system error behind ``e``: ``e`` itself if it is an OSError with an errno, one it was raised from
    (``raise ... from``), or the errno a library quotes in its message (safetensors: ``I/O error: No space left
    on device (os error 28)``); None when ``e`` is not a file-system fault."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno is not None:
            return e
        m = _WRAPPED_ERRNO.search(str(e)) if type(e).__name__ == "SafetensorError" else None
        if m:
            code = int(m.group(1))
            return OSError(code, os.strerror(code))
        e = e.__cause__
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through (for writers that want a file name, e.g.
    safetensors' ``save_file``); on success it is fsynced and renamed over ``path``, on failure removed."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        fault = e if isinstance(e, OSError) else disk_fault(e) if isinstance(e, Exception) and \
            not isinstance(e, InspError) else None
        if fault is not None:
            raise InspError(os_error_message(fault, path), exit_code=1) from None  # a fault, not bad input
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder (``.NAME.tmp-PID`` beside ``path``) to fill; on success it replaces ``path``
    (an older folder there is removed first), on failure it is removed: ``path`` is complete or as it was."""
    path = Path(path)
    tmp = temporary_name(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | Path, data: bytes | str | Callable[[Path], None]) -> None:
    """Write ``data`` (bytes, text, or a function that writes the file name it is given) to ``path``
    atomically: readers see the old file or the complete new one, never a part."""
    with atomic_path(path) as tmp:
        if callable(data):
            data(tmp)
        else:
            with open(tmp, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)


def atomic_write_json(path: str | Path, obj: Any, default: Callable | None = None) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=default))


class RunLogHandler(logging.FileHandler):
    """The run log (``<command>.log``, Hydra's ``job_logging`` file handler: conf/common.yaml). A write that
    fails (a full disk) stops the log: one ``warning:`` line on stderr instead of logging's traceback per
    record, and ``failure`` keeps the one-line reason, which the CLI reports as the run's error when it ends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failure: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failure is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failure is not None:
            return
        e = sys.exc_info()[1]
        fault = disk_fault(e) if isinstance(e, Exception) else None
        if fault is None:  # not a file-system fault (a bad format string...): logging's own report
            super().handleError(record)
            return
        self.failure = os_error_message(fault, self.baseFilename)
        sys.stderr.write(f"warning: the run log stopped: {self.failure}\n")
        try:
            self.close()
        except OSError:
            pass

    def close(self) -> None:
        try:
            super().close()
        except OSError as e:  # the last buffered lines did not fit either
            if self.failure is None:
                self.failure = os_error_message(e, self.baseFilename)
            self.stream = None


def run_log_failure() -> str | None:
    """The reason the run log stopped (``RunLogHandler.failure``) of a handler on the root logger, or None."""
    for h in logging.getLogger().handlers:
        if isinstance(h, RunLogHandler) and h.failure:
            return h.failure
    return None


def describe_path(p: Path) -> str:
    """What a path really is, for messages: 'does not exist', 'is a directory', 'is a symlink loop', ..."""
    try:
        st = os.stat(p)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symlink loop"
        if os.path.islink(p):
            return f"is a broken symlink (to {os.readlink(p)})"
        if e.errno == errno.ENOTDIR:
            return "does not exist (a part of its path is a file, not a folder)"
        if e.errno == errno.EACCES:
            return "cannot be read (permission denied)"
        return "does not exist"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if stat.S_ISREG(st.st_mode):
        return "is a file"
    return "is not a regular file (a device, pipe or socket)"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
