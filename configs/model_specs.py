"""The models soundscope knows: files, checksums, official URLs, licences, I/O.

Each `ModelSpec` says what a complete model directory in the store holds
(models/store/files.py) and where its files come from.  Checksums were computed on
the official files (the copies under ../shared/assets are the official
releases) except where a comment says otherwise.

Downloads go to `FileSpec.url`.  Tests and mirrors replace the host with
`$SOUNDSCOPE_DOWNLOAD_BASE` (see models/store/download.py): the file is then fetched
from `<base>/<model name>/<file name>`.
"""

import collections
import os

FileSpec = collections.namedtuple(
    "FileSpec", ["name", "url", "sha256", "md5", "size", "required", "description"])
FileSpec.__doc__ = """One file of a model.

  name: file name inside the model directory.
  url: official download URL, or None when the file can only be imported.
  sha256: hex digest the file must have, or None when none is pinned.
  md5: hex digest used only when no sha256 is pinned (see vggish_model.ckpt).
  size: exact size in bytes, or None when it is not pinned.
  required: False for files that speed things up but are not needed.
  description: one line for `soundscope models list`.
"""

ModelSpec = collections.namedtuple(
    "ModelSpec", ["name", "kind", "version", "description", "licence", "homepage",
                  "files", "labels", "input_spec", "output_spec"])
ModelSpec.__doc__ = """A model the store knows how to fetch and check.

  name: directory name in the store and the name users type.
  kind: 'yamnet' | 'vggish' | 'ontology' (AudioSet's ontology, not a model; trained heads
    are 'vggish_head' and carry their own manifest).
  version: release version string.
  files: tuple of FileSpec.
  labels: file name of the label CSV (index,mid,display_name), or None.
  input_spec, output_spec: human-readable shapes, dtypes and units.
"""

# Environment variable that replaces the host of every download URL (tests, mirrors).
DOWNLOAD_BASE_ENV = "SOUNDSCOPE_DOWNLOAD_BASE"
# Environment variable that sets the store's root directory.
MODEL_DIR_ENV = "SOUNDSCOPE_MODEL_DIR"
# Default store root when neither --model-dir nor $SOUNDSCOPE_MODEL_DIR is given.
DEFAULT_MODEL_DIR = os.path.join("~", ".cache", "soundscope", "models")
# Environment variable that sets where models converted for LiteRT are kept.
CONVERTED_DIR_ENV = "SOUNDSCOPE_CONVERTED_DIR"
# Default folder of converted models (a VGGish checkpoint as a LiteRT flatbuffer, ~288 MB
# each) when $SOUNDSCOPE_CONVERTED_DIR is not set.
DEFAULT_CONVERTED_DIR = os.path.join("~", ".cache", "soundscope", "converted")
# Version of the conversion recipe (models/networks/vggish_litert.py): a new one converts anew.
VGGISH_LITERT_RECIPE = 1
# Name of the manifest in every model directory.
MANIFEST_NAME = "model.json"
# The model a finished `soundscope train` or `ensemble` run leaves in its train directory.
TRAINED_MODEL_FILE = "model.keras"

# YAMNet windowing (models/networks/yamnet.py).
YAMNET_WINDOW_SAMPLES = 15600          # 0.975 s: the classification model's fixed input.
YAMNET_WINDOW_SECONDS = 0.975
YAMNET_HOP_SECONDS = 0.48              # The hop of YAMNet's own framing (patch_hop_seconds).
YAMNET_HOP_SAMPLES = 7680
YAMNET_NUM_CLASSES = 521

YAMNET = ModelSpec(
    name="yamnet",
    kind="yamnet",
    version="1",
    description="YAMNet: MobileNet-v1 audio event classifier, 521 AudioSet classes (TFLite)",
    licence="Apache-2.0",
    homepage="https://www.kaggle.com/models/google/yamnet",
    files=(
        FileSpec(
            name="yamnet_classification.tflite",
            # TF-Hub lite-model/yamnet/classification/tflite/1: the storage bucket
            # that tfhub.dev/...?lite-format=tflite redirected to (the raw file).
            url="https://storage.googleapis.com/tfhub-lite-models/google/lite-model/yamnet/classification/tflite/1.tflite",
            sha256="10c95ea3eb9a7bb4cb8bddf6feb023250381008177ac162ce169694d05c317de",
            md5=None, size=4126810, required=True,
            description="classifier, float32[15600] (0.975 s at 16 kHz) -> float32[1, 521]"),
        FileSpec(
            name="yamnet_class_map.csv",
            url="https://raw.githubusercontent.com/tensorflow/models/master/research/audioset/yamnet/yamnet_class_map.csv",
            sha256="cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2",
            md5=None, size=14096, required=True,
            description="the 521 classes: index,mid,display_name"),
        FileSpec(
            name="yamnet_embedding.tflite",
            # A third-party export of YAMNet's full TF-Hub signature; it has no
            # official download URL, so it can only be imported.  (TF-Hub's own
            # lite-model/yamnet/tflite/1 has the same signature but no published
            # checksum to pin.)  Without it the
            # classifier uses the fixed-window model (same scores, slower).
            url=None,
            sha256="2d5e1e0577beb1fd3b6ba4cf89a7b8813340added8dae72f64fe8cd18731dd4a",
            md5=None, size=3963312, required=False,
            description="full signature: float32[N] -> scores [frames, 521], "
                        "embeddings [frames, 1024], log-mel [mel_frames, 64] (import only)"),
    ),
    labels="yamnet_class_map.csv",
    input_spec="mono float32 waveform at 16 kHz in [-1, 1]; 0.975 s windows every 0.48 s",
    output_spec="float32 [windows, 521] scores in [0, 1] (independent sigmoids); "
                "optional float32 [frames, 1024] embeddings",
)

VGGISH = ModelSpec(
    name="vggish",
    kind="vggish",
    version="1",
    description="VGGish: VGG-like embedder of the AudioSet release (TF1 checkpoint + PCA)",
    licence="Apache-2.0",
    homepage="https://github.com/tensorflow/models/tree/master/research/audioset/vggish",
    files=(
        FileSpec(
            name="vggish_model.ckpt",
            url="https://storage.googleapis.com/audioset/vggish_model.ckpt",
            # No sha256 of the official checkpoint is published and the file is
            # not available here to hash.  This md5 is the one pinned by
            # cosmir/openmic-2018 (openmic/vggish/params.py), whose md5 of
            # vggish_pca_params.npz matches the official file here, so it is
            # trusted until a sha256 is pinned.  The exact size is not pinned
            # (about 288 MB).
            sha256=None, md5="d1c7011e6366aa34176bb05c705e31a8", size=None, required=True,
            description="TF1 V1 Saver checkpoint, 18 variables (about 288 MB)"),
        FileSpec(
            name="vggish_pca_params.npz",
            url="https://storage.googleapis.com/audioset/vggish_pca_params.npz",
            sha256="4d878af3e306defbfb37095365aa7e5a6cecb86bad13e859e626151c4e6a8b9d",
            md5="c80cae691033abe7c7ecd11ea39fc834", size=73020, required=True,
            description="PCA: pca_eigen_vectors float64[128, 128], pca_means float64[128]"),
    ),
    labels=None,
    input_spec="log-mel examples float32 [n, 96, 64] (0.96 s each, from 16 kHz mono)",
    output_spec="float32 [n, 128] embeddings; after PCA + quantization uint8 [n, 128]",
)

# AudioSet's ontology (632 classes and their hierarchy): not a model, but kept in the
# store the same way (downloaded with its sha256, or imported), for label sets whose
# classes are whole ontology branches (`descendants: true`, models/label_sets.py).
ONTOLOGY_NAME = "ontology"
ONTOLOGY_FILE = "ontology.json"

ONTOLOGY = ModelSpec(
    name=ONTOLOGY_NAME,
    kind="ontology",
    version="1",
    description="AudioSet ontology: 632 sound classes and their hierarchy (for label sets "
                "with `descendants: true`)",
    licence="CC BY-SA 4.0",
    homepage="https://github.com/audioset/ontology",
    files=(
        FileSpec(
            name=ONTOLOGY_FILE,
            # The repository's master branch, unchanged since the 2017 release; sha256
            # and size of the copy in ../shared/assets/audioset (md5
            # db90e54ed1484505baf6fac47513e264).
            url="https://raw.githubusercontent.com/audioset/ontology/master/ontology.json",
            sha256="d305439cfa218558c4ed295883fb77894ff7c58ae0082a5bb635bcf3f72c786a",
            md5=None, size=354156, required=True,
            description="JSON list of {id, name, description, child_ids, ...}"),
    ),
    labels=None,
    input_spec="-",
    output_spec="-",
)

# Approximate size in bytes of files whose exact size is not pinned (progress bars).
APPROXIMATE_SIZES = {"vggish_model.ckpt": 288_567_887}

KNOWN_MODELS = {spec.name: spec for spec in (YAMNET, VGGISH, ONTOLOGY)}


def file_spec_by_name(file_name):
  """(ModelSpec, FileSpec) of a known file name, or (None, None)."""
  for spec in KNOWN_MODELS.values():
    for file_spec in spec.files:
      if file_spec.name == file_name:
        return spec, file_spec
  return None, None
