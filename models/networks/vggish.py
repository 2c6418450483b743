"""VGGish in TensorFlow 2 / Keras, loading the official TF1 checkpoint by name.

The architecture is vggish_slim.define_vggish_slim of the reference (current
upstream): input [batch, 96, 64] log-mel examples, four VGG blocks of 3x3
convolutions (64, 128, 2x256, 2x512 channels, ReLU, 'SAME' padding) each
followed by 2x2 max-pooling with stride 2, flatten, two fully connected layers
of 4096 (ReLU), and fc2 with 128 units and no activation: the embedding is
fc2's pre-activation output.

Layer names mirror the checkpoint's variable scopes, e.g. the Keras layer
"conv3_2" holds vggish/conv3/conv3_2/{weights,biases}.
"""

import os

from soundscope.configs import params as P

# (Keras layer name, checkpoint scope) in network order.
CONV_LAYERS = (
    ("conv1", "vggish/conv1", 64),
    ("conv2", "vggish/conv2", 128),
    ("conv3_1", "vggish/conv3/conv3_1", 256),
    ("conv3_2", "vggish/conv3/conv3_2", 256),
    ("conv4_1", "vggish/conv4/conv4_1", 512),
    ("conv4_2", "vggish/conv4/conv4_2", 512),
)
DENSE_LAYERS = (
    ("fc1_1", "vggish/fc1/fc1_1", 4096, "relu"),
    ("fc1_2", "vggish/fc1/fc1_2", 4096, "relu"),
    ("fc2", "vggish/fc2", P.EMBEDDING_SIZE, None),
)
# Pooling follows these convolutions (the last of each VGG block).
_POOL_AFTER = ("conv1", "conv2", "conv3_2", "conv4_2")


def create_model():
  """Builds the VGGish Keras model, float32 [batch, 96, 64] -> [batch, 128], with zero weights.

  Zeros, not random initializers: the weights always come from a checkpoint,
  and drawing 72 M random numbers first would cost ~300 MB of peak memory.
  """
  import keras
  inputs = keras.Input(shape=(P.NUM_FRAMES, P.NUM_BANDS), name="log_mel_examples")
  net = keras.layers.Reshape((P.NUM_FRAMES, P.NUM_BANDS, 1))(inputs)
  for name, _, filters in CONV_LAYERS:
    net = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name,
                              kernel_initializer="zeros")(net)
    if name in _POOL_AFTER:
      net = keras.layers.MaxPooling2D(2, strides=2, padding="same",
                                      name=name.split("_")[0].replace("conv", "pool"))(net)
  net = keras.layers.Flatten()(net)  # NHWC row-major, as slim.flatten.
  for name, _, units, activation in DENSE_LAYERS:
    net = keras.layers.Dense(units, activation=activation, name=name,
                             kernel_initializer="zeros")(net)
  return keras.Model(inputs, net, name="vggish")


def checkpoint_variable_names():
  """The 18 variable names the official checkpoint holds, in network order."""
  names = []
  for _, scope, *_ in CONV_LAYERS + DENSE_LAYERS:
    names += [f"{scope}/weights", f"{scope}/biases"]
  return names


def _open_checkpoint(checkpoint_path):
  import tensorflow as tf
  try:
    return tf.train.load_checkpoint(str(checkpoint_path))
  except Exception as exc:  # TF raises several types for a bad file.
    raise ValueError(f"{checkpoint_path}: not a readable TensorFlow checkpoint ({exc})") from None


def _read_variable(reader, checkpoint_path, key, expected_shape):
  """One checkpoint variable as a tensor, after checking its name and shape.

  V1 checkpoints (the official one is a single file) are read with the
  Restore op, which takes about a third less transient memory than the
  checkpoint reader's get_tensor; V2 bundles go through the reader.
  """
  import tensorflow as tf
  shapes = reader.get_variable_to_shape_map()
  if key not in shapes:
    raise ValueError(f"{checkpoint_path}: variable {key} is missing")
  if tuple(shapes[key]) != tuple(expected_shape):
    raise ValueError(f"{checkpoint_path}: variable {key} has shape {shapes[key]}, "
                     f"expected {tuple(expected_shape)}")
  if _is_v1_checkpoint(checkpoint_path):
    return tf.raw_ops.Restore(file_pattern=str(checkpoint_path), tensor_name=key, dt=tf.float32)
  return reader.get_tensor(key)


def _is_v1_checkpoint(checkpoint_path):
  return os.path.isfile(checkpoint_path) and not os.path.exists(f"{checkpoint_path}.index")


def load_checkpoint(model, checkpoint_path, preloaded=None):
  """Assigns the official checkpoint's variables to `model` by name.

  Args:
    model: from create_model().
    checkpoint_path: vggish_model.ckpt (TF1 V1 single file) or any checkpoint
      that tf.train.load_checkpoint reads with the same variable names.
    preloaded: optional {variable name: array} already read from the checkpoint.

  Raises:
    ValueError: a variable is missing or has the wrong shape.
  """
  reader = _open_checkpoint(checkpoint_path)
  preloaded = dict(preloaded or {})
  for name, scope, *_ in CONV_LAYERS + DENSE_LAYERS:
    layer = model.get_layer(name)
    for suffix, variable in (("weights", layer.kernel), ("biases", layer.bias)):
      key = f"{scope}/{suffix}"
      value = preloaded.pop(key, None)
      if value is None:
        value = _read_variable(reader, checkpoint_path, key, variable.shape)
      variable.assign(value)
      del value  # Free each array before reading the next: bounded peak memory.


# The largest variable (12288 x 4096 floats, 201 MB).  A V1 checkpoint stores each
# tensor as a protocol buffer, so reading it briefly takes about three times its size.
_LARGEST_VARIABLE = "vggish/fc1/fc1_1/weights"


def load_model(checkpoint_path):
  """create_model() with the checkpoint's weights, in bounded peak memory.

  The largest variable is read before the model's 288 MB of variables exist,
  so the reader's transient copies and the variables never peak together
  (peak RSS ~1.2 GB instead of ~1.55 GB, TensorFlow's own ~660 MB included).
  """
  reader = _open_checkpoint(checkpoint_path)
  largest = _read_variable(reader, checkpoint_path, _LARGEST_VARIABLE,
                           (12288, 4096))
  del reader
  model = create_model()
  load_checkpoint(model, checkpoint_path, preloaded={_LARGEST_VARIABLE: largest})
  return model
