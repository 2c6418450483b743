"""Signal and model parameters, with their units.

These mirror `vggish_params.py` of the VGGish reference (tensorflow/models,
research/audioset/vggish).  They are the defaults; every command that uses them
accepts overrides on its command line (the fields' flags, soundscope/cli/flags.py), and the resulting
`VggishParams` is passed explicitly to the transforms, so no module reads a
global at run time.
"""

import dataclasses

from soundscope.configs.fields import flag

# Audio input.
SAMPLE_RATE_HZ = 16000                 # VGGish and YAMNet both expect 16 kHz mono.
RESAMPLE_FILTER = "kaiser_best"        # resampy's default filter, as the reference uses.
FAST_RESAMPLE_FILTER = "kaiser_fast"   # Optional: ~3x faster, not bit-compatible with the reference.
RESAMPLE_FILTERS = (RESAMPLE_FILTER, FAST_RESAMPLE_FILTER)
READ_BLOCK_SECONDS = 20.0              # Long files are decoded in blocks of this many seconds
                                       # (20 s keeps peak RSS ~200 MB lower than 60 s, same numbers).
SCORE_BLOCK_SECONDS = 60.0             # Classifiers score long audio in segments of about this
                                       # many seconds (Classifier.stream_window_scores): 125 YAMNet
                                       # windows (enough for its 4 threads), 6 VGGish-head windows.

# Log-mel front end (mel_features.log_mel_spectrogram).
STFT_WINDOW_SECONDS = 0.025            # 25 ms periodic Hann window -> 400 samples at 16 kHz.
STFT_HOP_SECONDS = 0.010               # 10 ms hop -> 160 samples at 16 kHz.
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01                      # log(mel + 0.01) avoids log(0).

# Framing of log-mel frames into examples (vggish_input.waveform_to_examples).
EXAMPLE_WINDOW_SECONDS = 0.96          # 96 frames of 10 ms.
EXAMPLE_HOP_SECONDS = 0.96             # Non-overlapping by default, as in the AudioSet release.
MIN_EXAMPLE_HOP_SECONDS = STFT_HOP_SECONDS          # The finest hop: one log-mel frame.
MIN_READ_BLOCK_SECONDS = 2 * EXAMPLE_WINDOW_SECONDS  # A decoded block covers two examples.

# Network.
EMBEDDING_SIZE = 128
NUM_FRAMES = 96                        # Frames per example (EXAMPLE_WINDOW_SECONDS / STFT_HOP_SECONDS).
NUM_BANDS = 64                         # == NUM_MEL_BINS.
VGGISH_BATCH_SIZE = 16                 # Examples in every forward pass (padded: models/networks/vggish.py).

# Post-processing (vggish_postprocess.Postprocessor), the AudioSet release format.
QUANTIZE_MIN_VAL = -2.0
QUANTIZE_MAX_VAL = +2.0
PCA_EIGEN_VECTORS_NAME = "pca_eigen_vectors"
PCA_MEANS_NAME = "pca_means"

# AudioSet release SequenceExample schema.
VIDEO_ID_FEATURE = "video_id"
START_TIME_FEATURE = "start_time_seconds"
END_TIME_FEATURE = "end_time_seconds"
LABELS_FEATURE = "labels"
AUDIO_EMBEDDING_FEATURE = "audio_embedding"
NUM_AUDIOSET_CLASSES = 527
MAX_FRAMES = 10                        # Frames per AudioSet segment: 10 s of 0.96 s frames (a few have fewer).

# Reporting predictions (classify, predict, capture/serve).
AGGREGATIONS = ("mean", "max")         # How window scores pool into clip scores.
TOP_K = 3                              # Labels reported per clip or window, as in the article's output.
THRESHOLD = 0.0                        # Minimum score of a reported label.

# What to do with clips shorter than one example (0.96 s).
SHORT_CLIP_PAD = "pad"                 # Zero-pad the waveform up to one example (documented in transforms/vggish_input.py).
SHORT_CLIP_ERROR = "error"             # Raise ClipTooShortError.
SHORT_CLIP_POLICIES = (SHORT_CLIP_PAD, SHORT_CLIP_ERROR)
SHORT_CLIP_POLICY = SHORT_CLIP_PAD


@dataclasses.dataclass(frozen=True)
class VggishParams:
  """The front-end parameters that a command may override.

  Attributes:
    sample_rate_hz: rate the network expects, in Hz.
    resample_filter: resampy filter name ('kaiser_best' is the reference's).
    example_hop_seconds: hop between consecutive 0.96 s examples, in seconds.
    short_clip_policy: 'pad' or 'error' for clips shorter than one example.
    read_block_seconds: block length for decoding long files, in seconds.
    batch_size: examples per VGGish forward pass.
  """
  sample_rate_hz: int = SAMPLE_RATE_HZ
  resample_filter: str = dataclasses.field(default=RESAMPLE_FILTER, metadata=flag(
      "--resample-filter", "resampy filter; kaiser_best matches the VGGish and YAMNet "
      "references, kaiser_fast is ~3x faster but not bit-compatible",
      choices=RESAMPLE_FILTERS))
  example_hop_seconds: float = dataclasses.field(default=EXAMPLE_HOP_SECONDS, metadata=flag(
      "--example-hop", "hop between 0.96 s examples", unit="s", metavar="SECONDS"))
  short_clip_policy: str = dataclasses.field(default=SHORT_CLIP_POLICY, metadata=flag(
      "--short-clips", "audio shorter than one 0.96 s example: zero-pad it to one "
      "example, or report an error", choices=SHORT_CLIP_POLICIES))
  read_block_seconds: float = dataclasses.field(default=READ_BLOCK_SECONDS, metadata=flag(
      "--read-block", "decode long files in blocks of this many seconds", unit="s",
      metavar="SECONDS"))
  batch_size: int = dataclasses.field(default=VGGISH_BATCH_SIZE, metadata=flag(
      "--vggish-batch-size", "examples in every VGGish forward pass (the last one padded); "
      "batch and live give the same bytes with the same value", metavar="N"))

  def __post_init__(self):
    if self.resample_filter not in RESAMPLE_FILTERS:
      raise ValueError(f"resample_filter must be one of {RESAMPLE_FILTERS}, "
                       f"not {self.resample_filter!r}")
    if self.short_clip_policy not in SHORT_CLIP_POLICIES:
      raise ValueError(f"short_clip_policy must be one of {SHORT_CLIP_POLICIES}, "
                       f"not {self.short_clip_policy!r}")
    if round(self.example_hop_seconds / STFT_HOP_SECONDS) < 1:
      raise ValueError(f"example_hop_seconds must be at least {MIN_EXAMPLE_HOP_SECONDS} s "
                       f"(one log-mel frame), not {self.example_hop_seconds}")
    if self.read_block_seconds < MIN_READ_BLOCK_SECONDS:
      raise ValueError(f"read_block_seconds must cover at least two examples "
                       f"({MIN_READ_BLOCK_SECONDS} s), not {self.read_block_seconds}")
    if self.batch_size < 1:
      raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")


@dataclasses.dataclass(frozen=True)
class ReportOptions:
  """Which classifier scores, and what of its scores a command reports.

  Shared by `soundscope classify`, `predict`, `capture` and `serve`, so the
  four read the same flags with the same defaults and checks.

  Attributes:
    model: model in the store ('yamnet' or a trained head's name); None: the default one.
    model_dir: the store's root; None: $SOUNDSCOPE_MODEL_DIR or ~/.cache/soundscope/models.
    top_k: labels reported per clip or window.
    threshold: minimum score of a reported label, in [0, 1].
    aggregation: 'mean' or 'max' pooling of window scores; None: the model's default.
    score_block_seconds: audio scored per classifier call when scoring long audio,
      seconds (memory against per-call overhead; the same numbers).
  """
  model: str = dataclasses.field(default=None, metadata=flag(
      "--model", "model in the store: 'yamnet' or a trained head's name (default: yamnet "
      "when present, else a trained VGGish head)", metavar="NAME"))
  model_dir: str = dataclasses.field(default=None, metadata=flag(
      "--model-dir", "model store (default: $SOUNDSCOPE_MODEL_DIR or "
      "~/.cache/soundscope/models)", metavar="DIR"))
  top_k: int = dataclasses.field(default=TOP_K, metadata=flag(
      "--top-k", "labels reported per clip or window", metavar="K"))
  threshold: float = dataclasses.field(default=THRESHOLD, metadata=flag(
      "--threshold", "only labels scoring at least this", metavar="SCORE"))
  aggregation: str = dataclasses.field(default=None, metadata=flag(
      "--aggregation", "how window scores pool into clip scores (default: the model's; "
      "YAMNet: mean, see docs/models.md)", choices=AGGREGATIONS))
  score_block_seconds: float = dataclasses.field(default=SCORE_BLOCK_SECONDS, metadata=flag(
      "--score-block", "score long audio in segments of about this many seconds: memory "
      "against per-call overhead, the same numbers", unit="s", metavar="SECONDS"))

  def __post_init__(self):
    if self.top_k < 1:
      raise ValueError(f"top_k must be at least 1, not {self.top_k}")
    if not 0.0 <= self.threshold <= 1.0:
      raise ValueError(f"threshold must be in [0, 1], not {self.threshold}")
    if self.aggregation not in (None,) + AGGREGATIONS:
      raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {self.aggregation!r}")
    if self.score_block_seconds <= 0:
      raise ValueError(f"score_block_seconds must be positive, not {self.score_block_seconds}")
