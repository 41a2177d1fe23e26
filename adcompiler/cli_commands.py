"""Imports the modules that define `adc` subcommands (each registers itself)."""
from . import cli_graph  # noqa: F401,E402  (adc graph)
from . import cli_ir  # noqa: F401  (adc ir)
from . import cli_grad  # noqa: F401,E402  (adc grad, adc explain)
