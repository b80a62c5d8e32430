"""Where ``denoise`` and ``synthesize`` may write: never over an input, over an existing output only if asked.

:func:`plan_outputs` checks every output path against every input file before anything is written:

- an output that is an input (the same path once symlinks and ``..`` are resolved, the same file through a hard
  link, or a symlink to it) is refused, whatever the options, e.g. ``denoise photos/ photos/`` when the photos are
  PNGs (``photos/a.png`` would become the denoised ``photos/a.png``);
- an existing output is refused unless ``overwrite`` (replace it) or ``resume`` (keep it: the writes are atomic,
  so an existing output is complete) is given.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.png").write_bytes(b"x")
>>> plan_outputs([folder / "a.png"], [folder / "b" / "a.png"])
[True]
>>> plan_outputs([folder / "a.png"], [folder / "b" / ".." / "a.png"])
Traceback (most recent call last):
...
noiseaug.errors.NoiseaugInputError: output .../a.png would overwrite the input .../a.png; write to another file or folder
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from .errors import NoiseaugFileError, NoiseaugInputError

MAX_LISTED = 5


def _entry(path: Path) -> Path:
    """The directory entry ``path`` names: its parent resolved (symlinks, ``..``), its own name kept."""
    return path.absolute().parent.resolve() / path.name


def _identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the file ``path`` leads to, or None if there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def plan_outputs(
    sources: Sequence[str | Path], targets: Sequence[str | Path], *, overwrite: bool = False, resume: bool = False
) -> list[bool]:
    """For each of ``targets``, whether to write it: all True, except existing ones with ``resume``.

    Raises :class:`~noiseaug.errors.NoiseaugInputError`, before anything is written, if a source cannot be read, a
    target would replace one of ``sources`` (see the module docs), is a folder, is listed twice, or already exists
    while neither ``overwrite`` nor ``resume`` is given (the message lists them and names both options).
    """
    if overwrite and resume:
        raise NoiseaugInputError("--overwrite and --resume exclude each other: replace existing outputs, or keep them")
    protected: dict[Path, Path] = {}
    inodes: dict[tuple[int, int], Path] = {}
    for source in map(Path, sources):
        if source.is_file() and not os.access(source, os.R_OK):
            raise NoiseaugFileError(f"cannot read the input {source}: permission denied")
        protected[_entry(source)] = source
        protected[source.resolve()] = source
        identity = _identity(source)
        if identity is not None:
            inodes[identity] = source
    seen: set[Path] = set()
    existing: list[bool] = []
    for target in map(Path, targets):
        entry = _entry(target)
        identity = _identity(target)
        clash = (
            protected.get(entry)
            or protected.get(target.resolve())
            or (inodes.get(identity) if identity is not None else None)
        )
        if clash is not None:
            raise NoiseaugInputError(
                f"output {target} would overwrite the input {clash}; write to another file or folder"
            )
        if entry in seen:
            raise NoiseaugInputError(f"output {target} would be written twice; give each input its own output")
        seen.add(entry)
        if target.is_dir():
            raise NoiseaugInputError(f"output {target} is a folder, not a file; remove it or write elsewhere")
        existing.append(os.path.lexists(target))
    found = [str(t) for t, e in zip(targets, existing, strict=True) if e]
    if found and not (overwrite or resume):
        listed = ", ".join(found[:MAX_LISTED]) + (
            f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        )
        raise NoiseaugInputError(
            f"{len(found)} output file(s) exist already: {listed}; pass --overwrite to replace "
            "them, or --resume to keep them and write only the missing ones"
        )
    return [not (resume and e) for e in existing]


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--overwrite`` and ``--resume``, the options of :func:`plan_outputs`."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--overwrite", action="store_true", help="replace output files that exist already (inputs are never replaced)"
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="keep output files that exist already (e.g. from an "
        "interrupted run: writes are atomic, so they are complete) and write the others",
    )
