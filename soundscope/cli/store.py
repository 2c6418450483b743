"""`soundscope models list|download|import|verify`: get models and check them.

  soundscope models list                  what is known, present, verified, and where
  soundscope models download yamnet       (or vggish, ontology, or all) from the official URLs
  soundscope models import PATH [NAME]    a file or directory you already have
  soundscope models verify [NAME...]      re-check every file's checksum

`ontology` is AudioSet's ontology.json (not a model; kept and checked the same
way), which label sets with `descendants: true` read from the store
(docs/labels.md): `models download ontology`, or `models import ontology.json`
with a copy you have (recognised by its pinned sha256).

All take `--model-dir` (default $SOUNDSCOPE_MODEL_DIR or ~/.cache/soundscope/models).
Exit status: 0 on success, 1 when a download, import or verification failed,
2 when an import would replace a model (a known model's name always; another
model's without --force).
"""

import sys

from soundscope.cli import flags
from soundscope.configs import model_specs as S
from soundscope.configs import params as P

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_arguments(parser):
  """Adds the `models` actions to an argparse parser."""
  flags.add_flags(parser, P.ReportOptions, names=["model_dir"])
  actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
  listing = actions.add_parser("list", help="known and present models, verified, with their paths")
  download = actions.add_parser("download", help="download a known model (or AudioSet's "
                                                 "ontology) from its official URLs")
  download.add_argument("name", choices=list(S.KNOWN_MODELS) + ["all"])
  download.add_argument("--base-url", default=None,
                        help=f"mirror replacing the official host: fetches <base>/<model>/<file> "
                             f"(also ${S.DOWNLOAD_BASE_ENV})")
  download.add_argument("--force", action="store_true", help="download even verified files")
  download.add_argument("--quiet", action="store_true", help="no progress bar")
  importer = actions.add_parser("import", help="copy a file or model directory into the store "
                                               "after verifying it")
  importer.add_argument("path")
  importer.add_argument("name", nargs="?", default=None,
                        help="model it must belong to (default: recognised by its checksum, "
                             "or the directory's model.json)")
  importer.add_argument("--force", action="store_true",
                        help="replace an existing model of the same name (never yamnet, vggish "
                             "or ontology, which hold only their official files)")
  verify = actions.add_parser("verify", help="check every stored file's size and checksum")
  verify.add_argument("names", nargs="*", help="models to check (default: all present)")
  # --model-dir also after the action (`models list --model-dir X`), as every action takes it.
  for action in (listing, download, importer, verify):
    action.add_argument("--model-dir", default=None, dest="action_model_dir",
                        help="same as `soundscope models --model-dir`")
  return parser


def _status(store, name):
  """(status word, detail) of one model: verified, incomplete, missing, or corrupt."""
  try:
    if store.manifest(name) is None:
      return "missing", ""
  except ValueError as exc:   # files.ManifestError: a model.json that is not JSON.
    return "corrupt", str(exc)
  missing = store.missing_files(name)
  if missing:
    return "incomplete", "; ".join(missing)
  result = store.verify(name)
  return ("verified", "") if result.ok else ("corrupt", "; ".join(result.problems))


def _manifest_or_empty(store, name):
  """The model.json of `name` as a dict ({} when absent or not valid JSON)."""
  try:
    return store.manifest(name) or {}
  except ValueError:   # files.ManifestError: _status reports it.
    return {}


def list_models(store, out=None):
  """Prints one block per known or present model (to `out`, default stdout)."""
  out = out or sys.stdout
  print(f"model store: {store.root}", file=out)
  for name in sorted(set(S.KNOWN_MODELS) | set(store.names())):
    spec = S.KNOWN_MODELS.get(name)
    status, detail = _status(store, name)
    manifest = _manifest_or_empty(store, name)
    kind = manifest.get("kind") or (spec.kind if spec else "?")
    print(f"{name:<12} {status:<10} kind={kind} path={store.path(name)}", file=out)
    if detail:
      print(f"{'':<12} {detail}", file=out)
    if spec is not None:
      print(f"{'':<12} {spec.description}; licence {spec.licence}", file=out)
      for file_spec in spec.files:
        present = (store.path(name) / file_spec.name).is_file()
        source = file_spec.url or "import only"
        print(f"{'':<14}{'+' if present else '-'} {file_spec.name}: {source}", file=out)
    elif manifest.get("requires"):
      print(f"{'':<12} requires {', '.join(manifest['requires'])}", file=out)


def run(args):
  """Runs one `models` action; returns the exit status."""
  from soundscope.models.store import files as store_lib
  store = store_lib.ModelStore(getattr(args, "action_model_dir", None) or args.model_dir)
  if args.action == "list":
    list_models(store)
    return EXIT_OK
  if args.action == "download":
    from soundscope.models.store import download
    names = list(S.KNOWN_MODELS) if args.name == "all" else [args.name]
    status = EXIT_OK
    for name in names:
      try:
        directory = download.download_model(store, name, args.base_url, not args.quiet, args.force)
        print(f"{name}: ready in {directory}")
      except download.DownloadError as exc:
        print(f"soundscope models download {name}: {exc}", file=sys.stderr)
        status = EXIT_FAILED
    return status
  if args.action == "import":
    try:
      names = store.import_path(args.path, args.name, force=args.force)
    except store_lib.ModelExistsError as exc:
      print(f"soundscope models import: {exc}", file=sys.stderr)
      return EXIT_USAGE
    except (store_lib.ChecksumError, OSError, ValueError) as exc:
      print(f"soundscope models import: {exc}", file=sys.stderr)
      return EXIT_FAILED
    for name in names:
      state = "complete" if store.is_present(name) else (
          f"still missing: {'; '.join(store.missing_files(name))}")
      print(f"{name}: imported into {store.path(name)} ({state})")
    return EXIT_OK
  if args.action == "verify":
    names = args.names or store.names()
    if not names:
      print(f"no models in {store.root}", file=sys.stderr)
      return EXIT_FAILED
    status = EXIT_OK
    for name in names:
      result = store.verify(name)
      if result.ok:
        print(f"{name}: ok")
      else:
        print(f"{name}: FAILED: {'; '.join(result.problems)}")
        status = EXIT_FAILED
    return status
  raise ValueError(f"unknown action {args.action!r}")
