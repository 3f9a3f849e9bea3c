"""Writing what a command produces without ever leaving a torn or mixed file behind.

A class's grades.csv is the one output that cannot be lost, and ``grade`` is
interrupted (Ctrl-C, a batch system's SIGTERM) and run twice by accident. So
every output is

* checked before the work starts (a missing folder, ``/dev/full``, a folder
  where a file should be: one sentence, exit 2, and no minutes of grading lost);
* written to a temporary file in the same folder and renamed over the target,
  which POSIX makes atomic: a reader, or a run killed at any point, sees the
  old file or the complete new one;
* guarded by a lock (``flock`` on ``<output>.lock``), so that a second run on
  the same output fails clearly instead of interleaving its rows.

Cells a spreadsheet would run as formulas (``=cmd|' /C calc'!A0``) are escaped
by :func:`spreadsheet_safe`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DlsolveError

#: first characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as text a spreadsheet shows rather than runs (OWASP: a leading quote)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def file_target(path: str | Path, option: str = "-o") -> Path:
    """``path`` if a file can be written there (its folder exists; it is not a folder or a
    device), else a DlsolveError saying why."""
    p = Path(path)
    folder = p.parent
    try:
        info = p.stat()
    except FileNotFoundError:
        info = None
    except OSError as err:
        why = f"cannot write here ({err.strerror})"
        raise DlsolveError(why, file=str(p), field=option) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise DlsolveError("this is a folder; give a file name", file=str(p), field=option)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise DlsolveError(
            "this is not a regular file (a device?); give a file name", file=str(p), field=option
        )
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "does not exist"
        raise DlsolveError(f"the folder {folder} {why}", file=str(p), field=option)
    if not os.access(folder, os.W_OK):
        raise DlsolveError(f"the folder {folder} is not writable", file=str(p), field=option)
    return p


def folder_target(path: str | Path, option: str) -> Path:
    """``path`` if it is (or can be made) a writable folder, else a DlsolveError."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise DlsolveError("this is a file, not a folder", file=str(p), field=option)
    for ancestor in p.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise DlsolveError(
                    f"{ancestor} is a file, so no folder can be made under it",
                    file=str(p),
                    field=option,
                )
            if not os.access(ancestor, os.W_OK):
                raise DlsolveError(f"{ancestor} is not writable", file=str(p), field=option)
            break
    return p


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename:
    whoever reads ``path``, whenever this is stopped, sees the old file or all of the new."""
    p = Path(path)
    fd, temp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def written(path: str | Path, text: str, option: str = "-o") -> None:
    """:func:`write_atomic`, with a failure (a full disk) as one sentence."""
    try:
        write_atomic(path, text)
    except OSError as err:
        raise DlsolveError(
            f"could not write this file ({err.strerror or err})", file=str(path), field=option
        ) from None


@contextlib.contextmanager
def locked(path: str | Path, option: str = "-o") -> Iterator[None]:
    """Hold the lock of output ``path`` (``<path>.lock``, removed afterwards); a DlsolveError
    at once if another run holds it."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): atomic writes still keep files whole
        yield
        return
    lock = Path(f"{path}.lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise DlsolveError(
                f"cannot create the lock file {lock.name} ({err.strerror})",
                file=str(path),
                field=option,
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DlsolveError(
                f"another run is writing this file (it holds {lock.name}); "
                "wait for it to finish or choose another output",
                file=str(path),
                field=option,
            ) from None
        try:  # the holder before us may have removed the lock file as we opened it
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
