"""`sunprep fetch`: only the Kinect v2 folders out of the 6.4 GB SUN RGB-D archive, verified and resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sunprep.atomic import check_out_folder
from sunprep.cli.app import app, guarded
from sunprep.console import console
from sunprep.errors import FetchError
from sunprep.fetch.run import (
    DEFAULT_SUBSET,
    MAPPING_URL,
    OFFICIAL_URL,
    TOOLBOX_URL,
    FetchConfig,
    Hooks,
    PartReport,
    run_fetch,
)
from sunprep.train.config import WORKERS_MAX


def _byte_bar(quiet: bool) -> Progress:
    """`progress_bar`'s style (rich, stderr, off under --quiet), counting bytes rather than items."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=console(stderr=True), disable=quiet)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def summary(part: PartReport) -> str:
    """One line: files, bytes fetched against the whole archive, retries, failures."""
    whole = f" of a {_size(part.archive_bytes)} archive" if part.archive_bytes is not None else ""
    moved = f"; redirected to {part.redirected_to}" if part.redirected_to else ""
    return (f"{part.what}: {part.files} file{'s' * (part.files != 1)} ({part.fetched} fetched, {part.present} "
            f"already present), {_size(part.bytes_fetched)} fetched{whole}, {part.retries} retries, "
            f"{len(part.failed)} failed{moved}")


@app.command()
@guarded
def fetch(
    source: Annotated[str, typer.Option(help="SUNRGBD.zip as a URL, a local zip, or a folder already unpacked")] = OFFICIAL_URL,
    dest: Annotated[Path, typer.Option(file_okay=False, help="where SUNRGBD/<subset>/ is written")] = Path("data"),
    subset: Annotated[list[str] | None, typer.Option(help="folder inside the archive's SUNRGBD/ to fetch; repeat it for several, or `all` for every sensor [default: kv2/kinect2data]")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, max=WORKERS_MAX, help="threads, each with one range request in flight")] = 4,
    retries: Annotated[int, typer.Option(min=0, max=100, help="consecutive failures per request before giving up on it")] = 5,
    full: Annotated[bool, typer.Option("--full", help="stream the whole archive once (for a server without byte ranges)")] = False,
    toolbox: Annotated[bool, typer.Option("--with-toolbox", help="also fetch traintestSUNRGBD/allsplit.mat from the toolbox zip")] = False,
    toolbox_source: Annotated[str, typer.Option(help="SUNRGBDtoolbox.zip as a URL, a local zip, or a folder")] = TOOLBOX_URL,
    seg2d: Annotated[bool, typer.Option("--with-seg2d", help="also the toolbox's Metadata/SUNRGBD2Dseg.mat and SUNRGBDMeta.mat (what --seg2d reads)")] = False,
    mapping: Annotated[bool, typer.Option("--with-mapping", help=f"also download seglistall.csv ({MAPPING_URL}), what --mapping reads")] = False,
    mapping_url: Annotated[str | None, typer.Option(help="download seglistall.csv from this URL instead")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=86400, help="seconds to connect, and of silence while reading")] = 30.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Download only the subset's members out of SUNRGBD.zip (range requests), check each CRC-32, resume."""
    check_out_folder(dest)  # before the archive's directory is read
    cfg = FetchConfig(dest=dest, source=source, subsets=tuple(subset or (DEFAULT_SUBSET,)), workers=workers,
                      retries=retries, full=full, toolbox=toolbox, toolbox_source=toolbox_source, seg2d=seg2d,
                      mapping_url=mapping_url or (MAPPING_URL if mapping else None), timeout=timeout)
    with _byte_bar(quiet) as bar:
        task: list[TaskID] = []

        def start(what: str, total: int) -> None:
            task.append(bar.add_task(what, total=total or None))

        def retrying(what: str, problem: str, k: int, of: int, wait: float) -> None:
            if not quiet:  # above the bar, on stderr
                bar.console.print(f"retrying {what}: {problem} (retry {k} of {of} in {wait:.1f} s)",
                                  markup=False, highlight=False, soft_wrap=True)

        reports = run_fetch(cfg, Hooks(start, lambda n: bar.advance(task[-1], n), retrying))
    for part in reports:
        typer.echo(summary(part))
        for line in part.failed:
            typer.echo(f"  failed: {line}")
    failed = sum(len(part.failed) for part in reports)
    if failed:
        raise FetchError(f"{dest}: {failed} file(s) not delivered (listed above); re-run to retry them")
