"""`pn`, the one command line: the group in `main`, one module per family of commands."""

from shared.cli.main import main

__all__ = ["main"]
