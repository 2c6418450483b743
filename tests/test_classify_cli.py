"""`soundscope classify`: the article's lines, options, many formats, and bad files."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from soundscope.cli import main as cli
from conftest import REPO, asset, blas_thread_counts
from support_store import yamnet_store

# "path: Label: 0.12, Other, with comma: 0.03"
LINE = re.compile(r"^(?P<path>[^:]+): (?P<body>.+)$")
PREDICTION = re.compile(r"(?P<label>.+?): (?P<score>\d\.\d\d)(?:, |$)")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  return str(root)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
  """Real audio in several formats, rates and channel counts."""
  directory = tmp_path_factory.mktemp("clips")
  siren, rate = soundfile.read(asset("audio/urbansound8k/16772-8-0-0.wav"), dtype="float32")
  ogg = directory / "siren_22k_mono.ogg"
  mono = siren.mean(axis=1)
  soundfile.write(ogg, mono[::2], rate // 2, format="OGG", subtype="VORBIS")
  wav16 = directory / "siren_16k_mono.wav"
  from soundscope.transforms import audio
  soundfile.write(wav16, audio.resample(mono, rate, 16000), 16000, subtype="PCM_16")
  return {
      "stereo_wav": str(asset("audio/urbansound8k/16772-8-0-0.wav")),
      "flac": str(asset("audio/esc10/1-100032-A-0.flac")),
      "ogg": str(ogg),
      "wav16": str(wav16),
  }


def classify(capsys, *args):
  status = cli.main(["classify", *args])
  captured = capsys.readouterr()
  return status, captured.out.splitlines(), captured.err.splitlines()


def parse(line):
  match = LINE.match(line)
  assert match, line
  return match["path"], [(m["label"], float(m["score"])) for m in PREDICTION.finditer(match["body"])]


def test_one_line_per_file_in_the_articles_format(capsys, model_dir, clips):
  paths = list(clips.values())
  status, out, err = classify(capsys, "--model-dir", model_dir, *paths)
  assert status == 0 and err == []
  assert len(out) == len(paths)
  for path, line in zip(paths, out):
    got_path, predictions = parse(line)
    assert got_path == path
    assert len(predictions) == 3
    scores = [score for _, score in predictions]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
  # Whatever the container, rate or channel count, the siren is heard as one.
  for key in ("stereo_wav", "ogg", "wav16"):
    labels = [label for label, _ in parse(out[paths.index(clips[key])])[1]]
    assert "Siren" in labels, (key, labels)


def test_top_k_and_threshold(capsys, model_dir, clips):
  status, out, _ = classify(capsys, "--model-dir", model_dir, "--top-k", "5", clips["stereo_wav"])
  assert status == 0 and len(parse(out[0])[1]) == 5
  status, out, _ = classify(capsys, "--model-dir", model_dir, "--top-k", "5",
                            "--threshold", "0.12", clips["stereo_wav"])
  kept = parse(out[0])[1]
  assert 0 < len(kept) < 5 and all(score >= 0.12 for _, score in kept)
  status, out, _ = classify(capsys, "--model-dir", model_dir, "--threshold", "0.999",
                            clips["stereo_wav"])
  assert status == 0 and out == [f"{clips['stereo_wav']}: (no label scores 0.999 or more)"]


def test_json_and_per_window_timeline(capsys, model_dir, clips):
  status, out, _ = classify(capsys, "--model-dir", model_dir, "--json", "--per-window",
                            "--aggregation", "max", clips["stereo_wav"], clips["flac"])
  assert status == 0 and len(out) == 2
  siren, dog = (json.loads(line) for line in out)
  assert siren["source"] == clips["stereo_wav"] and siren["model"] == "yamnet"
  assert siren["start_seconds"] == 0.0 and siren["end_seconds"] == siren["duration_seconds"]
  assert siren["aggregation"] == "max"
  assert abs(siren["duration_seconds"] - 1.98) < 0.01
  assert len(siren["windows"]) == 4 and len(dog["windows"]) == 10  # 1.98 s and 5 s clips.
  assert [w["start_seconds"] for w in siren["windows"]] == [0.0, 0.48, 0.96, 1.44]
  # Max pooling: the clip score of the top label is its best window score.
  top = siren["predictions"][0]
  best = max(p["score"] for w in siren["windows"] for p in w["predictions"]
             if p["label"] == top["label"])
  assert abs(top["score"] - best) < 1e-6
  status, out, _ = classify(capsys, "--model-dir", model_dir, "--per-window", clips["flac"])
  assert len(out) == 1 + 10 and re.match(r"^ +0\.00- +0\.97 s: .+: \d\.\d\d", out[1])


@pytest.fixture
def bad_files(tmp_path):
  empty = tmp_path / "empty.wav"
  empty.write_bytes(b"")
  text = tmp_path / "notes.wav"
  text.write_text("this is a text file, not audio\n" * 20)
  no_samples = tmp_path / "no_samples.wav"
  soundfile.write(no_samples, np.zeros(0), 16000)
  truncated = tmp_path / "truncated.wav"
  with open(asset("audio/urbansound8k/7389-1-1-0.wav"), "rb") as stream:
    truncated.write_bytes(stream.read(30))
  return {"missing": str(tmp_path / "missing.wav"), "directory": str(tmp_path),
          "empty": str(empty), "text": str(text), "truncated": str(truncated),
          "no_samples": str(no_samples)}


def test_bad_files_get_one_clear_line_each_and_the_rest_is_classified(
    capsys, model_dir, clips, bad_files):
  args = [bad_files["missing"], clips["flac"], bad_files["directory"], bad_files["empty"],
          bad_files["text"], clips["ogg"], bad_files["truncated"], bad_files["no_samples"]]
  status, out, err = classify(capsys, "--model-dir", model_dir, *args)
  assert status == 1
  assert [parse(line)[0] for line in out] == [clips["flac"], clips["ogg"]]
  assert len(err) == 6
  expected = {"missing": "no such file", "directory": "directory", "empty": "empty",
              "text": "not readable audio", "truncated": "truncated",
              "no_samples": "no audio samples"}
  for (key, path), line in zip(bad_files.items(), err):
    assert line.startswith(f"{path}: "), line
    assert expected[key] in line
  status, out, _ = classify(capsys, "--model-dir", model_dir, "--json", bad_files["text"])
  record = json.loads(out[0])
  assert status == 1 and record["source"] == bad_files["text"] and record["kind"]


def test_no_model_says_how_to_get_one(capsys, tmp_path, clips):
  status, out, err = classify(capsys, "--model-dir", str(tmp_path), clips["flac"])
  assert status == 2 and out == [] and len(err) == 1
  assert "soundscope models download yamnet" in err[0]
  status, _, err = classify(capsys, "--model-dir", str(tmp_path), "--model", "birds", clips["flac"])
  assert status == 2 and "'birds' is not in the model store" in err[0]


def test_the_installed_command_runs_without_tensorflow_beam_or_numba(model_dir, clips, tmp_path):
  # Two files at 44.1 kHz: resampling and the parallel path (threadpoolctl) both run.
  # numba (resampy's JIT) costs 0.5-1.7 s of start-up; the polyphase resampler avoids it.
  code = ("import sys\nfrom soundscope.cli import main as cli\n"
          "status = cli.main(sys.argv[1:])\n"
          "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
          "('tensorflow', 'apache_beam', 'keras', 'numba', 'resampy'))\n"
          "print('HEAVY', heavy, file=sys.stderr)\n"
          "sys.exit(status)\n")
  env = dict(os.environ, SOUNDSCOPE_MODEL_DIR=model_dir)
  files = [clips["stereo_wav"], clips["flac"]]
  result = subprocess.run([sys.executable, "-c", code, "classify", "--jobs", "2", *files],
                          cwd=REPO, env=env, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert [parse(line)[0] for line in lines] == files
  assert result.stderr.strip() == "HEAVY []"


def test_parallel_jobs_give_the_same_scores_with_one_blas_thread_each(model_dir, clips):
  from soundscope.configs import params as P
  from soundscope.cli import classify as classify_cli
  from soundscope.models.store import registry
  model = registry.load_classifier("yamnet", model_dir)
  paths = [clips["stereo_wav"], clips["flac"], clips["ogg"], clips["wav16"]]
  before = blas_thread_counts()
  serial = [result.clip for _, result, _ in classify_cli.classify_files(
      model, paths, P.VggishParams(), "mean", False, jobs=1)]
  parallel, during = [], []
  for path, result, error in classify_cli.classify_files(
      model, paths, P.VggishParams(), "mean", False, jobs=2):
    assert error is None
    parallel.append(result.clip)
    during.extend(blas_thread_counts())
  # Same files in the same order, the same scores whether run one by one or in parallel.
  np.testing.assert_array_equal(np.array(parallel), np.array(serial))
  assert set(during) == {1}  # No BLAS thread pools stacked inside the jobs.
  assert blas_thread_counts() == before  # ...and BLAS gets its threads back afterwards.


def test_only_thread_safe_models_classify_files_in_parallel(model_dir):
  import os
  from soundscope.cli import classify as classify_cli
  from soundscope.models.networks import heads
  from soundscope.models.store import registry
  yamnet_model = registry.load_classifier("yamnet", model_dir)
  assert classify_cli.jobs_for(yamnet_model) == max(1, min(8, os.cpu_count()))
  assert classify_cli.jobs_for(yamnet_model, 4) == 4
  # A VGGish head is not declared thread-safe: one file at a time, even when asked for more.
  assert heads.HeadClassifier.thread_safe is False
  assert classify_cli.jobs_for(heads.HeadClassifier.__new__(heads.HeadClassifier), 4) == 1


def test_a_reader_that_stops_early_ends_classify_quietly(model_dir, clips):
  """`soundscope classify A B C | head -1`: one line out, no BrokenPipeError traceback."""
  import subprocess
  import sys
  env = dict(os.environ, SOUNDSCOPE_MODEL_DIR=model_dir)
  files = [clips["flac"], clips["ogg"], clips["wav16"], clips["stereo_wav"]] * 3
  reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
  writer = subprocess.run([sys.executable, "-m", "soundscope", "classify", *files],
                          stdout=reader.stdin, stderr=subprocess.PIPE, text=True, env=env,
                          timeout=120)
  reader.stdin.close()
  first = reader.stdout.read().decode()
  reader.wait()
  assert first.startswith(clips["flac"] + ": ")
  assert "Traceback" not in writer.stderr and "BrokenPipe" not in writer.stderr, writer.stderr
  assert writer.returncode == 0
