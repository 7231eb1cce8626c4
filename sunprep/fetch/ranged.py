"""Fetch chosen members of a zip through range requests, several at once, each verified.

Members are planned into runs: neighbours in the archive go into one request (a scene's files
lie side by side), so small files cost no round trip each and the bytes asked for are exactly
the members' extents. Runs are cut at files already present, at members outside the subset,
and at a size that spreads the work over `workers` threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sunprep.errors import FetchError
from sunprep.fetch.directory import Member
from sunprep.fetch.entry import BadMember, check, copy_data, read_local_header
from sunprep.fetch.retry import RetryPolicy, Tally
from sunprep.fetch.sources import Source
from sunprep.fetch.store import Clash, Store
from sunprep.fetch.stream import RangeStream

MIN_RUN = 1 << 20  # bytes: below this a request's round trip is no longer negligible
MAX_RUN = 64 << 20  # bytes: bounds the work a worker holds when the run is cut short


@dataclass
class Outcome:
    """What happened to the selected files of one archive."""

    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already there and verified: not downloaded
    failed: list[str] = field(default_factory=list)  # one line each, `name: problem`


def plan_runs(members: Sequence[Member], fetch: Callable[[Member], bool], workers: int) -> list[list[Member]]:
    """Group members (in archive order, all under the subset) into runs of adjacent extents.

    `fetch(m)` says whether a file is needed; folder entries ride along inside a run (their few
    bytes are part of the subset) but never start or end one. Runs end where extents are not
    contiguous (another member lies between) and are cut once they pass the target size.
    """
    needed = [m for m in members if not m.is_dir and fetch(m)]
    target = min(max(sum(m.end - m.offset for m in needed) // (4 * max(workers, 1)), MIN_RUN), MAX_RUN)
    runs: list[list[Member]] = []
    run: list[Member] = []
    for member in members:
        joins = member.is_dir or fetch(member)
        if run and (not joins or member.offset != run[-1].end or run[-1].end - run[0].offset >= target):
            runs.append(run)
            run = []
        if joins and (run or not member.is_dir):
            run.append(member)
    if run:
        runs.append(run)
    for run in runs:
        while run and run[-1].is_dir:
            run.pop()
    return [run for run in runs if run]


def _deliver(stream: RangeStream, member: Member, store: Store) -> None:
    """Read `member` at the stream's position into the store, verified against the directory."""
    stream.skip_to(member.offset)
    header = read_local_header(stream)
    if header.raw_name != member.raw_name:
        raise FetchError(f"{stream.source.name}: byte {member.offset} holds {header.name}, not {member.name}")
    if member.is_dir:
        store.make_dir(member.name)
    else:
        with store.writing(member.name) as sink:
            got = copy_data(stream, header, member.compress_size, sink, member.file_size)
            check(member.name, got, member.crc, member.file_size)
    stream.skip_to(member.end)


def _fetch_run(source: Source, run: list[Member], store: Store, policy: RetryPolicy, tally: Tally,
               outcome: Outcome) -> None:
    """One request for the whole run; a member that fails verification is asked for once more alone."""
    again: list[Member] = []
    with RangeStream(source, run[0].offset, run[-1].end, policy, tally) as stream:
        for i, member in enumerate(run):
            try:
                _deliver(stream, member, store)
            except BadMember:
                again.append(member)
                continue
            except Clash as err:  # nothing of its data was read: go on after it
                outcome.failed.append(str(err))
                stream.skip_to(member.end)
                continue
            except FetchError as err:  # the transfer itself gave up: the rest of the run is lost
                outcome.failed.extend(f"{m.name}: {err}" for m in run[i:] if not m.is_dir)
                break
            if not member.is_dir:
                outcome.fetched.append(member.name)
    for member in again:
        try:
            with RangeStream(source, member.offset, member.end, policy, tally) as stream:
                _deliver(stream, member, store)
            outcome.fetched.append(member.name)
        except BadMember as err:
            outcome.failed.append(f"{err} (fetched twice)")
        except Clash as err:
            outcome.failed.append(str(err))
        except FetchError as err:
            outcome.failed.append(f"{member.name}: {err}")


def fetch_members(source: Source, members: Sequence[Member], store: Store, *, workers: int, policy: RetryPolicy,
                  tally: Tally, on_plan: Callable[[int], None] | None = None) -> Outcome:
    """Fetch every file among `members` that the store lacks; `on_plan(bytes)` gets the bytes to fetch."""
    outcome = Outcome()
    files = [m for m in members if not m.is_dir]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verified = dict(zip((m.name for m in files),
                            pool.map(lambda m: store.has(m.name, m.file_size, m.crc), files)))
        outcome.present = [name for name, ok in verified.items() if ok]
        runs = plan_runs(members, lambda m: not verified[m.name], workers)
        if on_plan is not None:
            on_plan(sum(run[-1].end - run[0].offset for run in runs))
        for future in [pool.submit(_fetch_run, source, run, store, policy, tally, outcome) for run in runs]:
            future.result()
    for member in members:  # folders with no file fetched now (empty ones, or all present): after the
        if member.is_dir:   # transfers, so that a slow file system does not hold up the first request
            try:
                store.make_dir(member.name)
            except Clash as err:
                outcome.failed.append(str(err))
    return outcome
