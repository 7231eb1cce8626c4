"""The one way the project makes a rich console, so no message is ever hard-wrapped.

rich wraps printed text at the terminal width, and at 80 columns when the output is a pipe or
a file: a path in a warning was cut mid-name onto two lines, which neither a reader nor `grep`
can paste back. Every console here soft-wraps (a line is as long as its text), and a table,
which must have a width, gets the caller's when the output is not a terminal.
"""

from __future__ import annotations

from rich.console import Console


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A console whose printed lines are never wrapped; tables fit `width` when not on a terminal."""
    out = Console(stderr=stderr, soft_wrap=True)
    if width is not None and not out.is_terminal:
        out.width = width
    return out
