"""Front-end parameters: defaults are the reference's, and the command line overrides them."""

import argparse

import pytest

from soundscope.configs import params as P


def test_defaults_are_the_references():
  params = P.VggishParams()
  assert params.sample_rate_hz == 16000 and params.resample_filter == "kaiser_best"
  assert params.example_hop_seconds == 0.96
  assert (P.STFT_WINDOW_SECONDS, P.STFT_HOP_SECONDS, P.NUM_MEL_BINS) == (0.025, 0.010, 64)
  assert (P.MEL_MIN_HZ, P.MEL_MAX_HZ, P.LOG_OFFSET) == (125.0, 7500.0, 0.01)


def test_command_line_overrides():
  parser = P.add_arguments(argparse.ArgumentParser())
  args = parser.parse_args(["--resample-filter", "kaiser_fast", "--example-hop", "0.48",
                            "--short-clips", "error", "--vggish-batch-size", "16"])
  params = P.from_arguments(args)
  assert params == P.VggishParams(resample_filter="kaiser_fast", example_hop_seconds=0.48,
                                  short_clip_policy="error", batch_size=16)


@pytest.mark.parametrize("bad", [{"short_clip_policy": "drop"}, {"example_hop_seconds": 0},
                                 {"example_hop_seconds": 0.004}, {"read_block_seconds": 1.0},
                                 {"batch_size": 0}])
def test_invalid_values_are_refused(bad):
  with pytest.raises(ValueError):
    P.VggishParams(**bad)


@pytest.mark.parametrize("flag,value,message", [
    ("--example-hop", "0.004", "--example-hop must be at least 0.01, not 0.004"),
    ("--read-block", "1", "--read-block must be at least 1.92, not 1"),
    ("--vggish-batch-size", "0", "--vggish-batch-size must be at least 1, not 0"),
])
def test_out_of_range_options_are_usage_errors(capsys, flag, value, message):
  parser = P.add_arguments(argparse.ArgumentParser(prog="soundscope embed"))
  with pytest.raises(SystemExit) as exit_info:
    parser.parse_args([flag, value])
  assert exit_info.value.code == 2
  assert message in capsys.readouterr().err
