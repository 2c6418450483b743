"""The model store: one directory where model files live, checked before use.

Layout (the shared contract, see configs/model_specs.py for the known models):

  <root>/<name>/model.json      manifest: {"name", "version", "kind",
                                "files": {file: {"sha256", "size"}}, "labels", ...}
  <root>/<name>/<files>         e.g. yamnet/yamnet_classification.tflite

The root is `--model-dir` when given, else `$SOUNDSCOPE_MODEL_DIR`, else
`~/.cache/soundscope/models`.

API (small on purpose):
  default_root() -> pathlib.Path
  ModelStore(root=None)
    .root                      pathlib.Path
    .path(name)                <root>/<name> (whether or not it exists)
    .file(name, file_name)     path of a file that must be present (ModelNotFoundError)
    .manifest(name)            dict or None
    .names()                   names of the model directories that have a manifest
    .is_present(name)          manifest and every required file present with the right size
    .verify(name)              VerifyResult(name, ok, problems): full checksum check
    .import_path(path, name=None) -> [names]  copy files after verifying them
    .vggish_files()            (checkpoint path, PCA params path) for VGGish heads
    .ontology_path()           AudioSet's ontology.json (checked), or None when absent
    .default_classifier_name() 'yamnet' when present, else a trained VGGish head

Loading checks that every file is present with its recorded size, then its
digest (`verify(name, cached=True)`); `verify`, `import_path` and downloads
hash every file in full (sha256, or the published md5 where no sha256 is pinned).

Digest cache: a file's digests are remembered by (path, size, mtime_ns) in
memory for the process and in `<root>/.digests.json` (written atomically,
skipped when the store is read-only), so a warm start hashes nothing; a file
rewritten in place gets a new mtime and is hashed again.  (A file changed with
its size and mtime restored is not re-hashed on load; `soundscope models
verify` always re-hashes.)

Manifests are checked too: every file they list must be a plain file name of
the model directory and a self-described model's `labels` one of those files;
a listed `.keras` file must be a Keras archive (a zip holding config.json).
"""

import contextlib
import hashlib
import json
import os
import pathlib
import re
import shutil
import tempfile

from soundscope.configs import model_specs as S
from soundscope.util import atomic

HASH_CHUNK_BYTES = 1 << 20  # Read files in 1 MiB chunks when hashing.
DIGEST_CACHE_NAME = ".digests.json"  # <root>/.digests.json: see the module docstring.
_DIGEST_MEMORY = {}                  # {(path, size, mtime_ns): (sha256, md5)} of this process.


class ModelNotFoundError(Exception):
  """A model (or one of its files) is not in the store; the message says how to get it."""


class ChecksumError(Exception):
  """A file does not have the size or digest its spec or manifest pins."""


class ModelExistsError(ValueError):
  """An export or import would replace a model: a known one always, another without force."""


class ManifestError(ValueError):
  """A model.json that is not a JSON object; the message names the file."""


class VerifyResult:
  """Outcome of ModelStore.verify: `ok` and a list of problems (strings)."""

  def __init__(self, name, problems):
    self.name = name
    self.problems = list(problems)

  @property
  def ok(self):
    return not self.problems

  def __repr__(self):
    return f"VerifyResult({self.name!r}, ok={self.ok}, problems={self.problems!r})"


def default_root():
  """$SOUNDSCOPE_MODEL_DIR, else ~/.cache/soundscope/models."""
  return pathlib.Path(os.path.expanduser(
      os.environ.get(S.MODEL_DIR_ENV) or S.DEFAULT_MODEL_DIR))


def how_to_get(name=None):
  """The sentence that tells a user how to put a model in the store."""
  target = name if name in S.KNOWN_MODELS else "yamnet"
  return (f"run `soundscope models download {target}` (needs internet), or "
          f"`soundscope models import PATH` with files you already have")


def file_digests(path):
  """(sha256, md5) hex digests of a file, read in chunks."""
  sha256, md5 = hashlib.sha256(), hashlib.md5()
  with open(path, "rb") as stream:
    for chunk in iter(lambda: stream.read(HASH_CHUNK_BYTES), b""):
      sha256.update(chunk)
      md5.update(chunk)
  return sha256.hexdigest(), md5.hexdigest()


def manifest_problems(manifest):
  """Problems of a self-described manifest: listed names that are not plain file names of
  the model directory, and a `labels` that is not one of the listed files."""
  files = manifest.get("files")
  if not isinstance(files, dict):
    return [f"{S.MANIFEST_NAME} has no table of files"]
  problems = [f"{S.MANIFEST_NAME} lists {file!r}, not a plain file name of the model directory"
              for file in files if not isinstance(file, str) or not MODEL_NAME.fullmatch(file)
              or file == S.MANIFEST_NAME]
  labels = manifest.get("labels")
  if labels is not None and (not isinstance(labels, str) or labels not in files):
    problems.append(f"{S.MANIFEST_NAME} names labels {labels!r}, not one of the files it lists")
  return problems


def keras_archive_problem(path):
  """None when `path` is a Keras archive (a zip holding config.json), else what it is not."""
  import zipfile
  try:
    with zipfile.ZipFile(path) as archive:
      if "config.json" in archive.namelist():
        return None
  except (OSError, zipfile.BadZipFile):
    return f"{path}: not a Keras archive (not a zip file)"
  return f"{path}: not a Keras archive (no config.json inside)"


def check_file_spec(path, file_spec, digests=None):
  """Raises ChecksumError unless `path` matches the FileSpec's size and digest.

  Args:
    path: the file to check.
    file_spec: configs.model_specs.FileSpec.
    digests: precomputed (sha256, md5), to avoid hashing twice.

  Returns:
    (sha256, md5) of the file.
  """
  size = os.path.getsize(path)
  if file_spec.size is not None and size != file_spec.size:
    raise ChecksumError(f"{path}: size {size} bytes, expected {file_spec.size} "
                        f"for {file_spec.name}")
  sha256, md5 = digests or file_digests(path)
  if file_spec.sha256 is not None and sha256 != file_spec.sha256:
    raise ChecksumError(f"{path}: sha256 {sha256} does not match the pinned "
                        f"{file_spec.sha256} of {file_spec.name}")
  if file_spec.sha256 is None and file_spec.md5 is not None and md5 != file_spec.md5:
    raise ChecksumError(f"{path}: md5 {md5} does not match the published "
                        f"{file_spec.md5} of {file_spec.name}")
  return sha256, md5


# A model's name is one directory below the root: no separators, no "..", and no
# leading dot (hidden names are the store's staging folders).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name):
  """Returns `name` when it can name a model directory in the store, else raises ValueError."""
  if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
    raise ValueError(f"{name!r} cannot name a model in the store: use letters, digits, "
                     f"'.', '_' and '-', starting with a letter or a digit")
  return name


def read_manifest(path):
  """The model.json at `path` as a dict.

  Raises:
    ManifestError: naming the file, when it is not valid JSON or not a JSON object.
  """
  try:
    with open(path, encoding="utf-8") as stream:
      manifest = json.load(stream)
  except ValueError as exc:   # json.JSONDecodeError and UnicodeDecodeError.
    raise ManifestError(f"{path}: not valid JSON ({exc})") from None
  if not isinstance(manifest, dict):
    raise ManifestError(f"{path}: not a JSON object")
  return manifest


def check_not_known(name):
  """Raises ModelExistsError when `name` is a known model's (configs/model_specs.py)."""
  if name in S.KNOWN_MODELS:
    raise ModelExistsError(f"{name!r} is the name of a known model (configs/model_specs.py, "
                           f"which only its official files may fill); choose another name")
  return name


def check_target(destination, force=False):
  """Raises ModelExistsError unless an export or import of other content may write `destination`.

  The known models' names (configs/model_specs.py: yamnet, vggish, ontology) are
  always refused; an existing model directory is refused unless `force`.
  """
  destination = pathlib.Path(destination)
  check_not_known(destination.name)
  if os.path.lexists(destination) and not force:
    raise ModelExistsError(f"{destination} already exists; choose another name, or pass "
                           f"--force to replace it")


@contextlib.contextmanager
def staged_directory(destination, replace=True):
  """Yields a temporary sibling folder that replaces `destination` whole if the block succeeds.

  Readers never see a half-written model: until the block ends `destination` is
  the old one (or absent); then the old one is renamed aside and the new one
  renamed in, two renames in one directory.  A block (or a rename) that fails
  leaves the old model in place.  With replace=False (its callers have checked the
  name first: check_target) a `destination` that appeared while the block ran raises
  ModelExistsError and is left as it is.
  """
  destination = pathlib.Path(destination)
  parent = _ensure_dir(destination.parent)
  staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".part",
                                          dir=parent))
  retired = None
  try:
    yield staging
    os.chmod(staging, 0o777 & ~atomic.current_umask())
    if not replace and os.path.lexists(destination):
      raise ModelExistsError(f"{destination} already exists; pass --force to replace it")
    if destination.exists():
      retired = pathlib.Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".old",
                                              dir=parent))
      os.replace(destination, retired / "model")
    try:
      os.replace(staging, destination)
    except BaseException:
      if retired is not None:
        os.replace(retired / "model", destination)
      raise
  finally:
    for leftover in (staging, retired):
      if leftover is not None and leftover.exists():
        shutil.rmtree(leftover)


class ModelStore:
  """A directory of model directories (see the module docstring).

  Args:
    root: store directory; None means default_root().
  """

  def __init__(self, root=None):
    self.root = pathlib.Path(os.path.expanduser(str(root))) if root else default_root()

  def __repr__(self):
    return f"ModelStore({str(self.root)!r})"

  def path(self, name):
    """<root>/<name>, whether or not it exists."""
    return self.root / name

  def manifest(self, name):
    """The parsed model.json of a model, or None when absent."""
    path = self.path(name) / S.MANIFEST_NAME
    if not path.is_file():
      return None
    return read_manifest(path)

  def names(self):
    """Sorted names of the model directories that have a manifest."""
    if not self.root.is_dir():
      return []
    return sorted(entry.name for entry in self.root.iterdir()
                  if MODEL_NAME.fullmatch(entry.name) and (entry / S.MANIFEST_NAME).is_file())

  def _is_known(self, name, manifest):
    """Whether `name` is a known model (configs/model_specs.py), whose files its spec names."""
    spec = S.KNOWN_MODELS.get(name)
    return spec is not None and manifest.get("kind") == spec.kind

  def _required_files(self, name, manifest):
    """{file name: expected size or None} that must be present for `name`."""
    spec = S.KNOWN_MODELS.get(name)
    if spec is not None and manifest.get("kind") == spec.kind:
      return {f.name: f.size for f in spec.files if self._needed(spec, f)}
    return {file: entry.get("size") for file, entry in manifest.get("files", {}).items()}

  def _needed(self, spec, file_spec):
    """Whether a known model needs a file: a required one, save a label CSV whose labels
    the model file carries (the official YAMNet .tflite holds its 521 display names)."""
    if not file_spec.required:
      return False
    if file_spec.name != spec.labels or spec.kind != "yamnet":
      return True
    from soundscope.models.networks import yamnet
    return yamnet.embedded_labels(self.path(spec.name) / yamnet.CLASSIFICATION_FILE) is None

  def missing_files(self, name):
    """Problems that stop `name` from loading: absent files or wrong sizes (no hashing)."""
    manifest = self.manifest(name)
    if manifest is None:
      return [f"no {S.MANIFEST_NAME} in {self.path(name)}"]
    problems = [] if self._is_known(name, manifest) else manifest_problems(manifest)
    if problems:
      return problems
    recorded = manifest.get("files", {})
    for file, size in self._required_files(name, manifest).items():
      path = self.path(name) / file
      size = size if size is not None else recorded.get(file, {}).get("size")
      if not path.is_file():
        problems.append(f"{file} is missing")
      elif size is not None and path.stat().st_size != size:
        problems.append(f"{file} has {path.stat().st_size} bytes, expected {size}")
    return problems

  def is_present(self, name):
    """True when the manifest and every required file (right size) are there."""
    return not self.missing_files(name)

  def file(self, name, file_name):
    """Path of a file of a model, raising ModelNotFoundError when it is absent."""
    path = self.path(name) / file_name
    if not path.is_file():
      raise ModelNotFoundError(
          f"model {name!r} has no {file_name} in {self.path(name)}: {how_to_get(name)}")
    return path

  def verify(self, name, cached=False):
    """Checks every file of a model against its pinned or recorded digest.

    cached: take digests from the digest cache when a file's (path, size,
      mtime_ns) is there (loading does); False hashes every file (`models verify`).

    Known models are checked against configs/model_specs.py (so a tampered
    manifest cannot vouch for a tampered file); other models (trained heads)
    against the sha256 and size their manifest records.

    Returns:
      VerifyResult.
    """
    try:
      manifest = self.manifest(name)
    except ManifestError as exc:
      return VerifyResult(name, [str(exc)])
    if manifest is None:
      return VerifyResult(name, [f"no {S.MANIFEST_NAME} in {self.path(name)}"])
    problems = []
    spec = S.KNOWN_MODELS.get(name)
    if spec is not None and manifest.get("kind") != spec.kind:   # Only its official files.
      return VerifyResult(name, [f"{self.path(name)} holds a {manifest.get('kind')!r} model, not "
                                 f"the official {name} ({spec.kind}); remove it and import or "
                                 f"download {name} again"])
    if spec is not None:
      for file_spec in spec.files:
        path = self.path(name) / file_spec.name
        if not path.is_file():
          if self._needed(spec, file_spec):
            problems.append(f"{file_spec.name} is missing")
          continue
        try:
          check_file_spec(path, file_spec, self._digests(path, cached))
        except ChecksumError as exc:
          problems.append(str(exc))
      return VerifyResult(name, problems)
    problems = manifest_problems(manifest)
    if problems:
      return VerifyResult(name, problems)
    for file, entry in sorted(manifest.get("files", {}).items()):
      path = self.path(name) / file
      if not path.is_file():
        problems.append(f"{file} is missing")
        continue
      size = path.stat().st_size
      if entry.get("size") is not None and size != entry["size"]:
        problems.append(f"{path}: size {size} bytes, expected {entry['size']}")
      elif entry.get("sha256") and self._digests(path, cached)[0] != entry["sha256"]:
        problems.append(f"{path}: sha256 does not match the manifest")
    return VerifyResult(name, problems)

  def check_digests(self, name):
    """Raises ModelNotFoundError unless every file of `name` has its digest (cached, see
    the module docstring): a file changed in place gives one line, not wrong scores."""
    result = self.verify(name, cached=True)
    if not result.ok:
      raise ModelNotFoundError(
          f"model {name!r} in {self.path(name)} fails its check ({'; '.join(result.problems)}): "
          f"{how_to_get(name)}")

  def _digests(self, path, cached):
    """(sha256, md5) of a file, from the digest cache when `cached` and its stamp matches."""
    stat = os.stat(path)
    key = (str(pathlib.Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if cached and key in _DIGEST_MEMORY:
      return _DIGEST_MEMORY[key]
    entry_name = str(pathlib.Path(path).resolve().relative_to(self.root.resolve()))
    disk = self._digest_cache() if cached else {}
    entry = disk.get(entry_name)
    if cached and isinstance(entry, list) and len(entry) == 4 and entry[:2] == list(key[1:]):
      digests = (entry[2], entry[3])
    else:
      digests = file_digests(path)
      disk = self._digest_cache()
      disk[entry_name] = [stat.st_size, stat.st_mtime_ns, *digests]
      try:
        atomic.write_json(self.root / DIGEST_CACHE_NAME, disk)
      except OSError:
        pass  # A read-only store: the in-memory cache still serves this process.
    _DIGEST_MEMORY[key] = digests
    return digests

  def _digest_cache(self):
    """The store's digest cache file as a dict ({} when absent or unreadable)."""
    try:
      with open(self.root / DIGEST_CACHE_NAME) as stream:
        cache = json.load(stream)
    except (OSError, ValueError):
      return {}
    return cache if isinstance(cache, dict) else {}

  def record_known_file(self, spec, file_name, sha256, size):
    """Adds one verified file of a known model to its manifest (creating it)."""
    directory = self.path(spec.name)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = self.manifest(spec.name) or {}
    manifest.update({
        "name": spec.name, "version": spec.version, "kind": spec.kind,
        "licence": spec.licence, "homepage": spec.homepage,
        "input": spec.input_spec, "output": spec.output_spec,
    })
    if spec.labels:
      manifest["labels"] = spec.labels
    files = manifest.setdefault("files", {})
    files[file_name] = {"sha256": sha256, "size": size}
    atomic.write_json(directory / S.MANIFEST_NAME, manifest)

  def import_file(self, source, name=None):
    """Copies one file of a known model into the store after verifying it.

    The file is identified by its sha256 (or the published md5), so a renamed
    copy is accepted; failing that, by its file name, and then it must match
    that name's pinned digest.

    Args:
      source: path of the file.
      name: optional model name the file must belong to.

    Returns:
      The model name it was stored under.

    Raises:
      ChecksumError when the file matches no known file, or matches a name but not its digest.
    """
    source = pathlib.Path(source)
    digests = file_digests(source)
    spec, file_spec = _spec_by_digest(*digests)
    if spec is None:
      spec, file_spec = S.file_spec_by_name(source.name)
      if spec is None:
        raise ChecksumError(
            f"{source}: not a file of any known model (its sha256 {digests[0]} matches no "
            f"pinned file); known files: {', '.join(_known_file_names())}")
      check_file_spec(source, file_spec, digests)
    if name is not None and name != spec.name:
      raise ChecksumError(f"{source} is {file_spec.name} of model {spec.name!r}, not of {name!r}")
    atomic.copy(source, self.path(spec.name) / file_spec.name)
    self.record_known_file(spec, file_spec.name, digests[0], os.path.getsize(source))
    return spec.name

  def import_directory(self, source, name=None, force=False):
    """Imports a model directory: one with a model.json (trained heads), or loose known files.

    force: replace an existing model of the same name (never a known model's name).

    Returns:
      Sorted list of the model names that received files.
    """
    source = pathlib.Path(source)
    manifest_path = source / S.MANIFEST_NAME
    if manifest_path.is_file():
      manifest = read_manifest(manifest_path)
      if manifest.get("name") in S.KNOWN_MODELS and manifest.get("kind") == S.KNOWN_MODELS[
          manifest["name"]].kind:
        return self._import_known_files(source, name)
      return [self._import_manifest_directory(source, manifest, name, force)]
    return self._import_known_files(source, name)

  def _import_known_files(self, source, name):
    names = set()
    for path in sorted(source.iterdir()):
      if path.is_file() and path.name != S.MANIFEST_NAME and (
          S.file_spec_by_name(path.name)[0] is not None):
        names.add(self.import_file(path, name))
    if not names:
      raise ChecksumError(f"{source}: holds none of the known model files "
                          f"({', '.join(_known_file_names())}) and no {S.MANIFEST_NAME}")
    return sorted(names)

  def _import_manifest_directory(self, source, manifest, name, force=False):
    """Copies a self-described model directory: its model.json and the files it lists.

    Each listed file must be a regular file of the directory with the sha256
    the manifest records; nothing else is copied.  A known model's name is
    refused, and an existing model's unless `force` (check_target).
    """
    name = check_name(name or manifest.get("name") or source.name)
    files = manifest.get("files") or {}
    if not files:
      raise ChecksumError(f"{source}: {S.MANIFEST_NAME} lists no files")
    for problem in manifest_problems(manifest):
      raise ChecksumError(f"{source}: {problem}")
    for file, entry in files.items():
      path = source / file
      if path.is_symlink() or not path.is_file():
        raise ChecksumError(f"{source}: {S.MANIFEST_NAME} lists {file}, which is missing "
                            f"or not a regular file")
      if file.endswith(".keras") and keras_archive_problem(path):
        raise ChecksumError(keras_archive_problem(path))
      if not (entry or {}).get("sha256"):
        raise ChecksumError(f"{source}: {S.MANIFEST_NAME} records no sha256 for {file}")
      if file_digests(path)[0] != entry["sha256"]:
        raise ChecksumError(f"{path}: sha256 does not match {S.MANIFEST_NAME}")
    check_target(self.path(name), force)
    with staged_directory(self.path(name), replace=force) as staging:
      for file in files:
        shutil.copyfile(source / file, staging / file)
      atomic.write_json(staging / S.MANIFEST_NAME, dict(manifest, name=name))
    return name

  def import_path(self, source, name=None, force=False):
    """Imports a file or a directory (see import_file, import_directory); returns model names.

    force: a self-described directory may replace an existing model of its name.
    """
    source = pathlib.Path(source)
    if source.is_dir():
      return self.import_directory(source, name, force)
    if not source.is_file():
      raise FileNotFoundError(f"{source}: no such file or directory")
    return [self.import_file(source, name)]

  def vggish_files(self):
    """(vggish_model.ckpt path, vggish_pca_params.npz path) of the stored VGGish.

    Downloaded or imported VGGish files (with a manifest) are checked against
    their digests; files placed in <root>/vggish/ by hand, without a manifest,
    have nothing to be checked against and are used as they are.
    """
    files = (self.file("vggish", "vggish_model.ckpt"),
             self.file("vggish", "vggish_pca_params.npz"))
    if self.manifest("vggish") is not None:
      self.check_digests("vggish")
    return files

  def ontology_path(self):
    """Path of the stored AudioSet ontology.json, digest checked, or None when absent.

    Raises:
      ModelNotFoundError: it is there but fails its check (a changed file: one line).
    """
    if self.manifest(S.ONTOLOGY_NAME) is None or not self.is_present(S.ONTOLOGY_NAME):
      return None
    self.check_digests(S.ONTOLOGY_NAME)
    return self.path(S.ONTOLOGY_NAME) / S.ONTOLOGY_FILE

  def default_classifier_name(self):
    """'yamnet' when present, else the first trained VGGish head, else None."""
    if self.is_present("yamnet"):
      return "yamnet"
    for name in self.names():
      manifest = self.manifest(name)
      if manifest.get("kind") == "vggish_head" and self.is_present(name):
        return name
    return None


def _ensure_dir(path):
  path.mkdir(parents=True, exist_ok=True)
  return path


def _known_file_names():
  return [f.name for spec in S.KNOWN_MODELS.values() for f in spec.files]


def _spec_by_digest(sha256, md5):
  """(ModelSpec, FileSpec) whose pinned digest matches, or (None, None)."""
  for spec in S.KNOWN_MODELS.values():
    for file_spec in spec.files:
      if file_spec.sha256 == sha256 or (file_spec.sha256 is None and file_spec.md5 == md5):
        return spec, file_spec
  return None, None
