"""Helpers for the runtime tests: a microphone made of ALSA's file plugin, real
ESC-10 clips, a YAMNet model store, and a small classifier that really listens.
"""

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile

from conftest import asset
from soundscope.models import classifier as classifier_lib
from soundscope.runtime import sinks as sinks_lib

REPO = pathlib.Path(__file__).resolve().parents[1]
DOG_CLIP = "audio/esc10/1-100032-A-0.flac"    # ESC-10 "dog", 5 s, 44.1 kHz mono 16-bit.
RAIN_CLIP = "audio/esc10/1-17367-A-10.flac"   # ESC-10 "rain".
CLIP_RATE = 44100

_ASOUNDRC = """\
# The default capture device reads {raw} (16-bit little-endian, raw):
# ALSA's file plugin standing in for a microphone.
pcm.!default {{
  type asym
  capture.pcm "soundscope_file_mic"
  playback.pcm "null"
}}
pcm.soundscope_file_mic {{
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "{raw}"
  format "raw"
}}
"""


def read_clip(relative):
  """int16 [n] samples and rate of an ESC-10 clip (skips when assets are absent)."""
  samples, rate = soundfile.read(str(asset(relative)), dtype="int16")
  return samples, rate


def file_microphone(home, samples):
  """Makes `home` a HOME whose default ALSA capture device plays `samples` (int16 [n]).

  PortAudio reads the ALSA configuration when it starts, so the process that
  captures must be started with HOME=home.
  """
  home = pathlib.Path(home)
  home.mkdir(parents=True, exist_ok=True)
  raw = home / "microphone.raw"
  np.asarray(samples, "<i2").tofile(raw)
  (home / ".asoundrc").write_text(_ASOUNDRC.format(raw=raw))
  return home


def import_yamnet(model_dir):
  """A model store holding the official YAMNet files from the shared assets."""
  from soundscope.models.store import files as store
  source = asset("yamnet")
  store.ModelStore(model_dir).import_path(source)
  return model_dir


def soundscope_command(*args):
  return [sys.executable, "-m", "soundscope", *map(str, args)]


def child_env(home, **extra):
  # XDG_RUNTIME_DIR: where ALSA's PulseAudio plugin, which PortAudio loads while it lists
  # devices, makes its runtime folder (in /tmp otherwise, left there after the test).
  env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(home), PYTHONUNBUFFERED="1")
  env.update({k: str(v) for k, v in extra.items()})
  return env


def stop_process(process, timeout=20):
  """SIGTERM, then wait; returns (returncode, stdout, stderr)."""
  if process.poll() is None:
    process.send_signal(signal.SIGTERM)
  try:
    out, err = process.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    out, err = process.communicate()
    pytest.fail(f"soundscope did not stop within {timeout} s of SIGTERM:\n{err}")
  return process.returncode, out, err


class LineReader:
  """Collects a pipe's lines on a thread, so a test can wait with a timeout."""

  def __init__(self, stream):
    self.lines = []
    self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
    self._thread.start()

  def _read(self, stream):
    for line in stream:
      self.lines.append(line)

  def text(self, timeout=10):
    self._thread.join(timeout)
    return "".join(self.lines)


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
  """Polls predicate() until it returns a true value; fails the test after timeout."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    value = predicate()
    if value:
      return value
    time.sleep(interval)
  pytest.fail(f"timed out after {timeout} s waiting for {what}")


class BandEnergyClassifier(classifier_lib.Classifier):
  """Scores each 0.96 s frame by the share of its energy below 1 kHz, 1-4 kHz and above.

  A real, if tiny, model: it computes its scores from the audio, so a wrong
  window, resampling or ordering changes them.
  """
  name = "band-energy"
  version = "test"
  labels = ("Low band", "Mid band", "High band")
  default_aggregation = "mean"
  FRAME = 15360   # 0.96 s at 16 kHz.
  EDGES_HZ = (0.0, 1000.0, 4000.0, 8000.01)

  def window_scores(self, waveform_16k):
    wave = np.asarray(waveform_16k, np.float64)
    count = max(1, len(wave) // self.FRAME)
    wave = np.pad(wave, (0, max(0, count * self.FRAME - len(wave))))
    frames = wave[:count * self.FRAME].reshape(count, self.FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(self.FRAME, 1 / 16000.0)
    bands = np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
                      for lo, hi in zip(self.EDGES_HZ[:-1], self.EDGES_HZ[1:])], axis=1)
    scores = bands / np.maximum(bands.sum(axis=1, keepdims=True), 1e-12)
    starts = np.arange(count) * 0.96
    return classifier_lib.WindowScores(starts, starts + 0.96, scores.astype(np.float32))


class BlockSource:
  """Blocks of a clip, as fast as asked (pace=None) or at `pace` times real time."""

  def __init__(self, samples, rate, block, pace=None):
    self.samples, self.rate, self.block = samples.reshape(-1, 1), rate, block
    self.overflows, self.device, self._at = 0, None, 0
    self.pause = None if pace is None else block / rate / pace

  def open(self):
    return self

  def read(self, timeout):
    if self._at >= len(self.samples):
      return None
    if self.pause:
      time.sleep(self.pause)
    block = self.samples[self._at:self._at + self.block]
    self._at += self.block
    return block, time.monotonic(), self._at - self.block

  def close(self):
    self._at = len(self.samples)


class Recorder(sinks_lib.Sink):
  """A sink that keeps every prediction event it is given, in order (`events`)."""
  name = "recorder"

  def __init__(self):
    self.events = []

  def emit(self, event):
    self.events.append(event)
