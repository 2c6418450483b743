"""One classified window: what every sink receives."""

import dataclasses
import datetime

from soundscope.runtime import settings as S


def iso_utc(moment):
  """datetime -> '2026-11-26T17:05:01.123Z' (UTC, milliseconds)."""
  moment = moment.astimezone(datetime.timezone.utc)
  return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def devicehive_timestamp(moment):
  """datetime -> DeviceHive's "yyyy-MM-dd'T'HH:mm:ss.SSS" (UTC, no zone suffix)."""
  return iso_utc(moment)[:-1]


def record_name(start_utc):
  """File name of a saved window: record_<UTC start, e.g. 20261126T170501.123Z>.wav."""
  start_utc = start_utc.astimezone(datetime.timezone.utc)
  stamp = start_utc.strftime("%Y%m%dT%H%M%S.") + f"{start_utc.microsecond // 1000:03d}Z"
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

  def line(self):
    """The terminal line: '<end UTC>  Speech: 0.75, Music: 0.12, ...' (the article's format)."""
    from soundscope.models import classifier
    text = classifier.format_predictions(self.predictions) or "(nothing above the threshold)"
    return f"{iso_utc(self.end_utc)}  {text}"

  def prediction_dicts(self):
    return [{"label": p.label, "index": int(p.index), "score": round(float(p.score), 6)}
            for p in self.predictions]

  def to_dict(self):
    """JSON-ready form for the web page and /api/events."""
    return {"sequence": self.sequence, "start": iso_utc(self.start_utc),
            "end": iso_utc(self.end_utc), "model": self.model,
            "model_version": self.model_version, "predictions": self.prediction_dicts(),
            "text": self.line().split("  ", 1)[1],
            "record": self.record_path, "dropped_seconds": round(self.dropped_seconds, 3)}

  def notification_parameters(self):
    """DeviceHive notification parameters: top-k labels and scores, window bounds, model."""
    return {"predictions": self.prediction_dicts(), "start": iso_utc(self.start_utc),
            "end": iso_utc(self.end_utc), "model": self.model,
            "modelVersion": self.model_version}
