"""Signal and model parameters, with their units.

These mirror `vggish_params.py` of the VGGish reference (tensorflow/models,
research/audioset/vggish).  They are the defaults; every command that uses them
accepts overrides on its command line (see `add_arguments`), and the resulting
`VggishParams` is passed explicitly to the transforms, so no module reads a
global at run time.
"""

import argparse
import dataclasses

# Audio input.
SAMPLE_RATE_HZ = 16000                 # VGGish and YAMNet both expect 16 kHz mono.
RESAMPLE_FILTER = "kaiser_best"        # resampy's default filter, as the reference uses.
FAST_RESAMPLE_FILTER = "kaiser_fast"   # Optional: ~3x faster, not bit-compatible with the reference.
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
VGGISH_BATCH_SIZE = 64                 # Examples per forward pass.

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
  resample_filter: str = RESAMPLE_FILTER
  example_hop_seconds: float = EXAMPLE_HOP_SECONDS
  short_clip_policy: str = SHORT_CLIP_POLICY
  read_block_seconds: float = READ_BLOCK_SECONDS
  batch_size: int = VGGISH_BATCH_SIZE

  def __post_init__(self):
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


def _at_least(minimum, what, kind=float):
  """An argparse type: a `kind` no smaller than `minimum`, else a usage error naming `what`."""
  def parse(text):
    value = kind(text)
    if value < minimum:
      raise argparse.ArgumentTypeError(f"{what} must be at least {minimum}, not {text}")
    return value
  return parse


def add_resample_filter_argument(parser):
  """Adds --resample-filter alone (the commands whose other front-end steps are fixed)."""
  parser.add_argument("--resample-filter", default=RESAMPLE_FILTER,
                      choices=[RESAMPLE_FILTER, FAST_RESAMPLE_FILTER],
                      help="resampy filter; kaiser_best matches the VGGish and YAMNet "
                           "references (default), kaiser_fast is ~3x faster but not "
                           "bit-compatible")
  return parser


def add_arguments(parser):
  """Adds the VggishParams overrides to an argparse parser."""
  group = parser.add_argument_group("front end (configs/params.py)")
  add_resample_filter_argument(group)
  group.add_argument("--example-hop", type=_at_least(MIN_EXAMPLE_HOP_SECONDS, "--example-hop"),
                     default=EXAMPLE_HOP_SECONDS, dest="example_hop_seconds",
                     help="hop between 0.96 s examples, seconds (default %(default)s)")
  group.add_argument("--short-clips", choices=SHORT_CLIP_POLICIES, default=SHORT_CLIP_POLICY,
                     dest="short_clip_policy",
                     help="clips under 0.96 s: zero-pad to one example, or report an "
                          "error (default %(default)s)")
  group.add_argument("--read-block", type=_at_least(MIN_READ_BLOCK_SECONDS, "--read-block"),
                     default=READ_BLOCK_SECONDS, dest="read_block_seconds",
                     help="decode long files in blocks of this many seconds")
  group.add_argument("--vggish-batch-size", type=_at_least(1, "--vggish-batch-size", int),
                     default=VGGISH_BATCH_SIZE,
                     dest="vggish_batch_size", help="examples per VGGish forward pass")
  return parser


def from_arguments(args):
  """Builds VggishParams from parsed arguments (see add_arguments)."""
  return VggishParams(resample_filter=args.resample_filter,
                      example_hop_seconds=args.example_hop_seconds,
                      short_clip_policy=args.short_clip_policy,
                      read_block_seconds=args.read_block_seconds,
                      batch_size=args.vggish_batch_size)
