"""Fidelity gates: our transforms and VGGish against the reference's golden outputs."""

import json

import numpy as np
import pytest

from soundscope.configs import params as P
from conftest import asset
from soundscope.transforms import postprocess
from soundscope.transforms import vggish_input

SYNTHETIC_CASES = ["sweep16k_mono", "tones44k_stereo", "decay8k_mono"]
FILE_CASES = {
    "file_13230_0_0_1": "audio/urbansound8k/13230-0-0-1.wav",
    "file_16772_8_0_0": "audio/urbansound8k/16772-8-0-0.wav",
    "file_7389_1_1_0": "audio/urbansound8k/7389-1-1-0.wav",
}
ALL_CASES = SYNTHETIC_CASES + list(FILE_CASES)
EXAMPLE_TOLERANCE = 1e-4


def _examples(case, golden, params=P.VggishParams()):
  if case in FILE_CASES:
    return vggish_input.file_to_examples(asset(FILE_CASES[case]), params)
  return vggish_input.waveform_to_examples(golden[f"{case}_waveform"],
                                           int(golden[f"{case}_rate"]), params)


@pytest.mark.parametrize("case", ALL_CASES)
def test_log_mel_examples_match_reference(case, golden):
  examples = _examples(case, golden)
  expected = golden[f"{case}_examples"]
  assert examples.dtype == np.float32
  assert examples.shape == expected.shape
  np.testing.assert_allclose(examples, expected, rtol=0, atol=EXAMPLE_TOLERANCE)


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_block_streaming_matches_whole_file(case, golden):
  # Blocks of 1.92 s force several block edges inside each 4 s file.
  params = P.VggishParams(read_block_seconds=1.92)
  examples = _examples(case, golden, params)
  np.testing.assert_allclose(examples, golden[f"{case}_examples"], rtol=0,
                             atol=EXAMPLE_TOLERANCE)


def test_checkpoint_has_the_official_variables(vggish_checkpoint):
  import tensorflow as tf
  expected = {name: shape for name, shape in
              json.loads(asset("golden/vggish_variables.json").read_text())}
  reader = tf.train.load_checkpoint(vggish_checkpoint)
  found = {name: list(shape) for name, shape in reader.get_variable_to_shape_map().items()}
  assert found == expected


@pytest.mark.parametrize("case", ALL_CASES)
def test_embeddings_and_bytes_match_reference(case, golden, vggish_embedder, pca_params_path):
  embedding = vggish_embedder.embed(golden[f"{case}_examples"])
  expected = golden[f"{case}_embedding"]
  scale = np.abs(expected).max()
  assert np.abs(embedding - expected).max() <= 1e-3 * scale
  quantized = postprocess.Postprocessor(pca_params_path).postprocess(embedding)
  assert quantized.dtype == np.uint8
  step_difference = np.abs(quantized.astype(int) - golden[f"{case}_quantized"])
  assert step_difference.max() <= 1


def test_embeddings_of_our_examples_end_to_end(golden, vggish_embedder, pca_params_path):
  # Our front end feeding our network: the whole chain the pipelines run.
  postprocessor = postprocess.Postprocessor(pca_params_path)
  for case in ALL_CASES:
    quantized = postprocessor.postprocess(vggish_embedder.embed(_examples(case, golden)))
    assert np.abs(quantized.astype(int) - golden[f"{case}_quantized"]).max() <= 1, case


def test_pca_probe_quantization(golden, pca_params_path):
  quantized = postprocess.Postprocessor(pca_params_path).postprocess(
      golden["pca_probe_embedding"])
  assert np.abs(quantized.astype(int) - golden["pca_probe_quantized"]).max() <= 1
  # Most probe values are far from a rounding boundary: they must be exactly equal.
  assert np.mean(quantized == golden["pca_probe_quantized"]) > 0.99


def float32_tolerance(model, scale):
  """How far a float32 evaluation of `model` may be from the exact result, for outputs of `scale`.

  Probabilistic rounding-error analysis (Higham & Mary, SIAM J. Sci. Comput.
  2019): an inner product of n float32 terms, summed in any order or blocking
  (which is what differs between batch sizes, CPUs and oneDNN kernels), errs
  by about sqrt(n) * u times the scale of its terms, u = 2**-24.  Independent
  errors of successive layers add in quadrature, so the network errs by about
  sqrt(sum of the layers' inner-product lengths) * u * scale; for VGGish,
  sqrt(31,433) * u = 1.06e-5 relative to the largest output.

  Args:
    model: a Keras model whose Conv2D and Dense layers do the arithmetic.
    scale: the largest magnitude among the outputs compared.
  """
  lengths = [int(np.prod(layer.kernel.shape[:-1])) for layer in model.layers
             if hasattr(layer, "kernel")]
  return float(np.sqrt(sum(lengths)) * 2.0**-24 * scale)


def float64_embeddings(model, examples):
  """The same network and weights evaluated in float64: the reference for float32 error."""
  import keras
  from soundscope.models.networks import vggish
  policy = keras.config.dtype_policy()
  keras.config.set_dtype_policy("float64")
  try:
    exact = vggish.create_model()
  finally:
    keras.config.set_dtype_policy(policy)
  for layer in model.layers:
    if hasattr(layer, "kernel"):
      target = exact.get_layer(layer.name)
      target.kernel.assign(layer.kernel.numpy().astype(np.float64))
      target.bias.assign(layer.bias.numpy().astype(np.float64))
  return exact(examples.astype(np.float64)).numpy()


@pytest.fixture(scope="module")
def vggish_network(vggish_checkpoint):
  """The Keras network with the checkpoint's weights, in TensorFlow (what was converted)."""
  from soundscope.models.networks import vggish
  return vggish.load_model(vggish_checkpoint)


@pytest.mark.slow
def test_the_litert_conversion_is_as_close_to_exact_as_tensorflow(golden, vggish_embedder,
                                                                  vggish_network):
  """The embedder runs the checkpoint's LiteRT conversion (XNNPACK's kernels); it and
  TensorFlow's float32 evaluation of the network are each within the float32 rounding
  bound of the float64 evaluation, so the conversion lost nothing (a wrong weight,
  layout or activation would be off by orders of magnitude more)."""
  examples = np.concatenate([golden[f"{case}_examples"] for case in ALL_CASES])
  exact = float64_embeddings(vggish_network, examples)
  tolerance = float32_tolerance(vggish_network, np.abs(exact).max())
  converted = vggish_embedder.embed(examples)
  tensorflow = vggish_network(examples, training=False).numpy()
  assert np.abs(converted - exact).max() <= tolerance
  assert np.abs(tensorflow - exact).max() <= tolerance


@pytest.mark.slow
def test_embedder_batches_give_the_same_result(golden, vggish_embedder, vggish_network):
  examples = np.concatenate([golden[f"{case}_examples"] for case in ALL_CASES])
  exact = float64_embeddings(vggish_network, examples)
  tolerance = float32_tolerance(vggish_network, np.abs(exact).max())
  original = vggish_embedder.batch_size
  results = {}
  try:
    for batch_size in (len(examples), 3, 1):
      vggish_embedder.batch_size = batch_size
      results[batch_size] = vggish_embedder.embed(examples)
  finally:
    vggish_embedder.batch_size = original
  # Every batch size is that close to exact on this CPU's kernels (so any two
  # batchings differ by at most twice the tolerance).
  for batch_size, embedding in results.items():
    error = np.abs(embedding - exact).max()
    assert error <= tolerance, (batch_size, error, tolerance)


def test_an_example_gets_the_same_embedding_bits_alone_or_among_others(golden, vggish_embedder):
  """Every VGGish call has batch_size examples (models/networks/vggish.py), so an
  example's raw embedding is the same bits embedded alone, with its clip, or among
  other clips' examples at any position: batch (embed, classify) and live, which
  group examples differently, give the same bytes."""
  examples = np.concatenate([golden[f"{case}_examples"] for case in ALL_CASES])
  together = vggish_embedder.embed(examples)
  alone = np.concatenate([vggish_embedder.embed(example[None]) for example in examples])
  np.testing.assert_array_equal(alone, together)
  shuffled = np.random.default_rng(0).permutation(len(examples))
  mixed = vggish_embedder.embed(np.concatenate([examples[shuffled], examples[:5]]))
  np.testing.assert_array_equal(mixed[np.argsort(shuffled)], together)
