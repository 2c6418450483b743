"""The live loop: window -> one 16 kHz stream -> (saved wav) -> model windows -> every sink.

Each capture window is resampled as part of ONE continuous 16 kHz stream and
its model windows are scored once, on the stream's grid
(runtime/listening.py: the resampler and the framing `classify` and `predict`
use, so live and batch get the same samples, windows and scores for the same
audio).  The window's piece of the stream is saved first when --save-path is
given (so a crash in the model still leaves the audio).  The window's
prediction pools the model windows it completed (those ending in it, one may
have started in the previous window) as `classify` pools a file's (mean or
max); the LiveEvents (runtime/live_events.py) take the same windows, whose
start and end notices go to the sinks' `event` after the window's `emit`.
"""

import io
import logging
import os
import threading
import time

import numpy as np
import soundfile

from soundscope.configs import params as P
from soundscope.models import classifier as classifier_lib
from soundscope.models import label_sets, scoring
from soundscope.runtime import listening
from soundscope.runtime import prediction
from soundscope.configs import runtime as S
from soundscope.runtime import windows
from soundscope.transforms import blas
from soundscope.transforms import levels
from soundscope.util import atomic

log = logging.getLogger(__name__)


class LoopError(Exception):
  """Windows keep failing (the model or the disk is broken): monitoring stops."""


def save_window(directory, start_utc, samples16, rate):
  """Writes int16 [n] samples as a 16-bit wav record_<UTC start>.wav; returns its path.

  Never overwrites: when that name is taken (two windows starting in the same
  millisecond, as a source faster than real time squeezed onto the wall clock
  can give), the file is record_<UTC start>_2.wav, _3, ...  Encoded in memory,
  then written to a temporary name and renamed, so a reader never sees half a
  file and a full disk is an OSError naming it (libsndfile writing to the file
  itself says only "System error").
  """
  number = 1
  path = os.path.join(directory, prediction.record_name(start_utc))
  while os.path.lexists(path):
    number += 1
    path = os.path.join(directory, prediction.record_name(start_utc, number))
  encoded = io.BytesIO()
  soundfile.write(encoded, np.asarray(samples16, np.int16), rate, subtype="PCM_16", format="WAV")
  atomic.write_bytes(path, encoded.getvalue())
  return path


class Loop:
  """Classifies windows from a Capture until it ends or stop() is called.

  Args:
    capture: runtime.capture.Capture (started or not).
    classifier: soundscope.models.classifier.Classifier.
    sinks: runtime.sinks.SinkSet.
    top_k, threshold: how many labels per window, and the minimum score shown.
    save_path: directory for record_<UTC>.wav files, or None.
    params: VggishParams (sample rate and resampling filter of the shared transforms).
    aggregation: 'mean' or 'max' pooling of the model's frames over a window
      (None: the model's default, as `soundscope classify` uses).
    source: the input's name, reported with every window.
    label_set: a models.label_sets.ResolvedLabelSet to report instead of the
      model's classes (as classify and predict do), or None.
    live_events: a runtime.live_events.LiveEvents, or None (no events).
  """

  def __init__(self, capture, classifier, sinks, top_k=P.TOP_K,
               threshold=P.THRESHOLD, save_path=None,
               params=P.VggishParams(),
               aggregation=None, source="microphone", label_set=None, live_events=None):
    if save_path is not None:
      try:
        os.makedirs(save_path, exist_ok=True)     # As `mkdir -p`: a new folder is made.
      except OSError as exc:   # A file of that name, or no permission.
        raise NotADirectoryError(f"--save-path {save_path}: cannot be a folder for the "
                                 f"recordings ({exc.strerror or exc})") from None
    self.capture = capture
    self.classifier = classifier
    self.sinks = sinks
    self.top_k = top_k
    self.threshold = threshold
    self.save_path = save_path
    self.params = params
    self.aggregation = aggregation
    self.source = source
    self.label_set = label_set
    self.live_events = live_events
    self.listener = listening.Listener(classifier, params)
    self.processed = 0
    self.failures = 0
    self.save_failures = 0         # Windows that could not be saved (--save-path).
    self.save_error = None         # The current reason saving fails, or None.
    self.failures_in_a_row = 0
    self.last_seconds = None       # Wall time of the last window's classification.
    self._stop = threading.Event()

  def process(self, window):
    """One window alone, as a stream of its own -> PredictionEvent (saved first when asked)."""
    return self._classify(window, restart=True, last=True)[0]

  def _classify(self, window, restart=False, last=False):
    """One window -> (PredictionEvent, runtime.listening.Heard: what was classified).

    restart: audio was lost before it (the stream starts again); last: the
    stream ends with it.
    """
    heard = self.listener.resample(window, restart, last)
    record = self._save(heard) if self.save_path else None
    started = time.monotonic()
    # The stream's model windows, each scored once (runtime/listening.py).
    heard = self.listener.score(heard, last)
    predictions = self._predictions(heard.windows)
    classified_at = time.monotonic()
    self.last_seconds = classified_at - started
    self.processed += 1
    return prediction.PredictionEvent(
        sequence=self.processed, start_utc=heard.start_utc, end_utc=heard.end_utc,
        predictions=predictions, model=self.classifier.name,
        model_version=str(self.classifier.version), ended_at=window.ended_at,
        classified_at=classified_at, record_path=record,
        dropped_seconds=window.dropped_frames / window.rate,
        start_seconds=heard.start_seconds, end_seconds=heard.end_seconds, source=self.source,
        rms_dbfs=levels.rms_dbfs(heard.samples), peak_dbfs=levels.peak_dbfs(heard.samples),
        model_windows=0 if heard.windows is None else len(heard.windows.starts)
    ), heard

  def _predictions(self, model_windows):
    """The top labels of the model windows pooled (the aggregation classify uses), as
    classify reports a clip (label_sets.reported); [] when no model window ended."""
    if model_windows is None or not len(model_windows.starts):
      return []
    pooled = classifier_lib.aggregate(model_windows.scores,
                                      self.aggregation or self.classifier.default_aggregation)
    scores = label_sets.reported(scoring.Scores(pooled, None, 0.0), self.label_set)
    return classifier_lib.top_k(scores.clip,
                                label_sets.label_names(self.label_set, self.classifier),
                                self.top_k, self.threshold)

  def _save(self, heard):
    """Saves the window's 16 kHz piece (16-bit); returns its path, or None when saving
    fails (a full disk).

    Monitoring goes on without the audio: the failure is counted (save_failures),
    kept for the status (save_error, None again once a window is saved) and
    logged once per change, not per window.
    """
    try:
      path = save_window(self.save_path, heard.start_utc, windows.quantize_int16(heard.samples),
                         self.params.sample_rate_hz)
    except OSError as exc:
      self.save_failures += 1
      error = f"cannot save windows in {self.save_path}: {exc.strerror or exc}"
      if error != self.save_error:
        log.error("%s; monitoring goes on without the audio", error)
      self.save_error = error
      return None
    if self.save_error:
      log.warning("windows are saved in %s again", self.save_path)
      self.save_error = None
    return path

  def warm_up(self, rate=S.WARM_UP_RATE_HZ):
    """Runs resampling and the model once on silence, so the first window is not late.

    The resampler builds (and caches) its filter matrix for a rate on first use,
    and a model's first call allocates; both are paid here, before capture starts.
    """
    silence = windows.Window(samples=np.zeros((int(rate), 1), np.int16), rate=int(rate),
                             first_frame=0, start_utc=None, end_utc=None, ended_at=0.0)
    listener = listening.Listener(self.classifier, self.params)
    listener.score(listener.resample(silence, last=True), last=True)

  def run(self):
    """Runs until the capture ends or stop(); returns the number of windows classified.

    BLAS runs on one thread meanwhile: OpenBLAS's idle threads spin after every
    matrix product, and between windows that spinning cost ~2 % of a core.
    """
    with blas.limit_threads(S.BLAS_THREADS):
      return self._run()

  def _run(self):
    gap = False
    while not self._stop.is_set():
      try:
        window = self.capture.next_window(timeout=0.5)
      except TimeoutError:
        continue
      if window is None:
        break
      if window.dropped_frames:
        self._say_dropped(window)
      restart = gap or bool(window.dropped_frames) or window.restarted
      try:
        event, heard = self._classify(window, restart)
      except Exception as exc:  # One bad window is reported; monitoring goes on.
        gap = True            # Its audio is missing from the stream: it starts again.
        self.listener.drop()
        self._failed(window, exc)
        continue
      self.failures_in_a_row = 0
      self.sinks.emit(event)
      if self.live_events is not None:
        self._announce(self.live_events.add(heard, event.record_path))
      gap = False
    self._end_stream()
    return self.processed

  def _say_dropped(self, window):
    """One warning line for audio lost before a window: the input's restart (a network
    stream reconnected and its old connection's audio was dropped) or the classifier
    falling behind."""
    lost = window.dropped_frames / window.rate
    if window.restarted:
      log.warning("the input restarted: %.2f s of audio from before the restart dropped; "
                  "a new stream starts with this window", lost)
    else:
      log.warning("the classifier fell behind: %.2f s of audio dropped before this window", lost)

  def _end_stream(self):
    """The source ended: the stream's held-back end and last model windows, to the events."""
    try:
      ended = self.listener.finish()
    except Exception as exc:  # The model failed on them: the open events still end.
      log.error("the last model windows could not be scored: %s", exc)
      ended = None
    if self.live_events is not None:
      self._announce(self.live_events.finish(ended))

  def _announce(self, notices):
    for notice, only in notices:
      self.sinks.event(notice, only)

  def _failed(self, window, exc):
    self.failures += 1
    self.failures_in_a_row += 1
    log.error("window %s could not be processed: %s", window.start_utc, exc)
    if self.failures_in_a_row >= S.MAX_FAILURES_IN_A_ROW:
      raise LoopError(f"{self.failures_in_a_row} windows in a row failed; "
                      f"last error: {exc}") from exc

  def stop(self):
    """Asks run() to return after the current window (safe from a signal handler)."""
    self._stop.set()
