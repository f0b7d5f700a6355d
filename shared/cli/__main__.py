"""`python -m shared.cli.main`: the same as `pn`."""

from shared.cli.main import main

main()
