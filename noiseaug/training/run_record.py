"""``run.json``: what a ``noiseaug train`` run folder was trained with, checked when the run is resumed.

Every recipe run goes through :func:`check_train_run` before its recipe starts (one place for every recipe,
called by :func:`noiseaug.recipes.run_recipe`, so by ``noiseaug train`` too). It writes ``OUT/run.json``: the
recipe, every option (each field of the recipe's config, defaults included; paths absolute), the data it reads (each data folder, or the data root when a default is used, with a fingerprint
of its file list: SHA-256 of the sorted relative paths and sizes) and the noiseaug and torch versions.

When a checkpoint (``last.pt``) exists and the run resumes, the new command must match ``run.json``: any other
difference is a :class:`RunMismatchError` (exit status 2) listing each one and saying that ``--no-resume`` starts
over. The options in :data:`ALLOWED_ON_RESUME` may change (e.g. ``--steps`` to train longer); the changes are
appended to ``run.json``'s ``"resumes"``. Other versions of noiseaug or torch are a warning. A run folder with a
checkpoint but no ``run.json`` (from an older noiseaug) resumes with a warning and gets one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import NoiseaugInputError

RUN_RECORD = "run.json"
#: Options that may differ when a run resumes, and why that is safe.
ALLOWED_ON_RESUME = {
    "steps": "train longer (or stop earlier): batch k depends on the seed and k only",
    "prior_steps": "the same, for flow-prior's prior stage",
    "val_every": "validate and checkpoint more or less often",
    "device": "the same computation on another device",
    "stage": "flow-prior: train the prior, then the denoiser",
}
#: Options that hold paths (compared as absolute paths) and those among them that name data folders.
PATH_OPTIONS = ("out", "images", "val_images", "data", "prior")
DATA_OPTIONS = ("images", "val_images", "data", "prior")
#: What a run writes at the top of its folder: left out of the fingerprint of a data folder that is ``OUT`` itself.
RUN_OUTPUT_SUFFIXES = (".pt", ".json")


class RunMismatchError(NoiseaugInputError):
    """A resumed run whose command differs from the one recorded in its ``run.json``."""


def fingerprint(folder: Path, out: Path | None = None) -> dict[str, Any]:
    """``{"files": n, "sha256": ...}`` of the files under ``folder`` (relative paths and sizes, sorted).

    The folder ``out`` (the run's own outputs) is left out where it lies inside ``folder``; if it is ``folder``
    itself, only the run's top-level outputs (``*.pt``, ``*.json``, sub-folders) are.
    """
    folder = folder.resolve()
    out = out.resolve() if out is not None else None
    entries: list[str] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if out is not None and here == out and out == folder:
            dirs.clear()
            files = [f for f in files if not f.endswith(RUN_OUTPUT_SUFFIXES)]
        elif out is not None and here == out:
            dirs.clear()
            continue
        dirs.sort()
        for name in sorted(files):
            path = here / name
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            entries.append(f"{path.relative_to(folder).as_posix()}\t{size}")
    digest = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return {"files": len(entries), "sha256": digest}


def _data_root_or_none() -> Path | None:
    from ..data.root import data_root

    try:
        return data_root().resolve()
    except FileNotFoundError:
        return None


def build_record(recipe: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``run.json`` content of a run of ``recipe`` with ``options`` (the config's fields, ``out`` and ``model``,
    the recipe's name, as ``noiseaug train`` has always recorded them)."""
    import torch

    from .. import __version__

    recorded: dict[str, Any] = {}
    for name, value in sorted(options.items()):
        if name in PATH_OPTIONS and value is not None and Path(value).exists():
            value = str(Path(value).resolve())
        elif name in PATH_OPTIONS and value is not None:
            value = str(Path(value).absolute()) if name == "out" else str(value)  # e.g. a released name
        recorded[name] = value
    out = Path(options["out"])
    data: dict[str, Any] = {}
    for name in DATA_OPTIONS:
        value = options.get(name)
        if value is not None and Path(value).is_dir():
            data[name] = {"path": str(Path(value).resolve()), **fingerprint(Path(value), out)}
    if any(name in options and options[name] is None for name in ("images", "val_images", "data")):
        root = _data_root_or_none()  # a default folder under the data root is read
        data["data_root"] = {"path": str(root), **fingerprint(root, out)} if root is not None else None
    return {
        "recipe": recipe,
        "options": recorded,
        "data": data,
        "versions": {"noiseaug": __version__, "torch": torch.__version__},
    }


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def compare_records(previous: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """``(differences, allowed changes, version changes)`` between a recorded run and the current command."""
    differences: list[str] = []
    allowed: list[str] = []
    versions: list[str] = []
    if previous.get("recipe") != current["recipe"]:
        differences.append(f"recipe {previous.get('recipe')!r} -> {current['recipe']!r}")
    old, new = previous.get("options", {}), current["options"]
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            change = f"{_flag(name)} {old.get(name)!r} -> {new.get(name)!r}"
            (allowed if name in ALLOWED_ON_RESUME else differences).append(change)
    old_data, new_data = previous.get("data", {}), current["data"]
    for name in sorted(set(old_data) | set(new_data)):
        if old_data.get(name) != new_data.get(name):
            before, after = old_data.get(name) or {}, new_data.get(name) or {}
            differences.append(
                f"data {name} {before.get('path')} ({before.get('files')} files, "
                f"{str(before.get('sha256'))[:12]}) -> {after.get('path')} ({after.get('files')} files, "
                f"{str(after.get('sha256'))[:12]})"
            )
    for name, version in current["versions"].items():
        if previous.get("versions", {}).get(name) != version:
            versions.append(f"{name} {previous.get('versions', {}).get(name)} -> {version}")
    return differences, allowed, versions


def _has_checkpoint(out: Path) -> bool:
    """Whether ``out`` (or a stage folder in it, e.g. flow-prior's ``prior/``) holds a ``last.pt`` to resume."""
    return (out / "last.pt").is_file() or any(p.is_file() for p in out.glob("*/last.pt"))


def _warn(message: str) -> None:
    print(f"noiseaug train: warning: {message}", file=sys.stderr)


def check_train_run(recipe: str, options: dict[str, Any], resume: bool = True, rank: int = 0) -> Path:
    """Write ``OUT/run.json`` (``OUT`` is ``options["out"]``) for a run of ``recipe``, after checking a resumed run
    against the existing one (see the module docs); returns its path. Only ``rank`` 0 writes it."""
    out = Path(options["out"])
    path = out / RUN_RECORD
    record = build_record(recipe, options)
    resumes: list[dict[str, Any]] = []
    if resume and _has_checkpoint(out):
        if path.is_file():
            try:
                previous = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise RunMismatchError(
                    f"{path} is not readable JSON ({error}); pass --no-resume to start over"
                ) from error
            differences, allowed, versions = compare_records(previous, record)
            if differences:
                allowed_names = ", ".join(_flag(name) for name in ALLOWED_ON_RESUME)
                raise RunMismatchError(
                    f"{out} holds a run with other settings, and resuming it would mix two runs: "
                    f"{'; '.join(differences)} (recorded in {path} -> this command). Pass --no-resume to start over "
                    f"(or use another --out); options that may change on resume: {allowed_names}"
                )
            for change in versions:
                _warn(f"resuming {out} with another version: {change}")
            resumes = [*previous.get("resumes", []), *([{"changed": allowed}] if allowed else [])]
        else:
            _warn(
                f"{out} has a checkpoint but no {RUN_RECORD} (a run from an older noiseaug): resuming without "
                "checking that its options match this command"
            )
    if rank == 0:
        atomic_write_text(path, json.dumps({**record, "resumes": resumes}, indent=2) + "\n")
    return path


@contextlib.contextmanager
def recorded_run(recipe: str, options: dict[str, Any], resume: bool = True, rank: int = 0) -> Iterator[Path]:
    """:func:`check_train_run`, then the run; if it fails on bad input before its first checkpoint, the
    ``run.json`` it wrote (and ``OUT``, if this run created it and it is empty) are removed again (rank 0)."""
    out = Path(options["out"])
    created = not out.exists()
    path = check_train_run(recipe, options, resume, rank)
    try:
        yield path
    except NoiseaugInputError:
        if rank == 0 and not _has_checkpoint(out):
            path.unlink(missing_ok=True)
            if created:
                with contextlib.suppress(OSError):
                    out.rmdir()  # only if empty
        raise
