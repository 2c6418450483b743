"""`python -m soundscope`: the same as the `soundscope` command."""

from soundscope.cli.main import console_main

console_main()
