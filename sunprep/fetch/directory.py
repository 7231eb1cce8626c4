"""The zip central directory, read through range requests by the stdlib `zipfile`.

`zipfile` already knows every quirk of the format (ZIP64 end records and extras, archive
comments, cp437 vs UTF-8 names, data prepended to the archive), so it parses; we only hand it a
file object whose reads become range requests. It asks for the end record, then the whole
directory in one read: the first request takes a small tail, the second the rest of the
directory, and nothing else of the archive is touched.
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass

from sunprep.errors import FetchError
from sunprep.fetch.retry import Backoff, RetryPolicy, Tally, Transient
from sunprep.fetch.sources import Source
from sunprep.fetch.stream import RangeStream

TAIL = 4096  # first request: the end records (98 bytes with ZIP64) and the directory's last entries
LOCAL_HEADER = 30  # fixed part of a local file header
UNIX = 3  # "version made by" host system whose external attributes hold st_mode
SYMLINK = "a symbolic link in the archive; links are not extracted (a link could point outside the destination)"


@dataclass(frozen=True)
class Member:
    """One archive entry as the directory describes it; `end` bounds its bytes in the archive.

    `[offset, end)` holds the local header, the data and any data descriptor: `end` is the next
    entry's offset (or the directory's), so a range request for it fetches nothing of another member.
    """

    name: str
    offset: int
    end: int
    compress_size: int
    file_size: int
    crc: int
    method: int
    flags: int
    raw_name: bytes  # as stored, to check the local header names the same member
    is_symlink: bool = False  # a Unix link (its data is the target path): never extracted

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


@dataclass(frozen=True)
class Directory:
    size: int  # the whole archive
    start: int  # offset of the central directory; [start, size) is what reading it cost
    members: tuple[Member, ...]  # in archive order (by offset)
    tail: bytes  # the archive's last bytes, fetched to read the directory (at least the directory itself)


class _RangedFile(io.RawIOBase):
    """A read-only file over a source: the tail is cached, anything before it is a range request."""

    def __init__(self, source: Source, tail: bytes, size: int, policy: RetryPolicy, tally: Tally) -> None:
        self.source, self.policy, self.tally = source, policy, tally
        self.tail, self.tail_start, self.size = tail, size - len(tail), size
        self.pos = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(f"seek before the start of {self.source.name}")
        self.pos = base + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int | None = -1) -> bytes:
        stop = self.size if n is None or n < 0 else min(self.pos + n, self.size)
        if self.pos < min(stop, self.tail_start):  # bytes before the cached tail: fetch only those
            upto = min(stop, self.tail_start)
            with RangeStream(self.source, self.pos, upto, self.policy, self.tally) as stream:
                head = stream.read_exact(upto - self.pos)
            if upto < self.tail_start:  # not adjacent to the cache: nothing to keep
                self.pos = stop
                return head
            self.tail, self.tail_start = head + self.tail, self.pos
        data = self.tail[max(self.pos - self.tail_start, 0): max(stop - self.tail_start, 0)]
        self.pos = max(stop, self.pos)
        return data


def read_directory(source: Source, policy: RetryPolicy, tally: Tally) -> Directory:
    """Every member of the archive at `source`, with the byte extent each occupies."""
    backoff = Backoff(f"{source.name} (end of archive)", policy, tally)
    while True:
        try:
            tail, size = source.tail(TAIL)
            break
        except Transient as err:
            backoff.failed(err)
    tally.received(len(tail))
    try:
        ranged = _RangedFile(source, tail, size, policy, tally)
        archive = zipfile.ZipFile(ranged)
    except zipfile.BadZipFile as err:
        raise FetchError(f"{source.name}: not a readable zip archive ({err})") from err
    infos = sorted(archive.infolist(), key=lambda info: info.header_offset)
    ends = [info.header_offset for info in infos[1:]] + [archive.start_dir]
    members = []
    for info in infos:
        # zipfile shifts every offset by the gap between where the directory is and where the end
        # record says it is (made for data prepended to an archive); a recorded offset past the
        # end of the file shifts them below 0.
        if not 0 <= info.header_offset <= archive.start_dir - LOCAL_HEADER:
            raise FetchError(f"{source.name}: corrupt archive: member {info.orig_filename} would start at byte "
                             f"{info.header_offset:,}, outside the {size:,}-byte archive (the end record's "
                             "directory offset is wrong)")
    for info, end in zip(infos, ends):
        raw_name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
        if info.header_offset + LOCAL_HEADER + len(raw_name) + info.compress_size > end:
            raise FetchError(f"{source.name}: member {info.orig_filename} overlaps the next one; corrupt directory")
        link = info.create_system == UNIX and stat.S_ISLNK(info.external_attr >> 16)
        members.append(Member(info.orig_filename, info.header_offset, end, info.compress_size, info.file_size,
                              info.CRC, info.compress_type, info.flag_bits, raw_name, link))
    return Directory(size, archive.start_dir, tuple(members), ranged.tail)


def is_safe(name: str) -> bool:
    """True when `name`, written under the destination, stays inside it (no zip slip)."""
    parts = name.rstrip("/").split("/")
    return "\\" not in name and ":" not in parts[0] and all(part not in ("", ".", "..") for part in parts)


def safe_name(name: str) -> str:
    """`name` when it is safe to write; FetchError otherwise."""
    if not is_safe(name):
        raise FetchError(f"{name}: member path escapes the destination folder")
    return name
