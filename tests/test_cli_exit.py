"""The `soundscope` command ends without the interpreter's teardown (soundscope/cli/main.py
console_main), and loses nothing by it: status, buffered output, threads, atexit."""

import os
import subprocess
import sys
import textwrap

# Run as `python -c`, like the console script: setup before console_main, then the command.
SCRIPT = textwrap.dedent("""
    import atexit, sys, threading, time
    from soundscope.cli.main import console_main

    class Finalized:
      def __del__(self):
        print("finalized at teardown", flush=True)

    KEPT = Finalized()   # Freed only by the interpreter's teardown.
    atexit.register(lambda: print("atexit ran", flush=True))

    def late():
      time.sleep(0.3)
      print("thread finished", flush=True)

    threading.Thread(target=late).start()
    console_main(sys.argv[1:])
""")


def run_console_main(tmp_path, *argv, stdout=subprocess.PIPE):
  env = dict(os.environ, SOUNDSCOPE_MODEL_DIR=str(tmp_path / "store"))
  return subprocess.run([sys.executable, "-c", SCRIPT, *argv], stdout=stdout,
                        stderr=subprocess.PIPE, text=True, env=env, timeout=120)


def test_output_threads_and_atexit_survive_and_teardown_is_skipped(tmp_path):
  with open(tmp_path / "out.txt", "w") as out:   # A file: stdout fully buffered.
    result = run_console_main(tmp_path, "models", "list", stdout=out)
  text = (tmp_path / "out.txt").read_text()
  assert result.returncode == 0, result.stderr
  assert text.startswith(f"model store: {tmp_path / 'store'}\n")
  assert "yamnet " in text and "vggish " in text and text.endswith("\n")
  # The thread ran to its end before the atexit functions, as at a normal exit.
  assert text.index("thread finished") < text.index("atexit ran")
  assert "finalized at teardown" not in text


def test_a_failing_command_keeps_its_status_and_its_line(tmp_path):
  result = run_console_main(tmp_path, "models", "verify", "--model-dir",
                                 str(tmp_path / "nowhere"))
  assert result.returncode == 1
  assert result.stderr.strip() == f"no models in {tmp_path / 'nowhere'}"
  assert "atexit ran" in result.stdout


def test_usage_errors_exit_the_usual_way(tmp_path):
  result = run_console_main(tmp_path, "predict")
  assert result.returncode == 2
  assert "the following arguments are required: --input, --output" in result.stderr
  assert "atexit ran" in result.stdout
