"""Atomic replacement of a run's outputs.

A run writes every output into a staging folder next to the final one
(`<dir>/.<name>.staging-<run id>/`).  Only when the pipeline has finished and
its counts reconcile does `commit` move the previous run's files with the same
prefix into a trash folder, move the new files into place and delete the
trash, so readers never see old and new shards mixed (there is a moment with
neither while the renames happen; renames within one folder are cheap).  A
failed run leaves the previous outputs untouched and removes its staging
folder.  Works on any Beam filesystem (local, gs://, s3://, hdfs://).
"""

import posixpath
import uuid

# Beam's shard numbering after a prefix (-SSSSS-of-NNNNN), as a glob.
SHARD_NUMBERS = "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"
# Patterns, after the prefix, of the files a prefix owns.
EMBED_PATTERNS = (SHARD_NUMBERS + ".tfrecord", "-manifest.parquet", "-errors.parquet",
                  "-errors.jsonl")


def _split(prefix):
  from apache_beam.io.filesystems import FileSystems
  return FileSystems.split(prefix)


class StagedOutput:
  """The staging folder of one run for one output prefix.

  Args:
    prefix: final output prefix, e.g. /data/out/esc10 or /data/preds.parquet.
    owned_patterns: glob patterns, appended to the prefix, of every file the
      prefix owns (old files matching them are replaced).
  """

  def __init__(self, prefix, owned_patterns):
    from apache_beam.io.filesystems import FileSystems
    self.prefix = prefix
    self.directory, self.name = _split(prefix)
    self.owned_patterns = tuple(owned_patterns)
    run_id = uuid.uuid4().hex[:12]
    self.staging_dir = FileSystems.join(self.directory, f".{self.name}.staging-{run_id}")
    self._trash_dir = FileSystems.join(self.directory, f".{self.name}.trash-{run_id}")
    FileSystems.mkdirs(self.staging_dir)

  def staged(self, tail=""):
    """The staging path for the final path prefix + tail."""
    from apache_beam.io.filesystems import FileSystems
    return FileSystems.join(self.staging_dir, self.name + tail)

  def staged_files(self):
    from apache_beam.io.filesystems import FileSystems
    pattern = FileSystems.join(self.staging_dir, "*")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)

  def _existing(self):
    from apache_beam.io.filesystems import FileSystems
    patterns = [self.prefix + pattern for pattern in self.owned_patterns]
    found = []
    for result in FileSystems.match(patterns):
      found.extend(m.path for m in result.metadata_list)
    return sorted(set(found))

  def commit(self):
    """Replaces the previous outputs of the prefix with the staged files.

    Returns:
      list of final paths, sorted.
    """
    from apache_beam.io.filesystems import FileSystems
    old = self._existing()
    trashed = [FileSystems.join(self._trash_dir, posixpath.basename(p)) for p in old]
    if old:
      FileSystems.mkdirs(self._trash_dir)
      FileSystems.rename(old, trashed)
    new = self.staged_files()
    final = [FileSystems.join(self.directory, posixpath.basename(p)) for p in new]
    try:
      FileSystems.rename(new, final)
    except Exception:
      # A failed run leaves the previous outputs as they were: take back what
      # was moved in, and return the old files from the trash.
      placed = [path for path in final if FileSystems.exists(path)]
      if placed:
        FileSystems.delete(placed)
      if old:
        FileSystems.rename(trashed, old)
      self.abort()
      raise
    self.abort()
    return sorted(final)

  def abort(self):
    """Deletes the staging and trash folders (the previous outputs stay)."""
    from apache_beam.io.filesystems import FileSystems
    for folder in (self.staging_dir, self._trash_dir):
      if FileSystems.exists(folder):
        FileSystems.delete([folder])
