"""Reading TFRecord files one record at a time, with a clear error on damage.

The TFRecord framing is: uint64 length (little-endian), uint32 masked CRC of
the length, `length` bytes of data, uint32 masked CRC of the data.  This
reader checks the framing (truncation) and leaves content checks to the
SequenceExample parser (transforms.records.decode); CRCs are not verified.
Any Beam filesystem path works (local, gs://, ...).
"""

import struct

_HEADER_BYTES = 12   # uint64 length + uint32 length CRC.
_FOOTER_BYTES = 4    # uint32 data CRC.


class DamagedTFRecordError(ValueError):
  """The file ends inside a record: truncated or not a TFRecord file."""
  kind = "unreadable_tfrecord"


def iter_records(path):
  """Yields the serialized records of an uncompressed TFRecord file, in order.

  Raises:
    DamagedTFRecordError: naming the file and the record where it broke.
  """
  from apache_beam.io.filesystems import FileSystems
  from apache_beam.io.filesystem import CompressionTypes
  with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
    index = 0
    while True:
      header = handle.read(_HEADER_BYTES)
      if not header:
        return
      if len(header) < _HEADER_BYTES:
        raise DamagedTFRecordError(f"{path}: truncated header of record {index}")
      (length,) = struct.unpack("<Q", header[:8])
      data = handle.read(length)
      footer = handle.read(_FOOTER_BYTES)
      if len(data) < length or len(footer) < _FOOTER_BYTES:
        raise DamagedTFRecordError(f"{path}: record {index} is truncated "
                                   f"({len(data)} of {length} bytes)")
      yield data
      index += 1
