#!/usr/bin/env bash
# Set up a fresh machine (Debian packages + pip) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install
source .ci/python
# A test file per worker process at a time (pytest-xdist), so that each file's services (Dask
# cluster, broker, browser) start once.  Three workers on the machines' 2 cores: a third keeps
# both cores busy while a file waits on real time (test_mqtt.py's 60 s broker outage); whole
# run 271 s with two, 243 s with three.
exec python3 -m pytest -q -n 3 --dist loadfile "$@"
