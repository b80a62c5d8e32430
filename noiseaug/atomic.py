"""Atomic file writes: a reader (or a re-run after a crash) sees the old file or the complete new one, never a part.

The new content is written into a hidden temporary folder next to the target (``.noiseaug-tmp-*``, same file
system), flushed to disk (fsync), then renamed over the target (``os.replace``, atomic on POSIX) and the folder's
entry fsynced. A process killed mid-write leaves at most that hidden temporary folder, never a truncated target.
Replacing a symlink or a hard link replaces that directory entry only: the file it pointed to is not written to.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(folder / "a.txt", "hello\\n").read_text()
'hello\\n'
>>> sorted(p.name for p in folder.iterdir())
['a.txt']
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import NoiseaugFileError

TEMP_PREFIX = ".noiseaug-tmp-"


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_folder_beside(path: Path) -> Path:
    """A fresh hidden folder in ``path``'s parent (created if missing); an ``OSError`` becomes a
    :class:`~noiseaug.errors.NoiseaugFileError` naming ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=path.parent))
    except OSError as error:
        raise NoiseaugFileError(f"cannot write {path}: {error.strerror or error}") from error


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Have ``write(tmp)`` write the file ``tmp`` (same name as ``path``, in a temporary folder beside it), then
    move it onto ``path`` atomically; creates missing parent folders; returns ``path``.

    An ``OSError`` (permissions, a full disk, a parent that is a file) becomes a
    :class:`~noiseaug.errors.NoiseaugFileError` naming ``path``; the temporary folder is removed on any error.
    """
    path = Path(path)
    tmp_dir = _temporary_folder_beside(path)
    try:
        tmp = tmp_dir / path.name
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except OSError as error:
        raise NoiseaugFileError(f"cannot write {path}: {error.strerror or error}") from error
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_folder(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Have ``write(tmp)`` fill a fresh temporary folder beside ``path``, then put it in the place of ``path`` (an
    existing folder there is moved aside first, and back if the swap fails): ``path`` holds the old folder or
    the complete new one, never a part. Returns ``path``; the temporary folders are removed on any error.
    """
    path = Path(path)
    tmp = _temporary_folder_beside(path)
    try:
        write(tmp)
        if path.exists():
            old = tmp.with_name(f"{tmp.name}-old")
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except OSError:
                os.rename(old, path)
                raise
            shutil.rmtree(old)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
