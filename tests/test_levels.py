"""Window levels in the one scoring path (models/scoring.py, transforms/levels.py) and the
quiet-window rule (--min-level)."""

import json

import numpy as np
import pytest

from soundscope.cli import main as cli
from soundscope.models import scoring
from soundscope.transforms import audio
from soundscope.transforms import levels as levels_lib
from conftest import asset
from support_store import yamnet_store

DOG = "audio/esc10/1-100032-A-0.flac"   # A bark at 1.4-2.9 s in digital silence.


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  from soundscope.models.store import registry
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  return registry.load_classifier("yamnet", str(root)), str(root)


def test_levels_of_known_signals():
  t = np.arange(16000) / 16000.0
  sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)
  # A full-scale sine: RMS 1/sqrt(2) = -3.0103 dBFS; float32 samples of sin() are within
  # 6e-8 of it, so the level is within 1e-6 dB.
  assert levels_lib.rms_dbfs(sine) == pytest.approx(-3.0103, abs=1e-4)
  assert levels_lib.peak_dbfs(sine) == pytest.approx(0.0, abs=1e-6)
  assert levels_lib.rms_dbfs(0.01 * sine) == pytest.approx(-43.0103, abs=1e-4)
  floor = levels_lib.rms_dbfs(np.zeros(0))
  assert levels_lib.rms_dbfs(np.zeros(100)) == levels_lib.peak_dbfs(np.zeros(5)) == floor < -90.3


def test_window_levels_are_those_of_each_windows_real_samples(model):
  classifier, _ = model
  path = asset(DOG)
  # The model hears float32 samples; so are the levels measured.
  samples = np.concatenate(list(audio.stream_mono(path))).astype(np.float32)
  # Scored in 1 s segments: the levels come from several parts of the stream.
  scores = scoring.score_file(classifier, path, per_window=True, score_block_seconds=1.0)
  starts, ends, _ = scores.windows
  expected = [(levels_lib.rms_dbfs(samples[round(a * 16000):round(b * 16000)]),
               levels_lib.peak_dbfs(samples[round(a * 16000):round(b * 16000)]))
              for a, b in zip(starts, ends)]
  assert list(zip(scores.levels.rms_dbfs, scores.levels.peak_dbfs)) == expected
  assert ends[-1] == 5.0 and ends[-1] - starts[-1] < 0.975          # the cut last window
  assert scores.level.rms_dbfs[0] == pytest.approx(levels_lib.rms_dbfs(samples), abs=1e-9)
  assert scores.level.peak_dbfs[0] == levels_lib.peak_dbfs(samples)
  # The same samples in memory (the live loop's path) give the same levels.
  held = scoring.score_waveform(classifier, samples, per_window=True)
  np.testing.assert_array_equal(held.levels.rms_dbfs, scores.levels.rms_dbfs)


def test_windows_under_the_minimum_level_are_not_classified(model, capsys):
  classifier, model_dir = model
  path = asset(DOG)
  every = scoring.score_file(classifier, path, per_window=True)
  gated = scoring.score_file(classifier, path, per_window=True, min_level_dbfs=-40.0)
  quiet = every.levels.rms_dbfs < -40.0
  assert 0 < quiet.sum() < quiet.size                            # silence around the bark
  assert np.isnan(gated.windows.scores[quiet]).all()
  np.testing.assert_array_equal(gated.windows.scores[~quiet], every.windows.scores[~quiet])
  np.testing.assert_array_equal(gated.clip, every.windows.scores[~quiet].mean(axis=0))
  status = cli.main(["classify", str(path), "--model-dir", model_dir, "--json", "--per-window",
                     "--labels", "esc10", "--events", "--min-level", "-40"])
  record = json.loads(capsys.readouterr().out)
  assert status == 0
  assert [w["predictions"] is None for w in record["windows"]] == quiet.tolist()
  assert [w["rms_dbfs"] for w in record["windows"]] == every.levels.rms_dbfs.tolist()
  assert record["predictions"][0]["label"] == "dog" and record["events"]
  # Events only over loud windows.
  loud = every.windows.starts[~quiet]
  assert all(loud.min() <= e["start_seconds"] for e in record["events"])
  # Everything too quiet: the clip itself is not classified.
  status = cli.main(["classify", str(path), "--model-dir", model_dir, "--min-level", "-1"])
  assert status == 0 and capsys.readouterr().out.strip() == f"{path}: (too quiet)"
  status = cli.main(["classify", str(path), "--model-dir", model_dir, "--min-level", "3"])
  err = capsys.readouterr().err.strip().splitlines()
  assert status == 2 and len(err) == 1 and "--min-level" in err[0]
