"""Resuming training after an interruption and extending a finished run."""

import json
import math
import os

import pytest

import support_train as S


class Interrupt(Exception):
  """Stands in for Ctrl-C / a killed process in the middle of an epoch."""


def interrupting_callback(epoch_to_break, batch_to_break):
  import keras

  class Breaker(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
      self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
      if self.epoch == epoch_to_break and batch == batch_to_break:
        raise Interrupt(f"stopped in epoch {epoch_to_break + 1}")

  return Breaker()


def config(tmp_path, epochs):
  from models import train
  return train.TrainConfig(train_data=S.slice_glob(S.TRAIN_SLICE), train_dir=str(tmp_path / "run"),
                           model="DbofModel", num_epochs=epochs, batch_size=64,
                           learning_rate=0.01, validation_fraction=0.2,
                           model_options=S.TINY_MODELS["DbofModel"])


def test_interrupted_run_resumes_after_its_last_finished_epoch(tmp_path):
  from models import train
  data = S.load_slice(S.TRAIN_SLICE)
  train_examples = len(data.frames) - round(0.2 * len(data.frames))
  steps_per_epoch = math.ceil(train_examples / 64)
  with pytest.raises(Interrupt):
    train.train(config(tmp_path, 3), verbose=0,
                extra_callbacks=[interrupting_callback(epoch_to_break=1, batch_to_break=1)])
  state = train.read_state(str(tmp_path / "run"))
  assert state["epochs_done"] == 1 and state["steps"] == steps_per_epoch
  assert not os.path.exists(tmp_path / "run" / "model.keras")  # Never finished.

  result = train.train(config(tmp_path, 3), verbose=0)
  assert result["epochs_done"] == 3
  assert [epoch["epoch"] for epoch in result["history"]] == [1, 2, 3]
  # The optimizer's step counter went on from the checkpoint, not from zero.
  assert result["steps"] == 3 * steps_per_epoch
  assert os.path.isfile(result["model_path"])


def test_finished_run_trains_on_when_given_more_epochs(tmp_path):
  from models import train
  first = train.train(config(tmp_path, 2), verbose=0)
  again = train.train(config(tmp_path, 2), verbose=0)   # Nothing left to do.
  assert again["steps"] == first["steps"] and len(again["history"]) == 2
  longer = train.train(config(tmp_path, 3), verbose=0)
  assert longer["epochs_done"] == 3 and longer["steps"] == first["steps"] * 3 // 2
  with open(tmp_path / "run" / "state.json") as stream:
    assert len(json.load(stream)["history"]) == 3
  assert longer["elapsed_seconds"] >= first["elapsed_seconds"]
