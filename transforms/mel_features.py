"""Log-mel spectrogram front end, as in the VGGish reference's mel_features.py.

All functions work in float64 on numpy arrays, as the reference does; shapes
and units are in each docstring.
"""

import numpy as np


def frame(data, window_length, hop_length):
  """Splits an array into overlapping frames along its first axis (a strided view).

  Args:
    data: [n, ...] array.
    window_length: samples (or rows) per frame.
    hop_length: advance between frames, in samples (or rows).

  Returns:
    [1 + (n - window_length) // hop_length, window_length, ...] view of `data`;
    zero frames when n < window_length.  Trailing samples that do not fill a
    whole frame are dropped, as in the reference.
  """
  num_samples = data.shape[0]
  num_frames = 1 + int(np.floor((num_samples - window_length) / hop_length))
  num_frames = max(num_frames, 0)
  shape = (num_frames, window_length) + data.shape[1:]
  strides = (data.strides[0] * hop_length,) + data.strides
  return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides, writeable=False)


def periodic_hann(window_length):
  """Periodic Hann window of `window_length` samples (float64), as TF and the reference use."""
  return 0.5 - (0.5 * np.cos(2 * np.pi / window_length * np.arange(window_length)))


def stft_magnitude(signal, fft_length, hop_length, window_length):
  """Magnitude of the short-time Fourier transform.

  Args:
    signal: float [n] waveform.
    fft_length: FFT size in samples (power of 2 >= window_length).
    hop_length: advance between frames, in samples.
    window_length: periodic Hann window length, in samples.

  Returns:
    float64 [num_frames, fft_length // 2 + 1] magnitudes.
  """
  frames = frame(signal, window_length, hop_length)
  window = periodic_hann(window_length)
  return np.abs(np.fft.rfft(frames * window, int(fft_length)))


# HTK mel scale constants.
_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def hertz_to_mel(frequencies_hertz):
  """Converts Hz to HTK mel: 1127 * ln(1 + f / 700)."""
  return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + (np.asarray(frequencies_hertz) /
                                               _MEL_BREAK_FREQUENCY_HERTZ))


def spectrogram_to_mel_matrix(num_mel_bins, num_spectrogram_bins, audio_sample_rate,
                              lower_edge_hertz, upper_edge_hertz):
  """Matrix that maps linear-frequency FFT bins to triangular HTK-mel bands.

  Args:
    num_mel_bins: number of mel bands.
    num_spectrogram_bins: FFT bins (fft_length // 2 + 1).
    audio_sample_rate: rate of the analysed signal, in Hz.
    lower_edge_hertz, upper_edge_hertz: band edges of the lowest / highest band, in Hz.

  Returns:
    float64 [num_spectrogram_bins, num_mel_bins]; the DC bin has zero weight.

  Raises:
    ValueError: for edges out of order or above Nyquist.
  """
  nyquist_hertz = audio_sample_rate / 2.
  if lower_edge_hertz < 0.0:
    raise ValueError(f"lower_edge_hertz {lower_edge_hertz:.1f} must be >= 0")
  if lower_edge_hertz >= upper_edge_hertz:
    raise ValueError(f"lower_edge_hertz {lower_edge_hertz:.1f} >= upper_edge_hertz "
                     f"{upper_edge_hertz:.1f}")
  if upper_edge_hertz > nyquist_hertz:
    raise ValueError(f"upper_edge_hertz {upper_edge_hertz:.1f} is greater than Nyquist "
                     f"{nyquist_hertz:.1f}")
  spectrogram_bins_mel = hertz_to_mel(np.linspace(0.0, nyquist_hertz, num_spectrogram_bins))
  band_edges_mel = np.linspace(hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz),
                               num_mel_bins + 2)
  lower_edge_mel = band_edges_mel[:-2]
  center_mel = band_edges_mel[1:-1]
  upper_edge_mel = band_edges_mel[2:]
  lower_slope = (spectrogram_bins_mel[:, None] - lower_edge_mel) / (center_mel - lower_edge_mel)
  upper_slope = (upper_edge_mel - spectrogram_bins_mel[:, None]) / (upper_edge_mel - center_mel)
  mel_weights_matrix = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
  # The DC bin carries no useful information and is excluded, as in the reference.
  mel_weights_matrix[0, :] = 0.0
  return mel_weights_matrix


def log_mel_spectrogram(data, audio_sample_rate, log_offset, window_length_secs,
                        hop_length_secs, num_mel_bins, lower_edge_hertz, upper_edge_hertz):
  """Log-magnitude mel spectrogram.

  Args:
    data: float [n] waveform.
    audio_sample_rate: Hz.
    log_offset: added before the log to avoid log(0).
    window_length_secs, hop_length_secs: STFT window and hop, in seconds.
    num_mel_bins, lower_edge_hertz, upper_edge_hertz: the mel bands.

  Returns:
    float64 [num_frames, num_mel_bins], num_frames = 1 + (n - window) // hop.
  """
  window_length_samples = int(round(audio_sample_rate * window_length_secs))
  hop_length_samples = int(round(audio_sample_rate * hop_length_secs))
  fft_length = 2 ** int(np.ceil(np.log(window_length_samples) / np.log(2.0)))
  spectrogram = stft_magnitude(data, fft_length=fft_length, hop_length=hop_length_samples,
                               window_length=window_length_samples)
  mel_matrix = _cached_mel_matrix(num_mel_bins, spectrogram.shape[1], audio_sample_rate,
                                  lower_edge_hertz, upper_edge_hertz)
  return np.log(np.dot(spectrogram, mel_matrix) + log_offset)


_MEL_MATRICES = {}


def _cached_mel_matrix(*key):
  # The matrix depends only on constants; building it costs more than a short clip's STFT.
  if key not in _MEL_MATRICES:
    _MEL_MATRICES[key] = spectrogram_to_mel_matrix(*key)
  return _MEL_MATRICES[key]
