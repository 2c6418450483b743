"""The batched file loop gives the per-file reference results, in order, errors in place."""

import numpy as np
import soundfile

from bench import batch_embed
from soundscope.transforms import errors
from soundscope.transforms import postprocess
from soundscope.transforms import vggish_input


def _write(path, seconds, rate, channels=1, seed=0):
  rng = np.random.default_rng(seed)
  soundfile.write(path, rng.uniform(-0.5, 0.5, (int(seconds * rate), channels)), rate,
                  subtype="PCM_16")
  return str(path)


def test_results_in_order_equal_per_file_embedding(tmp_path, vggish_embedder, pca_params_path,
                                                   monkeypatch):
  # One file is over the streaming threshold, so both paths run in one call.
  monkeypatch.setattr(batch_embed, "STREAM_ABOVE_SECONDS", 6.0)
  paths = [_write(tmp_path / "a.wav", 2.0, 44100, 2, seed=1),
           str(tmp_path / "missing.wav"),
           _write(tmp_path / "long.flac", 9.5, 22050, 1, seed=2),
           _write(tmp_path / "b.wav", 1.0, 8000, 1, seed=3),
           _write(tmp_path / "short.wav", 0.3, 16000, 1, seed=4)]
  (tmp_path / "text.wav").write_text("not audio")
  paths.insert(3, str(tmp_path / "text.wav"))
  postprocessor = postprocess.Postprocessor(pca_params_path)
  original_batch = vggish_embedder.batch_size
  vggish_embedder.batch_size = 4  # Force batches that cut across files.
  try:
    results = list(batch_embed.embed_files(paths, vggish_embedder, postprocessor))
  finally:
    vggish_embedder.batch_size = original_batch
  assert [r.path for r in results] == paths
  assert isinstance(results[1].error, errors.AudioFileNotFoundError)
  assert isinstance(results[3].error, errors.UnreadableAudioError)
  for result in results:
    if isinstance(result, batch_embed.FileError):
      continue
    examples = vggish_input.file_to_examples(result.path)
    reference = vggish_embedder.embed(examples)
    np.testing.assert_allclose(result.raw, reference, rtol=1e-5, atol=1e-4)
    # The release bytes of the reference embedding, give or take the one step that
    # the float tolerance above can move a value across.
    expected = postprocessor.postprocess(reference).astype(int)
    assert result.quantized.shape == (len(examples), 128)
    assert np.abs(result.quantized.astype(int) - expected).max() <= 1
  assert results[2].info.sample_rate == 22050 and len(results[2].raw) == 9
  assert len(results[-1].raw) == 1  # The 0.3 s clip, padded to one example.


def test_a_long_file_failing_midway_is_an_error_not_a_crash(tmp_path, vggish_embedder,
                                                           monkeypatch):
  monkeypatch.setattr(batch_embed, "STREAM_ABOVE_SECONDS", 1.0)
  samples = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 4).astype(np.float32)
  samples[16000 * 3] = np.nan  # Found only when the last block is decoded.
  soundfile.write(tmp_path / "nan.wav", samples, 16000, subtype="FLOAT")
  good = _write(tmp_path / "good.wav", 2.0, 16000)
  results = list(batch_embed.embed_files([str(tmp_path / "nan.wav"), good], vggish_embedder))
  assert isinstance(results[0].error, errors.NonFiniteAudioError)
  assert isinstance(results[1], batch_embed.FileEmbedding) and results[1].quantized is None


def test_an_unforeseen_decoding_failure_costs_only_its_file(tmp_path, vggish_embedder,
                                                             monkeypatch):
  monkeypatch.setattr(batch_embed, "STREAM_ABOVE_SECONDS", 3.0)
  paths = [_write(tmp_path / "a.wav", 1.0, 16000, seed=1),
           _write(tmp_path / "odd.wav", 1.0, 16000, seed=2),
           _write(tmp_path / "long_odd.wav", 4.0, 16000, seed=3),   # The streaming path.
           _write(tmp_path / "b.wav", 1.0, 16000, seed=4)]
  real = vggish_input.iter_file_examples

  def fails_on_odd_files(path, params):
    if "odd" in str(path):
      raise MemoryError("simulated")
    return (yield from real(path, params))
  monkeypatch.setattr(vggish_input, "iter_file_examples", fails_on_odd_files)
  results = list(batch_embed.embed_files(paths, vggish_embedder))
  assert [type(r).__name__ for r in results] == ["FileEmbedding", "FileError", "FileError",
                                                 "FileEmbedding"]
  for error in (results[1].error, results[2].error):
    assert isinstance(error, errors.UnreadableAudioError)
    assert "could not be decoded (MemoryError: simulated)" in str(error)
