"""Command-line tools for developers and shop staff (`python -m tools.cli --help`); never shipped to Lambda."""
