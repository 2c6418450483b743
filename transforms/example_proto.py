"""tf.train.Example / SequenceExample message classes without importing TensorFlow.

Importing TensorFlow costs about 6 s and 500 MB; reading and writing release
records needs only the protocol buffer classes.  This module declares the same
messages as tensorflow/core/example/{feature,example}.proto (proto3, same
package, names and field numbers, so the wire format is identical) in a
private descriptor pool, which never clashes with TensorFlow's own classes when
both are loaded.  Tests cross-check the bytes against tf.train.SequenceExample.
"""

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

_PACKAGE = "tensorflow"
_T = descriptor_pb2.FieldDescriptorProto


def _field(message, name, number, kind, label=_T.LABEL_OPTIONAL, type_name=None, oneof=None):
  field = message.field.add(name=name, number=number, type=kind, label=label)
  if type_name:
    field.type_name = f".{_PACKAGE}.{type_name}"
  if oneof is not None:
    field.oneof_index = oneof
  return field


def _map_field(message, name, value_type):
  """Declares `map<string, value_type> name = 1` the way protoc does."""
  entry_name = "".join(part.capitalize() for part in name.split("_")) + "Entry"
  entry = message.nested_type.add(name=entry_name)
  entry.options.map_entry = True
  _field(entry, "key", 1, _T.TYPE_STRING)
  _field(entry, "value", 2, _T.TYPE_MESSAGE, type_name=value_type)
  _field(message, name, 1, _T.TYPE_MESSAGE, _T.LABEL_REPEATED,
         f"{message.name}.{entry_name}")


def _build_file():
  proto = descriptor_pb2.FileDescriptorProto(
      name="soundscope/tensorflow_example.proto", package=_PACKAGE, syntax="proto3")
  for name, kind in (("BytesList", _T.TYPE_BYTES), ("FloatList", _T.TYPE_FLOAT),
                     ("Int64List", _T.TYPE_INT64)):
    _field(proto.message_type.add(name=name), "value", 1, kind, _T.LABEL_REPEATED)
  feature = proto.message_type.add(name="Feature")
  feature.oneof_decl.add(name="kind")
  for number, (name, type_name) in enumerate(
      (("bytes_list", "BytesList"), ("float_list", "FloatList"),
       ("int64_list", "Int64List")), start=1):
    _field(feature, name, number, _T.TYPE_MESSAGE, type_name=type_name, oneof=0)
  _map_field(proto.message_type.add(name="Features"), "feature", "Feature")
  _field(proto.message_type.add(name="FeatureList"), "feature", 1, _T.TYPE_MESSAGE,
         _T.LABEL_REPEATED, "Feature")
  _map_field(proto.message_type.add(name="FeatureLists"), "feature_list", "FeatureList")
  _field(proto.message_type.add(name="Example"), "features", 1, _T.TYPE_MESSAGE,
         type_name="Features")
  sequence = proto.message_type.add(name="SequenceExample")
  _field(sequence, "context", 1, _T.TYPE_MESSAGE, type_name="Features")
  _field(sequence, "feature_lists", 2, _T.TYPE_MESSAGE, type_name="FeatureLists")
  return proto


_POOL = descriptor_pool.DescriptorPool()
_MESSAGES = message_factory.GetMessages([_build_file()], pool=_POOL)

Example = _MESSAGES[f"{_PACKAGE}.Example"]
SequenceExample = _MESSAGES[f"{_PACKAGE}.SequenceExample"]
Feature = _MESSAGES[f"{_PACKAGE}.Feature"]
