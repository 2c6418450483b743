"""The single implementation of soundscope's signal steps.

  audio           decode a file (soundfile), mix to mono, resample (resampy),
                  read long files in bounded blocks
  mel_features    the reference's STFT / mel / log-mel front end
  vggish_input    waveform -> [n, 96, 64] log-mel examples
  postprocess     PCA whitening, quantization to the release's bytes, and back
  records         AudioSet release SequenceExamples: encode and decode
  errors          the error types every bad input maps to

Nothing here imports Beam, PyAudio or a neural network: pipelines/ (batch)
and runtime/ (live) compose these functions with models/.
"""
