"""Downloads from a real local HTTP server: verified, atomic, and clear when they fail."""

import contextlib
import io
import socket

import pytest

from soundscope.cli import main as cli
from soundscope.configs import model_specs as S
from soundscope.models.store import download
from soundscope.models.store import files as store
from soundscope.models.store import registry
from support_store import leftovers, mirror_server, mirror_tree, tamper


@pytest.fixture
def mirror(tmp_path):
  return mirror_tree(tmp_path / "mirror")


def test_download_yamnet_from_mirror_gives_a_verified_model(tmp_path, mirror):
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, server):
    directory = download.download_model(model_store, "yamnet", base_url=base, progress=False)
  assert sorted(server.requests) == sorted(f"/yamnet/{n}" for n in (
      "yamnet_classification.tflite", "yamnet_class_map.csv", "yamnet_embedding.tflite"))
  assert model_store.verify("yamnet").ok
  assert model_store.is_present("yamnet")
  assert model_store.manifest("yamnet")["files"]["yamnet_classification.tflite"]["sha256"] == (
      S.YAMNET.files[0].sha256)
  assert leftovers(directory) == []


def test_download_skips_files_already_verified(tmp_path, mirror):
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, server):
    download.download_model(model_store, "yamnet", base_url=base, progress=False)
    server.requests.clear()
    download.download_model(model_store, "yamnet", base_url=base, progress=False)
    assert server.requests == []


def test_wrong_checksum_is_rejected_and_leaves_nothing(tmp_path, mirror):
  tamper(mirror / "yamnet" / "yamnet_class_map.csv")
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, _):
    with pytest.raises(download.DownloadError, match="sha256") as caught:
      download.download_model(model_store, "yamnet", base_url=base, progress=False)
  assert "yamnet_class_map.csv" in str(caught.value)
  directory = model_store.path("yamnet")
  assert not (directory / "yamnet_class_map.csv").exists()
  assert leftovers(directory) == []
  # The good files did arrive; the classifier carries its own labels, so it is usable.
  assert (directory / "yamnet_classification.tflite").is_file()
  assert model_store.is_present("yamnet")
  assert registry.load_classifier("yamnet", model_store.root).labels[0] == "Speech"


def test_truncated_transfer_is_rejected_and_leaves_nothing(tmp_path, mirror):
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror, truncate={"/yamnet/yamnet_classification.tflite"}) as (base, _):
    with pytest.raises(download.DownloadError, match="truncated|interrupted"):
      download.download_model(model_store, "yamnet", base_url=base, progress=False)
  directory = model_store.path("yamnet")
  assert not (directory / "yamnet_classification.tflite").exists()
  assert leftovers(directory) == []


def test_a_failed_download_keeps_the_verified_file_already_there(tmp_path, mirror):
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, _):
    download.download_model(model_store, "yamnet", base_url=base, progress=False)
  spec = S.YAMNET.files[0]
  target = model_store.path("yamnet") / spec.name
  with mirror_server(mirror, truncate={f"/yamnet/{spec.name}"}) as (base, _):
    with pytest.raises(download.DownloadError):
      download.download_file(f"{base}/yamnet/{spec.name}", target, spec, progress=False)
  assert model_store.verify("yamnet").ok


def test_404_names_the_url(tmp_path, mirror):
  (mirror / "vggish" / "vggish_pca_params.npz").unlink()
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, _):
    with pytest.raises(download.DownloadError) as caught:
      download.download_model(model_store, "vggish", base_url=base, progress=False)
  message = str(caught.value)
  assert f"{base}/vggish/vggish_pca_params.npz: HTTP 404" in message
  assert f"{base}/vggish/vggish_model.ckpt: HTTP 404" in message
  assert leftovers(model_store.path("vggish")) == []


def _closed_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def test_offline_message_names_the_url_and_the_import_alternative(tmp_path):
  base = f"http://127.0.0.1:{_closed_port()}"
  err = io.StringIO()
  with contextlib.redirect_stderr(err):
    status = cli.main(["models", "download", "yamnet", "--quiet", "--base-url", base,
                              "--model-dir", str(tmp_path / "models")])
  assert status == 1
  assert f"{base}/yamnet/yamnet_classification.tflite" in err.getvalue()
  assert "soundscope models import PATH" in err.getvalue()


def test_cli_download_uses_the_environment_mirror(tmp_path, mirror, monkeypatch, capsys):
  with mirror_server(mirror) as (base, _):
    monkeypatch.setenv(S.DOWNLOAD_BASE_ENV, base)
    status = cli.main(["models", "download", "yamnet",
                              "--model-dir", str(tmp_path / "models")])
  captured = capsys.readouterr()
  assert status == 0
  assert "yamnet: ready in" in captured.out
  assert "100.0%" in captured.err  # The progress bar reached the end.
  assert store.ModelStore(tmp_path / "models").verify("yamnet").ok


def test_official_urls_are_pinned_for_required_files(monkeypatch):
  monkeypatch.delenv(S.DOWNLOAD_BASE_ENV, raising=False)
  for spec in S.KNOWN_MODELS.values():
    for file_spec in spec.files:
      if file_spec.required:
        assert file_spec.url and file_spec.url.startswith("https://")
        assert file_spec.sha256 or file_spec.md5
  assert download.resolve_url("vggish", S.VGGISH.files[0]) == (
      "https://storage.googleapis.com/audioset/vggish_model.ckpt")


def test_the_vggish_checkpoint_is_checked_by_its_published_md5(tmp_path, mirror):
  (mirror / "vggish" / "vggish_model.ckpt").write_bytes(b"\0" * 4096)  # Not the official file.
  model_store = store.ModelStore(tmp_path / "models")
  with mirror_server(mirror) as (base, _):
    with pytest.raises(download.DownloadError, match="md5 .* does not match the published"):
      download.download_model(model_store, "vggish", base_url=base, progress=False)
  assert not (model_store.path("vggish") / "vggish_model.ckpt").exists()
  assert (model_store.path("vggish") / "vggish_pca_params.npz").is_file()
  assert leftovers(model_store.path("vggish")) == []
