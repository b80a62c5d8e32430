"""The albumentations and torchvision adapters say what to install when their host library is missing."""

import importlib
import sys

import pytest


@pytest.mark.parametrize("extra", ["albumentations", "torchvision"])
def test_missing_host_library_raises_an_import_error_naming_the_extra(monkeypatch, extra):
    for name in [extra, *(m for m in sys.modules if m.startswith(extra + "."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing a name mapped to None raises ImportError
    monkeypatch.delitem(sys.modules, f"noiseaug.transforms.{extra}", raising=False)
    with pytest.raises(ImportError, match=rf"pip install noiseaug\[{extra}\]"):
        importlib.import_module(f"noiseaug.transforms.{extra}")
