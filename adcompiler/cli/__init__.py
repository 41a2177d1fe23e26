"""`adc`: the command-line window onto every stage of adcompiler.

Layout (no import cycle): `_registry` holds `COMMANDS`, `command` and
`CLIError` and imports nothing else; `target` names a function and its
argument types (FILE::FUNC, --arg, --wrt); one module per command group
(`ir`, `grad`, `graph`, `llvm`) imports those two and registers its commands
when `main` loads it. The package stays a thin layer over the public API, and
importing it imports no compiler (libcst) or backend.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ._registry import COMMANDS, CLIError, command

__all__ = ["main", "build_parser", "COMMANDS", "command", "CLIError"]

# the modules whose import registers subcommands
COMMAND_MODULES = ("graph", "ir", "grad", "llvm")


def _load_commands():
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def build_parser():
    _load_commands()
    p = argparse.ArgumentParser(prog="adc", description="Inspect adcompiler's stages: IR, adjoints, LLVM IR, fallbacks.")
    p.add_argument("--version", action="version", version=f"adc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, _unused, run) in sorted(COMMANDS.items()):
        sp = sub.add_parser(name, help=help_, description=help_)
        add_args = getattr(run, "add_arguments", None)
        if add_args is not None:
            add_args(sp)
    return p


def main(argv=None):
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
