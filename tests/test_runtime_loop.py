"""The live loop: same scores as batch, saved before classified, sinks independent."""

import datetime
import json
import logging
import os

import numpy as np
import pytest
import soundfile

import support_runtime as sr
from conftest import blas_thread_counts
from soundscope.models import classifier as classifier_lib
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import prediction
from soundscope.runtime import retention
from soundscope.runtime import sinks as sinks_lib
from soundscope.runtime import windows
from soundscope.transforms import audio

T0 = datetime.datetime(2026, 11, 26, 17, 0, 0, 250000, tzinfo=datetime.timezone.utc)


def clip_window(relative, seconds=5.0):
  samples, rate = sr.read_clip(relative)
  count = int(seconds * rate)
  return windows.Window(samples=samples[:count].reshape(-1, 1), rate=rate, first_frame=0,
                        start_utc=T0, end_utc=T0 + datetime.timedelta(seconds=seconds),
                        ended_at=0.0)


class Broken(sinks_lib.Sink):
  name = "broken"

  def emit(self, event):
    raise OSError("disk full")


def full_scores(event, num_classes):
  scores = np.zeros(num_classes, np.float32)
  for p in event.predictions:
    scores[p.index] = p.score
  return scores


def resampled(window, filter_name="kaiser_best"):
  """float32 [m]: the window's audio resampled whole to 16 kHz (what `classify` of it hears)."""
  return audio.resample(window.samples[:, 0] / 32768.0, window.rate, 16000,
                        filter_name).astype(np.float32)


def test_live_window_scores_equal_batch_clip_scores_with_yamnet(tmp_path):
  from soundscope.models.store import registry
  model_dir = sr.import_yamnet(tmp_path / "models")
  live = registry.load_classifier("yamnet", model_dir)
  batch = registry.load_classifier("yamnet", model_dir)
  window = clip_window(sr.DOG_CLIP)
  runner = loop_lib.Loop(capture=None, classifier=live, sinks=None, top_k=len(live.labels))
  # One window alone is a stream of its own: its scores are classify's of its audio.
  event = runner.process(window)
  np.testing.assert_array_equal(full_scores(event, len(live.labels)),
                                batch.clip_scores(resampled(window)))
  assert event.model_windows == len(batch.window_scores(resampled(window)).starts)
  assert "Dog" in [p.label for p in event.predictions[:5]]


def test_window_is_saved_before_it_is_classified(tmp_path):
  class Failing(sr.BandEnergyClassifier):
    def window_scores(self, waveform_16k):
      raise RuntimeError("model crashed")

  window = clip_window(sr.RAIN_CLIP, 2.0)
  runner = loop_lib.Loop(None, Failing(), None, save_path=str(tmp_path))
  with pytest.raises(RuntimeError):
    runner.process(window)
  saved = tmp_path / prediction.record_name(T0)
  assert saved.name == "record_20261126T170000.250Z.wav"
  content, rate = soundfile.read(str(saved), dtype="int16")
  assert rate == 16000 and len(content) == 32000
  np.testing.assert_array_equal(content, windows.quantize_int16(resampled(window)))
  assert not list(tmp_path.glob(".*.part"))


def test_events_reach_every_sink_in_order_even_if_one_fails(tmp_path, capsys):
  classifier = sr.BandEnergyClassifier()
  recorder = sr.Recorder()
  jsonl = tmp_path / "events.jsonl"
  sinks = sinks_lib.SinkSet([Broken(), sinks_lib.ConsoleSink(), recorder,
                             sinks_lib.JsonLinesSink(str(jsonl))])
  runner = loop_lib.Loop(None, classifier, sinks, top_k=2)
  for relative in (sr.DOG_CLIP, sr.RAIN_CLIP):
    sinks.emit(runner.process(clip_window(relative, 3.0)))
  sinks.close()
  assert [e.sequence for e in recorder.events] == [1, 2]
  assert sinks.failures == {"broken": {"count": 2, "last_error": "disk full"}}
  printed = capsys.readouterr().out.splitlines()
  assert printed == [e.line() for e in recorder.events]
  assert printed[0].startswith("2026-11-26T17:00:03.250Z  ")
  # The band shares differ between a dog and rain, so the scores came from the audio.
  dog, rain = recorder.events
  assert dog.predictions != rain.predictions
  written = [json.loads(line) for line in jsonl.read_text().splitlines()]
  assert [w["sequence"] for w in written] == [1, 2]
  assert written[1]["predictions"] == [{"label": p.label, "index": p.index, "score": p.score}
                                       for p in rain.predictions]
  assert written[1]["start_seconds"] == 0.0 and written[1]["end_seconds"] == 3.0
  scores = classifier.clip_scores(resampled(clip_window(sr.RAIN_CLIP, 3.0)))
  top = classifier_lib.top_k(scores, classifier.labels, 2)
  assert [p.label for p in rain.predictions] == [p.label for p in top]


class FailsOn(sr.BandEnergyClassifier):
  """Fails on the windows whose (1-based) call numbers are listed."""

  def __init__(self, failing):
    self.failing, self.calls = set(failing), 0

  def window_scores(self, waveform_16k):
    self.calls += 1
    if self.calls in self.failing:
      raise RuntimeError(f"bad window {self.calls}")
    return super().window_scores(waveform_16k)


def run_on_rain(classifier):
  from soundscope.runtime import capture as capture_lib
  samples, rate = sr.read_clip(sr.RAIN_CLIP)
  # Five 1 s windows at five times real time: 200 ms to classify each, plenty.
  capture = capture_lib.Capture(sr.BlockSource(samples, rate, 4410, pace=5), 1.0, 1.0)
  recorder = sr.Recorder()
  runner = loop_lib.Loop(capture, classifier, sinks_lib.SinkSet([recorder]))
  failing, classifier.failing = classifier.failing, set()
  runner.warm_up(rate)
  classifier.failing, classifier.calls = failing, 0
  capture.start()
  return runner, recorder


def test_one_bad_window_is_reported_and_monitoring_goes_on():
  runner, recorder = run_on_rain(FailsOn({2}))
  assert runner.run() == 4
  assert runner.failures == 1 and len(recorder.events) == 4
  assert [e.start_utc for e in recorder.events] == sorted(e.start_utc for e in recorder.events)


def test_windows_failing_in_a_row_stop_the_loop_with_the_reason():
  runner, recorder = run_on_rain(FailsOn({1, 2, 3, 4, 5}))
  with pytest.raises(loop_lib.LoopError, match="3 windows in a row failed; last error: bad window 3"):
    runner.run()
  runner.capture.stop()
  assert recorder.events == []


class BlasThreadsSeen(sr.BandEnergyClassifier):
  """Notes the BLAS libraries' thread counts while it classifies a window."""

  def __init__(self):
    self.failing, self.calls, self.seen = set(), 0, set()

  def window_scores(self, waveform_16k):
    self.seen |= set(blas_thread_counts())
    return super().window_scores(waveform_16k)


def test_monitoring_runs_blas_on_one_thread_and_restores_it_after():
  import threadpoolctl
  with threadpoolctl.threadpool_limits(2, user_api="blas"):
    runner, recorder = run_on_rain(BlasThreadsSeen())
    runner.classifier.seen.clear()     # warm_up ran before monitoring started.
    assert runner.run() == 5
    assert runner.classifier.seen == {1}
    assert set(blas_thread_counts()) == {2}
  assert blas_thread_counts(), "numpy's OpenBLAS should be loaded"


def test_notification_parameters_carry_labels_window_and_model():
  runner = loop_lib.Loop(None, sr.BandEnergyClassifier(), None, top_k=3)
  event = runner.process(clip_window(sr.RAIN_CLIP, 2.0))
  parameters = event.notification_parameters()
  assert parameters["start_utc"] == "2026-11-26T17:00:00.250Z"
  assert parameters["end_utc"] == "2026-11-26T17:00:02.250Z"
  assert parameters["model"] == "band-energy" and parameters["model_version"] == "test"
  assert "saved_audio" not in parameters and set(parameters) >= {
      "source", "start_seconds", "end_seconds", "predictions"}
  assert [p["label"] for p in parameters["predictions"]] == [p.label for p in event.predictions]
  assert sum(p["score"] for p in parameters["predictions"]) == pytest.approx(1.0, abs=1e-5)
  assert prediction.devicehive_timestamp(event.end_utc) == "2026-11-26T17:00:02.250"


def test_runtime_never_imports_pipelines():
  import subprocess
  import sys
  code = ("import sys, soundscope.cli.capture, soundscope.cli.serve, soundscope.runtime.web, "
          "soundscope.runtime.courier, soundscope.runtime.loop, soundscope.runtime.session; "
          "print(sorted(m for m in sys.modules if m.startswith(('soundscope.pipelines', 'apache_beam'))))")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(sr.REPO), timeout=120)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == "[]"
  sources = "\n".join(p.read_text() for p in (sr.REPO / "runtime").rglob("*.py"))
  assert "import pipelines" not in sources and "from pipelines" not in sources


def test_live_commands_take_the_resample_filter_and_no_batch_only_front_end_option(capsys):
  import argparse
  from soundscope.cli import live as live_cli
  from soundscope.runtime import session
  parser = live_cli.add_arguments(argparse.ArgumentParser(prog="soundscope capture"))
  for batch_only in (["--example-hop", "0.48"], ["--read-block", "5"],
                     ["--short-clips", "error"], ["--vggish-batch-size", "8"]):
    with pytest.raises(SystemExit):
      parser.parse_args(batch_only)
    assert f"unrecognized arguments: {' '.join(batch_only)}" in capsys.readouterr().err
  args = parser.parse_args(["--resample-filter", "kaiser_fast"])
  samples, rate = sr.read_clip(sr.RAIN_CLIP)
  live = session.LiveSession(args, sr.BandEnergyClassifier(), sinks_lib.SinkSet([]),
                             source=sr.BlockSource(samples, rate, 4410))
  assert live.loop.params.resample_filter == "kaiser_fast"
  window = clip_window(sr.RAIN_CLIP, 2.0)
  heard = live.loop.listener.resample(window, last=True)
  np.testing.assert_array_equal(heard.samples, resampled(window, "kaiser_fast"))


def test_save_path_is_created_and_a_file_in_its_place_is_refused(tmp_path):
  folder = tmp_path / "recordings" / "kitchen"
  runner = loop_lib.Loop(None, sr.BandEnergyClassifier(), None, save_path=str(folder))
  event = runner.process(clip_window(sr.RAIN_CLIP, 2.0))
  assert folder.is_dir() and os.path.dirname(event.record_path) == str(folder)
  (tmp_path / "taken").write_text("a file, not a folder")
  with pytest.raises(NotADirectoryError, match="--save-path .*taken: cannot be a folder"):
    loop_lib.Loop(None, sr.BandEnergyClassifier(), None, save_path=str(tmp_path / "taken"))


def test_a_window_starting_in_a_taken_millisecond_is_saved_beside_it_never_over_it(tmp_path):
  samples = np.arange(1600, dtype=np.int16)
  paths = [loop_lib.save_window(str(tmp_path), T0, samples + i, 16000) for i in range(3)]
  assert [os.path.basename(p) for p in paths] == [
      "record_20261126T170000.250Z.wav", "record_20261126T170000.250Z_2.wav",
      "record_20261126T170000.250Z_3.wav"]
  for i, path in enumerate(paths):
    np.testing.assert_array_equal(soundfile.read(path, dtype="int16")[0], samples + i)
    assert retention.is_record_name(os.path.basename(path))    # Pruned and served as saved.
  assert sorted(os.listdir(tmp_path)) == [os.path.basename(p) for p in paths]   # Time order.


def test_a_squeezed_window_maps_its_audio_onto_its_own_utc_span():
  clock = windows.AudioClock()
  second = datetime.timedelta(seconds=1)
  clock.add(0.0, 5.0, T0, T0 + 5 * second)               # At the sample count's pace.
  clock.add(5.0, 10.0, T0 + 5 * second, T0 + 6 * second)  # Squeezed: 5 s of audio in 1 s.
  clock.add(12.0, 17.0, T0 + 6.5 * second, T0 + 11.5 * second)   # After 2 s lost.
  assert clock.utc(2.5) == T0 + 2.5 * second
  assert clock.utc(7.5) == T0 + 5.5 * second and clock.utc(10.0) == T0 + 6 * second
  assert clock.utc(11.0) == T0 + 6.5 * second                # Lost audio: up to the next.
  assert clock.utc(18.0) == T0 + 12.5 * second               # After the last: at pace.
  times = [clock.utc(s) for s in np.linspace(-1, 20, 400)]
  assert times == sorted(times)


class _Windows:
  """A capture stand-in: hands out the given windows, then None."""

  def __init__(self, items):
    self.items = list(items)

  def next_window(self, timeout=None):
    return self.items.pop(0) if self.items else None


def test_audio_lost_to_a_restart_is_said_as_the_restart_not_as_falling_behind(caplog):
  first = clip_window(sr.RAIN_CLIP, 1.0)
  second = clip_window(sr.RAIN_CLIP, 1.0)
  later = int(1.84 * first.rate)     # The old connection's last 0.84 s were dropped.
  second = windows.Window(second.samples, second.rate, later, T0, T0, 0.0,
                          dropped_frames=int(0.84 * first.rate), restarted=True)
  behind = windows.Window(first.samples, first.rate, later + len(first.samples) + 100, T0, T0,
                          0.0, dropped_frames=100)
  runner = loop_lib.Loop(_Windows([first, second, behind]), sr.BandEnergyClassifier(),
                         sinks_lib.SinkSet([]))
  caplog.set_level(logging.WARNING, logger="soundscope.runtime.loop")
  assert runner.run() == 3
  said = [r.getMessage() for r in caplog.records]
  assert len(said) == 2 and "the input restarted: 0.84 s of audio" in said[0], said
  assert "fell behind" not in said[0] and "fell behind: 0.00 s" in said[1], said


def test_a_console_whose_reader_left_stops_quietly(caplog):
  # `soundscope capture | head -3`: the pipe's reader is gone; expected, so nothing is said
  # at the default level (WARNING), and the set ends once no sink is left.
  read_end, write_end = os.pipe()
  os.close(read_end)
  stream = os.fdopen(write_end, "w")
  sinks = sinks_lib.SinkSet([sinks_lib.ConsoleSink(stream)])
  caplog.set_level(logging.WARNING)
  event = loop_lib.Loop(None, sr.BandEnergyClassifier(), None).process(
      clip_window(sr.RAIN_CLIP, 1.0))
  with pytest.raises(sinks_lib.OutputClosed):
    sinks.emit(event)
  assert [r.getMessage() for r in caplog.records] == []
  try:
    stream.close()
  except BrokenPipeError:
    pass
