"""Where archive bytes come from: an HTTP server answering byte ranges, or a local zip file.

Both answer `open(start, end)` with a readable body, the offset it starts at (`start`, or 0 from
a server that ignores ranges under --full) and the archive's total size, and `tail(n)` with the
last `n` bytes. HTTP goes through one urllib3 `PoolManager`
shared by all worker threads: keep-alive connections are reused across the thousands of range
requests, each connect and read has a timeout, and retrying is left to `stream.RangeStream`
(urllib3's own `Retry` cannot resume a body that broke half-way, which is the common fault).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError

from sunprep.errors import FetchError
from sunprep.fetch.retry import RetryPolicy, Transient

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)$")
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class RangesIgnored(FetchError):
    """The server answered a range request with the whole body (200): ranged fetching cannot work."""


class Body(Protocol):
    def read(self, amt: int) -> bytes: ...

    def close(self) -> None: ...


class Source(Protocol):
    name: str  # the URL or path, for messages

    def open(self, start: int, end: int | None) -> tuple[Body, int, int]: ...

    def tail(self, n: int) -> tuple[bytes, int]: ...


def http_pool(workers: int) -> urllib3.PoolManager:
    """One pool for a whole fetch: `workers` keep-alive connections per host, no hidden retries.

    urllib3 still follows redirects (the published URL may move), but a connect or read failure
    surfaces at once so `RangeStream` can resume the body from the byte it stopped at.
    """
    retry = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_status=False)
    return urllib3.PoolManager(maxsize=workers, block=True, retries=retry)


class HttpSource:
    """An archive at an http(s) URL, read with `Range` requests."""

    def __init__(self, url: str, pool: urllib3.PoolManager, policy: RetryPolicy, *, whole_ok: bool = False) -> None:
        self.name = url
        self.url = url  # where requests go: the redirect target once the server has named one
        self.redirected_to: str | None = None  # set when that target is on another host (said in the summary)
        self.pool = pool
        self.timeout = urllib3.Timeout(connect=policy.timeout, read=policy.timeout)
        self.whole_ok = whole_ok  # --full: a 200 to a range request is tolerated by skipping ahead

    def _get(self, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        """One GET, body unread; transient failures raise Transient, permanent ones FetchError."""
        headers = {"Accept-Encoding": "identity", **headers}  # byte offsets are into the raw archive
        try:
            resp = self.pool.request("GET", self.url, headers=headers, preload_content=False,
                                     decode_content=False, timeout=self.timeout)
        except MaxRetryError as err:
            raise Transient(f"cannot connect ({err.reason})") from err
        except (HTTPError, OSError) as err:
            raise Transient(f"request failed ({err})") from err
        if resp.status in TRANSIENT_STATUS:
            retry_after = resp.headers.get("Retry-After", "")
            _discard(resp)
            raise Transient(f"HTTP {resp.status}", float(retry_after) if retry_after.isdigit() else None)
        if resp.status not in (200, 206):
            _discard(resp)
            raise FetchError(f"{self.name}: HTTP {resp.status}")
        self._follow(resp)
        return resp

    def _follow(self, resp: urllib3.BaseHTTPResponse) -> None:
        """Send later requests straight to where a redirect led (one round trip each, not two).

        A mirror on another host is followed too (the published URL may move), but said: the
        summary names it, so a user sees where the data really came from.
        """
        final = self.url
        for step in resp.retries.history if resp.retries is not None else ():
            if step.redirect_location:
                final = urljoin(final, step.redirect_location)  # Location may be relative
        if final == self.url:
            return
        self.url = final
        if urllib3.util.parse_url(final).host != urllib3.util.parse_url(self.name).host:
            self.redirected_to = final

    def open(self, start: int, end: int | None) -> tuple[Body, int, int]:
        """A body for bytes `start` to `end` (None: to the end), the offset it begins at, the archive size."""
        if start == 0 and end is None:
            resp = self._get({})
        else:
            resp = self._get({"Range": f"bytes={start}-{'' if end is None else end - 1}"})
        if resp.status == 206:
            first, size = _content_range(self.name, resp)
            if first != start:
                _discard(resp)
                raise Transient(f"asked for byte {start}, got a range starting at {first}")
            return resp, start, size
        size = int(resp.headers.get("Content-Length", "-1"))
        if (start > 0 or end is not None) and not self.whole_ok:
            _discard(resp)
            raise _ranges_ignored(self.name, size)
        return resp, 0, size

    def tail(self, n: int) -> tuple[bytes, int]:
        """The last `n` bytes (fewer for a smaller archive) and the archive size, in one request."""
        resp = self._get({"Range": f"bytes=-{n}"})
        if resp.status != 206:
            _discard(resp)
            raise _ranges_ignored(self.name, int(resp.headers.get("Content-Length", "-1")))
        _, size = _content_range(self.name, resp)
        try:
            data = resp.read()
        except (HTTPError, OSError) as err:
            raise Transient(f"reading the archive's end failed ({err})") from err
        finally:
            resp.release_conn()
        return data, size


def _content_range(url: str, resp: urllib3.BaseHTTPResponse) -> tuple[int, int]:
    match = CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
    if match is None:
        _discard(resp)
        raise FetchError(f"{url}: 206 without a usable Content-Range ({resp.headers.get('Content-Range')!r})")
    return int(match.group(1)), int(match.group(3))


def _discard(resp: urllib3.BaseHTTPResponse) -> None:
    """Close without reading: a whole 6 GB body must not be drained just to reuse a connection."""
    resp.close()
    resp.release_conn()


def _ranges_ignored(url: str, size: int) -> RangesIgnored:
    whole = f"{size:,}-byte" if size >= 0 else "unknown-size"
    return RangesIgnored(
        f"{url}: the server ignores byte ranges (it answered a range request with the whole {whole} "
        "archive); re-run with --full to stream the whole archive once and extract only the subset on the fly")


class ZipFileSource:
    """A zip archive on local disk: the same reads as over HTTP, without a network."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        self.path = path

    def open(self, start: int, end: int | None) -> tuple[BinaryIO, int, int]:
        f = self.path.open("rb")
        f.seek(start)
        return f, start, self.path.stat().st_size

    def tail(self, n: int) -> tuple[bytes, int]:
        size = self.path.stat().st_size
        with self.path.open("rb") as f:
            f.seek(max(size - n, 0))
            return f.read(), size


class Cached(io.BytesIO):
    """Bytes served from memory: a stream does not count them as received again."""


class TailCache:
    """A source whose last bytes are already in memory (read for the directory): reads inside them are free.

    Without `source` (a streamed archive, whose end came with the stream) nothing else can be read.
    """

    def __init__(self, name: str, data: bytes, size: int, source: Source | None = None) -> None:
        self.name, self.data, self.size, self.source = name, data, size, source

    def open(self, start: int, end: int | None) -> tuple[Body, int, int]:
        first = self.size - len(self.data)
        if start >= first:
            return Cached(self.data[start - first: None if end is None else end - first]), start, self.size
        if self.source is None:
            raise FetchError(f"{self.name}: byte {start} lies before the part of the archive that was kept")
        return self.source.open(start, end)

    def tail(self, n: int) -> tuple[bytes, int]:
        return self.data[-n:], self.size
