"""Shared test helpers: a Hugging Face Hub cache built on disk, and code run against it offline."""

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path


def build_hub_cache(cache: Path, repo_id: str, snapshots: dict[str, Path], main: str) -> None:
    """The layout huggingface_hub writes: blobs/<hash>, snapshots/<commit>/<file> -> blob links, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(main)
    for commit, folder in snapshots.items():
        snap = repo / "snapshots" / commit
        snap.mkdir(parents=True)
        for file in folder.iterdir():
            blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
            shutil.copyfile(file, blob)
            os.symlink(os.path.relpath(blob, snap), snap / file.name)


def run_offline(cache: Path, code: str) -> subprocess.CompletedProcess:
    """``python -c code`` with ``HF_HUB_OFFLINE=1`` and ``cache`` as the Hub cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent / "hf-home")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )
