"""The single implementation of soundscope's signal steps.

  audio           decode a file (soundfile), mix to mono, resample (resampy),
                  read long files in bounded blocks
  mel_features    the reference's STFT / mel / log-mel front end
  vggish_input    waveform -> [n, 96, 64] log-mel examples
  postprocess     PCA whitening, quantization to the release's bytes, and back
  records         AudioSet release SequenceExamples: encode and decode
  levels          RMS and peak dBFS of windows, and the 20 ms level track
  events          window scores -> sound events (batch arrays, or a stream)
  level_bounds    an event's bounds moved to its loud audio on the level track
  event_tables    events as Parquet, CSV, JSON lines, Raven and Audacity tables
  timestamps      a file's start time from its name or a CSV
  resample, blas, native_stderr, example_proto   helpers of the steps above
  errors          the error types every bad input maps to

Nothing here imports Beam, PyAudio or a neural network: pipelines/ (batch)
and runtime/ (live) compose these functions with models/.
"""
