"""The registry: which loader turns a model in the store into a Classifier, by its kind.

  find_classifier(name, model_dir)   (store, directory, manifest) of a present
                                     classifier, without loading it (cheap)
  classifier_imports(name, model_dir)  the heavy modules its loading imports
  load_classifier(name, model_dir)   a soundscope.models.classifier.Classifier, dispatching on
                                     the manifest's "kind": "yamnet" (the official
                                     TFLite model) or "vggish_head" (VGGish + a
                                     trained head)

The networks are imported only for the kind being loaded, so loading YAMNet
never imports TensorFlow.
"""

import os
import pathlib

from soundscope.configs import model_specs as S
from soundscope.models.store.files import ModelNotFoundError, ModelStore, how_to_get

# The modules loading a model imports, which a local Dask cluster's forkserver imports
# once for all its workers (pipelines/cluster.py): VGGish's LiteRT interpreter for embed
# and audioset (~0.2 s), and by manifest kind for predict (classifier_imports): a VGGish
# head's Keras network needs TensorFlow too (~3-6 s of CPU).
VGGISH_IMPORTS = ("ai_edge_litert.interpreter",)
KIND_IMPORTS = {"vggish_head": VGGISH_IMPORTS + ("tensorflow",)}


def find_classifier(name=None, model_dir=None):
  """(its ModelStore, model directory, manifest) of a classifier that is present, unloaded.

  Cheap (a few small files are read), so a command can check its model before it
  starts work that would load it later (e.g. predict's Beam workers).

  Args:
    name, model_dir: as load_classifier's.

  Raises:
    ModelNotFoundError with a message that says how to get a model.
  """
  store, directory, name, manifest = _located(name, model_dir)
  if manifest is None:
    known = ", ".join(store.names()) or "none"
    raise ModelNotFoundError(
        f"model {name!r} is not in the model store {store.root} (present: {known}): "
        f"{how_to_get(name)}")
  problems = store.missing_files(name)
  if problems:
    raise ModelNotFoundError(
        f"model {name!r} in {directory} is incomplete ({'; '.join(problems)}): {how_to_get(name)}")
  store.check_digests(name)
  return store, directory, manifest


def classifier_imports(name=None, model_dir=None):
  """The modules loading this classifier imports that are worth importing ahead, once, in
  a process that forks workers (pipelines/cluster.py): LiteRT and TensorFlow for a VGGish
  head, () for YAMNet or a model that is not found (its run reports that)."""
  try:
    manifest = _located(name, model_dir)[3]
  except ModelNotFoundError:
    return ()
  return KIND_IMPORTS.get((manifest or {}).get("kind"), ())


def _located(name, model_dir):
  """(store, directory, name in that store, manifest or None) of `name` (None: the store's
  default; or a path to a model directory), without checking its files; ModelNotFoundError
  when there is no default."""
  store = ModelStore(model_dir)
  if name is None:
    name = store.default_classifier_name()
    if name is None:
      raise ModelNotFoundError(
          f"no classifier in the model store {store.root}: {how_to_get('yamnet')}; "
          f"or train a VGGish head with `soundscope train`")
  directory = store.path(name)
  if os.sep in str(name) and (pathlib.Path(name) / S.MANIFEST_NAME).is_file():
    directory = pathlib.Path(name)
    store = ModelStore(directory.parent)
    name = directory.name
  return store, directory, name, store.manifest(name)


def load_classifier(name=None, model_dir=None, **options):
  """Loads a classifier from the store, dispatching on its manifest's kind.

  Args:
    name: model name in the store ('yamnet', a trained head's name), or a path
      to a model directory; None picks store.default_classifier_name().
    model_dir: store root (None: $SOUNDSCOPE_MODEL_DIR or ~/.cache/soundscope/models).
    **options: passed to the classifier's constructor (e.g. num_threads for YAMNet).

  Returns:
    A soundscope.models.classifier.Classifier.

  Raises:
    ModelNotFoundError with a message that says how to get a model.
  """
  store, directory, manifest = find_classifier(name, model_dir)
  name = directory.name
  kind = manifest.get("kind")
  if kind == "yamnet":
    from soundscope.models.networks import yamnet
    return yamnet.YamnetClassifier.from_directory(directory, **options)
  if kind == "vggish_head":
    from soundscope.models import class_map
    from soundscope.models.networks import heads as networks_heads
    from soundscope.models.store import heads  # Imports TensorFlow: only for VGGish heads.
    try:
      return heads.load_head_classifier(directory, store, **options)
    except (networks_heads.HeadLoadError, class_map.ClassMapError) as exc:
      raise ModelNotFoundError(f"model {name!r} in {directory} cannot be loaded: {exc}") from None
  if kind == "vggish":
    raise ModelNotFoundError(
        f"model {name!r} is the VGGish embedder, not a classifier: use `--model yamnet` or "
        f"a head trained with `soundscope train`")
  if kind == "ontology":
    raise ModelNotFoundError(
        f"{name!r} is AudioSet's ontology (for label sets), not a classifier: use "
        f"`--model yamnet` or a head trained with `soundscope train`")
  raise ModelNotFoundError(f"model {name!r} has an unknown kind {kind!r} in {directory}")
