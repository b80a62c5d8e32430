"""Corrupted, mistyped and hostile weight folders: each failure is an error naming the file, folder or repo id,
and loading never unpickles anything. Complements test_hub.py (round trips, strictness, truncation, cache miss)."""

import json
import pickle
import re
import shutil
import struct
from pathlib import Path

import pytest
import torch
from flow_helpers import trained_looking_flow
from hub_helpers import build_hub_cache, run_offline
from safetensors.torch import load_file

from noiseaug import NAFlow, NoiseFlow, NoiseFlowTransform
from noiseaug.hub import WEIGHTS_NAME, load_pretrained, save_pretrained
from noiseaug.training import load_checkpoint

CAMERAS, ISOS = ["cam-a", "cam-b"], [100, 800]
#: names under which torch, transformers or a training script keep pickled weights and checkpoints
PICKLE_NAMES = [
    "pytorch_model.bin",
    "pytorch_model-00001-of-00002.bin",
    "model.bin",
    "model.pt",
    "model.pth",
    "pytorch_model.pt",
    "model.ckpt",
    "training_args.bin",
    "optimizer.pt",
    "adapter_model.bin",
    "best.pt",
    "last.pt",
    "model.pkl",
]


class Hostile:
    """Unpickling this creates ``marker``: the proof that a loader ran code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def _write_hostile(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {"weight": torch.zeros(1)}, "extra": Hostile(marker)}, path)
    return path


@pytest.fixture
def saved(tmp_path):
    return save_pretrained(trained_looking_flow(CAMERAS, ISOS), tmp_path / "model")


def _flip(path: Path, position: int, mask: int = 0xFF, length: int = 1) -> None:
    """xor ``length`` bytes of the file from ``position`` with ``mask``."""
    data = bytearray(path.read_bytes())
    for i in range(position, position + length):
        data[i] ^= mask
    path.write_bytes(bytes(data))


def _data_start(raw: bytes) -> int:
    """Where the tensor data begins: after the 8-byte little-endian header length and the JSON header."""
    return 8 + struct.unpack("<Q", raw[:8])[0]


def _tensor_start(path: Path, name: str) -> int:
    """File offset of tensor ``name``'s first byte."""
    raw = path.read_bytes()
    return _data_start(raw) + json.loads(raw[8 : _data_start(raw)])[name]["data_offsets"][0]


def _digit_after(marker: bytes):
    return lambda raw: raw.index(marker) + len(marker)


HEADER_CORRUPTIONS = {  # name -> (the file's bytes -> position of the byte to corrupt, xor mask)
    "length_prefix": (lambda raw: 0, 0xFF),
    "header_json": (lambda raw: (8 + _data_start(raw)) // 2, 0xFF),
    "dtype_bit": (lambda raw: raw.index(b'"F32"') + 3, 0x01),  # F32 -> F33
    "offset_bit": (_digit_after(b'"data_offsets":['), 0x01),  # [0, n] -> [1, n]
    "shape_bit": (_digit_after(b'"shape":['), 0x04),
}


@pytest.mark.parametrize("corruption", [*HEADER_CORRUPTIONS, "zero_bytes"])
def test_a_corrupted_header_or_empty_file_is_an_error_naming_the_file(saved, corruption):
    weights = saved / WEIGHTS_NAME
    if corruption == "zero_bytes":
        weights.write_bytes(b"")
    else:
        locate, mask = HEADER_CORRUPTIONS[corruption]
        _flip(weights, locate(weights.read_bytes()), mask)
    with pytest.raises(ValueError, match=rf"{re.escape(str(weights))} (is not a readable safetensors|does not match)"):
        load_pretrained(saved)


def test_non_finite_or_invalid_tensor_data_is_an_error_naming_the_file_and_tensors(saved):
    weights = saved / WEIGHTS_NAME
    state = load_file(str(weights))
    zero = "layers.1.layers.1.lower_mask"  # a 0/1 float32 buffer: all 32 bits of a 0.0 flipped is NaN
    _flip(weights, _tensor_start(weights, zero) + 4 * int((state[zero].flatten() == 0).nonzero()[0]), length=4)
    with pytest.raises(ValueError, match=rf"{re.escape(str(weights))} holds invalid values .* \['{zero}'\]"):
        load_pretrained(saved)
    _flip(weights, _tensor_start(weights, "layers.1.layers.0.initialized"), 0xFF)  # a bool byte 0x01 -> 0xFE
    with pytest.raises(ValueError, match=rf"in tensors \['layers.1.layers.0.initialized', '{zero}'\]"):
        load_pretrained(saved)


def test_a_whole_flipped_data_region_is_an_error(saved):
    weights = saved / WEIGHTS_NAME
    raw = weights.read_bytes()
    weights.write_bytes(raw[: _data_start(raw)] + bytes(b ^ 0xFF for b in raw[_data_start(raw) :]))
    with pytest.raises(ValueError, match=rf"{re.escape(str(weights))} holds invalid values"):
        load_pretrained(saved)


def test_finite_corruption_is_undetectable_without_a_checksum(saved):
    """safetensors stores no checksum: a flipped mantissa bit loads as a slightly different weight."""
    weights = saved / WEIGHTS_NAME
    _flip(weights, _tensor_start(weights, "layers.0.log_beta1"), 0x01)
    loaded = load_pretrained(saved).state_dict()["layers.0.log_beta1"]
    original = trained_looking_flow(CAMERAS, ISOS).state_dict()["layers.0.log_beta1"]
    assert not torch.equal(loaded, original) and torch.allclose(loaded, original, rtol=1e-6, atol=0)


def _edited_config(folder: Path, **changes) -> bytes:
    return json.dumps({**json.loads((folder / "config.json").read_text()), **changes}).encode()


BAD_CONFIGS = {  # name -> (config.json bytes, or a function of the folder giving them; the error after the path)
    "not_json": (b"{not json", "is not valid JSON"),
    "empty": (b"", "is not valid JSON"),
    "flipped_bytes": (bytes(b ^ 0xFF for b in b'{"model_type": "noiseflow"}'), "is not valid JSON"),
    "deeply_nested": (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
    "a_list": (b"[]", "config must be a JSON object with a 'model_type' key"),
    "a_string": (b'"noiseflow"', "config must be a JSON object"),
    "no_model_type": (json.dumps({"cameras": CAMERAS, "iso_levels": ISOS}).encode(), "with a 'model_type' key"),
    "model_type_a_list": (b'{"model_type": ["noiseflow"]}', r"unknown model_type \['noiseflow'\]"),
    "model_type_null": (b'{"model_type": null}', "unknown model_type None"),
    "hidden_a_string": (lambda folder: _edited_config(folder, hidden="5"), "does not describe a valid noiseflow"),
}


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_a_bad_config_is_an_error_naming_the_file(saved, name):
    content, message = BAD_CONFIGS[name]
    (saved / "config.json").write_bytes(content(saved) if callable(content) else content)
    with pytest.raises(ValueError, match=re.escape(str(saved / "config.json")) + rf".*{message}"):
        load_pretrained(saved)


WRONG_TYPED_LISTS = {  # name -> (model, config change that a constructor should reject)
    "noiseflow_cameras": (lambda: trained_looking_flow(CAMERAS, ISOS), {"cameras": "ab"}),
    "noiseflow_iso_levels": (lambda: trained_looking_flow(CAMERAS, ISOS), {"iso_levels": [100, "800"]}),
    "naflow_configurations": (
        lambda: NAFlow(["a", "b"], levels=1, blocks=1, hidden=4, features=2),
        {"configurations": "ab"},
    ),
}


@pytest.mark.parametrize("name", WRONG_TYPED_LISTS)
def test_config_lists_of_the_wrong_type_are_errors(tmp_path, name):
    model, changes = WRONG_TYPED_LISTS[name]
    folder = save_pretrained(model(), tmp_path / "model")
    (folder / "config.json").write_bytes(_edited_config(folder, **changes))
    with pytest.raises(ValueError, match=re.escape(str(folder / "config.json")) + ".*config does not describe a valid"):
        load_pretrained(folder)


@pytest.mark.parametrize("with_config", [False, True], ids=["alone", "with_config"])
def test_a_folder_with_only_pickled_weights_is_refused_unread(tmp_path, with_config):
    folder, marker = tmp_path / "pickled", tmp_path / "marker"
    folder.mkdir()
    _write_hostile(folder / "pytorch_model.bin", marker)
    if with_config:
        (folder / "config.json").write_text(json.dumps(trained_looking_flow(CAMERAS, ISOS).config))
    message = r" holds pickled weights \[.pytorch_model.bin.\] but no model.safetensors: noiseaug loads safetensors"
    with pytest.raises(FileNotFoundError, match=re.escape(str(folder)) + message):
        NoiseFlow.from_pretrained(folder)
    assert not marker.exists()


def _hostile_folder(saved: Path, marker: Path) -> Path:
    """``saved`` (valid weights) with a hostile pickle under every name a loader might try."""
    for name in PICKLE_NAMES:
        _write_hostile(saved / name, marker)
    return saved


def test_the_hostile_pickle_does_run_code_when_unpickled(tmp_path):
    """The control for the tests below: the marker appears when the file is unpickled without weights_only."""
    torch.load(_write_hostile(tmp_path / "model.pt", tmp_path / "marker"), weights_only=False)
    assert (tmp_path / "marker").exists()


def test_loading_a_folder_never_unpickles(saved, tmp_path):
    marker = tmp_path / "marker"
    folder = _hostile_folder(saved, marker)
    for load in (load_pretrained, NoiseFlow.from_pretrained, NoiseFlowTransform.from_pretrained):
        load(folder)
    pickle_as_safetensors = tmp_path / "disguised"
    shutil.copytree(folder, pickle_as_safetensors)
    _write_hostile(pickle_as_safetensors / WEIGHTS_NAME, marker)
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_pretrained(pickle_as_safetensors)
    assert not marker.exists()


def test_loading_from_the_hub_cache_never_unpickles_and_errors_name_the_repo(saved, tmp_path):
    marker, pickled = tmp_path / "marker", tmp_path / "pickled"
    pickled.mkdir()
    _write_hostile(pickled / "pytorch_model.bin", marker)
    cache = tmp_path / "hub"
    build_hub_cache(cache, "someone/flow", {"a" * 40: _hostile_folder(saved, marker)}, main="a" * 40)
    build_hub_cache(cache, "someone/pickled", {"b" * 40: pickled}, main="b" * 40)
    result = run_offline(
        cache,
        """
        from noiseaug.hub import load_pretrained
        print(type(load_pretrained("someone/flow")).__name__)
        for repo, revision in [("someone/flow", "c" * 40), ("someone/pickled", None)]:
            try:
                load_pretrained(repo, revision=revision)
            except FileNotFoundError as error:
                print("ERROR:", error)
    """,
    )
    assert result.returncode == 0, result.stderr
    loaded, missing_revision, pickle_only = result.stdout.strip().splitlines()
    assert loaded == "NoiseFlow"
    assert missing_revision.startswith(f"ERROR: Hugging Face repo 'someone/flow' (revision {'c' * 40}) is not in the")
    assert re.match(r"ERROR: .*models--someone--pickled.* holds pickled weights \['pytorch_model.bin'\]", pickle_only)
    assert not marker.exists()


def test_load_checkpoint_refuses_a_hostile_checkpoint_naming_the_file(tmp_path):
    marker = tmp_path / "marker"
    checkpoint = _write_hostile(tmp_path / "last.pt", marker)
    with pytest.raises(pickle.UnpicklingError, match=rf"{re.escape(str(checkpoint))} was not loaded: it holds objects"):
        load_checkpoint(checkpoint)
    assert not marker.exists()
