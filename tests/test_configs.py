"""Defaults live once, in configs/, and the command lines are generated from them."""

import argparse

import pytest

from soundscope.cli import flags
from soundscope.cli import main as cli
from soundscope.configs import params as P


def test_defaults_are_the_references():
  params = P.VggishParams()
  assert params.sample_rate_hz == 16000 and params.resample_filter == "kaiser_best"
  assert params.example_hop_seconds == 0.96
  assert (P.STFT_WINDOW_SECONDS, P.STFT_HOP_SECONDS, P.NUM_MEL_BINS) == (0.025, 0.010, 64)
  assert (P.MEL_MIN_HZ, P.MEL_MAX_HZ, P.LOG_OFFSET) == (125.0, 7500.0, 0.01)


def test_command_line_overrides():
  parser = flags.add_flags(argparse.ArgumentParser(), P.VggishParams)
  args = parser.parse_args(["--resample-filter", "kaiser_fast", "--example-hop", "0.48",
                            "--short-clips", "error", "--vggish-batch-size", "16"])
  params = flags.build(P.VggishParams, args)
  assert params == P.VggishParams(resample_filter="kaiser_fast", example_hop_seconds=0.48,
                                  short_clip_policy="error", batch_size=16)
  # Without flags, the config's own defaults: nothing restated on the command line.
  assert flags.build(P.VggishParams, parser.parse_args([])) == P.VggishParams()


@pytest.mark.parametrize("bad", [{"short_clip_policy": "drop"}, {"example_hop_seconds": 0},
                                 {"example_hop_seconds": 0.004}, {"read_block_seconds": 1.0},
                                 {"batch_size": 0}, {"resample_filter": "sinc"}])
def test_invalid_values_are_refused(bad):
  with pytest.raises(ValueError):
    P.VggishParams(**bad)


@pytest.mark.parametrize("command", ["embed", "predict"])
@pytest.mark.parametrize("flag,value,message", [
    ("--read-block", "1", "--read-block must cover at least two examples (1.92 s), not 1.0"),
    ("--short-clips", "drop", "argument --short-clips: invalid choice: 'drop'"),
])
def test_front_end_flags_are_one_definition_with_its_checks(capsys, tmp_path, command, flag,
                                                            value, message):
  """embed and predict take the same front-end flags, refused alike (exit 2, one line)."""
  status = _exit_status(["--input", str(tmp_path / "none"), "--output", str(tmp_path / "out"),
                         flag, value], command)
  assert status == 2
  assert message in capsys.readouterr().err


@pytest.mark.parametrize("arguments,message", [
    (["--example-hop", "0.004"], "soundscope embed: error: --example-hop must be at least 0.01 s"),
    (["--vggish-batch-size", "0"], "soundscope embed: error: --vggish-batch-size must be at "
                                   "least 1, not 0"),
])
def test_out_of_range_options_are_usage_errors(capsys, tmp_path, arguments, message):
  status = _exit_status(["--input", str(tmp_path / "none"), "--output", str(tmp_path / "out"),
                         *arguments], "embed")
  assert status == 2
  assert message in capsys.readouterr().err


def test_help_states_each_default_from_its_config(capsys):
  for command in ("embed", "predict", "classify", "capture"):
    with pytest.raises(SystemExit):
      cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default kaiser_best)" in text, command       # --resample-filter, P.RESAMPLE_FILTER
    if command in ("embed", "predict"):
      assert "(default 20.0 s)" in text, command            # --read-block, P.READ_BLOCK_SECONDS
    if command in ("predict", "classify", "capture"):
      assert f"(default {P.TOP_K})" in text, command       # --top-k, P.TOP_K


def _exit_status(arguments, command):
  try:
    return cli.main([command, *arguments])
  except SystemExit as exit_info:     # argparse's own usage errors.
    return exit_info.code
