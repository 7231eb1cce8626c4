"""Command-line entry point: importing a command module registers its subcommand on `app`."""

from __future__ import annotations

from sunprep.cli import scan  # noqa: F401  (registers `scan`)
from sunprep.cli import export  # noqa: F401  (registers `export`)
from sunprep.cli import train  # noqa: F401  (registers `train`)
from sunprep.cli import evaluate  # noqa: F401  (registers `evaluate`)
from sunprep.cli import crossdomain  # noqa: F401  (registers `crossdomain`)
from sunprep.cli import analyze  # noqa: F401  (registers `analyze`)
from sunprep.cli import normalize, report  # noqa: F401  (registers `normalize`, `report`)
from sunprep.cli import fetch  # noqa: F401  (registers `fetch`)
from sunprep.cli.app import app

# Each capability registers its command by an import above, only once it works end to end.


def main() -> None:
    app()
