"""Project-wide pytest set-up (``tests/conftest.py`` holds the fixtures).

The host-library adapters ``noiseaug/transforms/albumentations.py`` and ``torchvision.py`` raise ImportError
where their optional dependency is missing (or, for torchvision, built for another torch); ``--doctest-modules``
would then fail to collect them, so their doctests are left out there (their tests skip on their own).
"""

import importlib
import os

# albumentations asks PyPI for a newer version when it is imported; tests download nothing.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a broken install fails with other errors than ImportError
        return False
    return True


collect_ignore = [
    f"noiseaug/transforms/{name}.py"
    for name in ("albumentations", "torchvision")
    if not _importable(f"noiseaug.transforms.{name}")
]
