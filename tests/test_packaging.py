"""The package installs as a wheel with every module (what Beam's --setup_file ships)."""

import os
import re
import subprocess
import sys
import zipfile

import pytest

from soundscope.cli import main

PACKAGES = ("configs", "transforms", "models", "pipelines", "runtime", "cli")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_wheel_contains_every_package_and_the_console_script(tmp_path):
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(tmp_path), REPO],
                 check=True, capture_output=True)
  (wheel,) = tmp_path.glob("soundscope-*.whl")
  names = zipfile.ZipFile(wheel).namelist()
  for package in PACKAGES:
    assert f"soundscope/{package}/__init__.py" in names
  assert "soundscope/__init__.py" in names and "soundscope/__main__.py" in names
  assert "soundscope/transforms/audio.py" in names
  assert "soundscope/models/networks/vggish.py" in names
  assert "soundscope/runtime/web/static/app.js" in names
  # The one vendored uPlot the live page serves and the report inlines.
  assert {"soundscope/util/vendor/uPlot.iife.min.js", "soundscope/util/vendor/uPlot.min.css",
          "soundscope/util/vendor/uPlot.LICENSE"} <= set(names)
  # One namespace: nothing of ours at the top level of site-packages, no tests or benches.
  top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(
      (".dist-info", ".data"))}
  assert top_level == {"soundscope"}, top_level
  assert not any(part in name for name in names for part in ("/tests/", "bench/", "synthetic"))
  (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
  assert "soundscope = soundscope.cli.main:console_main" in zipfile.ZipFile(wheel).read(
      entry_points).decode()


def test_cli_lists_every_subcommand():
  result = subprocess.run([sys.executable, "-m", "soundscope", "--help"], capture_output=True,
                          text=True, check=True)
  for command in main.COMMANDS:
    assert command in result.stdout


def test_cli_without_command_shows_help_and_fails():
  result = subprocess.run([sys.executable, "-m", "soundscope"], capture_output=True, text=True)
  assert result.returncode == 2 and "COMMAND" in result.stdout


@pytest.mark.slow
def test_cli_is_quiet_unless_verbose(tmp_path):
  """TensorFlow's C++ start-up lines stay off stderr whichever ones the CPU makes it print; -v lets them through.

  TF_ENABLE_ONEDNN_OPTS=1 makes this CPU print what CPUs with oneDNN on by
  default print on import (its "custom operations are on" record, written
  before absl's logging starts, so no log level holds it back).
  """
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["TF_ENABLE_ONEDNN_OPTS"] = "1"
  head = tmp_path / "not_a_head"
  head.mkdir()

  def evaluate(*verbose):
    # Loading the head imports TensorFlow (Keras) before finding the folder empty.
    return subprocess.run([sys.executable, "-m", "soundscope", *verbose, "evaluate",
                           "--eval-data", str(tmp_path / "*.tfrecord"), "--model", str(head)],
                          capture_output=True, text=True, env=env)

  quiet = evaluate()
  assert quiet.returncode == 2, quiet.stderr
  lines = quiet.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("soundscope evaluate: error: "), quiet.stderr
  assert "neither" in lines[0], quiet.stderr
  verbose = evaluate("-v")
  assert verbose.returncode == 2 and "oneDNN custom operations are on" in verbose.stderr
