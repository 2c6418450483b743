"""AudioSet's ontology in the model store and the built-in audioset-top label set.

The store downloads ontology.json from its official URL with a pinned sha256
(here from a real local HTTP server serving ../shared/assets' copy) or imports
it from a file; label sets with `descendants: true` then find it there.
"""

import os

import pytest

from conftest import asset
from support_store import leftovers, mirror_server, tamper, yamnet_store
from soundscope.cli import labels as labels_cli
from soundscope.cli import main as cli
from soundscope.configs import model_specs as S
from soundscope.models import label_sets
from soundscope.models.store import download
from soundscope.models.store import files as store
from soundscope.models.store import registry

DOG_CLIP = "audio/esc10/1-100032-A-0.flac"
TOP_LEVEL = ("Human sounds", "Animal", "Music", "Natural sounds", "Sounds of things",
             "Source-ambiguous sounds", "Channel, environment and background")


@pytest.fixture
def mirror(tmp_path):
  """<mirror>/ontology/ontology.json: the real file, as the download mirror lays it out."""
  folder = tmp_path / "mirror" / S.ONTOLOGY_NAME
  folder.mkdir(parents=True)
  os.symlink(asset("audioset/ontology.json"), folder / S.ONTOLOGY_FILE)
  return tmp_path / "mirror"


def test_the_pin_is_the_official_file_and_url():
  (spec,) = S.ONTOLOGY.files
  assert spec.url == "https://raw.githubusercontent.com/audioset/ontology/master/ontology.json"
  assert store.check_file_spec(asset("audioset/ontology.json"), spec)[0] == spec.sha256


def test_download_verifies_the_ontology_and_label_sets_find_it_in_the_store(tmp_path, mirror):
  model_store = store.ModelStore(tmp_path / "models")
  assert model_store.ontology_path() is None
  with mirror_server(mirror) as (base, server):
    download.download_model(model_store, S.ONTOLOGY_NAME, base_url=base, progress=False)
  assert server.requests == ["/ontology/ontology.json"]
  assert model_store.verify(S.ONTOLOGY_NAME).ok
  path = model_store.ontology_path()
  assert path.read_bytes() == asset("audioset/ontology.json").read_bytes()
  assert labels_cli.stored_ontology(model_store.root, "x.yaml") == path
  with pytest.raises(store.ModelNotFoundError, match="AudioSet's ontology .* not a classifier"):
    registry.load_classifier(S.ONTOLOGY_NAME, model_store.root)
  # A changed copy in the store is one line, not a wrong hierarchy.
  path.write_bytes(path.read_bytes().replace(b'"Animal"', b'"Anima1"'))
  with pytest.raises(label_sets.LabelSetError, match=r"^x.yaml: model 'ontology' .* fails"):
    labels_cli.stored_ontology(model_store.root, "x.yaml")


def test_a_tampered_download_is_rejected_and_leaves_nothing(tmp_path, mirror):
  tamper(mirror / S.ONTOLOGY_NAME / S.ONTOLOGY_FILE)
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, _):
    with pytest.raises(download.DownloadError, match="sha256"):
      download.download_model(model_store, S.ONTOLOGY_NAME, base_url=base, progress=False)
  assert model_store.ontology_path() is None
  assert leftovers(model_store.path(S.ONTOLOGY_NAME)) == []


def test_audioset_top_puts_every_yamnet_class_under_a_top_level_category():
  from soundscope.models.networks import yamnet
  mids, names = yamnet.load_class_map(asset("yamnet/yamnet_class_map.csv"))
  ontology = asset("audioset/ontology.json")
  top = label_sets.load("audioset-top")
  assert [ref.text for label in top.labels for ref in label.classes] == list(TOP_LEVEL)
  resolved = label_sets.resolve(top, names, mids, ontology)
  covered = [{names[i] for i in indices} for indices in resolved.class_indices]
  assert set().union(*covered) == set(names)          # All 521, none left out.
  by_label = dict(zip(resolved.labels, covered))
  assert {"Speech", "Cough", "Sneeze", "Baby cry, infant cry"} <= by_label["human_sounds"]
  assert {"Dog", "Bark", "Chicken, rooster", "Insect"} <= by_label["animal"]
  assert {"Music", "Guitar", "Pop music"} <= by_label["music"]
  assert {"Rain", "Thunder", "Waves, surf"} <= by_label["natural_sounds"]
  assert {"Helicopter", "Chainsaw", "Clock"} <= by_label["sounds_of_things"]
  assert "Silence" in by_label["source_ambiguous_sounds"]
  assert "White noise" in by_label["channel_environment_background"]
  # The categories are each one subtree: a category's classes are its ontology branch.
  tree = label_sets.read_ontology(ontology)
  for name, classes in zip(TOP_LEVEL, covered):
    assert classes == label_sets.branch_names(tree, name) & set(names)


def test_import_then_classify_with_audioset_top_and_without_the_ontology(tmp_path, capsys):
  root = tmp_path / "models"
  yamnet_store(root)
  clip = str(asset(DOG_CLIP))
  status = cli.main(["classify", "--model-dir", str(root), "--labels", "audioset-top", clip])
  captured = capsys.readouterr()
  assert status == 2 and captured.out == ""
  (line,) = captured.err.splitlines()
  assert f"{label_sets.path_of('audioset-top')}:9:" in line, line
  assert "soundscope models download ontology" in line and "--ontology FILE" in line, line

  assert cli.main(["models", "import", str(asset("audioset/ontology.json")),
                   "--model-dir", str(root)]) == 0
  assert "ontology: imported" in capsys.readouterr().out
  assert cli.main(["models", "list", "--model-dir", str(root)]) == 0
  assert any(row.split()[:2] == ["ontology", "verified"]
             for row in capsys.readouterr().out.splitlines())
  status = cli.main(["classify", "--model-dir", str(root), "--labels", "audioset-top",
                     "--aggregation", "max", clip])
  captured = capsys.readouterr()
  assert status == 0, captured.err
  assert captured.out.startswith(f"{clip}: animal: 0.9")   # Two barks among silence.
