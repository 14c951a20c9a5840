"""Run the `gradcheck` command line as ``python -m gradcheck_cli``."""

from gradcheck_cli.cli import main

main()
