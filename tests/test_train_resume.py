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
  from soundscope.models.training import train
  return train.TrainConfig(train_data=S.slice_glob(S.TRAIN_SLICE), train_dir=str(tmp_path / "run"),
                           model="DbofModel", num_epochs=epochs, batch_size=64,
                           learning_rate=0.01, validation_fraction=0.2,
                           model_options=S.TINY_MODELS["DbofModel"])


@pytest.mark.slow
def test_interrupted_run_resumes_after_its_last_finished_epoch(tmp_path):
  from soundscope.models.training import train
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


@pytest.mark.slow
def test_finished_run_trains_on_when_given_more_epochs(tmp_path):
  from soundscope.models.training import train
  first = train.train(config(tmp_path, 2), verbose=0)
  again = train.train(config(tmp_path, 2), verbose=0)   # Nothing left to do.
  assert again["steps"] == first["steps"] and len(again["history"]) == 2
  longer = train.train(config(tmp_path, 3), verbose=0)
  assert longer["epochs_done"] == 3 and longer["steps"] == first["steps"] * 3 // 2
  with open(tmp_path / "run" / "state.json") as stream:
    assert len(json.load(stream)["history"]) == 3
  assert longer["elapsed_seconds"] >= first["elapsed_seconds"]


def test_training_batches_serve_each_record_once_per_epoch_in_a_seeded_order():
  import numpy as np
  from soundscope.models import readers
  from soundscope.models.training import train
  data = S.load_slice(S.TRAIN_SLICE)
  inputs = readers.dequantized_inputs(data)
  count = len(data.labels)
  per_epoch = math.ceil(count / 64)
  dataset = train.training_dataset(data, batch_size=64, seed=5, first_epoch=0, end_epoch=2)
  assert dataset.options().autotune.enabled is False   # See readers.without_autotune.
  batches = list(dataset.as_numpy_iterator())
  assert len(batches) == 2 * per_epoch
  for epoch in (0, 1):
    order = train.epoch_order(count, seed=5, epoch=epoch)
    assert sorted(order) == list(range(count))
    served = batches[epoch * per_epoch:(epoch + 1) * per_epoch]
    assert len(served[-1][1]) == count - 64 * (per_epoch - 1)   # The last batch is short.
    np.testing.assert_array_equal(np.concatenate([inputs_["frames"] for inputs_, _ in served]),
                                  inputs["frames"][order])
    np.testing.assert_array_equal(np.concatenate([inputs_["num_frames"] for inputs_, _ in served]),
                                  data.num_frames[order])
    np.testing.assert_array_equal(np.concatenate([labels for _, labels in served]),
                                  data.labels[order])
  assert not np.array_equal(train.epoch_order(count, 5, 0), train.epoch_order(count, 5, 1))
  # The first epoch's order is mixup's too (one stream of record orders).
  np.testing.assert_array_equal(train.epoch_order(count, 5, 0),
                                train.mixup_draw(count, 0.4, 5, 0)[0])


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
  import keras
  import numpy as np
  from soundscope.models.training import train
  straight = train.train(config(tmp_path / "straight", 3), verbose=0)
  with pytest.raises(Interrupt):
    train.train(config(tmp_path, 3), verbose=0,
                extra_callbacks=[interrupting_callback(epoch_to_break=1, batch_to_break=1)])
  resumed = train.train(config(tmp_path, 3), verbose=0)
  assert [epoch["loss"] for epoch in resumed["history"]] == pytest.approx(
      [epoch["loss"] for epoch in straight["history"]], rel=1e-6)
  for a, b in zip(keras.models.load_model(straight["model_path"], compile=False).get_weights(),
                  keras.models.load_model(resumed["model_path"], compile=False).get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_a_train_dir_resumes_only_the_run_it_holds(tmp_path):
  import dataclasses
  from soundscope.models.training import train
  train.train(config(tmp_path, 1), verbose=0)
  assert not [name for name in os.listdir(tmp_path / "run") if ".part" in name]
  other = dataclasses.replace(config(tmp_path, 2), learning_rate=0.001, batch_size=32)
  with pytest.raises(ValueError, match=r"other settings \(batch_size: 64 there, 32 now, "
                                       r"learning_rate: 0.01 there, 0.001 now\)"):
    train.train(other, verbose=0)
  # A crash between saving the checkpoint and the state leaves them a step apart.
  state_path = tmp_path / "run" / train.STATE_FILE
  state = json.loads(state_path.read_text())
  state["steps"] -= 1
  state_path.write_text(json.dumps(state))
  with pytest.raises(ValueError, match="was stopped while it saved a checkpoint"):
    train.train(config(tmp_path, 2), verbose=0)
