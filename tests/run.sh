#!/usr/bin/env bash
# Set up a fresh machine (Debian packages + pip) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install
source .ci/python
exec python3 -m pytest -q "$@"
