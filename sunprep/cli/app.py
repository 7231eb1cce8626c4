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


INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
# What a Ctrl-C leaves, per command: the batches resume from their outputs, train from its last epoch.
ON_INTERRUPT = {
    "fetch": "re-run the same command to resume",
    "export": "re-run the same command to resume",
    "crossdomain": "re-run the same command to resume",
    "train": "re-run it with --resume to continue from the last finished epoch (none finished: re-run it as it was)",
}


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a `SunprepError` into one `error:` line on stderr and its class's exit code.

    Only expected failures are caught: anything else is a bug and keeps its traceback. Ctrl-C
    is no bug either: one line saying how to go on, exit 130, instead of a traceback or silence.
    """
    hint = ON_INTERRUPT.get(func.__name__)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SunprepError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            typer.echo(f"interrupted; {hint}" if hint else "interrupted", err=True)
            raise typer.Exit(INTERRUPTED) from None

    return wrapper
