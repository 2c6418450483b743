"""Beam's first import without pandas (pipelines/beam_import.py), in fresh processes.

pandas is installed with the test extra, so Beam and pyarrow would import it; after
prepare() neither does, Beam pipelines and Parquet writes work, and a later
`import pandas` and pyarrow's pandas conversions work as usual.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import support_pipelines as support

TESTS = pathlib.Path(__file__).resolve().parent


def _fresh(code):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
  result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=300)
  assert result.returncode == 0, result.stderr
  return result.stdout.splitlines()


def test_beam_and_pyarrow_leave_pandas_out_and_it_imports_later_as_usual(tmp_path):
  pytest.importorskip("pandas")
  lines = _fresh(f"""
      import sys
      from soundscope.pipelines import beam_import
      beam_import.prepare()
      import apache_beam as beam
      import pyarrow as pa
      import pyarrow.parquet as pq
      with beam.Pipeline() as pipeline:
        doubled = (pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: 2 * x)
                   | beam.combiners.ToList())
        doubled | beam.Map(lambda got: print(sorted(got)))
      table = pa.Table.from_pylist([{{"a": 1, "s": "x"}}, {{"a": None, "s": "y"}}])
      pq.write_table(table, {str(tmp_path / "t.parquet")!r})
      print("pandas" in sys.modules)
      import pandas as pd
      frame = pq.read_table({str(tmp_path / "t.parquet")!r}).to_pandas()
      print(frame["s"].tolist(), frame["a"].isna().tolist(),
            pa.array(pd.Series([1.5, None])).null_count)
      """)
  assert lines == ["[2, 4, 6]", "False", "['x', 'y'] [False, True] 1"]


def test_predict_runs_without_importing_pandas(tmp_path):
  pytest.importorskip("pandas")
  support.write_good_corpus(str(tmp_path / "audio"))
  lines = _fresh(f"""
      import sys
      from soundscope.cli import main
      status = main.main(["predict", "--model-factory", "support_pipelines:make_tiny_classifier",
                          "--no-progress", "--input", {str(tmp_path / "audio" / "**" / "*")!r},
                          "--output", {str(tmp_path / "p.parquet")!r}, "--events"])
      print(status, "pandas" in sys.modules, "apache_beam" in sys.modules)
      """)
  assert lines[-1] == "0 False True", lines


def test_workers_set_up_the_same_import():
  lines = _fresh("""
      from soundscope.pipelines import options
      from soundscope.util import first_import
      options.quiet_worker_logs()
      print(first_import.waiting("apache_beam"))
      """)
  assert "lean" in lines[-1] and "collector paused" in lines[-1], lines
