"""Layers and builders that turn several trained frame models into one head.

  PriorLogitShift    sigmoid(logit(p) + beta * log(prior)): class-prior calibration
  average_ensemble   the mean of members' per-class probabilities, one Keras model
  average_weights    one FrameLevelLogistic whose weights are the members' mean

Used by models/training/ensemble.py; registered for loading like the frame
models' own layers (import this module before loading a saved head: it registers
every custom layer, frame_models' included).
"""

import numpy as np

import keras
from keras import ops

from soundscope.configs import params as P
from soundscope.models.networks import frame_models as F
from soundscope.models.networks.frame_models import register


@register
class PriorLogitShift(keras.layers.Layer):
  """sigmoid(logit(p) + beta * log(prior)): one-parameter class-prior calibration.

  [b, C] probabilities -> [b, C] probabilities.  beta < 0 favours rare classes;
  each class's scores stay in the same order (AP and AUC are unchanged), only
  the ranking across classes within a record (hit@1, GAP) moves.  `log_prior`
  ([C] float32, log of the training label frequencies) and `beta` are fixed
  numbers chosen on validation data, not trained.
  """

  def __init__(self, log_prior, beta, **kwargs):
    super().__init__(**kwargs)
    self.log_prior = [float(value) for value in log_prior]
    self.beta = float(beta)

  def call(self, probabilities):
    clipped = ops.clip(probabilities, F.ATTENTION_EPSILON, 1.0 - F.ATTENTION_EPSILON)
    logits = ops.log(clipped) - ops.log(1.0 - clipped)
    shift = self.beta * ops.convert_to_tensor(self.log_prior, dtype=probabilities.dtype)
    return ops.sigmoid(logits + shift)

  def get_config(self):
    return {**super().get_config(), "log_prior": self.log_prior, "beta": self.beta}


def average_ensemble(members, log_prior=None, beta=0.0, name="AverageEnsemble",
                     feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES):
  """One Keras model whose scores are the mean of `members`' scores.

  Args:
    members: trained frame-level models (this module's inputs, [b, C] sigmoid outputs).
    log_prior: optional [C] log training label frequencies for PriorLogitShift.
    beta: PriorLogitShift's factor (0 or log_prior None: no shift).
    name: the Keras model name.
    feature_size, max_frames: the members' input frame size and count.

  Returns:
    keras.Model with the same inputs as the members and float32 [b, C] outputs;
    it saves to and loads from one .keras file like any head.
  """
  frames, num_frames = F._inputs(max_frames, feature_size)
  inputs = {F.FRAMES_INPUT: frames, F.NUM_FRAMES_INPUT: num_frames}
  for index, member in enumerate(members):
    # Members of one class share a name; a functional model needs unique ones.
    member.name = f"member_{index + 1}_{member.name.split('_', 2)[-1]}"
  scores = [member(inputs) for member in members]
  outputs = scores[0] if len(scores) == 1 else keras.layers.Average(name="average")(scores)
  if log_prior is not None and beta:
    outputs = PriorLogitShift(log_prior, beta, name="prior_shift")(outputs)
  return keras.Model(inputs, outputs, name=name)


def average_weights(members, name=None):
  """A model of the members' architecture whose every weight is the members' mean.

  For FrameLevelLogistic (mean pooling and one dense layer, linear in its
  weights) this is exactly the model whose logits are the members' mean
  logits: logit = mean_i(W_i) x + mean_i(b_i).  Averaging the weights of
  separately initialised non-linear models ("model soups") is not meaningful,
  so every member must have the same architecture and no non-linear layer may
  carry weights; anything but a FrameLevelLogistic is refused.

  Args:
    members: trained FrameLevelLogistic models (same inputs, same classes).
    name: the returned model's name (default: the first member's).

  Returns:
    keras.Model: a new FrameLevelLogistic with the averaged weights.

  Raises:
    ValueError: no members, a member that is not a FrameLevelLogistic, or
      members of different shapes.
  """
  if not members:
    raise ValueError("average_weights needs at least one member")
  for member in members:
    if not member.name.startswith("FrameLevelLogistic"):
      raise ValueError(f"weight averaging is exact only for FrameLevelLogistic, not {member.name}")
  shapes = [[w.shape for w in member.get_weights()] for member in members]
  if any(shape != shapes[0] for shape in shapes):
    raise ValueError(f"members have different weight shapes: {shapes}")
  first = members[0]
  averaged = keras.Model.from_config(first.get_config())
  averaged.set_weights([np.mean(stack, axis=0) for stack in
                        zip(*(member.get_weights() for member in members))])
  averaged.name = name or first.name
  return averaged
