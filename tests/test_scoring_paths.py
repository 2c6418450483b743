"""One path from audio to a prediction: classify, predict and the live loop agree exactly.

A real clip (ESC-10 "dog", made 16 kHz 16-bit so the live loop's int16
window and the files hold the same samples) goes through `soundscope classify
--json --per-window`, `soundscope predict --per-window --scores` and the live
loop's window processing.  The three must give the same scores, the same
window bounds (ends cut at the audio's end) and the same field names.
"""

import datetime
import json

import numpy as np
import pandas as pd
import pytest
import soundfile

import support_runtime as sr
from soundscope.cli import main as cli
from soundscope.models import rows, scoring
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import windows
from soundscope.transforms import audio

SHARED_FIELDS = {"source", "model", "model_version", "start_seconds", "end_seconds",
                 "predictions"}


@pytest.fixture(scope="module")
def dog_16k(tmp_path_factory):
  """(path of a 16 kHz int16 wav of 4.7 s of the dog clip, its int16 samples)."""
  samples, rate = sr.read_clip(sr.DOG_CLIP)
  resampled = audio.resample(samples / 32768.0, rate, 16000)[:int(4.7 * 16000)]
  int16 = np.round(resampled * 32767).astype(np.int16)
  path = tmp_path_factory.mktemp("clip") / "dog16k.wav"
  soundfile.write(str(path), int16, 16000, subtype="PCM_16")
  return str(path), int16


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  return str(sr.import_yamnet(tmp_path_factory.mktemp("models")))


def test_classify_predict_and_live_give_the_same_scores_and_windows(dog_16k, model_dir, tmp_path,
                                                                    capsys):
  from soundscope.models.store import registry
  path, samples = dog_16k
  yamnet = registry.load_classifier("yamnet", model_dir)
  everything = str(len(yamnet.labels))
  # classify: clip and windows, every label.
  assert cli.main(["classify", "--model-dir", model_dir, "--json", "--per-window",
                   "--top-k", everything, path]) == 0
  classified = json.loads(capsys.readouterr().out)
  # predict: one row per window with every score, and one row for the clip.
  output = tmp_path / "windows.parquet"
  assert cli.main(["predict", "--input", path, "--output", str(output), "--model", "yamnet",
                   "--model-dir", model_dir, "--per-window", "--scores", "--no-progress"]) == 0
  clip_output = tmp_path / "clip.parquet"
  assert cli.main(["predict", "--input", path, "--output", str(clip_output), "--model",
                   "yamnet", "--model-dir", model_dir, "--scores", "--no-progress"]) == 0
  capsys.readouterr()
  predicted = pd.read_parquet(output).sort_values("start_seconds")
  (clip_row,) = pd.read_parquet(clip_output).to_dict("records")
  # live: the same samples as one captured window.
  start = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)
  window = windows.Window(samples=samples.reshape(-1, 1), rate=16000, first_frame=0,
                          start_utc=start, end_utc=start + datetime.timedelta(seconds=4.7),
                          ended_at=0.0)
  event = loop_lib.Loop(None, yamnet, None, top_k=len(yamnet.labels)).process(window)
  live = event.to_dict()

  def by_index(predictions):
    scores = np.zeros(len(yamnet.labels), np.float32)
    for p in predictions:
      scores[p["index"]] = p["score"]
    return scores

  # One vocabulary.
  assert SHARED_FIELDS <= set(classified) and SHARED_FIELDS <= set(live)
  assert SHARED_FIELDS <= set(clip_row) and SHARED_FIELDS <= set(predicted.columns)
  # The same clip scores, exactly, and the same clip bounds.
  clip_scores = by_index(classified["predictions"])
  np.testing.assert_array_equal(by_index(live["predictions"]), clip_scores)
  np.testing.assert_array_equal(np.asarray(clip_row["scores"], np.float32), clip_scores)
  assert classified["end_seconds"] == clip_row["end_seconds"] == live["end_seconds"] == 4.7
  # The same windows: bounds (the last one cut at 4.7 s, not 0.975 s past its start)
  # and scores.
  starts = [w["start_seconds"] for w in classified["windows"]]
  ends = [w["end_seconds"] for w in classified["windows"]]
  assert starts == list(predicted["start_seconds"]) and ends == list(predicted["end_seconds"])
  assert ends[-1] == 4.7 and all(e - s == pytest.approx(0.975) for s, e in
                                 zip(starts[:-1], ends[:-1]))
  for window_row, scores in zip(classified["windows"], predicted["scores"]):
    np.testing.assert_array_equal(by_index(window_row["predictions"]),
                                  np.asarray(scores, np.float32))


def test_a_window_past_the_audio_ends_with_it(dog_16k, model_dir):
  """0.5 s of audio: YAMNet's one window spans 0.975 s of padded samples but ends at 0.5 s."""
  from soundscope.models.store import registry
  yamnet = registry.load_classifier("yamnet", model_dir)
  _, samples = dog_16k
  short = samples[:8000] / 32768.0
  scores = scoring.score_waveform(yamnet, short, per_window=True)
  assert scores.seconds == 0.5
  assert list(scores.windows.starts) == [0.0] and list(scores.windows.ends) == [0.5]
  (row,) = rows.window_rows(scores.windows, yamnet.labels, 3, 0.0)
  assert (row["start_seconds"], row["end_seconds"]) == (0.0, 0.5)
  # The clip scores are the pooled windows', as the classifier's own clip_scores.
  np.testing.assert_array_equal(scores.clip, yamnet.clip_scores(short.astype(np.float32)))


def test_a_label_set_reports_the_same_labels_in_classify_predict_and_live(dog_16k, model_dir,
                                                                          tmp_path, capsys):
  """--labels esc10 goes through the one label mapping in all three (models/label_sets.py)."""
  from soundscope.models import label_sets
  from soundscope.models.store import registry
  path, samples = dog_16k
  yamnet = registry.load_classifier("yamnet", model_dir)
  esc10 = label_sets.for_classifier("esc10", yamnet)
  every = str(len(esc10.labels))
  assert cli.main(["classify", "--model-dir", model_dir, "--json", "--labels", "esc10",
                   "--top-k", every, path]) == 0
  classified = json.loads(capsys.readouterr().out)
  output = tmp_path / "labels.parquet"
  assert cli.main(["predict", "--input", path, "--output", str(output), "--model", "yamnet",
                   "--model-dir", model_dir, "--labels", "esc10", "--top-k", every,
                   "--no-progress"]) == 0
  capsys.readouterr()
  (row,) = pd.read_parquet(output).to_dict("records")
  start = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)
  window = windows.Window(samples=samples.reshape(-1, 1), rate=16000, first_frame=0,
                          start_utc=start, end_utc=start + datetime.timedelta(seconds=4.7),
                          ended_at=0.0)
  event = loop_lib.Loop(None, yamnet, None, top_k=len(esc10.labels),
                        label_set=esc10).process(window)
  live = event.to_dict()["predictions"]
  as_pairs = lambda predictions: [(p["label"], p["score"]) for p in predictions]
  assert as_pairs(classified["predictions"]) == as_pairs(list(row["predictions"])) == \
      as_pairs(live)
  assert classified["predictions"][0]["label"] == "dog"
  assert {p["label"] for p in live} <= set(esc10.labels)


@pytest.mark.parametrize("command", ["predict", "capture"])
def test_a_bad_label_set_stops_before_any_work(model_dir, tmp_path, capsys, command):
  """One usage line naming the file, the class and a close real one; no worker, no device."""
  bad = tmp_path / "bad.yaml"
  bad.write_text("name: bad\nlabels:\n  - name: dog\n    classes: [Dgo]\n")
  arguments = {"predict": ["--input", str(tmp_path / "none"), "--output",
                           str(tmp_path / "out.parquet"), "--model", "yamnet"],
               "capture": ["--duration", "1"]}[command]
  status = cli.main([command, *arguments, "--model-dir", model_dir, "--labels", str(bad)])
  assert status == 2
  err = capsys.readouterr().err
  assert f"soundscope {command}: error: {bad}:4:" in err and "'Dog'" in err, err
