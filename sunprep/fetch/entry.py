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


class BadMember(Exception):
    """This member cannot be delivered (corrupt, unsupported): the fetch reports it and carries on."""


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


def copy_data(stream: RangeStream, header: LocalHeader, compress_size: int | None, sink: BinaryIO | None) -> Delivered:
    """Inflate the member's data into `sink` (None: discard), counting CRC-32 and sizes.

    `compress_size` None means unknown (a data descriptor follows): deflate marks its own end,
    and what the decompressor did not use goes back to the stream.
    """
    if header.flags & ENCRYPTED:
        raise BadMember(f"{header.name}: encrypted members are not supported")
    if header.method not in (STORED, DEFLATED):
        raise BadMember(f"{header.name}: compression method {header.method} is not supported (only stored and deflate)")
    if compress_size is None and header.method == STORED:
        raise FetchError(f"{stream.source.name}: {header.name} is stored with a data descriptor; "
                         "its end cannot be found without the directory")
    inflate = zlib.decompressobj(-15) if header.method == DEFLATED else None
    crc = size = consumed = 0
    while compress_size is None or consumed < compress_size:
        data = stream.read(CHUNK if compress_size is None else min(CHUNK, compress_size - consumed))
        if not data:
            raise ArchiveEnded(f"{stream.source.name}: archive ends inside {header.name}")
        consumed += len(data)
        if inflate is not None:
            try:
                data = inflate.decompress(data)
            except zlib.error as err:  # a damaged byte can break the deflate stream before the CRC sees it
                raise BadMember(f"{header.name}: corrupt deflate data ({err})") from err
        crc = zlib.crc32(data, crc)
        size += len(data)
        if sink is not None:
            sink.write(data)
        if inflate is not None and inflate.eof:
            if inflate.unused_data:
                if compress_size is not None:
                    raise BadMember(f"{header.name}: deflate data ends before its compressed size")
                stream.unread(inflate.unused_data)
                consumed -= len(inflate.unused_data)
            break
    if inflate is not None and not inflate.eof:
        raise BadMember(f"{header.name}: deflate data is cut short (corrupt member)")
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
