"""`--full`: stream the whole archive once, front to back, keeping only the subset.

For a server that ignores byte ranges. Each member is checked on the fly against its local header
(or the data descriptor after its data), and once the stream reaches the central directory at
the end, every file kept is checked again against the directory, as in a ranged fetch. A drop
mid-way re-requests the archive and skips to the byte where it broke (downloading the skipped
bytes again: that is the price of a server without ranges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from sunprep.errors import FetchError
from sunprep.fetch.directory import SYMLINK, Directory, is_safe, read_directory
from sunprep.fetch.entry import (
    HAS_DESCRIPTOR,
    LOCAL_SIG,
    BadMember,
    Delivered,
    Drained,
    LocalHeader,
    check,
    copy_data,
    read_descriptor,
    read_local_header,
)
from sunprep.fetch.ranged import Outcome
from sunprep.fetch.retry import RetryPolicy, Tally
from sunprep.fetch.sources import Source, TailCache
from sunprep.fetch.store import Clash, Store
from sunprep.fetch.stream import RangeStream


def _member(stream: RangeStream, header: LocalHeader, store: Store | None) -> tuple[Delivered, int, int]:
    """Read one member's data (into the store when given) and its descriptor: (got, crc, file size)."""
    known = not header.flags & HAS_DESCRIPTOR
    declared = header.file_size if known else None

    def inflate(sink: BinaryIO | None) -> Delivered:
        """The data, then the descriptor (when there is one), leaving the stream at the next record."""
        try:
            return copy_data(stream, header, header.compress_size if known else None, sink, declared)
        except Drained:
            if not known:
                read_descriptor(stream, header)
            raise
        except BadMember as err:  # stopped inside the data: without sizes, the member's end is unknown
            if known:
                raise
            raise FetchError(f"{stream.source.name}: {err}; the stream cannot go past it") from err

    if store is None:
        got = inflate(None)
        crc, size = (header.crc, header.file_size) if known else read_descriptor(stream, header)[::2]
        return got, crc, size
    with store.writing(header.name) as sink:
        got = inflate(sink)
        crc, size = (header.crc, header.file_size) if known else read_descriptor(stream, header)[::2]
        check(header.name, got, crc, size)
    return got, crc, size


def _pass_over(stream: RangeStream, header: LocalHeader, archive: str) -> None:
    """Move past a member that is not kept: by its size when the header has it, else by inflating it."""
    if not header.flags & HAS_DESCRIPTOR:
        stream.skip_to(stream.pos + header.compress_size)
        return
    _member(stream, header, None)  # nothing written, so nothing bounded: only corrupt data stops it


def fetch_streamed(source: Source, wanted: Callable[[str], bool], store: Store, *, policy: RetryPolicy,
                   tally: Tally, on_plan: Callable[[int], None] | None = None) -> tuple[Outcome, Directory]:
    """Extract the members `wanted(name)` selects while streaming the archive; returns the directory too."""
    outcome = Outcome()
    kept: dict[str, tuple[int, int]] = {}  # name -> (crc, size) as delivered or found present
    reported: set[str] = set()  # names already in outcome.failed
    with RangeStream(source, 0, None, policy, tally) as stream:
        while True:
            signature = stream.read_exact(4)
            stream.unread(signature)
            if signature != LOCAL_SIG:
                break  # the central directory (or the end records) begins
            header = read_local_header(stream)
            if on_plan is not None and stream.end is not None:
                on_plan(stream.end)
                on_plan = None
            name = header.name
            if not (wanted(name) and is_safe(name)) or name.endswith("/"):
                if name.endswith("/") and wanted(name) and is_safe(name):
                    try:
                        store.make_dir(name)
                    except Clash as err:
                        outcome.failed.append(str(err))
                _pass_over(stream, header, source.name)
                continue
            if not header.flags & HAS_DESCRIPTOR and store.has(name, header.file_size, header.crc):
                stream.skip_to(stream.pos + header.compress_size)
                kept[name] = (header.crc, header.file_size)
                outcome.present.append(name)
                continue
            data_start = stream.pos
            try:
                _, crc, size = _member(stream, header, store)
            except Clash as err:  # raised before its data was read
                outcome.failed.append(str(err))
                reported.add(name)
                _pass_over(stream, header, source.name)
                continue
            except BadMember as err:  # with a descriptor, `_member` has left the stream after the member
                outcome.failed.append(str(err))
                reported.add(name)
                if not header.flags & HAS_DESCRIPTOR:
                    stream.skip_to(data_start + header.compress_size)
                continue
            kept[name] = (crc, size)
            outcome.fetched.append(name)
        rest = []
        while data := stream.read():
            rest.append(data)
        size = stream.pos
    directory = read_directory(TailCache(source.name, b"".join(rest), size), policy, Tally())
    failed = set()
    for member in directory.members:
        if member.is_dir or not wanted(member.name) or member.name in reported:
            continue
        if member.is_symlink or kept.get(member.name) != (member.crc, member.file_size):
            problem = (SYMLINK if member.is_symlink
                       else "differs from the directory" if member.name in kept
                       else "path escapes the destination folder" if not is_safe(member.name)
                       else "listed in the directory but not delivered from the stream")
            outcome.failed.append(f"{member.name}: {problem}")
            failed.add(member.name)
            store.path(member.name).unlink(missing_ok=True)
    outcome.fetched = [name for name in outcome.fetched if name not in failed]
    outcome.present = [name for name in outcome.present if name not in failed]
    return outcome, directory
