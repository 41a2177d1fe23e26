"""`adc`: the command-line window onto every stage of adcompiler.

Each subcommand lives in its own function registered in `COMMANDS`; this
module stays a thin layer over the public API.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__

# name -> (help, add_arguments(parser), run(args) -> exit code)
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


def build_parser():
    p = argparse.ArgumentParser(prog="adc", description="Inspect adcompiler's stages: IR, adjoints, LLVM IR, fallbacks.")
    p.add_argument("--version", action="version", version=f"adc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, _unused, run) in sorted(COMMANDS.items()):
        sp = sub.add_parser(name, help=help_, description=help_)
        add_args = getattr(run, "add_arguments", None)
        if add_args is not None:
            add_args(sp)
    return p


def _load_commands():
    # subcommand modules register themselves on import
    from . import cli_commands  # noqa: F401


def main(argv=None):
    _load_commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    _help, _add, run = COMMANDS[args.command]
    try:
        return run(args) or 0
    except CLIError as e:
        print(f"adc {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run as `python -m adcompiler.cli`: use the package's module, where subcommands register
    from adcompiler.cli import main as _main
    sys.exit(_main())
