"""Saving and loading models as ``model.safetensors`` + ``config.json`` (+ a model card ``README.md``).

``load_pretrained(name_or_path)`` resolves, in order:

1. a local folder holding ``config.json`` and ``model.safetensors``;
2. the name of a model released with the package (a sub-folder of the repository's ``weights/``,
   installed as ``noiseaug.weights``), which works offline after ``pip install``;
3. a Hugging Face Hub repo id (``"org/name"``), through ``huggingface_hub``: its cache, revision
   pinning (``revision=``) and offline mode (``HF_HUB_OFFLINE=1``).

Loading is strict (missing or unexpected tensors are an error) and never executes code from the
files: safetensors holds only tensors and config.json only JSON; a folder with only pickled weights
(``pytorch_model.bin``, ``*.pt``, ...) is refused without reading them. safetensors stores no checksum:
a corrupted file whose tensors hold NaN/Inf (or bools other than 0/1) is rejected, other flipped bits in
the data load unnoticed.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ._validation import check_device
from .atomic import atomic_write, atomic_write_text
from .errors import NoiseaugFileNotFoundError, NoiseaugInputError, NoiseaugTypeError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
#: suffixes of pickled weights (PyTorch / Hugging Face ``*.bin``, ``*.pt``, ...): never loaded, named in errors
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
RELEASED_PACKAGE = "noiseaug.weights"

#: model_type -> class; filled by @register_model when noiseaug (its __init__ imports every model) is imported.
_REGISTRY: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=nn.Module)
P = TypeVar("P", bound="PretrainedMixin")


def register_model(cls: type[M]) -> type[M]:
    """Class decorator: make ``cls`` loadable by its ``model_type`` (and give it ``from_config``)."""
    _REGISTRY[cast(Any, cls).model_type] = cls
    return cls


def model_from_config(config: dict[str, Any], source: str = "config") -> nn.Module:
    """Build the architecture a config describes (weights untrained)."""
    if not isinstance(config, dict) or "model_type" not in config:
        raise NoiseaugInputError(f"{source}: config must be a JSON object with a 'model_type' key")
    model_type = config["model_type"]
    if not isinstance(model_type, str) or model_type not in _REGISTRY:
        raise NoiseaugInputError(f"{source}: unknown model_type {model_type!r}; known: {sorted(_REGISTRY)}")
    cls = _REGISTRY[model_type]
    # keys that older configs lack take the value that reproduces the models saved without them
    kwargs = {**getattr(cls, "legacy_config_defaults", {}), **{k: v for k, v in config.items() if k != "model_type"}}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise NoiseaugInputError(f"{source}: config does not describe a valid {model_type} model: {error}") from error


def save_pretrained(model: nn.Module, folder: str | Path, card: str | None = None) -> Path:
    """Write ``model.safetensors``, ``config.json`` and, if given, the model card ``README.md``, each atomically
    (:func:`~noiseaug.atomic.atomic_write`)."""
    folder = Path(folder)
    config = cast(dict[str, Any], model.config)  # every registered model's config property
    atomic_write_text(folder / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata: dict[str, str] = {"format": "pt", "model_type": config["model_type"]}
    atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    if card is not None:
        atomic_write_text(folder / CARD_NAME, card)
    return folder


def load_folder(folder: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a model from a folder with ``config.json`` + ``model.safetensors`` (strict)."""
    map_location = check_device(map_location, "map_location")
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
    if pickles and not weights_path.is_file():
        raise NoiseaugFileNotFoundError(
            f"{folder} holds pickled weights {pickles} but no {WEIGHTS_NAME}: noiseaug loads "
            f"safetensors only and never unpickles files (unpickling can run arbitrary code); "
            f"convert the weights to {WEIGHTS_NAME} if you trust their source"
        )
    for path in (config_path, weights_path):
        if not path.is_file():
            raise NoiseaugFileNotFoundError(
                f"{path} not found: a pretrained folder holds {CONFIG_NAME} and {WEIGHTS_NAME}"
            )
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise NoiseaugInputError(f"{config_path} is not valid JSON: {error}") from error
    model = model_from_config(config, str(config_path))
    try:
        state = load_file(str(weights_path), device=str(map_location))
    except (SafetensorError, OSError) as error:
        raise NoiseaugInputError(
            f"{weights_path} is not a readable safetensors file (truncated or corrupted?): {error}"
        ) from error
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise NoiseaugInputError(
            f"{weights_path} does not match the architecture in {config_path}: "
            f"missing tensors {missing}, unexpected tensors {unexpected}"
        )
    wrong_shape = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if state[k].shape != v.shape
    ]
    if wrong_shape:
        raise NoiseaugInputError(f"{weights_path} does not match the architecture in {config_path}: {wrong_shape}")
    _check_tensor_values(state, weights_path)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _check_tensor_values(state: dict[str, torch.Tensor], source: str | Path) -> None:
    """``ValueError`` naming ``source`` and the tensors if any float holds NaN/Inf or any bool a byte other than 0/1.

    safetensors has no checksum, so a corrupted data region loads; these values are the corruption a load can
    see (flipped bits in a weight's exponent give Inf/NaN). Other flipped bits give wrong but finite weights.
    """
    bad = sorted(
        name
        for name, t in state.items()
        if (t.is_floating_point() and not bool(torch.isfinite(t).all()))
        or (t.dtype == torch.bool and bool((t.view(torch.uint8) > 1).any()))
    )
    if bad:
        raise NoiseaugInputError(
            f"{source} holds invalid values (NaN/Inf, or bools other than 0/1) in tensors {bad}: the "
            f"file is corrupted or was saved from a diverged model"
        )


def released_models() -> list[str]:
    """Names of the models shipped in ``weights/`` (loadable by name, offline)."""
    try:
        root = resources.files(RELEASED_PACKAGE)
    except ModuleNotFoundError:
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file())


def resolve(name_or_path: str | Path, revision: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """The local folder for a path, a released model's name, or a Hub repo id (downloaded or cached)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise NoiseaugTypeError(
            f"name_or_path must be a folder path, a released model name ({released_models()}) or a "
            f"Hugging Face repo id 'org/name', got {type(name_or_path).__name__}"
        )
    path = Path(name_or_path)
    if path.is_dir():
        return path
    name = str(name_or_path)
    if name in released_models():
        with resources.as_file(resources.files(RELEASED_PACKAGE) / name) as folder:
            return Path(folder)
    if name.count("/") != 1 or path.exists():
        raise NoiseaugInputError(
            f"{name!r} is not a folder, not a released model ({released_models()}), "
            f"and not a Hugging Face repo id of the form 'org/name'"
        )
    return _hub_snapshot(name, revision, cache_dir)


def _hub_snapshot(repo_id: str, revision: str | None, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            library_name="noiseaug",
            allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
        )
    except LocalEntryNotFoundError as error:
        raise NoiseaugFileNotFoundError(
            f"Hugging Face repo {repo_id!r} (revision {revision or 'main'}) is not in the local cache and the Hub "
            f"cannot be reached (HF_HUB_OFFLINE is set or there is no network): {error}"
        ) from error
    except HfHubHTTPError as error:
        raise NoiseaugFileNotFoundError(f"could not download Hugging Face repo {repo_id!r}: {error}") from error
    return Path(folder)


def load_pretrained(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Load any registered model from a folder, a released name or a Hub repo id (see module docs)."""
    return load_folder(resolve(name_or_path, revision, cache_dir), map_location)


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    card: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload noiseaug model",
) -> str:
    """Upload ``model`` (safetensors + config + card) to a Hub model repo; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, card=card)
        return str(api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=commit_message))


class PretrainedMixin:
    """``from_pretrained`` / ``save_pretrained`` / ``push_to_hub`` for registered models."""

    @classmethod
    def from_pretrained(
        cls: type[P],
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        map_location: str | torch.device = "cpu",
    ) -> P:
        """Load weights from a local folder, a released model name, or a Hub repo id."""
        model = load_pretrained(name_or_path, revision=revision, cache_dir=cache_dir, map_location=map_location)
        if not isinstance(model, cls):
            raise NoiseaugInputError(f"{name_or_path!r} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def save_pretrained(self, folder: str | Path, card: str | None = None) -> Path:
        return save_pretrained(cast(nn.Module, self), folder, card)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        return push_to_hub(cast(nn.Module, self), repo_id, **kwargs)
