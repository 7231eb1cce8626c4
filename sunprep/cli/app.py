"""The Typer app every command module registers on, and the one place errors become exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from sunprep.errors import SunprepError

app = typer.Typer(
    name="sunprep",
    help="SUN RGB-D (Kinect v2) in the shape of Cityscapes: fetch, normalise, export, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _group() -> None:
    """Keeps `sunprep <command>` a group even while a single command is registered."""


P = ParamSpec("P")
R = TypeVar("R")


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a `SunprepError` into one `error:` line on stderr and its class's exit code.

    Only expected failures are caught: anything else is a bug and keeps its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SunprepError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper
