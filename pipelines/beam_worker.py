"""The worker processes of `--direct_running_mode=multi_processing`: Beam's own SDK
worker (apache_beam.runners.worker.sdk_worker_main), with soundscope's quiet logs.

Beam starts each as `python -m apache_beam.runners.worker.sdk_worker_main`; its
import of Beam logs a warning on the root logger before any handler exists, so
logging's implicit basicConfig prints that warning and then every INFO line of
the worker's start on stderr ("Logging handler created.", ...).  Started as
`python -m soundscope.pipelines.beam_worker` instead (options.default_runner),
a worker prints warnings and errors on stderr less Beam's noise (_BEAM_NOISE) and
TensorFlow's import-time lines (options.quiet_worker_logs);
its log entries still reach the launcher through Beam's log service.
"""

import logging
import sys

from soundscope.pipelines import options


def main(argv):
  handler = logging.StreamHandler()
  handler.setLevel(logging.WARNING)
  handler.addFilter(options.drop_beam_noise)
  logging.getLogger().addHandler(handler)   # Before Beam's import: no implicit basicConfig.
  options.quiet_worker_logs()
  from apache_beam.runners.worker import sdk_worker_main
  options.prompt_state_sampler()
  sdk_worker_main.main(argv)


if __name__ == "__main__":
  main(sys.argv)
