"""Tunables of the Beam pipelines (pipelines/), with their units.

Parts are the launcher's batches of inputs (pipelines/parts.py): each is one
element of the graph, scored by one worker and redone whole after a crash.
"""

# Parts per run the plan aims at (enough to spread over any worker count up to it),
# the most inputs in one part, and the fewest parts a run of a few dozen inputs gets.
TARGET_PARTS = 64               # parts
MAX_PART_ITEMS = 64             # inputs
MIN_PARTS = 8                   # parts

# Dask partitions per worker of a local cluster, at most (one part each when fewer
# parts).  Each costs ~10 ms of Beam and Dask work; a partition of k parts can leave
# one worker idle for up to k parts at the end.  400 clips on 2 workers: predict
# yamnet (58 parts of ~0.2 s) 8 partitions 11.9 s, 16 11.2 s, 58 11.4 s; embed (25
# parts of 16 files, ~1.6 s each) with 16 partitions (13 of two parts) left a worker
# idle 1.85 s at the end, with 25 (one part each) 1.0-1.3 s (bench/bench_scale.py).
DASK_PARTITIONS_PER_WORKER = 16  # partitions

# BLAS threads per worker for decoding (the resampler's and the mel filterbank's matrix
# products) unless --decode-threads says otherwise.  A worker decodes and runs its model
# in turn (embed: in a thread beside it, EMBED_PREFETCH_BLOCKS below), so a second BLAS
# thread adds little and spins between products on a core the model wants (measured before
# the prefetch, VGGish in TensorFlow): 400 ESC-10 clips on 2 cores, `embed` 39.9 s / 70.3 CPU s with OpenBLAS's
# default (one per core) against 34.4 s / 56.5 CPU s with one; `predict --model yamnet`
# 15.8-16.1 s / 30 CPU s against 16.1-16.2 s / 16 CPU s.
DECODE_THREADS = 1              # threads per worker process

# embed: files per part.  VGGish batches across a part's files, and 16 clips of 5 s
# make 80 examples, five full batches of VGGISH_BATCH_SIZE (16), so VGGish works on
# full batches (parts of 3 such clips ran ~25 % slower on 2 cores).
EMBED_FILES_PER_PART = 16       # files

# embed: blocks of examples (a file's, or a long file's --read-block of it) that a worker
# decodes ahead while VGGish runs on the ones before (soundscope/util/prefetch.py), so
# decoding no longer leaves a core idle: each block <= ~0.5 MB at the default read block.
EMBED_PREFETCH_BLOCKS = 8       # blocks

# predict on TFRecords: files per part, ~250 released records, one RECORD_BATCH_SIZE
# batch, as a head's model call costs ~60 ms whatever its size.
RECORD_FILES_PER_PART = 44      # files

# Inputs per classifier batch.  Audio files are each scored on their own (the batch
# only groups them); embedding records of one batch share model calls
# (Classifier.embedding_batch_scores), so they come in larger batches.
CLASSIFIER_BATCH_SIZE = 8       # files
RECORD_BATCH_SIZE = 256         # records

# Records per TFRecord shard when --num-shards is 0 (auto): ~1000 AudioSet-sized
# records are ~1.5 MB, large enough for efficient reads, small enough to parallelise.
RECORDS_PER_SHARD = 1000        # records

# Rows copied at a time when merging Parquet: 16,384 rows of 527 scores hold ~210 MB
# of Arrow memory at peak, 65,536 rows ~510 MB, at the same speed (bench/bench_merge.py).
MERGE_BATCH_ROWS = 16384        # rows

# --max-error-fraction's default: only a run where every input failed fails.
MAX_ERROR_FRACTION = 1.0        # errors / inputs

# Beam's state sampler (the msec counters of each step) ticks every 200 ms once a bundle
# has run ~1 s, and a bundle ends only at its sampler's next tick: 0-200 ms, ~0.1 s on
# average, added to the end of every run on the default runner (a 400-file `predict`: the
# last part written 0.12 s before its bundle ended).  soundscope's workers tick every:
STATE_SAMPLING_PERIOD_MS = 20   # ms

# Progress: how often workers write their beacons, how often the line is redrawn on a
# terminal, and how often a line is logged when stderr is a file or a pipe.
BEACON_INTERVAL_SECONDS = 0.5
REPORT_INTERVAL_SECONDS = 1.0
LOG_INTERVAL_SECONDS = 10.0
