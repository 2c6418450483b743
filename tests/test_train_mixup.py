"""Mixup of training records (train.training_dataset, --mixup-alpha) on real records."""

import numpy as np
import pytest

import support_train as S


def test_mixup_batches_mix_frames_and_labels_of_record_pairs_epoch_by_epoch():
  from soundscope.models import readers
  from soundscope.models.training import train
  data = S.load_slice(S.TRAIN_SLICE)
  inputs = readers.dequantized_inputs(data)
  count = len(data.labels)
  per_epoch = -(-count // 64)
  batches = list(train.training_dataset(data, batch_size=64, seed=3, first_epoch=0, end_epoch=2,
                                        mixup_alpha=0.4).as_numpy_iterator())
  assert len(batches) == 2 * per_epoch
  for epoch in (0, 1):
    order, partner, lam = train.mixup_draw(count, alpha=0.4, seed=3, epoch=epoch)
    # Each record is used once per epoch as "a"; the epoch's last batch is short.
    assert sorted(order) == list(range(count))
    assert len(batches[(epoch + 1) * per_epoch - 1][1]) == count - 64 * (per_epoch - 1)
    mixed, labels = batches[epoch * per_epoch + 1]
    rows = slice(64, 128)
    a, b, weight = order[rows], partner[rows], lam[rows]
    assert 0 < weight.min() and weight.max() < 1 and weight.std() > 0.05   # drawn per record
    np.testing.assert_allclose(mixed["frames"], weight[:, None, None] * inputs["frames"][a]
                               + (1 - weight[:, None, None]) * inputs["frames"][b], rtol=1e-6)
    np.testing.assert_array_equal(mixed["num_frames"],
                                  np.maximum(data.num_frames[a], data.num_frames[b]))
    np.testing.assert_allclose(labels, weight[:, None] * data.labels[a]
                               + (1 - weight[:, None]) * data.labels[b], rtol=1e-6)
  # A new draw every epoch, and a run resumed at epoch 1 gets epoch 1's batches.
  assert not np.array_equal(train.mixup_draw(count, 0.4, 3, 0)[0],
                            train.mixup_draw(count, 0.4, 3, 1)[0])
  resumed = list(train.training_dataset(data, batch_size=64, seed=3, first_epoch=1, end_epoch=2,
                                        mixup_alpha=0.4).as_numpy_iterator())
  assert len(resumed) == per_epoch
  for straight, again in zip(batches[per_epoch:], resumed):
    np.testing.assert_array_equal(straight[0]["frames"], again[0]["frames"])
    np.testing.assert_array_equal(straight[1], again[1])
  with pytest.raises(ValueError, match="mixup alpha"):
    train.mixup_draw(count, alpha=0.0, seed=3, epoch=0)


@pytest.mark.slow
def test_train_with_mixup_resumes_to_the_same_weights(tmp_path):
  import keras
  from soundscope.models.training import train
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
