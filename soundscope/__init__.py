"""soundscope: tell what is heard in audio, at any scale.

One import namespace for the whole system (the design card's folders are
installed under it by setup.py):

  soundscope.configs      every default and constant, with its unit
  soundscope.transforms   the signal steps: decode, resample, log-mel, post-processing, records
  soundscope.models       networks, the model store, training and evaluation
  soundscope.pipelines    Apache Beam batch jobs
  soundscope.runtime      the live loop
  soundscope.cli          the `soundscope` command line, on top of all of them

Imports go one way: transforms <- models <- {pipelines, runtime} <- cli
(tests/test_architecture.py checks it).
"""

__version__ = "0.1.0"

