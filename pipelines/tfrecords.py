"""TFRecord files without TensorFlow: the framing of each record, written and read.

A TFRecord file is a sequence of records, each framed as: the payload's length
(uint64), the masked CRC32C of those 8 bytes (uint32), the payload, and the
payload's masked CRC32C (uint32), all little-endian; a masked CRC is
((crc >> 15) | (crc << 17)) + 0xA282EAD8.  CRC32C is crcmod's native function
(a Beam dependency), so neither the parts' writers (pipelines/parts.py) nor the
readers of TFRecord inputs need TensorFlow or a tf.data dataset per file.

  frame_record(payload)    bytes: one framed record, as tf.io.TFRecordWriter writes it
  read_records(handle)     the payloads of an open file, both CRCs checked
  iter_framed(handle)      each record with its framing, unchecked (copying whole records)
  record_offsets(handle)   each record's byte offset, from the headers alone
  DamagedRecordError       a file cut inside a record, or a record failing its CRC
"""

import functools
import struct

_LENGTH_BYTES = 8
_CRC_BYTES = 4


class DamagedRecordError(ValueError):
  """A TFRecord file that ends inside a record, or whose record fails its CRC."""


def iter_framed(handle):
  """Yields each record of an open TFRecord file with its framing, as bytes (no CRC check:
  the bytes are copied as they were written)."""
  for framed, _ in _frames(handle):
    yield framed


def _frames(handle, crc32c=None):
  """(framed bytes, offset of the data) of each record; DamagedRecordError when cut short,
  or (with `crc32c`) when a length fails its CRC (checked before reading the record)."""
  index = 0
  while True:
    header = handle.read(_LENGTH_BYTES + _CRC_BYTES)
    if not header:
      return
    if len(header) < _LENGTH_BYTES + _CRC_BYTES:
      raise DamagedRecordError("the file ends inside a record's header")
    (length,) = struct.unpack("<Q", header[:_LENGTH_BYTES])
    if crc32c is not None:
      (length_crc,) = struct.unpack("<I", header[_LENGTH_BYTES:])
      if _masked_crc32c(header[:_LENGTH_BYTES], crc32c) != length_crc:
        raise DamagedRecordError(f"record {index}'s length fails its CRC check")
    index += 1
    body = handle.read(length + _CRC_BYTES)
    if len(body) < length + _CRC_BYTES:
      raise DamagedRecordError("the file ends inside a record")
    yield header + body, _LENGTH_BYTES + _CRC_BYTES


def record_offsets(handle):
  """Yields the byte offset of each record of an open, seekable TFRecord file, reading
  only the headers (read_records from that offset reads the record, CRCs checked).

  Raises:
    DamagedRecordError: when the file ends inside a record.
  """
  import os
  size = handle.seek(0, os.SEEK_END)
  offset = handle.seek(0)
  while offset < size:
    header = handle.read(_LENGTH_BYTES + _CRC_BYTES)
    if len(header) < _LENGTH_BYTES + _CRC_BYTES:
      raise DamagedRecordError("the file ends inside a record's header")
    (length,) = struct.unpack("<Q", header[:_LENGTH_BYTES])
    end = offset + len(header) + length + _CRC_BYTES
    if end > size:
      raise DamagedRecordError("the file ends inside a record")
    yield offset
    offset = handle.seek(end)


def frame_record(payload):
  """One record as a TFRecord file holds it: the length (uint64), its masked CRC32C, the
  payload and its masked CRC32C (little-endian), byte for byte what tf.io.TFRecordWriter
  writes."""
  crc32c = _crc32c()
  length = struct.pack("<Q", len(payload))
  return b"".join((length, struct.pack("<I", _masked_crc32c(length, crc32c)), payload,
                   struct.pack("<I", _masked_crc32c(payload, crc32c))))


def _masked_crc32c(data, crc32c):
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@functools.lru_cache(maxsize=1)
def _crc32c():
  """crcmod's CRC32C function (its table is built in Python, 0.35 ms: once per process)."""
  import crcmod.predefined
  return crcmod.predefined.mkPredefinedCrcFun("crc-32c")


def read_records(handle, yield_damaged=False):
  """Yields the payload of each record of an open TFRecord file (uncompressed), checking
  both CRCs as TensorFlow's reader does.

  Pure Python framing with crcmod's native CRC32C: no TensorFlow in the worker and
  no tf.data dataset per file (~15 ms each).

  Args:
    handle: the open file, binary.
    yield_damaged: a record whose payload fails its CRC while its length passes (the
      framing holds, so the next record is where the length says) is yielded as a
      DamagedRecordError in its place and reading goes on; False: raised.

  Raises:
    DamagedRecordError: naming the record (0-based) that is cut or fails its CRC (a cut
      file or a length failing its CRC always: nothing after it can be found).
  """
  crc32c = _crc32c()
  for index, (framed, start) in enumerate(_frames(handle, crc32c)):
    data = framed[start:-_CRC_BYTES]
    (data_crc,) = struct.unpack("<I", framed[-_CRC_BYTES:])
    if _masked_crc32c(data, crc32c) != data_crc:
      if not yield_damaged:
        raise DamagedRecordError(f"record {index} fails its CRC check")
      yield DamagedRecordError("its payload fails its CRC check")
      continue
    yield data
