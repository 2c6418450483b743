"""Frame-level classifiers over AudioSet embeddings, as Keras 3 models.

Every model takes the readers' batch, {"frames": float32 [b, max_frames, d]
dequantized embeddings (zeros after the real frames), "num_frames": int32 [b]},
and returns float32 [b, num_classes] per-class probabilities (sigmoid outputs,
multi-label).  Sizes (feature size, classes, frames) come from arguments.

The first three follow YouTube-8M's starter code (frame_level_models.py and
video_level_models.py, the models of the article):

  FrameLevelLogistic  mean of the real frames -> one sigmoid layer (L2 1e-8).
  DBoF                30 frames sampled at random from the real ones -> batch
                      norm -> 8192-cluster projection -> batch norm -> relu6 ->
                      max pooling -> 1024 hidden (batch norm, relu6) -> MoE (2
                      mixtures).
  LSTM                two stacked LSTM layers (the article's 256 cells, forget
                      bias 1) over the real frames; last layer's final h -> MoE.

Departures from YouTube-8M, all deliberate:
  * DBoF samples frames at random only in training; at inference it takes
    `iterations` evenly spaced real frames, so scores are deterministic (the
    original samples at random in evaluation too).  With 10 frames per
    AudioSet segment and 30 samples both cover every frame, so max pooling
    sees the same set.
  * The LSTM's cell is Keras's (the same equations as BasicLSTMCell with
    forget bias 1 via unit_forget_bias); masking by num_frames replaces
    dynamic_rnn's sequence_length.
  * Regularization, losses and the learning-rate schedule live in models/training/train.py.

Stronger models from the AudioSet literature on these embeddings:
  AttentionPooling      Kong et al. 2018 ("Audio Set classification with attention
                        model: a probabilistic perspective"): input batch norm,
                        three 1024-unit embedding layers (batch norm, ReLU,
                        dropout), then per-class attention pooling of per-frame
                        sigmoid classifiers.
  MultiLevelAttention   Yu et al. 2018 ("Multi-level attention model for weakly
                        supervised audio classification"): attention pooling at
                        the last two embedding levels, concatenated, then a
                        sigmoid classifier.
Their attention weights are masked to the real frames.

And a baseline, the cheapest strong model here:
  PooledMlp             mean of the real frames, then fully connected ReLU layers
                        with dropout and a sigmoid classifier (the two-layer MLP on
                        mean-pooled embeddings that the training issue quotes).
"""

import keras
from keras import ops

from soundscope.configs import params as P
from soundscope.configs import training as training_config

FRAMES_INPUT = "frames"
NUM_FRAMES_INPUT = "num_frames"
L2_PENALTY = 1e-8           # YouTube-8M's weights_regularizer on every dense layer.

# YouTube-8M flag defaults (frame_level_models.py, video_level_models.py).
DBOF_ITERATIONS = 30        # --iterations: frames sampled per video.
DBOF_CLUSTER_SIZE = 8192    # --dbof_cluster_size
DBOF_HIDDEN_SIZE = 1024     # --dbof_hidden_size
MOE_NUM_MIXTURES = 2        # --moe_num_mixtures
LSTM_SIZE = 256             # The article's --lstm_cells (YouTube-8M default 1024).
LSTM_LAYERS = 2             # --lstm_layers

# Kong et al. 2018 / Yu et al. 2018 (audioset_classification, pytorch models).
ATTENTION_HIDDEN_UNITS = 1024
ATTENTION_DROPOUT = 0.5
ATTENTION_EPSILON = 1e-7

# PooledMlp: two 1024-unit layers, dropout 0.5 (chosen on the validation split
# against one layer and 2048 units, and against adding max and standard-deviation pooling).
MLP_HIDDEN_UNITS = 1024
MLP_HIDDEN_LAYERS = 2
MLP_DROPOUT = 0.5


def register(cls):
  """Makes a layer class loadable from a saved .keras file (package "soundscope")."""
  return keras.saving.register_keras_serializable(package="soundscope")(cls)


def frame_mask(num_frames, max_frames):
  """float32 [b, max_frames]: 1 for real frames, 0 for padding."""
  positions = ops.arange(max_frames, dtype="int32")[None, :]
  return ops.cast(positions < ops.cast(num_frames, "int32")[:, None], "float32")


@register
class MeanOfRealFrames(keras.layers.Layer):
  """[b, t, d] frames and [b] counts -> [b, d] mean over the real frames."""

  def call(self, frames, num_frames):
    mask = frame_mask(num_frames, ops.shape(frames)[1])
    total = ops.sum(frames * mask[:, :, None], axis=1)
    return total / ops.maximum(ops.cast(num_frames, "float32"), 1.0)[:, None]


@register
class SampleFrames(keras.layers.Layer):
  """YouTube-8M's SampleRandomFrames: `iterations` frames drawn from the real ones.

  Training: indices uniform in [0, num_frames) per sample, as the original.
  Inference: evenly spaced indices floor(i * num_frames / iterations), deterministic.
  Output: [b, iterations, d].
  """

  def __init__(self, iterations, seed=None, **kwargs):
    super().__init__(**kwargs)
    self.iterations = int(iterations)
    self.seed = seed
    self._generator = keras.random.SeedGenerator(seed)

  def call(self, frames, num_frames, training=None):
    batch = ops.shape(frames)[0]
    counts = ops.maximum(ops.cast(num_frames, "float32"), 1.0)[:, None]
    if training:
      fractions = keras.random.uniform((batch, self.iterations), seed=self._generator)
    else:
      fractions = ops.broadcast_to(
          ops.arange(self.iterations, dtype="float32")[None, :] / self.iterations,
          (batch, self.iterations))
    indices = ops.cast(ops.floor(fractions * counts), "int32")
    indices = ops.minimum(indices, ops.cast(counts, "int32") - 1)
    return ops.take_along_axis(frames, indices[:, :, None], axis=1)

  def get_config(self):
    return {**super().get_config(), "iterations": self.iterations, "seed": self.seed}


@register
class MixtureOfExperts(keras.layers.Layer):
  """YouTube-8M's MoeModel: per class, a softmax gate over `num_mixtures` sigmoid experts
  plus a dummy expert that always answers 0.  [b, n] -> [b, num_classes] probabilities.
  """

  def __init__(self, num_classes, num_mixtures=MOE_NUM_MIXTURES, l2_penalty=L2_PENALTY,
               **kwargs):
    super().__init__(**kwargs)
    self.num_classes = int(num_classes)
    self.num_mixtures = int(num_mixtures)
    self.l2_penalty = l2_penalty
    regularizer = keras.regularizers.L2(l2_penalty)
    # The gate has no bias in the original (biases_initializer=None).
    self.gates = keras.layers.Dense(self.num_classes * (self.num_mixtures + 1), use_bias=False,
                                    kernel_regularizer=regularizer, name="gates")
    self.experts = keras.layers.Dense(self.num_classes * self.num_mixtures,
                                      kernel_regularizer=regularizer, name="experts")

  def build(self, input_shape):
    self.gates.build(input_shape)
    self.experts.build(input_shape)

  def call(self, inputs):
    gates = ops.softmax(ops.reshape(self.gates(inputs), (-1, self.num_mixtures + 1)), axis=-1)
    experts = ops.sigmoid(ops.reshape(self.experts(inputs), (-1, self.num_mixtures)))
    probabilities = ops.sum(gates[:, :self.num_mixtures] * experts, axis=1)
    return ops.reshape(probabilities, (-1, self.num_classes))

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes,
            "num_mixtures": self.num_mixtures, "l2_penalty": self.l2_penalty}


@register
class MaskedMaxPool(keras.layers.Layer):
  """[b, t, d] -> [b, d] max over time (YouTube-8M FramePooling 'max').

  Its input holds only real frames (SampleFrames never picks padding), so no
  mask is applied; the name is kept for checkpoints saved with it.
  """

  def call(self, frames):
    return ops.max(frames, axis=1)


@register
class LastRealState(keras.layers.Layer):
  """Keras mask for an RNN: [b, t] booleans from num_frames.

  With it the LSTM's final state is the state at the last real frame, as
  dynamic_rnn's sequence_length gives (name kept for saved checkpoints).
  """

  def call(self, frames, num_frames):
    return frame_mask(num_frames, ops.shape(frames)[1]) > 0


@register
class AttentionPool(keras.layers.Layer):
  """Kong et al.'s Attention: sum_t norm(att(h_t)) * cla(h_t) over the real frames.

  att = clip(sigmoid(W_a h), eps, 1 - eps), normalised over the real frames;
  cla = W_c h followed by `cla_activation` ('sigmoid' or 'linear').
  [b, t, d] -> [b, units].
  """

  def __init__(self, units, cla_activation="sigmoid", **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.cla_activation = cla_activation
    self.attention = keras.layers.Dense(self.units, name="attention")
    self.classifier = keras.layers.Dense(self.units, name="classifier")

  def build(self, input_shape):
    self.attention.build(input_shape)
    self.classifier.build(input_shape)

  def call(self, frames, num_frames):
    mask = frame_mask(num_frames, ops.shape(frames)[1])[:, :, None]
    attention = ops.clip(ops.sigmoid(self.attention(frames)), ATTENTION_EPSILON,
                         1.0 - ATTENTION_EPSILON) * mask
    attention = attention / ops.maximum(ops.sum(attention, axis=1, keepdims=True),
                                        ATTENTION_EPSILON)
    decisions = self.classifier(frames)
    if self.cla_activation == "sigmoid":
      decisions = ops.sigmoid(decisions)
    return ops.sum(attention * decisions, axis=1)

  def get_config(self):
    return {**super().get_config(), "units": self.units,
            "cla_activation": self.cla_activation}


def _inputs(max_frames, feature_size):
  frames = keras.Input(shape=(max_frames, feature_size), name=FRAMES_INPUT)
  num_frames = keras.Input(shape=(), dtype="int32", name=NUM_FRAMES_INPUT)
  return frames, num_frames


def frame_level_logistic(num_classes, feature_size=P.EMBEDDING_SIZE,
                         max_frames=P.MAX_FRAMES, l2_penalty=L2_PENALTY):
  """YouTube-8M FrameLevelLogisticModel (l2_penalty: its weights regularizer, 1e-8)."""
  frames, num_frames = _inputs(max_frames, feature_size)
  pooled = MeanOfRealFrames(name="mean_pool")(frames, num_frames)
  outputs = keras.layers.Dense(num_classes, activation="sigmoid",
                               # slim.l2_regularizer(s) is s * sum(w^2) / 2.
                               kernel_regularizer=keras.regularizers.L2(l2_penalty / 2),
                               name="logistic")(pooled)
  return keras.Model({FRAMES_INPUT: frames, NUM_FRAMES_INPUT: num_frames}, outputs,
                     name="FrameLevelLogistic")


def dbof(num_classes, feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES,
         iterations=DBOF_ITERATIONS, cluster_size=DBOF_CLUSTER_SIZE,
         hidden_size=DBOF_HIDDEN_SIZE, num_mixtures=MOE_NUM_MIXTURES, seed=None):
  """YouTube-8M DbofModel (with its defaults: batch norm, random frames, relu6, max pooling)."""
  frames, num_frames = _inputs(max_frames, feature_size)
  sampled = SampleFrames(iterations, seed=seed, name="sample_frames")(frames, num_frames)
  net = keras.layers.BatchNormalization(name="input_bn")(sampled)
  net = keras.layers.Dense(
      cluster_size, use_bias=False, name="cluster",
      kernel_initializer=keras.initializers.RandomNormal(stddev=feature_size ** -0.5))(net)
  net = keras.layers.BatchNormalization(name="cluster_bn")(net)
  net = keras.layers.Activation(keras.activations.relu6, name="cluster_relu6")(net)
  net = MaskedMaxPool(name="max_pool")(net)
  net = keras.layers.Dense(
      hidden_size, use_bias=False, name="hidden1",
      kernel_initializer=keras.initializers.RandomNormal(stddev=cluster_size ** -0.5))(net)
  net = keras.layers.BatchNormalization(name="hidden1_bn")(net)
  net = keras.layers.Activation(keras.activations.relu6, name="hidden1_relu6")(net)
  outputs = MixtureOfExperts(num_classes, num_mixtures, name="moe")(net)
  return keras.Model({FRAMES_INPUT: frames, NUM_FRAMES_INPUT: num_frames}, outputs, name="DBoF")


def lstm(num_classes, feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES,
         lstm_size=LSTM_SIZE, lstm_layers=LSTM_LAYERS, num_mixtures=MOE_NUM_MIXTURES):
  """YouTube-8M LstmModel: stacked LSTMs, final h of the last layer -> MoE."""
  frames, num_frames = _inputs(max_frames, feature_size)
  mask = LastRealState(name="frame_mask")(frames, num_frames)
  net = frames
  for layer in range(lstm_layers):
    last = layer == lstm_layers - 1
    net = keras.layers.LSTM(lstm_size, unit_forget_bias=True, return_sequences=not last,
                            name=f"lstm_{layer + 1}")(net, mask=mask)
  outputs = MixtureOfExperts(num_classes, num_mixtures, name="moe")(net)
  return keras.Model({FRAMES_INPUT: frames, NUM_FRAMES_INPUT: num_frames}, outputs, name="LSTM")


def _embedding_levels(frames, hidden_units, dropout, levels=3):
  """Kong et al.'s EmbeddingLayers: input BN, then `levels` x (dense, BN, ReLU, dropout)."""
  net = keras.layers.BatchNormalization(name="input_bn")(frames)
  outputs = []
  for level in range(1, levels + 1):
    net = keras.layers.Dense(hidden_units, name=f"embedding_{level}")(net)
    net = keras.layers.BatchNormalization(name=f"embedding_{level}_bn")(net)
    net = keras.layers.Activation("relu", name=f"embedding_{level}_relu")(net)
    net = keras.layers.Dropout(dropout, name=f"embedding_{level}_dropout")(net)
    outputs.append(net)
  return outputs


def attention_pooling(num_classes, feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES,
                      hidden_units=ATTENTION_HIDDEN_UNITS, dropout=ATTENTION_DROPOUT):
  """Kong et al. 2018 decision-level single attention."""
  frames, num_frames = _inputs(max_frames, feature_size)
  levels = _embedding_levels(frames, hidden_units, dropout)
  outputs = AttentionPool(num_classes, "sigmoid", name="attention")(levels[-1], num_frames)
  return keras.Model({FRAMES_INPUT: frames, NUM_FRAMES_INPUT: num_frames}, outputs,
                     name="AttentionPooling")


def multi_level_attention(num_classes, feature_size=P.EMBEDDING_SIZE,
                          max_frames=P.MAX_FRAMES, hidden_units=ATTENTION_HIDDEN_UNITS,
                          dropout=ATTENTION_DROPOUT):
  """Yu et al. 2018 multi-level attention (attention at embedding levels 2 and 3)."""
  frames, num_frames = _inputs(max_frames, feature_size)
  levels = _embedding_levels(frames, hidden_units, dropout)
  pooled = [AttentionPool(hidden_units, "linear", name=f"attention_{level}")(
      levels[level - 1], num_frames) for level in (2, 3)]
  net = keras.layers.Concatenate(name="levels")(pooled)
  outputs = keras.layers.Dense(num_classes, activation="sigmoid", name="classifier")(net)
  return keras.Model({FRAMES_INPUT: frames, NUM_FRAMES_INPUT: num_frames}, outputs,
                     name="MultiLevelAttention")


def pooled_mlp(num_classes, feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES,
               hidden_units=MLP_HIDDEN_UNITS, hidden_layers=MLP_HIDDEN_LAYERS,
               dropout=MLP_DROPOUT):
  """Mean of the real frames -> hidden_layers x (dense, ReLU, dropout) -> sigmoid."""
  frames, num_frames = _inputs(max_frames, feature_size)
  net = MeanOfRealFrames(name="mean_pool")(frames, num_frames)
  for layer in range(1, hidden_layers + 1):
    net = keras.layers.Dense(hidden_units, activation="relu", name=f"hidden_{layer}")(net)
    net = keras.layers.Dropout(dropout, name=f"hidden_{layer}_dropout")(net)
  outputs = keras.layers.Dense(num_classes, activation="sigmoid", name="classifier")(net)
  return keras.Model({FRAMES_INPUT: frames, NUM_FRAMES_INPUT: num_frames}, outputs,
                     name="PooledMlp")


# --model name -> builder(num_classes, feature_size, max_frames, **overrides).
MODELS = {
    "FrameLevelLogisticModel": frame_level_logistic,
    "DbofModel": dbof,
    "LstmModel": lstm,
    "AttentionPoolingModel": attention_pooling,
    "MultiLevelAttentionModel": multi_level_attention,
    "PooledMlpModel": pooled_mlp,
}
ALIASES = training_config.ALIASES   # Short names, kept with the names in configs/training.py.


def model_names():
  """Every accepted --model value (configs.training.MODEL_NAMES)."""
  return list(training_config.MODEL_NAMES)


def canonical_name(name):
  """YouTube-8M class name of a --model value; ValueError for an unknown one."""
  name = ALIASES.get(name, name)
  if name not in MODELS:
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(model_names())}")
  return name


def build(name, num_classes, feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES,
          **overrides):
  """Builds the model called `name` (see MODELS / ALIASES)."""
  return MODELS[canonical_name(name)](num_classes, feature_size=feature_size,
                                      max_frames=max_frames, **overrides)
