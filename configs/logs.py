"""Quiet logs by default: what the command line and every worker process hold back.

Used by soundscope/cli/main.py (the launcher, unless -v) and pipelines/options.py
(Beam's and Dask's worker processes, which have no -v).
"""

# TensorFlow's C++ log level while quiet: "2" keeps its errors and drops its INFO
# and WARNING lines once absl's logging is initialised.  A TF_CPP_MIN_LOG_LEVEL
# already in the environment wins; "0" there also lets NOISY_NATIVE_IMPORTS speak.
QUIET_TF_CPP_LOG_LEVEL = "2"

# Modules whose import writes native INFO lines to fd 2 before any log level holds
# (TensorFlow's oneDNN and CPU-feature records, on some CPUs and builds only):
# their first import runs with fd 2 captured (transforms/native_stderr.py).
NOISY_NATIVE_IMPORTS = ("tensorflow",)
