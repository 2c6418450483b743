"""soundscope/util/atomic.py: the one atomic-write helper every writer of the project uses."""

import ast
import json
import os
import stat

import pytest

from conftest import REPO, asset
from soundscope.util import atomic


def _mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


def test_a_write_that_fails_leaves_the_old_file_and_no_part(tmp_path):
  target = tmp_path / "model.json"
  atomic.write_json(target, {"b": 1, "a": [1, 2]})
  assert target.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
  assert _mode(target) == 0o666 & ~atomic.current_umask()
  with pytest.raises(RuntimeError, match="disk full"):
    with atomic.replacing(target) as temporary:
      with open(temporary, "w") as out:
        out.write("{half")
      raise RuntimeError("disk full")
  assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
  assert sorted(os.listdir(tmp_path)) == ["model.json"]


def test_copy_and_private_mode(tmp_path):
  source = asset("yamnet/yamnet_class_map.csv")
  atomic.copy(source, tmp_path / "new" / "map.csv")
  assert (tmp_path / "new" / "map.csv").read_bytes() == source.read_bytes()
  atomic.write_text(tmp_path / "secret.json", "{}", mode=0o600, fsync=True)
  assert _mode(tmp_path / "secret.json") == 0o600
  with atomic.replacing(tmp_path / "cache.npz", suffix=".part.npz") as temporary:
    assert temporary.endswith(".part.npz") and os.path.dirname(temporary) == str(tmp_path)
    os.unlink(temporary)    # A writer that replaces the file by its own (np.savez) is fine too.
    with open(temporary, "wb") as out:
      out.write(b"npz")
  assert sorted(os.listdir(tmp_path)) == ["cache.npz", "new", "secret.json"]


def test_no_other_module_renames_a_temporary_file_into_place():
  """Files are written atomically only through soundscope/util/atomic.py.

  (models/store/files.py's staged_directory renames whole model directories: allowed.)
  """
  offenders = []
  for folder in ("configs", "transforms", "models", "pipelines", "runtime", "soundscope"):
    for path in sorted((REPO / folder).rglob("*.py")):
      if path == REPO / "soundscope" / "util" / "atomic.py":
        continue
      tree = ast.parse(path.read_text(), str(path))
      allowed = {id(node) for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
                 and function.name == "staged_directory" for node in ast.walk(function)}
      for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ("replace", "rename", "mkstemp")
            and isinstance(node.value, ast.Name) and node.value.id in ("os", "tempfile")
            and id(node) not in allowed):
          offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.id}.{node.attr}")
  assert not offenders, "\n".join(offenders)
