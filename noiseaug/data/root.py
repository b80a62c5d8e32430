"""Where the data lives: ``$NOISEAUG_DATA``, else ``../shared/data`` relative to the working directory."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NoiseaugFileNotFoundError

ENV_VAR = "NOISEAUG_DATA"
DEFAULT_ROOT = Path("..") / "shared" / "data"


def data_root() -> Path:
    """The data root folder; raises ``FileNotFoundError`` naming the path tried and the variable to set."""
    override = os.environ.get(ENV_VAR)
    if override:
        root = Path(override).expanduser()
        if not root.is_dir():
            raise NoiseaugFileNotFoundError(
                f"{ENV_VAR} points to {root}, which is not a folder; set {ENV_VAR} to your data root"
            )
        return root
    root = Path.cwd() / DEFAULT_ROOT
    if not root.is_dir():
        raise NoiseaugFileNotFoundError(
            f"no data root: {root.resolve()} does not exist; set the {ENV_VAR} environment "
            "variable to the folder holding clean/ and real-srgb/"
        )
    return root


def data_folder(*parts: str) -> Path:
    """A folder under :func:`data_root`, e.g. ``data_folder("real-srgb", "polyu")``; raises if missing."""
    folder = data_root().joinpath(*parts)
    if not folder.is_dir():
        raise NoiseaugFileNotFoundError(
            f"data folder {folder} does not exist (data root from {ENV_VAR} or ../shared/data)"
        )
    return folder


OFFICIAL_ENV_VAR = "NOISEAUG_OFFICIAL"
DEFAULT_OFFICIAL = Path("..") / "shared" / "official"


def official_root() -> Path:
    """The folder of the authors' SIDD weights (``noiseflow-sidd/``, ``noise2noiseflow-sidd/``, golden outputs):
    ``$NOISEAUG_OFFICIAL``, else ``../shared/official`` relative to the working directory; raises
    ``FileNotFoundError`` naming the path tried and the variable to set."""
    override = os.environ.get(OFFICIAL_ENV_VAR)
    root = Path(override).expanduser() if override else Path.cwd() / DEFAULT_OFFICIAL
    if not root.is_dir():
        where = f"{OFFICIAL_ENV_VAR} points to {root}" if override else f"{root.resolve()} does not exist"
        raise NoiseaugFileNotFoundError(
            f"no folder of official weights: {where}; set {OFFICIAL_ENV_VAR} to the folder holding "
            f"noiseflow-sidd/ and noise2noiseflow-sidd/"
        )
    return root
