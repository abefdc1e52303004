"""`python -m memberwise` runs the CLI."""

from memberwise.cli import main

main()
