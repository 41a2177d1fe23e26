"""Errors of the compiler front end and of the IR text parser.

`UnsupportedSyntax` is what the `grad` API turns into the tracing fallback, so
its reason is written for users: it says what is not supported and where.
"""
from __future__ import annotations

import os


class UnsupportedSyntax(Exception):
    """A construct the compiler cannot handle, with the user's file, line and column.

    str(e) -> "try/except is not supported (model.py:14:4)".
    """

    def __init__(self, reason, file=None, line=None, col=None):
        self.reason = reason
        self.file = file
        self.line = line
        self.col = col
        super().__init__(str(self))

    def __str__(self):
        if self.file is None and self.line is None:
            return self.reason
        where = os.path.basename(self.file or "<unknown>")
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{self.reason} ({where})"


class IRParseError(ValueError):
    """The IR text is malformed; the message names the line of the text."""

    def __init__(self, message, lineno=None):
        self.lineno = lineno
        super().__init__(f"line {lineno}: {message}" if lineno is not None else message)
