"""`soundscope audioset`: AudioSet segment CSVs + local audio -> labelled TFRecords.

  soundscope audioset --segments balanced_train_segments.csv --audio-dir audio/
                      --output out/bal_train [--class-labels class_labels_indices.csv]

The segment CSV is read exactly as released (UTF-8, a leading BOM skipped):
three header lines starting with '#', then one segment per line, `YTID, start_seconds, end_seconds,
"mid,mid,..."`.  Mids become class indices through class_labels_indices.csv
(default: the one next to the segments CSV, as in the release).

Audio names accepted in --audio-dir (searched recursively; YTIDs are the
11-character YouTube ids of the CSV; extension: any of inputs.AUDIO_EXTENSIONS):
  YTID_<start>_<end>.<ext>   the segment already cut (e.g. -0DLPzsiXXE_30.000_40.000.wav)
  YTID_<start>.<ext>         the segment already cut, named by its start (-0DLPzsiXXE_30.flac)
  YTID.<ext>                 the whole video: the pipeline cuts [start, end]
Start and end in names match the CSV's within 1 ms, whatever their decimals.
When several files fit, the most specific form wins (the order above), then
the first name in sorted order.

Each segment becomes one record with the release's context: video_id = YTID,
start_time_seconds and end_time_seconds from the CSV, labels = the indices.
A segment without audio becomes an error row `missing_audio` (stage locate);
one with an unknown mid `unknown_label` (stage labels).  The run prints the
coverage (segments with audio found / listed) and checks
segments listed = records written + errors.
"""

import collections
import csv
import math
import os
import re
import sys

from soundscope.pipelines import dead_letter, embed, inputs, labels, options, outputs

HEADER_LINES = 3
TIME_TOLERANCE_SECONDS = 1e-3
YTID_LENGTH = 11
_AUDIO_NAME = re.compile(
    r"^(?P<ytid>[A-Za-z0-9_-]{%d})(?:_(?P<start>\d+(?:\.\d+)?)(?:_(?P<end>\d+(?:\.\d+)?))?)?"
    r"\.(?P<ext>[A-Za-z0-9]+)$" % YTID_LENGTH)

Segment = collections.namedtuple("Segment", ["ytid", "start", "end", "mids", "line"])
Segment.__doc__ = """One CSV row: ytid (str), start and end (float seconds),
mids (str as written, e.g. '/m/09x0r,/t/dd00088'), line (the row's text)."""

AudioFile = collections.namedtuple("AudioFile", ["start", "end", "path"])


def segment_key(segment):
  """Unique id of a segment within a run: YTID_<start with 3 decimals>."""
  return f"{segment.ytid}_{segment.start:.3f}"


def read_segments(path):
  """Parses a released segments CSV.

  Returns:
    list of Segment, in file order.

  Raises:
    ValueError: a file that cannot be read or holds no segment row; a row that does not
      have the release's four fields, or whose times are not 0 <= start < end, naming
      its line.
  """
  segments = []
  try:
    with open(path, newline="", encoding="utf-8-sig") as handle:   # A BOM is skipped.
      lines = handle.read().splitlines()
  except UnicodeDecodeError as exc:
    raise ValueError(f"{path}: not a segments CSV (byte {exc.start} is not UTF-8 text)") from None
  except OSError as exc:
    raise ValueError(f"{path}: cannot read the segments CSV: {exc.strerror or exc}") from None
  for number, line in enumerate(lines, start=1):
    if not line.strip() or line.startswith("#"):
      continue
    row = next(csv.reader([line], skipinitialspace=True))
    if len(row) != 4:
      raise ValueError(f"{path}:{number}: expected 'YTID, start_seconds, end_seconds, "
                       f"\"labels\"', got {line!r}")
    try:
      start, end = float(row[1]), float(row[2])
    except ValueError:
      raise ValueError(f"{path}:{number}: start/end are not numbers in {line!r}") from None
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
      raise ValueError(f"{path}:{number}: start/end must be finite seconds with "
                       f"0 <= start < end, got {line!r}")
    segments.append(Segment(row[0].strip(), start, end, row[3].strip(), line))
  if not segments:
    raise ValueError(f"{path}: no segment rows (YTID, start_seconds, end_seconds, "
                     f"\"labels\" per line)")
  return segments


def index_audio(audio_dir):
  """{ytid: [AudioFile]} of the accepted audio names under audio_dir (recursive)."""
  index = collections.defaultdict(list)
  for folder, subfolders, names in os.walk(audio_dir):
    subfolders.sort()
    for name in sorted(names):
      match = _AUDIO_NAME.match(name)
      if not match or match["ext"].lower() not in inputs.AUDIO_EXTENSIONS:
        continue
      start = float(match["start"]) if match["start"] else None
      end = float(match["end"]) if match["end"] else None
      index[match["ytid"]].append(AudioFile(start, end, os.path.join(folder, name)))
  return index


def _close(a, b):
  return a is not None and abs(a - b) <= TIME_TOLERANCE_SECONDS


def find_audio(segment, index):
  """(AudioFile, is_whole_video) for a segment, or (None, None)."""
  candidates = index.get(segment.ytid, ())
  for wanted in ("cut", "start", "whole"):
    for audio in candidates:
      if wanted == "cut" and _close(audio.start, segment.start) and _close(audio.end,
                                                                           segment.end):
        return audio, False
      if wanted == "start" and _close(audio.start, segment.start) and audio.end is None:
        return audio, False
      if wanted == "whole" and audio.start is None:
        return audio, True
  return None, None


def make_jobs(segments, index, mid_to_index):
  """AudioJobs of the segments with audio; error rows for the others.

  Returns:
    (jobs, error rows, number of segments whose audio was found).
  """
  from soundscope.pipelines import embedding
  jobs, errors, found, seen = [], [], 0, set()
  for segment in segments:
    key = segment_key(segment)
    if key in seen:
      errors.append(dead_letter.error_row(key, segment.line, "expand", (
          "duplicate_input", f"{key}: segment listed more than once")))
      continue
    seen.add(key)
    audio, whole = find_audio(segment, index)
    if audio is None:
      errors.append(dead_letter.error_row(key, segment.line, "locate", (
          "missing_audio", f"{key}: missing audio: no {segment.ytid}.<ext>, "
                           f"{segment.ytid}_<start>.<ext> or "
                           f"{segment.ytid}_<start>_<end>.<ext> in the audio folder")))
      continue
    found += 1
    try:
      indices = labels.parse(segment.mids, mid_to_index)
    except labels.UnknownLabelError as exc:
      errors.append(dead_letter.error_row(key, segment.line, "labels", (exc.kind,
                                                                         f"{key}: {exc}")))
      continue
    cut = (segment.start, segment.end) if whole else (None, None)
    jobs.append(embedding.AudioJob(key, segment.ytid, audio.path, cut[0], cut[1], indices,
                                   segment.start, segment.end))
  return jobs, errors, found


def default_class_labels(segments_path):
  return os.path.join(os.path.dirname(os.path.abspath(segments_path)),
                      "class_labels_indices.csv")


def run(args):
  options.quiet_logs()
  class_labels = args.class_labels or default_class_labels(args.segments)
  try:
    outputs.check_output(args.output, "balanced_train")
    outputs.claim(args.output, outputs.EMBED_PATTERNS, "audioset", [])
    segments = read_segments(args.segments)
    if not os.path.isdir(args.audio_dir):
      raise FileNotFoundError(f"{args.audio_dir}: audio folder not found")
    mid_to_index = labels.load_class_map(class_labels)
    checkpoint, pca = options.vggish_files(args)
  except (OSError, ValueError) as exc:
    print(f"soundscope audioset: {exc}", file=sys.stderr)
    return 2
  jobs, early_errors, found = make_jobs(segments, index_audio(os.path.abspath(args.audio_dir)),
                                        mid_to_index)
  listed = len(segments)
  percent = 100.0 * found / listed if listed else 0.0
  print(f"coverage: audio found for {found} of {listed} listed segments ({percent:.1f}%)")
  return embed.run_jobs(args, "audioset", "segments", listed, jobs, early_errors, checkpoint,
                        pca)
