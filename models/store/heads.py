"""Trained heads in the model store: export a Keras head as a store directory, load it back.

  export_head(model, destination, labels_csv, ...)   writes <store>/<name>/ atomically:
                                                     head.keras, labels.csv, model.json
  load_head_classifier(head_dir, store)              a networks.heads.HeadClassifier whose
                                                     VGGish comes from the store's vggish/
"""

import datetime
import json
import os
import pathlib
import shutil

from soundscope.configs import params as P
from soundscope.models import class_map
from soundscope.models.networks.heads import (DEFAULT_AGGREGATION, HEAD_FILE, KIND, LABELS_FILE,
                                              MANIFEST_NAME, HeadClassifier)
from soundscope.models.store import files as store
from soundscope.util import json_values


def export_head(model, destination, labels_csv, name=None, version="1", training=None,
                metrics=None, feature_name=P.AUDIO_EMBEDDING_FEATURE,
                feature_size=P.EMBEDDING_SIZE, max_frames=P.MAX_FRAMES, model_class=None,
                force=False):
  """Writes a trained head as a model-store directory (atomically).

  Args:
    model: Keras model from models/networks/frame_models, or the path of a saved .keras file.
    destination: the head directory to create (<store root>/<name>): never a known
      model's name, and replaced if present only with `force`.
    labels_csv: index,mid,display_name CSV of the model's classes (copied).
    name: model name (default: the directory's name).
    version: version string.
    training: dict of training parameters and history (stored in model.json).
    metrics: dict of evaluation figures (stored in model.json).
    feature_name, feature_size, max_frames: the input the head expects.
    model_class: frame_models class name, for the record.
    force: replace an existing model of that name.

  Returns:
    pathlib.Path of the head directory.

  Raises:
    store.ModelExistsError: a known model's name, or an existing model without force.
    class_map.ClassMapError: labels_csv is not a complete class map.
  """
  destination = pathlib.Path(destination)
  name = name or destination.name
  store.check_target(destination, force)
  with store.staged_directory(destination, replace=force) as staging:
    if isinstance(model, (str, os.PathLike)):
      shutil.copyfile(model, staging / HEAD_FILE)
    else:
      model.save(staging / HEAD_FILE)
    shutil.copyfile(labels_csv, staging / LABELS_FILE)
    display_names = class_map.read(labels_csv, complete=True).display_names
    manifest = {
        "name": name,
        "version": str(version),
        "kind": KIND,
        "requires": ["vggish"],
        "labels": LABELS_FILE,
        "num_classes": len(display_names),
        "model_class": model_class,
        "default_aggregation": DEFAULT_AGGREGATION,
        "feature_spec": {
            "feature_name": feature_name,
            "feature_size": int(feature_size),
            "max_frames": int(max_frames),
            "frame_seconds": P.EXAMPLE_HOP_SECONDS,
            "dtype": "uint8",
            "dequantize": "q * 4/255 + 4/512 - 2 (transforms.postprocess.dequantize)",
        },
        "training": training or {},
        "metrics": metrics or {},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "files": {file: {"sha256": store.file_digests(staging / file)[0],
                         "size": os.path.getsize(staging / file)}
                  for file in (HEAD_FILE, LABELS_FILE)},
    }
    with open(staging / MANIFEST_NAME, "w") as out:
      json.dump(json_values.jsonable(manifest), out, indent=2)
  return destination


def load_head_classifier(head_dir, store=None, vggish_checkpoint=None, pca_params=None,
                         vggish_params=P.VggishParams(), **unused_options):
  """Loads a trained head as a Classifier.

  Args:
    head_dir: the head's directory.
    store: soundscope.models.store.files.ModelStore whose `vggish/` holds the checkpoint and PCA
      parameters (None: the head directory's parent is taken as the store root).
    vggish_checkpoint, pca_params: explicit paths overriding the store's.
    vggish_params: front-end parameters.
    **unused_options: options meant for other kinds (e.g. num_threads).

  Returns:
    HeadClassifier.
  """
  head_dir = pathlib.Path(head_dir)

  def vggish_files():
    if vggish_checkpoint and pca_params:
      return vggish_checkpoint, pca_params
    if store is not None and hasattr(store, "vggish_files"):
      checkpoint, pca = store.vggish_files()
    else:
      root = pathlib.Path(store) if store is not None else head_dir.parent
      checkpoint, pca = root / "vggish" / "vggish_model.ckpt", root / "vggish" / \
          "vggish_pca_params.npz"
      for path in (checkpoint, pca):
        if not path.is_file():
          raise FileNotFoundError(f"head {head_dir.name!r} needs VGGish: {path} is missing "
                                  f"(run `soundscope models download vggish` or import it)")
    return vggish_checkpoint or checkpoint, pca_params or pca

  return HeadClassifier(head_dir, vggish_files, vggish_params)
