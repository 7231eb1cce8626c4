"""Typed errors: each carries the exit code the CLI returns for it.

Core code raises these with a one-line message `f"{path}: {problem}"`; the CLI catches only
these. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import traceback


class SunprepError(Exception):
    """Base of every expected failure; the message is shown to the user as one line."""

    exit_code = 1


class PartialFailure(SunprepError):
    """A batch finished but skipped some inputs (listed in its report)."""

    exit_code = 1


class BadInput(SunprepError):
    """An input file or folder is missing, malformed, or inconsistent."""

    exit_code = 2


class FetchError(SunprepError):
    """A download could not be completed or verified."""

    exit_code = 3


class MappingError(SunprepError):
    """A label mapping table is malformed or contradicts itself."""

    exit_code = 4


class TrainError(SunprepError):
    """Training data, checkpoints or label spaces do not fit together."""

    exit_code = 5


def skip_reason(err: Exception, where: object) -> tuple[str, str]:
    """(one-line reason, traceback) for a failure while reading one item of a batch.

    An expected failure is its own message, with no traceback; so is any OSError (an unreadable
    file or folder is the item's state, whichever reader met it). Anything else is a bug or a
    damage nobody foresaw: the line names the item and the exception's type, and the traceback
    goes into the run's report for debugging, so the batch can carry on without hiding it.
    """
    if isinstance(err, SunprepError):
        return str(err), ""
    if isinstance(err, OSError):  # a permission, a vanished file, an I/O error: the item's state, not a bug
        return f"{err.filename or where}: cannot read ({err.strerror or first_line(err)})", ""
    detail = f": {first_line(err)}" if str(err).strip() else ""
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return f"{where}: unexpected {type(err).__name__}{detail}", tb


def first_line(err: BaseException) -> str:
    """A library's message for an error, cut to its first line (or its type when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__
