"""Error types for bad input.

Every problem with an input file maps to one of these, each naming the file
and the problem in its message, so that batch jobs can route it to their
errors output and interactive commands can print one clear line.
"""


class AudioInputError(Exception):
  """Base class: an input could not be turned into audio examples.

  Attributes:
    path: the offending input (file path or segment id), as given.
    reason: a short human-readable description of the problem.
  """
  kind = "audio_input_error"

  def __init__(self, path, reason):
    self.path = str(path)
    self.reason = reason
    super().__init__(f"{self.path}: {reason}")

  def __reduce__(self):
    # Keep the two-argument constructor picklable for Beam workers.
    return (type(self), (self.path, self.reason))


class AudioFileNotFoundError(AudioInputError):
  """The path does not exist."""
  kind = "file_not_found"


class NotAFileError(AudioInputError):
  """The path exists but is a directory or another non-regular file."""
  kind = "not_a_file"


class EmptyFileError(AudioInputError):
  """The file has zero bytes."""
  kind = "empty_file"


class UnreadableAudioError(AudioInputError):
  """libsndfile could not parse the file: not audio, truncated header, or corrupt."""
  kind = "unreadable_audio"


class TruncatedAudioError(UnreadableAudioError):
  """The file ends before its header says it should (cut-off download or copy)."""
  kind = "truncated_audio"


class UnsupportedFormatError(AudioInputError):
  """The container is known but its codec is not supported by libsndfile."""
  kind = "unsupported_format"


class InvalidSampleRateError(AudioInputError):
  """The sample rate is zero, negative or absurd."""
  kind = "invalid_sample_rate"


class NonFiniteAudioError(AudioInputError):
  """The samples contain NaN or infinity."""
  kind = "non_finite_audio"


class SilentAudioError(AudioInputError):
  """Every sample is zero (only raised when the caller asks to reject silence)."""
  kind = "silent_audio"


class ClipTooShortError(AudioInputError):
  """The clip is shorter than one example and the short-clip policy is 'error'."""
  kind = "clip_too_short"


class MissingAudioError(AudioInputError):
  """A listed segment has no audio file (AudioSet pipeline)."""
  kind = "missing_audio"


def error_kind(exc):
  """Returns a stable short name for an exception: its `kind` or its class name."""
  return getattr(exc, "kind", type(exc).__name__)
