"""One byte range of an archive, read in order, that survives drops by asking again from where it stopped.

A broken connection, a timeout or a body shorter than promised costs only a new request for the
bytes still missing: a half-inflated member carries on, because the decompressor never sees the
break. Only the server's answer to that new request decides whether it may go on (a 206 that
starts at the right byte).
"""

from __future__ import annotations

from urllib3.exceptions import HTTPError

from sunprep.errors import FetchError
from sunprep.fetch.retry import Backoff, RetryPolicy, Tally, Transient
from sunprep.fetch.sources import Body, Cached, Source

CHUNK = 256 * 1024


class ArchiveEnded(FetchError):
    """The archive holds fewer bytes than its own records promise."""


class RangeStream:
    """Bytes `[start, end)` of `source` (`end` None: to the end, as long as the first answer says)."""

    def __init__(self, source: Source, start: int, end: int | None, policy: RetryPolicy, tally: Tally) -> None:
        self.source = source
        self.pos = start
        self.end = end
        self.tally = tally
        self.backoff = Backoff(f"{source.name} (bytes {start}-{'' if end is None else end - 1})", policy, tally)
        self._body: Body | None = None
        self._pushed = b""  # bytes given back by `unread`, served before the body

    def read(self, n: int = CHUNK) -> bytes:
        """Up to `n` bytes (fewer only at the end of the range: b"" there)."""
        if self._pushed:
            data, self._pushed = self._pushed[:n], self._pushed[n:]
            self.pos += len(data)
            return data
        while True:
            if self.end is not None and self.pos >= self.end:
                return b""
            try:
                if self._body is None:
                    self._body, first, size = self.source.open(self.pos, self.end)
                    if self.end is None and size >= 0:
                        self.end = size
                    if self.end is not None and 0 <= size < self.end:  # not a dropped line: the file is short
                        raise ArchiveEnded(f"{self.source.name}: corrupt or truncated archive: its records point "
                                           f"to byte {self.end:,}, but it holds {size:,} bytes")
                    self._discard(self.pos - first)
                want = n if self.end is None else min(n, self.end - self.pos)
                data = self._body.read(want)
                if not data:
                    if self.end is None:  # no length announced: the body's end is the end
                        return b""
                    raise Transient(f"body ended at byte {self.pos}, before byte {self.end}")
            except Transient as err:
                self._drop()
                self.backoff.failed(err)
                continue
            except (HTTPError, OSError) as err:
                self._drop()
                self.backoff.failed(Transient(f"transfer broke at byte {self.pos} ({type(err).__name__}: {err})"))
                continue
            self.backoff.progressed()
            self.pos += len(data)
            self.tally.received(len(data), new=not isinstance(self._body, Cached))
            return data

    def read_exact(self, n: int) -> bytes:
        """Exactly `n` bytes; ArchiveEnded when the range or the archive ends first."""
        parts, got = [], 0
        while got < n:
            data = self.read(n - got)
            if not data:
                raise ArchiveEnded(f"{self.source.name}: archive ends at byte {self.pos}, inside a record")
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def _discard(self, n: int) -> None:
        """Drop the `n` bytes before our position that a server without ranges sends again (counted)."""
        assert self._body is not None
        while n > 0:
            data = self._body.read(min(n, CHUNK))
            if not data:
                raise Transient("body ended before the resume point")
            n -= len(data)
            self.tally.received(len(data))

    def unread(self, data: bytes) -> None:
        """Give back bytes read past a record's end (a deflate stream that stopped mid-chunk)."""
        self._pushed = data + self._pushed
        self.pos -= len(data)

    def skip_to(self, pos: int) -> None:
        """Move forward to `pos` by reading (a data descriptor, or a gap the caller has no use for)."""
        while self.pos < pos:
            if not self.read(min(CHUNK, pos - self.pos)):
                raise ArchiveEnded(f"{self.source.name}: archive ends at byte {self.pos}, before byte {pos}")

    def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()
            release = getattr(body, "release_conn", None)
            if release is not None:
                release()

    def __enter__(self) -> RangeStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
