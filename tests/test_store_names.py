"""Exports and imports never replace a known model, nor another one without --force;
broken manifests and mirror URLs are one line."""

import json

import pytest

import support_store
import support_train

from soundscope.cli import main as cli
from soundscope.models.store import files as store


def _write_head(root, name, text="index,mid,display_name\n0,/m/x,X\n"):
  """A minimal self-described head directory (labels only)."""
  directory = root / name
  directory.mkdir(parents=True)
  (directory / "labels.csv").write_text(text)
  digest, _ = store.file_digests(directory / "labels.csv")
  (directory / "model.json").write_text(json.dumps({
      "name": name, "version": "1", "kind": "vggish_head", "requires": ["vggish"],
      "labels": "labels.csv",
      "files": {"labels.csv": {"sha256": digest, "size": len(text.encode())}}}))
  return directory


def _one_line(text):
  lines = [line for line in text.splitlines() if line.strip()]
  assert len(lines) == 1, text
  assert "Traceback" not in text
  return lines[0]


def test_import_never_replaces_yamnet_and_needs_force_for_another_model(tmp_path, capsys):
  model_store = support_store.yamnet_store(tmp_path / "models")
  head = _write_head(tmp_path / "export", "heada")
  models_dir = str(model_store.root)
  for force in ([], ["--force"]):
    assert cli.main(["models", "import", str(head), "yamnet", "--model-dir", models_dir,
                     *force]) == 2
    assert "'yamnet' is the name of a known model" in _one_line(capsys.readouterr().err)
  assert model_store.manifest("yamnet")["kind"] == "yamnet"
  assert model_store.verify("yamnet").ok
  assert cli.main(["models", "import", str(head), "--model-dir", models_dir]) == 0
  capsys.readouterr()
  before = (model_store.path("heada") / "labels.csv").read_text()
  other = _write_head(tmp_path / "other", "heada", "index,mid,display_name\n0,/m/y,Y\n")
  assert cli.main(["models", "import", str(other), "--model-dir", models_dir]) == 2
  assert "already exists" in _one_line(capsys.readouterr().err)
  assert (model_store.path("heada") / "labels.csv").read_text() == before
  assert cli.main(["models", "import", str(other), "--model-dir", models_dir, "--force"]) == 0
  assert "Y" in (model_store.path("heada") / "labels.csv").read_text()


def test_export_head_refuses_known_and_existing_names(tmp_path):
  from soundscope.models.store import heads
  fake = tmp_path / "model.keras"
  fake.write_bytes(b"not checked here")
  labels = support_train.class_labels_csv()
  root = tmp_path / "models"
  with pytest.raises(store.ModelExistsError, match="known model"):
    heads.export_head(str(fake), root / "yamnet", labels, force=True)
  assert not (root / "yamnet").exists()
  heads.export_head(str(fake), root / "mine", labels)
  stamp = (root / "mine" / "model.json").read_text()
  with pytest.raises(store.ModelExistsError, match="already exists"):
    heads.export_head(str(fake), root / "mine", labels, version="2")
  assert (root / "mine" / "model.json").read_text() == stamp
  heads.export_head(str(fake), root / "mine", labels, version="2", force=True)
  assert json.loads((root / "mine" / "model.json").read_text())["version"] == "2"


@pytest.mark.parametrize("command", ["train", "ensemble"])
def test_export_to_a_known_or_existing_name_is_refused_before_training(tmp_path, capsys, command):
  source = ["--train-data", support_train.slice_glob("audioset/bal_train/a0.tfrecord")]
  if command == "ensemble":
    source = ["--members", str(tmp_path / "m1")]
  with pytest.raises(SystemExit) as exit_info:   # A store of its own, whatever happens.
    cli.main([command, *source, "--train-dir", str(tmp_path / "run"), "--export", "yamnet",
              "--model-dir", str(tmp_path / "models")])
  assert exit_info.value.code == 2
  assert "'yamnet' is the name of a known model" in capsys.readouterr().err
  _write_head(tmp_path / "models", "taken")
  assert cli.main([command, *source, "--train-dir", str(tmp_path / "run"), "--export", "taken",
                   "--model-dir", str(tmp_path / "models")]) == 2
  assert "already exists; choose another name, or pass --force" in _one_line(
      capsys.readouterr().err)
  assert not (tmp_path / "run").exists()


def test_invalid_manifest_json_is_one_line_in_list_and_verify(tmp_path, capsys):
  head = _write_head(tmp_path / "models", "broken")
  (head / "model.json").write_text("{not json")
  models_dir = str(tmp_path / "models")
  assert cli.main(["models", "list", "--model-dir", models_dir]) == 0
  out = capsys.readouterr().out
  assert "broken       corrupt" in out and f"{head / 'model.json'}: not valid JSON" in out
  assert cli.main(["models", "verify", "--model-dir", models_dir]) == 1
  assert f"broken: FAILED: {head / 'model.json'}: not valid JSON" in capsys.readouterr().out
  assert cli.main(["models", "import", str(head), "--model-dir", str(tmp_path / "s2")]) == 1
  assert "not valid JSON" in _one_line(capsys.readouterr().err)


def test_a_mirror_base_that_is_not_a_url_is_one_line(tmp_path, capsys):
  assert cli.main(["models", "download", "yamnet", "--base-url", "not a url", "--quiet",
                   "--model-dir", str(tmp_path / "models")]) == 1
  assert "mirror base 'not a url'" in _one_line(capsys.readouterr().err)
  assert not (tmp_path / "models" / "yamnet").exists()


def test_a_known_name_holding_other_content_fails_its_check(tmp_path, capsys):
  """A folder named yamnet that holds a head (put there by hand, or by an older build)
  is not the official model: verify fails it, classify refuses it."""
  models_dir = tmp_path / "models"
  _write_head(models_dir, "yamnet")
  assert cli.main(["models", "verify", "--model-dir", str(models_dir)]) == 1
  assert ("holds a 'vggish_head' model, not the official yamnet" in
          capsys.readouterr().out)
  assert not store.ModelStore(models_dir).verify("yamnet").ok
