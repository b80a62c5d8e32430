"""A minimal writer of TF1 tensor bundles (one SSTable data block, one shard), for tests of the reader.

It writes what noiseaug.tfbundle reads: the format of TensorFlow's checkpoints, built from its description.
"""

import struct
from pathlib import Path

import numpy as np

from noiseaug.tfbundle import TABLE_MAGIC, crc32c, mask_crc

_DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("int64"): 9}


def varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_fixed32(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<I", value)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point, at 0


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00")))


def write_bundle(prefix, tensors: dict) -> Path:
    """Write ``prefix.index`` and ``prefix.data-00000-of-00001`` holding ``tensors`` (name -> numpy array)."""
    prefix = Path(prefix)
    data, entries = bytearray(), []
    for name in sorted(tensors):
        array = np.array(tensors[name], order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        shape = b"".join(field_bytes(2, field_varint(1, d)) for d in array.shape)
        entry = (
            field_varint(1, _DTYPES[array.dtype])
            + field_bytes(2, shape)
            + field_varint(4, len(data))
            + field_varint(5, len(raw))
            + field_fixed32(6, mask_crc(crc32c(raw)))
        )
        entries.append((name.encode(), entry))
        data += raw
    header = field_varint(1, 1) + field_bytes(3, field_varint(1, 1))
    data_block = _block([(b"", header)] + entries)
    index = bytearray(_with_trailer(data_block))
    data_handle = varint(0) + varint(len(data_block))
    meta_offset = len(index)
    meta = _block([])
    index += _with_trailer(meta)
    index_offset = len(index)
    index_block = _block([(entries[-1][0] if entries else b"", data_handle)])
    index += _with_trailer(index_block)
    footer = varint(meta_offset) + varint(len(meta)) + varint(index_offset) + varint(len(index_block))
    index += footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
    prefix.with_name(prefix.name + ".index").write_bytes(bytes(index))
    prefix.with_name(prefix.name + ".data-00000-of-00001").write_bytes(bytes(data))
    return prefix
