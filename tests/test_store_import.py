"""The model store: where it is, importing files after checking them, verify, load_classifier."""

import json
import os
import stat

import pytest

from soundscope.cli import main as cli
from soundscope.configs import model_specs as S
from soundscope.models.store import files as store
from soundscope.models.store import registry
from support_store import copy_asset, leftovers, yamnet_store


def test_root_is_model_dir_else_environment_else_user_cache(tmp_path, monkeypatch):
  monkeypatch.delenv(S.MODEL_DIR_ENV, raising=False)
  assert store.ModelStore().root == store.default_root()
  assert str(store.default_root()).endswith(os.path.join(".cache", "soundscope", "models"))
  monkeypatch.setenv(S.MODEL_DIR_ENV, str(tmp_path / "env"))
  assert store.ModelStore().root == tmp_path / "env"
  assert store.ModelStore(tmp_path / "flag").root == tmp_path / "flag"


def test_imported_yamnet_is_verified_with_a_manifest(tmp_path):
  model_store = yamnet_store(tmp_path)
  assert model_store.names() == ["yamnet"]
  assert model_store.verify("yamnet").ok
  manifest = json.loads((tmp_path / "yamnet" / "model.json").read_text())
  assert manifest["kind"] == "yamnet" and manifest["labels"] == "yamnet_class_map.csv"
  for file_spec in S.YAMNET.files:
    assert manifest["files"][file_spec.name] == {"sha256": file_spec.sha256, "size": file_spec.size}
    mode = (tmp_path / "yamnet" / file_spec.name).stat().st_mode
    assert mode & stat.S_IRGRP  # Not the 0600 of a temporary file.
  assert leftovers(tmp_path / "yamnet") == []


def test_a_renamed_official_file_is_recognised_by_its_checksum(tmp_path):
  renamed = copy_asset("yamnet/yamnet_classification.tflite", tmp_path / "downloaded (1).tflite")
  model_store = store.ModelStore(tmp_path / "models")
  assert model_store.import_path(renamed) == ["yamnet"]
  assert (model_store.path("yamnet") / "yamnet_classification.tflite").is_file()


def test_a_tampered_file_is_refused_and_not_stored(tmp_path):
  path = copy_asset("yamnet/yamnet_class_map.csv", tmp_path / "yamnet_class_map.csv")
  path.write_bytes(path.read_bytes().replace(b"Speech", b"Speach"))
  model_store = store.ModelStore(tmp_path / "models")
  with pytest.raises(store.ChecksumError, match="does not match the pinned"):
    model_store.import_path(path)
  assert not model_store.path("yamnet").exists()


def test_an_unknown_file_is_refused(tmp_path):
  path = tmp_path / "weights.bin"
  path.write_bytes(b"not a model")
  with pytest.raises(store.ChecksumError, match="not a file of any known model"):
    store.ModelStore(tmp_path / "models").import_path(path)


def test_a_file_imported_under_the_wrong_model_name_is_refused(tmp_path):
  with pytest.raises(store.ChecksumError, match="not of 'vggish'"):
    store.ModelStore(tmp_path).import_path(
        copy_asset("yamnet/yamnet_class_map.csv", tmp_path / "map.csv"), "vggish")


def test_verify_finds_a_corrupted_file_and_loading_refuses_a_truncated_one(tmp_path):
  model_store = yamnet_store(tmp_path)
  target = model_store.path("yamnet") / "yamnet_classification.tflite"
  data = bytearray(target.read_bytes())
  data[1000] ^= 0x01
  target.write_bytes(bytes(data))
  result = model_store.verify("yamnet")
  assert not result.ok and "sha256" in result.problems[0]
  target.write_bytes(bytes(data[:1000]))
  with pytest.raises(store.ModelNotFoundError, match="incomplete.*1000 bytes"):
    registry.load_classifier("yamnet", tmp_path)


def test_no_model_gives_one_message_that_says_how_to_get_one(tmp_path):
  with pytest.raises(store.ModelNotFoundError) as caught:
    registry.load_classifier(None, tmp_path)
  message = str(caught.value)
  assert "soundscope models download yamnet" in message
  assert "soundscope models import PATH" in message
  with pytest.raises(store.ModelNotFoundError, match="'nonesuch' is not in the model store"):
    registry.load_classifier("nonesuch", tmp_path)


def _write_head(root, name):
  """A minimal self-described head directory, as the training issue exports."""
  directory = root / name
  directory.mkdir(parents=True)
  (directory / "labels.csv").write_text("index,mid,display_name\n0,/m/x,X\n")
  digest, _ = store.file_digests(directory / "labels.csv")
  (directory / "model.json").write_text(json.dumps({
      "name": name, "version": "1", "kind": "vggish_head", "requires": ["vggish"],
      "labels": "labels.csv", "files": {"labels.csv": {"sha256": digest, "size": 32}}}))
  return directory


@pytest.mark.parametrize("bad_name", ["../outside", "/tmp/elsewhere", ".hidden", "a/b"])
def test_an_imported_manifest_cannot_name_a_place_outside_the_store(tmp_path, bad_name):
  victim = tmp_path / "outside"
  victim.mkdir()
  (victim / "precious.txt").write_text("keep me")
  head = _write_head(tmp_path / "export", "birds")
  manifest = json.loads((head / "model.json").read_text())
  (head / "model.json").write_text(json.dumps(dict(manifest, name=bad_name)))
  model_store = store.ModelStore(tmp_path / "models")
  with pytest.raises(ValueError, match="cannot name a model in the store"):
    model_store.import_path(head)
  assert (victim / "precious.txt").read_text() == "keep me"
  assert model_store.names() == []


def test_an_imported_head_brings_only_its_checked_files(tmp_path):
  head = _write_head(tmp_path / "export", "birds")
  (head / "notes.txt").write_text("not listed in model.json")
  model_store = store.ModelStore(tmp_path / "models")
  assert model_store.import_path(head) == ["birds"]
  assert sorted(os.listdir(model_store.path("birds"))) == ["labels.csv", "model.json"]
  # A listed file without a digest, or a link in place of a file, is refused.
  manifest = json.loads((head / "model.json").read_text())
  manifest["files"]["labels.csv"] = {"size": 32}
  (head / "model.json").write_text(json.dumps(manifest))
  with pytest.raises(store.ChecksumError, match="records no sha256 for labels.csv"):
    model_store.import_path(head)
  linked = _write_head(tmp_path / "linked", "owls")
  os.replace(linked / "labels.csv", tmp_path / "real.csv")
  os.symlink(tmp_path / "real.csv", linked / "labels.csv")
  with pytest.raises(store.ChecksumError, match="missing or not a regular file"):
    model_store.import_path(linked)
  assert model_store.names() == ["birds"]


def test_replacing_a_model_that_fails_keeps_the_old_one(tmp_path):
  model_store = store.ModelStore(tmp_path / "models")
  model_store.import_path(_write_head(tmp_path / "export", "birds"))
  before = (model_store.path("birds") / "model.json").read_text()
  with pytest.raises(RuntimeError, match="disk full"):
    with store.staged_directory(model_store.path("birds")) as staging:
      (staging / "model.json").write_text("{}")
      raise RuntimeError("disk full")
  assert (model_store.path("birds") / "model.json").read_text() == before
  assert sorted(os.listdir(model_store.root)) == ["birds"]      # No staging left behind.
  # A staging folder left by a crash is never listed as a model.
  (model_store.root / ".birds.abc.part").mkdir()
  (model_store.root / ".birds.abc.part" / "model.json").write_text(before)
  assert model_store.names() == ["birds"]


def test_default_model_is_yamnet_when_present_else_a_head(tmp_path):
  model_store = store.ModelStore(tmp_path / "models")
  assert model_store.import_path(_write_head(tmp_path / "export", "birds")) == ["birds"]
  assert model_store.verify("birds").ok
  assert model_store.default_classifier_name() == "birds"
  for name in ("yamnet_classification.tflite", "yamnet_class_map.csv"):
    model_store.import_path(copy_asset(f"yamnet/{name}", tmp_path / name))
  assert model_store.default_classifier_name() == "yamnet"
  assert registry.load_classifier(None, model_store.root).name == "yamnet"


def test_vggish_is_an_embedder_not_a_classifier(tmp_path):
  model_store = store.ModelStore(tmp_path)
  model_store.import_path(copy_asset("vggish/vggish_pca_params.npz", tmp_path / "pca.npz"))
  with pytest.raises(store.ModelNotFoundError, match="vggish_model.ckpt is missing"):
    registry.load_classifier("vggish", tmp_path)
  with pytest.raises(store.ModelNotFoundError, match="download vggish"):
    model_store.vggish_files()


def test_cli_import_list_verify(tmp_path, capsys):
  models_dir = str(tmp_path / "models")
  for name in ("yamnet_classification.tflite", "yamnet_class_map.csv"):
    path = copy_asset(f"yamnet/{name}", tmp_path / name)
    assert cli.main(["models", "import", str(path), "--model-dir", models_dir]) == 0
  imported = capsys.readouterr().out
  assert cli.main(["models", "--model-dir", models_dir, "list"]) == 0
  before_action = capsys.readouterr().out
  # The option goes before or after the action alike.
  assert cli.main(["models", "list", "--model-dir", models_dir]) == 0
  assert capsys.readouterr().out == before_action
  assert cli.main(["models", "verify", "--model-dir", models_dir]) == 0
  out = imported + before_action + capsys.readouterr().out
  assert "yamnet: imported into" in out and "(complete)" in out
  assert "yamnet       verified" in out and "vggish       missing" in out
  assert "yamnet: ok" in out
  (tmp_path / "models" / "yamnet" / "yamnet_class_map.csv").write_text("index,mid,display_name\n")
  assert cli.main(["models", "verify", "--model-dir", models_dir]) == 1
  assert "yamnet: FAILED" in capsys.readouterr().out
  bogus = tmp_path / "bogus.tflite"
  bogus.write_bytes(b"x")
  assert cli.main(["models", "import", str(bogus), "--model-dir", models_dir]) == 1
  assert "not a file of any known model" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "ensemble"])
def test_export_names_are_checked_before_anything_runs(tmp_path, capsys, command):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([command, "--train-data", str(tmp_path / "*.tfrecord"),
                     "--train-dir", str(tmp_path / "run"), "--export", "../elsewhere"])
  assert exit_info.value.code == 2
  assert "argument --export: '../elsewhere' cannot name a model in the store" in \
      capsys.readouterr().err
  assert not (tmp_path / "run").exists()


def test_the_official_tflite_alone_classifies_with_its_embedded_labels(tmp_path, capsys):
  """The .tflite carries its 521 display names (a zip inside): no class map CSV needed."""
  from conftest import asset
  clip = str(asset("audio/esc10/1-100032-A-0.flac"))    # A dog (ESC-10 fold 1).
  alone, both = str(tmp_path / "alone"), str(tmp_path / "both")
  tflite = copy_asset("yamnet/yamnet_classification.tflite", tmp_path / "yamnet.tflite")
  assert cli.main(["models", "import", str(tflite), "--model-dir", alone]) == 0
  assert capsys.readouterr().out.endswith("yamnet (complete)\n")
  assert cli.main(["models", "verify", "--model-dir", alone]) == 0
  assert capsys.readouterr().out == "yamnet: ok\n"
  assert cli.main(["classify", "--json", "--top-k", "521", clip, "--model-dir", alone]) == 0
  without_csv = capsys.readouterr().out
  yamnet_store(tmp_path / "both")
  assert cli.main(["classify", "--json", "--top-k", "521", clip, "--model-dir", both]) == 0
  with_csv = capsys.readouterr().out
  assert without_csv == with_csv and '"Dog"' in with_csv
  classifier = registry.load_classifier("yamnet", alone)
  assert classifier.labels == registry.load_classifier("yamnet", both).labels
  assert classifier.mids == [""] * 521     # The embedded list has display names only.


def _keras_like_head(root, name, config=b"{}", labels="labels.csv"):
  """A head directory whose head.keras is a zip holding config.json (not a real model)."""
  import zipfile
  directory = _write_head(root, name)
  with zipfile.ZipFile(directory / "head.keras", "w") as archive:
    archive.writestr("config.json", config)
    archive.writestr("metadata.json", b"{}")
  manifest = json.loads((directory / "model.json").read_text())
  for file in ("head.keras", "labels.csv"):
    manifest["files"][file] = {"sha256": store.file_digests(directory / file)[0],
                               "size": (directory / file).stat().st_size}
  (directory / "model.json").write_text(json.dumps(dict(manifest, labels=labels)))
  return directory


def _one_line(text):
  lines = text.strip().splitlines()
  assert len(lines) == 1 and "Traceback" not in text, text
  return lines[0]


def test_a_manifest_labels_outside_the_model_is_refused_by_import_verify_and_load(
    tmp_path, capsys):
  from conftest import asset
  models = str(tmp_path / "models")
  head = _keras_like_head(tmp_path / "export", "birds", labels="/etc/passwd")
  assert cli.main(["models", "import", str(head), "--model-dir", models]) == 1
  assert "names labels '/etc/passwd', not one of the files it lists" in _one_line(
      capsys.readouterr().err)
  assert store.ModelStore(models).names() == []
  # A manifest edited inside the store: verify fails, loading says so in one line.
  head = _keras_like_head(tmp_path / "export2", "birds")
  assert cli.main(["models", "import", str(head), "--model-dir", models]) == 0
  stored = tmp_path / "models" / "birds" / "model.json"
  stored.write_text(json.dumps(dict(json.loads(stored.read_text()), labels="/etc/passwd")))
  capsys.readouterr()
  assert cli.main(["models", "verify", "birds", "--model-dir", models]) == 1
  assert "birds: FAILED" in capsys.readouterr().out
  clip = str(asset("audio/esc10/1-100032-A-0.flac"))
  assert cli.main(["classify", clip, "--model", "birds", "--model-dir", models]) == 2
  assert "labels '/etc/passwd'" in _one_line(capsys.readouterr().err)


def test_a_garbage_head_keras_is_refused_at_import(tmp_path, capsys):
  head = _keras_like_head(tmp_path / "export", "birds")
  (head / "head.keras").write_bytes(os.urandom(1 << 20))
  manifest = json.loads((head / "model.json").read_text())
  manifest["files"]["head.keras"] = {"sha256": store.file_digests(head / "head.keras")[0],
                                     "size": 1 << 20}
  (head / "model.json").write_text(json.dumps(manifest))
  models = str(tmp_path / "models")
  assert cli.main(["models", "import", str(head), "--model-dir", models]) == 1
  assert "head.keras: not a Keras archive (not a zip file)" in _one_line(capsys.readouterr().err)
  assert store.ModelStore(models).names() == []


def test_a_same_size_tampered_model_file_is_refused_on_load_and_digests_are_cached(
    tmp_path, capsys, monkeypatch):
  from conftest import asset
  clip = str(asset("audio/esc10/1-100032-A-0.flac"))
  models = str(tmp_path / "models")
  yamnet_store(tmp_path / "models")
  assert cli.main(["classify", clip, "--model-dir", models]) == 0
  assert (tmp_path / "models" / store.DIGEST_CACHE_NAME).is_file()
  # A warm start (a new process: the memory cache is empty) hashes nothing.
  monkeypatch.setattr(store, "_DIGEST_MEMORY", {})
  monkeypatch.setattr(store, "file_digests", lambda path: pytest.fail(f"hashed {path}"))
  assert cli.main(["classify", clip, "--model-dir", models]) == 0
  monkeypatch.undo()
  target = tmp_path / "models" / "yamnet" / "yamnet_classification.tflite"
  data = bytearray(target.read_bytes())
  data[len(data) // 2] ^= 0x01
  target.write_bytes(bytes(data))
  capsys.readouterr()
  assert cli.main(["classify", clip, "--model-dir", models]) == 2
  line = _one_line(capsys.readouterr().err)
  assert "yamnet_classification.tflite" in line and "sha256" in line


@pytest.mark.slow
def test_a_broken_head_gives_one_line_when_loaded(tmp_path, capsys):
  from conftest import asset
  models = str(tmp_path / "models")
  head = _keras_like_head(tmp_path / "export", "birds", config=b"not json")
  assert cli.main(["models", "import", str(head), "--model-dir", models]) == 0
  capsys.readouterr()
  clip = str(asset("audio/esc10/1-100032-A-0.flac"))
  assert cli.main(["classify", clip, "--model", "birds", "--model-dir", models]) == 2
  line = _one_line(capsys.readouterr().err)
  assert "head.keras: not a loadable Keras model" in line
