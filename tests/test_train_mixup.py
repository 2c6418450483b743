"""Mixup of training records (models.train.mixup_batches and --mixup-alpha) on real records."""

import numpy as np
import pytest

import support_train as S


def test_mixup_batches_mix_frames_and_labels_of_record_pairs():
  from models import readers, train
  data = S.load_slice(S.TRAIN_SLICE)
  inputs = readers.dequantized_inputs(data)
  batches = train.mixup_batches(data, batch_size=64, alpha=0.4, seed=3)
  assert len(batches) == -(-len(data.labels) // 64)
  mixed, labels = batches[1]
  rows = slice(64, 128)
  a, b, lam = batches.order[rows], batches.partner[rows], batches.lam[rows]
  assert 0 < lam.min() and lam.max() < 1 and lam.std() > 0.05   # drawn per record
  np.testing.assert_allclose(mixed["frames"], lam[:, None, None] * inputs["frames"][a]
                             + (1 - lam[:, None, None]) * inputs["frames"][b], rtol=1e-6)
  np.testing.assert_array_equal(mixed["num_frames"],
                                np.maximum(data.num_frames[a], data.num_frames[b]))
  np.testing.assert_allclose(labels, lam[:, None] * data.labels[a]
                             + (1 - lam[:, None]) * data.labels[b], rtol=1e-6)
  # Each record is used once per epoch as "a"; the last batch is short.
  assert sorted(batches.order) == list(range(len(data.labels)))
  assert len(batches[len(batches) - 1][1]) == len(data.labels) - 64 * (len(batches) - 1)
  # A new draw every epoch, and epoch e's draw is the same after a resume at e.
  first_order = batches.order.copy()
  batches.on_epoch_end()
  resumed = train.mixup_batches(data, batch_size=64, alpha=0.4, seed=3, initial_epoch=1)
  assert not np.array_equal(batches.order, first_order)
  np.testing.assert_array_equal(batches.order, resumed.order)
  np.testing.assert_array_equal(batches.lam, resumed.lam)
  with pytest.raises(ValueError, match="mixup alpha"):
    train.mixup_batches(data, batch_size=64, alpha=0.0, seed=3)


def test_train_with_mixup_resumes_to_the_same_weights(tmp_path):
  import keras
  from models import train
  common = dict(train_data=S.slice_glob(S.TRAIN_SLICE), model="FrameLevelLogisticModel",
                batch_size=64, learning_rate=0.01, validation_fraction=0.2, mixup_alpha=0.4,
                seed=2)
  straight = train.train(train.TrainConfig(train_dir=str(tmp_path / "a"), num_epochs=3, **common),
                         verbose=0)
  train.train(train.TrainConfig(train_dir=str(tmp_path / "b"), num_epochs=2, **common), verbose=0)
  resumed = train.train(train.TrainConfig(train_dir=str(tmp_path / "b"), num_epochs=3, **common),
                        verbose=0)
  assert [epoch["epoch"] for epoch in resumed["history"]] == [1, 2, 3]
  assert straight["history"][2]["loss"] < straight["history"][0]["loss"]
  assert resumed["config"]["mixup_alpha"] == 0.4
  weights = [keras.models.load_model(run["model_path"], compile=False).get_weights()
             for run in (straight, resumed)]
  for one, other in zip(*weights):
    np.testing.assert_allclose(one, other, rtol=1e-5, atol=1e-6)
