"""One zip member read out of a byte stream: local header, inflated data, CRC-32 and sizes.

The local header's name and extra field have their own lengths (Info-ZIP writes a longer extra
field locally than in the directory), so the data's start is known only once the 30 fixed bytes
are read. Sizes and CRC come from the directory when there is one (`ranged`), or from the local
header and data descriptor when the archive is streamed front to back (`streamed`).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from sunprep.errors import FetchError
from sunprep.fetch.stream import CHUNK, ArchiveEnded, RangeStream

LOCAL_SIG = b"PK\x03\x04"
DESCRIPTOR_SIG = b"PK\x07\x08"
LOCAL = struct.Struct("<4sHHHHHIIIHH")
STORED, DEFLATED = 0, 8
HAS_DESCRIPTOR = 0x0008
ENCRYPTED = 0x0001
# Without declared sizes (streamed, data descriptor) a member may inflate to this many times the
# compressed bytes read so far, plus the slack: SUN RGB-D's JPEGs and PNGs stay near 1x, text a few x;
# deflate's own limit is about 1032x, which is what a bomb uses.
MAX_RATIO = 100
RATIO_SLACK = 1 << 20


class BadMember(Exception):
    """This member cannot be delivered (corrupt, unsupported): the fetch reports it and carries on."""


class Drained(BadMember):
    """Refused, but read to its end: a stream without sizes is positioned after the member's data."""


@dataclass(frozen=True)
class LocalHeader:
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    raw_name: bytes
    zip64: bool  # sizes in a ZIP64 extra: a data descriptor then holds 8-byte sizes

    @property
    def name(self) -> str:
        return self.raw_name.decode("utf-8" if self.flags & 0x800 else "cp437")


@dataclass(frozen=True)
class Delivered:
    """What came out of the data: its CRC-32 and sizes."""

    crc: int
    file_size: int
    compress_size: int


def read_local_header(stream: RangeStream) -> LocalHeader:
    """The header at the stream's position (FetchError if there is none: the offsets are wrong)."""
    at = stream.pos
    fixed = stream.read_exact(LOCAL.size)
    sig, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = LOCAL.unpack(fixed)
    if sig != LOCAL_SIG:
        raise FetchError(f"{stream.source.name}: no local file header at byte {at}")
    raw_name = stream.read_exact(name_len)
    extra = stream.read_exact(extra_len)
    zip64 = False
    while len(extra) >= 4:
        kind, size = struct.unpack_from("<HH", extra)
        if kind == 0x0001:
            zip64 = True
            values = list(struct.unpack_from(f"<{min(size, 16) // 8}Q", extra, 4))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
        extra = extra[4 + size:]
    return LocalHeader(flags, method, crc, csize, usize, raw_name, zip64)


def copy_data(stream: RangeStream, header: LocalHeader, compress_size: int | None, sink: BinaryIO | None,
              file_size: int | None = None) -> Delivered:
    """Inflate the member's data into `sink` (None: discard), counting CRC-32 and sizes.

    `compress_size` None means unknown (a data descriptor follows): deflate marks its own end,
    and what the decompressor did not use goes back to the stream. Inflating stops at the
    declared `file_size`: a member that would grow past it (a decompression bomb declares
    1,000 bytes and inflates to a GiB) is rejected having written no byte beyond it. Without a
    declared size (sizes only in the data descriptor, after the data) the output is bounded by
    `MAX_RATIO` times the compressed bytes read so far instead.
    """
    if header.flags & ENCRYPTED:
        raise BadMember(f"{header.name}: encrypted members are not supported")
    if header.method not in (STORED, DEFLATED):
        raise BadMember(f"{header.name}: compression method {header.method} is not supported (only stored and deflate)")
    if compress_size is None and header.method == STORED:
        raise FetchError(f"{stream.source.name}: {header.name} is stored with a data descriptor; "
                         "its end cannot be found without the directory")
    if header.method == STORED and file_size is not None and compress_size is not None and file_size != compress_size:
        raise BadMember(f"{header.name}: stored member of {compress_size} bytes declares {file_size} bytes")
    inflate = zlib.decompressobj(-15) if header.method == DEFLATED else None
    crc = size = consumed = 0

    overflow = ""  # why the member is refused, once it grew too large: the rest is read, not written

    def cap() -> int | None:
        """The most bytes the member may produce; None when nothing is written (a member skipped)."""
        if sink is None:
            return file_size
        return file_size if file_size is not None else MAX_RATIO * consumed + RATIO_SLACK

    def room() -> int:
        """Bytes the member may still produce (one more than allowed, so that excess is seen)."""
        limit = cap()
        return CHUNK if limit is None or overflow else max(limit - size, 0) + 1

    def emit(data: bytes) -> None:
        nonlocal crc, size, overflow
        limit = cap()
        if overflow:
            return
        if limit is not None and size + len(data) > limit:
            if file_size is not None:  # its end is known: the caller skips there without inflating more
                raise BadMember(f"{header.name}: inflates past its declared {file_size:,} bytes (corrupt, or a "
                                "decompression bomb); stopped there")
            # Sizes come after the data: inflate on, writing nothing, to find where the member ends.
            overflow = (f"{header.name}: inflates to over {MAX_RATIO} times its compressed size before its "
                        "sizes are known (a decompression bomb?); stopped writing there")
            return
        crc = zlib.crc32(data, crc)
        size += len(data)
        if sink is not None:
            sink.write(data)

    while compress_size is None or consumed < compress_size:
        data = stream.read(CHUNK if compress_size is None else min(CHUNK, compress_size - consumed))
        if not data:
            raise ArchiveEnded(f"{stream.source.name}: archive ends inside {header.name}")
        consumed += len(data)
        if inflate is None:
            emit(data)
            continue
        pending = data
        while pending and not inflate.eof:
            try:  # max_length bounds what one call may produce: a bomb never sits in memory either
                emit(inflate.decompress(pending, min(room(), CHUNK)))
            except zlib.error as err:  # a damaged byte can break the deflate stream before the CRC sees it
                raise BadMember(f"{header.name}: corrupt deflate data ({err})") from err
            pending = inflate.unconsumed_tail
        if inflate.eof:
            if inflate.unused_data or pending:
                if compress_size is not None:
                    raise BadMember(f"{header.name}: deflate data ends before its compressed size")
                stream.unread(inflate.unused_data + pending)
                consumed -= len(inflate.unused_data) + len(pending)
            break
    if inflate is not None and not inflate.eof:
        raise BadMember(f"{header.name}: deflate data is cut short (corrupt member)")
    if overflow:
        raise Drained(overflow)
    return Delivered(crc, size, consumed)


def read_descriptor(stream: RangeStream, header: LocalHeader) -> tuple[int, int, int]:
    """(crc, compress_size, file_size) from the data descriptor after a member's data."""
    first = stream.read_exact(4)
    crc_bytes = stream.read_exact(4) if first == DESCRIPTOR_SIG else first
    sizes = struct.unpack("<QQ" if header.zip64 else "<II", stream.read_exact(16 if header.zip64 else 8))
    return struct.unpack("<I", crc_bytes)[0], sizes[0], sizes[1]


def check(name: str, got: Delivered, crc: int, file_size: int) -> None:
    """BadMember unless the data matches the CRC-32 and size the archive recorded for it."""
    if got.file_size != file_size:
        raise BadMember(f"{name}: {got.file_size} bytes, the archive says {file_size}")
    if got.crc != crc:
        raise BadMember(f"{name}: CRC-32 {got.crc:08x}, the archive says {crc:08x}")
