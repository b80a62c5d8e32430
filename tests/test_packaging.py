"""The wheel contains every sub-package: pyproject lists them by hand (noiseaug.weights lives in weights/)."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    """The repository's parsed ``pyproject.toml``."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "noiseaug").rglob("__init__.py")}
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert "noiseaug.weights" in listed and (ROOT / "weights" / "__init__.py").is_file()


def test_the_version_is_pyprojects_read_from_the_package_metadata():
    import importlib.metadata

    import noiseaug

    declared = pyproject()["project"]["version"]
    assert noiseaug.__version__ == importlib.metadata.version("noiseaug") == declared
    assert not any(
        line.startswith('__version__ = "') for line in (ROOT / "noiseaug" / "__init__.py").read_text().splitlines()
    )


def test_the_py_typed_marker_ships_with_the_package():
    setuptools = pyproject()["tool"]["setuptools"]
    assert "py.typed" in setuptools["package-data"]["noiseaug"]
    assert (ROOT / "noiseaug" / "py.typed").is_file()


def test_every_demo_sample_file_is_declared_as_package_data():
    from fnmatch import fnmatch

    patterns = pyproject()["tool"]["setuptools"]["package-data"]["noiseaug.assets.samples"]
    files = [p.name for p in (ROOT / "noiseaug" / "assets" / "samples").iterdir() if p.is_file()]
    assert files and [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []
