"""Imports the modules that define `adc` subcommands (each registers itself)."""
from . import cli_graph  # noqa: F401,E402  (adc graph)
