#!/usr/bin/env bash
# Set up a fresh machine and run soundscope's main job on the built-in examples:
# the Beam prediction pipeline (audio files -> Parquet), then the file classifier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install
source .ci/python

ASSETS="${SOUNDSCOPE_ASSETS:-../shared/assets}"
OUT="${OUT:-out/example}"
mkdir -p "$OUT"

# YAMNet: from the local asset copy when there is one, else from its official URL.
if ! soundscope models list 2>/dev/null | grep -Eq '^yamnet +verified'; then
  if [ -d "$ASSETS/yamnet" ]; then
    soundscope models import "$ASSETS/yamnet"
  else
    soundscope models download yamnet
  fi
fi

soundscope predict --input 'examples/audio/*' --output "$OUT/predictions.parquet" --model yamnet
python3 - "$OUT/predictions.parquet" <<'PY'
import sys
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
print(f"{sys.argv[1]}: {table.num_rows} rows, schema:\n{table.schema}\n")
for row in table.to_pylist():
  top = ", ".join(f"{p['label']}: {p['score']:.2f}" for p in row["predictions"])
  print(f"{row['source']}: {top}")
PY
echo
soundscope classify examples/audio/*
