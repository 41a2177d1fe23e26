"""The subcommand registry of `adc` and its one exception; imports nothing of the commands.

Each command module registers its `run(args)` with `@command(name, help)` when
imported, and sets `run.add_arguments(parser)` for its flags.
"""
from __future__ import annotations

__all__ = ["COMMANDS", "command", "CLIError"]

# name -> (help, unused, run(args) -> exit code); run.add_arguments(p) adds the flags
COMMANDS: dict[str, tuple[str, object, object]] = {}


def command(name, help):
    """Register a subcommand: decorate `run(args)`; `run.add_arguments(p)` (set before or
    after decorating) adds its flags."""
    def deco(run):
        COMMANDS[name] = (help, None, run)
        return run
    return deco


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2."""
