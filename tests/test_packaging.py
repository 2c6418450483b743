"""The package installs as a wheel with every module (what Beam's --setup_file ships)."""

import os
import subprocess
import sys
import zipfile

import soundscope

PACKAGES = ("configs", "transforms", "models", "pipelines", "runtime")


def test_wheel_contains_every_package_and_the_console_script(tmp_path):
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(tmp_path), str(soundscope.__file__).rsplit("/", 1)[0]],
                 check=True, capture_output=True)
  (wheel,) = tmp_path.glob("soundscope-*.whl")
  names = zipfile.ZipFile(wheel).namelist()
  for package in PACKAGES:
    assert f"{package}/__init__.py" in names
  assert "soundscope.py" in names
  assert "transforms/audio.py" in names and "models/vggish.py" in names
  assert not any(name.startswith("tests/") for name in names)
  (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
  assert "soundscope = soundscope:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_cli_lists_every_subcommand():
  result = subprocess.run([sys.executable, "-m", "soundscope", "--help"], capture_output=True,
                          text=True, check=True)
  for command in soundscope.COMMANDS:
    assert command in result.stdout


def test_cli_without_command_shows_help_and_fails():
  result = subprocess.run([sys.executable, "-m", "soundscope"], capture_output=True, text=True)
  assert result.returncode == 2 and "COMMAND" in result.stdout


def test_cli_is_quiet_unless_verbose(tmp_path):
  """TensorFlow's C++ start-up lines stay off stderr; -v lets them through."""
  import support_train as S
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  command = [sys.executable, "-m", "soundscope", "train", "--train-data",
             S.slice_glob(S.TRAIN_SLICE), "--train-dir", str(tmp_path / "run"), "--train-fraction", "1.5"]
  quiet = subprocess.run(command, capture_output=True, text=True, env=env)
  assert quiet.returncode == 2
  assert quiet.stderr.strip().splitlines()[-1] == (
      "soundscope train: error: training fraction must be in (0, 1], not 1.5")
  assert "cpu_feature_guard" not in quiet.stderr and "absl" not in quiet.stderr
  verbose = subprocess.run([command[0], "-m", "soundscope", "-v", *command[3:]],
                           capture_output=True, text=True, env=env)
  assert verbose.returncode == 2 and "cpu_feature_guard" in verbose.stderr
