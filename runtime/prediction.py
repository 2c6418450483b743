"""What every sink receives: one classified window (PredictionEvent) and the
start and end of a sound event (EventNotice)."""

import dataclasses
import datetime

from soundscope.configs import runtime as S


def iso_utc(moment):
  """datetime -> '2026-11-26T17:05:01.123Z' (UTC, milliseconds)."""
  moment = moment.astimezone(datetime.timezone.utc)
  return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def devicehive_timestamp(moment):
  """datetime -> DeviceHive's "yyyy-MM-dd'T'HH:mm:ss.SSS" (UTC, no zone suffix)."""
  return iso_utc(moment)[:-1]


def record_name(start_utc, number=1):
  """File name of a saved window: record_<UTC start, e.g. 20261126T170501.123Z>.wav, or
  record_<UTC start>_<number>.wav for number 2, 3, ... (that millisecond's name was taken)."""
  start_utc = start_utc.astimezone(datetime.timezone.utc)
  stamp = start_utc.strftime("%Y%m%dT%H%M%S.") + f"{start_utc.microsecond // 1000:03d}Z"
  if number > 1:
    return S.RECORD_TAKEN_PATTERN.format(stamp=stamp, number=number)
  return S.RECORD_FILE_PATTERN.format(stamp=stamp)


@dataclasses.dataclass
class PredictionEvent:
  """The result of one window.

  Attributes:
    sequence: 1, 2, ... in capture order within this run.
    start_utc, end_utc: datetime bounds of the window (UTC).
    predictions: list of soundscope.models.classifier.Prediction(label, index, score), best first.
    model, model_version: the classifier's name and version.
    ended_at: time.monotonic() when the window's last audio arrived.
    classified_at: time.monotonic() when its scores were ready.
    record_path: the saved wav, or None without --save-path.
    dropped_seconds: audio lost just before this window (classifier behind).
    start_seconds, end_seconds: the window's bounds in seconds of audio since the
      capture started (its sample count: what a batch run over the same audio reports).
    source: the input's name (the device's, or "microphone").
    rms_dbfs, peak_dbfs: the window's level, dBFS of its 16 kHz samples
      (transforms/levels.py; silence is the floor configs.monitoring.LEVEL_FLOOR_DBFS),
      or None when not measured.
    model_windows: the model windows the window completed and its predictions
      pool (runtime/listening.py), or None when not known.
  """
  sequence: int
  start_utc: datetime.datetime
  end_utc: datetime.datetime
  predictions: list
  model: str
  model_version: str
  ended_at: float
  classified_at: float
  record_path: str = None
  dropped_seconds: float = 0.0
  start_seconds: float = 0.0
  end_seconds: float = 0.0
  source: str = "microphone"
  rms_dbfs: float = None
  peak_dbfs: float = None
  model_windows: int = None

  def line(self):
    """The terminal line: '<end UTC>  Speech: 0.75, Music: 0.12, ...' (the article's format)."""
    from soundscope.models import classifier
    text = classifier.format_predictions(self.predictions) or (
        "(no model window ended in this window)" if self.model_windows == 0
        else "(nothing above the threshold)")
    return f"{iso_utc(self.end_utc)}  {text}"

  def to_dict(self):
    """JSON-ready form for the web page, /api/events, the JSON-lines sink and DeviceHive.

    The shared fields of every output (models/rows.py: source, model,
    model_version, start_seconds, end_seconds, predictions), plus what only a
    live window has: its sequence, absolute bounds start_utc/end_utc, the
    article's text line, the saved audio, the audio dropped before it, its
    level and the model windows its predictions pool.
    """
    from soundscope.models import rows
    return {"sequence": self.sequence, "source": self.source, "model": self.model,
            "model_version": self.model_version, "start_seconds": self.start_seconds,
            "end_seconds": self.end_seconds, "start_utc": iso_utc(self.start_utc),
            "end_utc": iso_utc(self.end_utc), "predictions": rows.prediction_dicts(self.predictions),
            "text": self.line().split("  ", 1)[1], "saved_audio": self.record_path,
            "dropped_seconds": round(self.dropped_seconds, 3),
            "rms_dbfs": _rounded(self.rms_dbfs), "peak_dbfs": _rounded(self.peak_dbfs),
            "model_windows": self.model_windows}

  def notification_parameters(self):
    """DeviceHive notification parameters: to_dict's fields less the local saved-audio path."""
    parameters = self.to_dict()
    del parameters["saved_audio"]
    return parameters


def _rounded(value, digits=2):
  return None if value is None else round(float(value), digits)


def _iso_or_none(moment):
  return None if moment is None else iso_utc(moment)


@dataclasses.dataclass(frozen=True)
class EventNotice:
  """The start or the end of one sound event, as sinks receive it (Sink.event).

  Attributes:
    kind: "start" (the event has just begun; end_* are None, scores so far),
      "end" (it is over; the whole event) or "cancel" (the event that started
      did not stand when it closed, EventRules.compete_mean or exclusive: it
      is no event; its bounds and scores as built).
    label: the label's name.
    source, model, model_version: as PredictionEvent.
    label_set: the label set's name, or None (the model's own classes).
    start_seconds, end_seconds: seconds of audio since the capture started
      (end_seconds None on start); the batch events of the same audio have
      the same bounds.
    start_utc, end_utc: datetime (UTC) of those bounds (end_utc None on start).
    peak_score, mean_score: max and mean of its windows' scores (so far on start).
    windows: the model windows it holds (so far on start).
    saved_audio: paths of the saved window files (--save-path) that overlap it.
  """
  kind: str
  label: str
  source: str
  model: str
  model_version: str
  label_set: str
  start_seconds: float
  end_seconds: float
  start_utc: datetime.datetime
  end_utc: datetime.datetime
  peak_score: float
  mean_score: float
  windows: int
  saved_audio: tuple = ()

  def to_dict(self):
    """JSON-ready: the fields above, times as ISO-8601 UTC strings ending in 'Z'."""
    return {"kind": self.kind, "label": self.label, "source": self.source,
            "model": self.model, "model_version": self.model_version,
            "label_set": self.label_set, "start_seconds": self.start_seconds,
            "end_seconds": self.end_seconds, "start_utc": _iso_or_none(self.start_utc),
            "end_utc": _iso_or_none(self.end_utc), "peak_score": self.peak_score,
            "mean_score": self.mean_score, "windows": self.windows,
            "saved_audio": list(self.saved_audio)}

  def line(self):
    """The terminal line: '<UTC>  dog started (0.91)', '<UTC>  dog ended after 2.4 s (peak
    0.94)' or '<UTC>  dog cancelled: other labels scored higher over it'."""
    if self.kind == "start":
      return (f"{_when(self.start_utc, self.start_seconds)}  {self.label} started "
              f"({self.peak_score:.2f})")
    if self.kind == "cancel":
      return (f"{_when(self.end_utc, self.end_seconds)}  {self.label} cancelled: other labels "
              f"scored higher over it")
    return (f"{_when(self.end_utc, self.end_seconds)}  {self.label} ended after "
            f"{self.end_seconds - self.start_seconds:.1f} s (peak {self.peak_score:.2f})")


def _when(moment, seconds):
  """A notice's time for its line: UTC, or seconds of audio when the UTC time is unknown."""
  return iso_utc(moment) if moment is not None else f"{seconds:.2f} s"
