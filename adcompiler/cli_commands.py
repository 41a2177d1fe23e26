"""Imports the modules that define `adc` subcommands (each registers itself)."""
