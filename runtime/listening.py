"""What the models hear live: the capture windows as ONE 16 kHz stream, each model window scored once.

A capture window (5-7 s at the device's rate) is mixed to mono
(transforms.audio.to_mono) and fed to a transforms.audio.StreamResampler that
lives as long as the stream: its state goes from window to window, so the
16 kHz samples equal those `classify` and `predict` resample from the whole
file (transforms/audio.stream_mono), bit for bit, block edges included
(transforms/resample.aligned_start; a 16 kHz source passes through unchanged).  The resampler holds
back the last ~20 ms of a window (its filter's reach) until the next one: a
window's 16 kHz piece starts and ends that much before the captured window.

`ModelWindows` scores those samples as one continuous stream, the way
models/scoring.py scores a file (the classifier's framing; a model window may
straddle two capture windows), so that its model windows, their times and
scores equal the batch ones.  Each model window is scored once, as soon as the
stream holds all of it: the loop pools the windows a piece completes into the
window's prediction, and the live events (runtime/live_events.py) take the
same windows.

The stream restarts (new resampler, new model windows; the old stream's held
back end is resampled and scored as its end) after audio was lost (an
overrun, a gap of the source, a window that failed) and when a network source
reconnects: the timeline jumps there, as a new file would start.
"""

import collections

import numpy as np

from soundscope.configs import params as P
from soundscope.configs import runtime as S
from soundscope.runtime import windows as windows_lib
from soundscope.transforms import audio
from soundscope.transforms import levels

Heard = collections.namedtuple("Heard", ["samples", "start_seconds", "end_seconds", "start_utc",
                                         "end_utc", "windows", "levels", "restarted", "ended"])
Heard.__doc__ = """One capture window as the models heard it.

  samples: float32 [m] 16 kHz samples in [-1, 1] resampled in this window (the
    piece of the stream it completed; saved with --save-path).
  start_seconds, end_seconds: the piece's bounds, seconds of audio since the
    capture started (16 kHz samples / 16000).
  start_utc, end_utc: the same on the capture windows' clock (runtime/windows.AudioClock:
    within a window squeezed onto the wall clock, audio is scaled onto its UTC span),
    None when unknown.
  windows: classifier.WindowScores of the model windows the piece completed
    (times in seconds since the capture started), or None when none did.
  levels: float64 [w] RMS dBFS of those windows' samples, or None.
  restarted: a stream starts at this window (the first, or audio was lost before it).
  ended: Ending of the previous stream, or None.
"""

Ending = collections.namedtuple("Ending", ["windows", "levels", "samples"])
Ending.__doc__ = """The end of a stream: what its held-back last samples completed.

  windows, levels: WindowScores (or None) and float64 [w] RMS dBFS of its last
    model windows, scored at its end (joined() takes these two).
  samples: float32 [m] its last 16 kHz samples (the ~20 ms the resampler held
    back), which no Heard carried.
"""


class ModelWindows:
  """A classifier's windows over consecutive 16 kHz pieces of one stream.

  With a framing (classifier.Framing), a model window is scored as soon as the
  stream holds all its span, by the framing's promise: window_scores of the
  buffer up to the last whole window's end gives exactly the windows starting
  before the next hop, and the rest waits for the next piece.  At the end, a
  remainder shorter than a span is scored with the hop before it (whose window
  was scored already and is left out), so that it too is a cut the promise
  covers.  Without a framing, each piece is scored alone.  Times are seconds
  of 16 kHz samples since `reset`'s origin.
  """

  def __init__(self, classifier):
    self.classifier = classifier
    self.framing = getattr(classifier, "framing", None)
    self.reset(0)

  def reset(self, first_sample):
    """Starts a new stream whose first sample is `first_sample` (16 kHz samples)."""
    self._buffer = np.zeros(0, np.float32)
    self._before = np.zeros(0, np.float32)   # The hop before _buffer (its window scored).
    self._offset = int(first_sample)     # Sample index of _buffer[0].
    self.samples = int(first_sample)     # Samples received so far, as an index.

  def add(self, samples):
    """float [n] 16 kHz samples in [-1, 1] -> (WindowScores, float [w] RMS dBFS) now complete."""
    samples = np.asarray(samples, np.float32)
    self.samples += len(samples)
    self._buffer = np.concatenate([self._buffer, samples])
    if self.framing is None:
      return self._score(self._buffer, 0, len(self._buffer), cut=True)
    hop, span = self.framing
    if len(self._buffer) < span:
      return None, None
    count = (len(self._buffer) - span) // hop + 1     # Windows wholly in the buffer.
    return self._score(self._buffer[:(count - 1) * hop + span], 0, count * hop, cut=False)

  def finish(self):
    """The windows still waiting, at the end of the stream (ends cut at its end)."""
    if not len(self._buffer):
      return None, None
    if self.framing is not None and len(self._buffer) < self.framing.span_samples and \
        len(self._before):
      windows, level = self._score(np.concatenate([self._before, self._buffer]),
                                   len(self._before), len(self._buffer), cut=True)
      return windows._replace(starts=windows.starts[1:], ends=windows.ends[1:],
                              scores=windows.scores[1:]), level[1:]
    return self._score(self._buffer, 0, len(self._buffer), cut=True)

  def _score(self, piece, before, advance, cut):
    """Scores `piece` (whose first `before` samples precede _buffer), then lets go of
    `advance` samples of _buffer."""
    windows = self.classifier.window_scores(piece)
    offset = (self._offset - before) / float(P.SAMPLE_RATE_HZ)
    starts = np.asarray(windows.starts, np.float64) + offset
    ends = np.asarray(windows.ends, np.float64) + offset
    if cut:   # As models/scoring.py: a window past the audio's end ends with it.
      ends = np.minimum(ends, np.maximum(self.samples / float(P.SAMPLE_RATE_HZ), starts))
    level = levels.of_windows(piece, windows.starts, windows.ends, P.SAMPLE_RATE_HZ)[0]
    if self.framing is not None and advance:
      self._before = self._buffer[max(0, advance - self.framing.hop_samples):advance]
    self._buffer = self._buffer[advance:]
    self._offset += advance
    return windows._replace(starts=starts, ends=ends), level


def joined(first, second):
  """Two (WindowScores or None, levels, ...) in time order -> one (WindowScores or None,
  levels) (None when both are empty)."""
  parts = [(part[0], part[1]) for part in (first, second)
           if part[0] is not None and len(part[0].starts)]
  if len(parts) < 2:
    return parts[0] if parts else (None, None)
  (a, la), (b, lb) = parts
  return (a._replace(starts=np.concatenate([a.starts, b.starts]),
                     ends=np.concatenate([a.ends, b.ends]),
                     scores=np.concatenate([a.scores, b.scores])), np.concatenate([la, lb]))


class Listener:
  """Capture windows -> Heard: one continuous 16 kHz stream and its model windows.

  Args:
    classifier: soundscope.models.classifier.Classifier.
    params: VggishParams (sample_rate_hz, resample_filter).
  """

  def __init__(self, classifier, params=P.VggishParams()):
    self.classifier = classifier
    self.params = params
    self.models = ModelWindows(classifier)
    self._resampler = None
    self._origin = 0          # 16 kHz sample index of the stream's first sample.
    self.clock = windows_lib.AudioClock()    # The capture windows' audio -> UTC.
    self.restarts = 0         # Times the stream restarted after lost audio or a reconnection.

  def resample(self, window, restart=False, last=False):
    """A capture window's audio -> Heard without its model windows (see score).

    Args:
      window: runtime.windows.Window (int16 [n, channels] at window.rate).
      restart: the audio before this window was lost: the stream starts again.
      last: the stream ends with this window (its held-back end comes out too).
    """
    ended, restarted = None, restart or self._resampler is None or (
        self._resampler.rate_in != window.rate)
    if restarted:
      if self._resampler is not None:
        self.restarts += 1
        ended = self._end()
      self._resampler = audio.StreamResampler(window.rate, self.params.sample_rate_hz,
                                              self.params.resample_filter)
      self._origin = int(round(window.first_frame * float(self.params.sample_rate_hz)
                               / window.rate))
      self.models.reset(self._origin)
    first = self._origin + self._resampler.samples_out
    self.clock.add(window.first_frame / float(window.rate),
                   (window.first_frame + window.samples.shape[0]) / float(window.rate),
                   window.start_utc, window.end_utc)
    mono = audio.to_mono(window.samples.astype(np.float64) / S.INT16_SCALE)
    samples = self._resampler.add(mono)
    if last:
      samples = np.concatenate([samples, self._resampler.finish()])
    rate = float(self.params.sample_rate_hz)
    start, end = first / rate, (first + len(samples)) / rate
    return Heard(np.asarray(samples, np.float32), start, end, self.clock.utc(start),
                 self.clock.utc(end), None, None, restarted, ended)

  def score(self, heard, last=False):
    """Heard from resample -> the same with the model windows its samples completed."""
    windows, window_levels = self.models.add(heard.samples)
    if last:
      windows, window_levels = joined((windows, window_levels), self.models.finish())
      self._resampler = None
    return heard._replace(windows=windows, levels=window_levels)

  def drop(self):
    """Forgets the current stream (a window failed): the next window starts a new one."""
    if self._resampler is not None:
      self.restarts += 1
    self._resampler = None
    self.models.reset(0)

  def finish(self):
    """At the end of the source: the stream's Ending (its last windows and samples)."""
    return self._end() or Ending(None, None, np.zeros(0, np.float32))

  def _end(self):
    """Ends the current stream: its held-back samples scored with its last windows."""
    if self._resampler is None:
      return None
    resampler, self._resampler = self._resampler, None
    samples = resampler.finish().astype(np.float32)
    return Ending(*joined(self.models.add(samples), self.models.finish()), samples)

