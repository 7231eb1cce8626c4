"""The Typer app every command module registers on, and the one place errors become exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import version
from typing import Annotated, ParamSpec, TypeVar

import typer

from sunprep.errors import SunprepError

app = typer.Typer(
    name="sunprep",
    help="SUN RGB-D (Kinect v2) in the shape of Cityscapes: fetch, normalise, export, train, evaluate.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # every command, as most CLIs
    pretty_exceptions_enable=False,
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"sunprep {version('sunprep')}")
        raise typer.Exit()


@app.callback()
def _group(
    _: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Keeps `sunprep <command>` a group even while a single command is registered; holds --version."""


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
