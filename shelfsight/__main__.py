"""`python -m shelfsight` runs the CLI (as the `shelfsight` script does)."""

from shelfsight.cli import main

main()
