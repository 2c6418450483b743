"""The `soundscope` command line: main.py dispatches, one module per subcommand.

Each subcommand module has `add_arguments(parser)` and `run(args) -> exit
status`, and is imported only when its subcommand runs.
"""
