"""`python -m soundscope`: the same as the `soundscope` command."""

import sys

from soundscope.cli.main import main

sys.exit(main())
