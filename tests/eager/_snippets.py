"""Helpers for running a tutorial's code verbatim under adcompiler (and, as an
oracle, under real PyTorch when it is installed)."""
from __future__ import annotations

import re
import textwrap
import warnings

import adcompiler

_ADDR = re.compile(r" object at 0x[0-9a-fA-F]+")


def to_adcompiler(code):
    """The tutorial's code with `torch` imports pointing at adcompiler."""
    code = textwrap.dedent(code)
    code = re.sub(r"^(\s*)import torch$", r"\1import adcompiler as torch", code, flags=re.M)
    code = re.sub(r"^(\s*)from torch\.autograd import", r"\1from adcompiler.autograd import", code, flags=re.M)
    return code


def normalize(text):
    """Printed output with object addresses removed and torch's module name as adcompiler's."""
    text = _ADDR.sub(" object at 0x...", text)
    return text.replace("torch.", "adcompiler.")


def run(code, module=adcompiler, translate=True):
    """Execute `code` with `torch` bound to `module` (its prints go to stdout,
    for capsys); return the namespace it leaves."""
    code = to_adcompiler(code) if translate else textwrap.dedent(code)
    ns = {"torch": module, "__name__": "__tutorial__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<tutorial>", "exec"), ns)
    return ns


def printed(capsys):
    """What the snippet printed since the last call, normalised."""
    return normalize(capsys.readouterr().out)
