"""The TF1 tensor-bundle reader on bundles written from the format description (no official files needed)."""

import numpy as np
import pytest
from tfbundle_helpers import write_bundle

from noiseaug.tfbundle import CheckpointError, crc32c, mask_crc, read_checkpoint, read_index, unmask_crc

TENSORS = {
    "a/weights": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
    "a/bias": np.float32(0.5),
    "b/double": np.linspace(-1, 1, 5),
    "step": np.array(7, np.int64),
    "z/ints": np.arange(3, dtype=np.int32),
}


def test_crc32c_known_values():
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4: 32 bytes of zeros
    assert crc32c(bytes(range(32))) == 0x46DD794E  # RFC 3720, B.4: 0x00..0x1f
    assert crc32c(b"56789", crc32c(b"1234")) == 0xE3069283
    for value in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask_crc(mask_crc(value)) == value


def test_round_trip(tmp_path):
    prefix = write_bundle(tmp_path / "model.ckpt", TENSORS)
    header, entries = read_index(prefix)
    assert header == {"num_shards": 1, "endianness": 0} and sorted(entries) == sorted(TENSORS)
    got = read_checkpoint(prefix)
    for name, value in TENSORS.items():
        assert got[name].dtype == np.asarray(value).dtype and got[name].shape == np.shape(value)
        assert np.array_equal(got[name], value)
    assert sorted(read_checkpoint(tmp_path / "model.ckpt.index")) == sorted(TENSORS)
    assert sorted(read_checkpoint(tmp_path / "model.ckpt.data-00000-of-00001")) == sorted(TENSORS)


def test_damaged_copies(tmp_path):
    prefix = write_bundle(tmp_path / "model.ckpt", TENSORS)
    index, data = tmp_path / "model.ckpt.index", tmp_path / "model.ckpt.data-00000-of-00001"
    good_index, good_data = index.read_bytes(), data.read_bytes()
    entry = read_index(prefix)[1]["a/weights"]
    flipped = bytearray(good_data)
    flipped[entry.offset + 9] ^= 0x04
    data.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=r"data-00000-of-00001: tensor 'a/weights' fails its CRC-32C check"):
        read_checkpoint(prefix)
    data.write_bytes(good_data[:-8])
    with pytest.raises(CheckpointError, match=r"data-00000-of-00001 is truncated: tensor '.+' needs bytes"):
        read_checkpoint(prefix)
    data.write_bytes(good_data)
    flipped = bytearray(good_index)
    flipped[20] ^= 0x01
    index.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.index: the data block at byte 0 fails its CRC-32C check"):
        read_checkpoint(prefix)
    index.write_bytes(good_index[: len(good_index) // 2])
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.index is not a TensorFlow checkpoint index"):
        read_checkpoint(prefix)
    index.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="magic number"):
        read_checkpoint(prefix)
    data.unlink()
    index.write_bytes(good_index)
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.data-00000-of-00001 not found"):
        read_checkpoint(prefix)
