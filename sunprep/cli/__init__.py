"""Command-line entry point: importing a command module registers its subcommand on `app`."""

from __future__ import annotations

# Importing a command module registers its command: each is listed once it works end to end.
from sunprep.cli import analyze, crossdomain, evaluate, export, fetch, normalize, report, scan, show, train  # noqa: F401
from sunprep.cli.app import app


def main() -> None:
    app()
