"""One progress-bar style for every long command: rich, on stderr, silent under --quiet."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sunprep.console import console


def progress_bar(quiet: bool) -> Progress:
    """A counting bar on stderr (stdout stays for results); disabled entirely when quiet."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        disable=quiet,
        transient=False,
    )
