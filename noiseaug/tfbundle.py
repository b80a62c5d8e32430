"""Reading a TensorFlow 1 checkpoint (a "tensor bundle") without TensorFlow.

A checkpoint ``PREFIX`` is two files:

* ``PREFIX.index``: an SSTable (the LevelDB table format TensorFlow's ``lib/io/table`` writes). Its 48-byte
  footer holds the block handles (varint offset and size) of the metaindex and index blocks and the magic
  number ``0xdb4775248b80fb57``. Each block is followed by a 5-byte trailer: a compression byte (0 = none) and
  the masked CRC-32C of the block and that byte. A block is a run of prefix-compressed entries
  (``shared``, ``non_shared``, ``value_length`` varints, the key's new bytes, the value) and a restart array.
  The index block maps separator keys to the handles of the data blocks. In the data blocks the key ``""``
  holds a ``BundleHeaderProto`` (number of shards, endianness, version) and every other key is a tensor's name
  with a ``BundleEntryProto``: dtype, shape, shard, offset, size and the masked CRC-32C of the tensor's bytes.
* ``PREFIX.data-00000-of-00001`` (one per shard): the tensors' raw bytes, little-endian, at those offsets.

Every block trailer and every tensor's checksum is verified; any mismatch, truncation or unexpected structure is
a :class:`CheckpointError` naming the file. CRC-32C (Castagnoli, reflected polynomial ``0x82F63B78``) is
implemented here (:func:`crc32c`, table-driven; the checkpoints it is used for are a few KB) rather than taken
from a package, so that reading a checkpoint needs nothing beyond numpy. The masking is TensorFlow's (and
LevelDB's) ``((crc >> 15 | crc << 17) + 0xa282ead8) mod 2^32``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from .errors import NoiseaugInputError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
_MASK_DELTA = 0xA282EAD8

#: TensorFlow DataType enum -> numpy dtype (little-endian); the numeric types only.
TF_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    17: np.dtype("<u2"),
    19: np.dtype("<f2"),
    22: np.dtype("<u4"),
    23: np.dtype("<u8"),
}
TF_DTYPE_NAMES = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    19: "float16",
    22: "uint32",
    23: "uint64",
}


class CheckpointError(NoiseaugInputError):
    """A file is not a readable checkpoint of the expected kind; the message names the file and what was expected."""


# ---------------------------------------------------------------------------------------------- CRC-32C
def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc`` (0 to start).

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    table = _CRC_TABLE
    c = crc ^ 0xFFFFFFFF
    for byte in bytes(data):
        c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """TensorFlow's (LevelDB's) masked CRC, stored so that a CRC of data containing CRCs stays informative."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------- wire formats
def _varint(buf: bytes, pos: int, source: str, what: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError(f"{source}: truncated varint in {what}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CheckpointError(f"{source}: malformed varint in {what}")


def _proto_fields(buf: bytes, source: str, what: str) -> list[tuple[int, int, int | bytes]]:
    """A protobuf message's ``(field number, wire type, value)`` list (varint, fixed64, bytes, fixed32)."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos, source, what)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos, source, what)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise CheckpointError(f"{source}: truncated {what}")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos, source, what)
            if pos + length > len(buf):
                raise CheckpointError(f"{source}: truncated {what}")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            if pos + 4 > len(buf):
                raise CheckpointError(f"{source}: truncated {what}")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise CheckpointError(f"{source}: malformed {what} (wire type {wire})")
        out.append((number, wire, value))
    return out


def _num(value: int | bytes) -> int:
    """A varint or fixed-size field's value (the caller checked the wire type: 0, 1 or 5)."""
    return cast(int, value)


def _buf(value: int | bytes) -> bytes:
    """A length-delimited field's value (the caller checked the wire type: 2)."""
    return cast(bytes, value)


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class BundleEntry:
    """One tensor's ``BundleEntryProto``: where its bytes are and their checksum."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None  # masked, as stored
    sliced: bool

    @property
    def dtype_name(self) -> str:
        return TF_DTYPE_NAMES.get(self.dtype, f"DataType {self.dtype}")


def _parse_shape(buf: bytes, source: str, name: str) -> tuple[int, ...]:
    dims = []
    for number, wire, value in _proto_fields(buf, source, f"the shape of {name!r}"):
        if number == 2 and wire == 2:
            size = next(
                (
                    _signed64(_num(v))
                    for n, w, v in _proto_fields(_buf(value), source, "a dimension")
                    if n == 1 and w == 0
                ),
                0,
            )
            dims.append(size)
        elif number == 3 and wire == 0 and value:
            raise CheckpointError(f"{source}: tensor {name!r} has an unknown rank")
    if any(d < 0 for d in dims):
        raise CheckpointError(f"{source}: tensor {name!r} has an undefined dimension {dims}")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes, source: str) -> BundleEntry:
    dtype, shard, offset, size, sliced = 0, 0, 0, 0, False
    shape: tuple[int, ...] = ()
    crc: int | None = None
    for number, wire, value in _proto_fields(buf, source, f"the entry of {name!r}"):
        if number == 1 and wire == 0:
            dtype = _num(value)
        elif number == 2 and wire == 2:
            shape = _parse_shape(_buf(value), source, name)
        elif number == 3 and wire == 0:
            shard = _num(value)
        elif number == 4 and wire == 0:
            offset = _signed64(_num(value))
        elif number == 5 and wire == 0:
            size = _signed64(_num(value))
        elif number == 6 and wire == 5:
            crc = _num(value)
        elif number == 7:
            sliced = True
    return BundleEntry(name, dtype, shape, shard, offset, size, crc, sliced)


# ---------------------------------------------------------------------------------------------- SSTable
def _read_block(data: bytes, offset: int, size: int, source: str, what: str) -> bytes:
    end = offset + size + BLOCK_TRAILER_SIZE
    if offset < 0 or size < 0 or end > len(data) - FOOTER_SIZE:
        raise CheckpointError(
            f"{source}: the {what} (bytes {offset}..{end}) lies beyond the end of the file "
            f"({len(data)} bytes): the index file is truncated or corrupted"
        )
    block, kind = data[offset : offset + size], data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if unmask_crc(stored) != crc32c(data[offset : offset + size + 1]):
        raise CheckpointError(f"{source}: the {what} fails its CRC-32C check: the index file is corrupted")
    if kind != 0:
        raise CheckpointError(
            f"{source}: the {what} is compressed (type {kind}); only uncompressed tables, as "
            f"TensorFlow writes checkpoint indices, are supported"
        )
    return block


def _block_entries(block: bytes, source: str, what: str) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise CheckpointError(f"{source}: malformed {what} (shorter than its restart count)")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if restarts == 0 or limit < 0:
        raise CheckpointError(f"{source}: malformed {what} ({restarts} restart points)")
    entries, key, pos = [], b"", 0
    while pos < limit:
        shared, pos = _varint(block, pos, source, what)
        non_shared, pos = _varint(block, pos, source, what)
        length, pos = _varint(block, pos, source, what)
        if shared > len(key) or pos + non_shared + length > limit:
            raise CheckpointError(f"{source}: malformed entry in {what}")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + length]))
        pos += length
    return entries


def _handle(buf: bytes, source: str, what: str, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos, source, what)
    size, pos = _varint(buf, pos, source, what)
    return offset, size, pos


def checkpoint_files(prefix: str | Path) -> tuple[Path, Path]:
    """``(index, prefix)`` for a checkpoint named by its prefix, its ``.index`` file or a ``.data-*`` file."""
    p = Path(prefix)
    name = p.name
    if name.endswith(".index"):
        p = p.with_name(name[: -len(".index")])
    elif ".data-" in name:
        p = p.with_name(name[: name.index(".data-")])
    return p.with_name(p.name + ".index"), p


def read_index(prefix: str | Path) -> tuple[dict[str, int], dict[str, BundleEntry]]:
    """The bundle header (``num_shards``, ``endianness``) and the entries of a checkpoint's ``.index`` file."""
    index_path, _ = checkpoint_files(prefix)
    source = str(index_path)
    if not index_path.is_file():
        raise CheckpointError(
            f"{source} not found: a TensorFlow checkpoint PREFIX is a pair of files PREFIX.index "
            f"and PREFIX.data-00000-of-00001"
        )
    data = index_path.read_bytes()
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise CheckpointError(
            f"{source} is not a TensorFlow checkpoint index: expected an SSTable ending in the magic "
            f"number {TABLE_MAGIC:#x} ({len(data)} bytes read; a truncated or different file)"
        )
    footer = data[len(data) - FOOTER_SIZE :]
    _, _, pos = _handle(footer, source, "footer")
    index_offset, index_size, _ = _handle(footer, source, "footer", pos)
    index_block = _read_block(data, index_offset, index_size, source, "index block")
    header: dict[str, int] | None = None
    entries: dict[str, BundleEntry] = {}
    for _, handle in _block_entries(index_block, source, "index block"):
        offset, size, _ = _handle(handle, source, "index block")
        block = _read_block(data, offset, size, source, f"data block at byte {offset}")
        for key, value in _block_entries(block, source, f"data block at byte {offset}"):
            if key == b"":
                fields = {n: _num(v) for n, w, v in _proto_fields(value, source, "the bundle header") if w == 0}
                header = {"num_shards": fields.get(1, 0), "endianness": fields.get(2, 0)}
                continue
            try:
                name = key.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CheckpointError(f"{source}: a tensor name is not UTF-8 ({key!r})") from error
            entries[name] = _parse_entry(name, value, source)
    if header is None:
        raise CheckpointError(f"{source} is an SSTable but not a TensorFlow tensor bundle (no bundle header entry)")
    if header["endianness"] != 0:
        raise CheckpointError(f"{source}: a big-endian checkpoint; only little-endian ones are supported")
    if header["num_shards"] < 1:
        raise CheckpointError(f"{source}: the bundle header gives {header['num_shards']} data shards")
    return header, entries


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a TF1 checkpoint as numpy arrays, each checked against its stored CRC-32C and size."""
    header, entries = read_index(prefix)
    _, base = checkpoint_files(prefix)
    shards: dict[int, bytes] = {}
    out: dict[str, np.ndarray] = {}
    for name, entry in entries.items():
        shard = base.with_name(f"{base.name}.data-{entry.shard:05d}-of-{header['num_shards']:05d}")
        if entry.shard not in shards:
            if not shard.is_file():
                raise CheckpointError(f"{shard} not found: the index {base.name}.index names this data file")
            shards[entry.shard] = shard.read_bytes()
        data = shards[entry.shard]
        if entry.sliced:
            raise CheckpointError(
                f"{shard}: tensor {name!r} is stored in slices (a partitioned variable); not supported"
            )
        if entry.dtype not in TF_DTYPES:
            raise CheckpointError(
                f"{shard}: tensor {name!r} has dtype {entry.dtype_name}; only numeric tensors are supported"
            )
        dtype = TF_DTYPES[entry.dtype]
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != count * dtype.itemsize:
            raise CheckpointError(
                f"{shard}: tensor {name!r} ({entry.dtype_name} {list(entry.shape)}) should take "
                f"{count * dtype.itemsize} bytes, the index says {entry.size}"
            )
        if entry.offset < 0 or entry.offset + entry.size > len(data):
            raise CheckpointError(
                f"{shard} is truncated: tensor {name!r} needs bytes {entry.offset}.."
                f"{entry.offset + entry.size}, the file has {len(data)}"
            )
        raw = data[entry.offset : entry.offset + entry.size]
        if entry.crc32c is not None and unmask_crc(entry.crc32c) != crc32c(raw):
            raise CheckpointError(
                f"{shard}: tensor {name!r} fails its CRC-32C check (stored {unmask_crc(entry.crc32c):#010x}, "
                f"computed {crc32c(raw):#010x}): the data file is corrupted"
            )
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(entry.shape).astype(dtype.newbyteorder("="))
    return out


__all__ = [
    "BundleEntry",
    "CheckpointError",
    "checkpoint_files",
    "crc32c",
    "mask_crc",
    "read_checkpoint",
    "read_index",
    "unmask_crc",
]
