"""`python -m shared.cli`: the same as `pn`."""

from shared.cli.main import main

main()
