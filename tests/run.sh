#!/usr/bin/env bash
# Set up a fresh machine (Debian packages + pip) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install
source .ci/python
# Two worker processes (pytest-xdist; the machines have 2 cores), a test file per worker at a
# time so that each file's services (Dask cluster, broker, browser) start once.
exec python3 -m pytest -q -n 2 --dist loadfile "$@"
