"""Retries with exponential backoff, and the tally of bytes and retries a fetch reports.

A transfer retries after *consecutive* failures only: any byte received resets the count, so a
long download over a flaky link keeps going as long as it makes progress, while a dead server
is given up on after `retries` waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sunprep.errors import FetchError


class Transient(Exception):
    """A failure worth retrying: a reset, a timeout, a short body, 429 or 5xx."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5  # consecutive failures tolerated per transfer
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    max_wait: float = 30.0  # cap on one wait, also on a server's Retry-After
    timeout: float = 30.0  # seconds to connect, and between two reads of a body

    def wait(self, failures: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number `failures` (1-based); Retry-After wins when given."""
        if retry_after is not None:
            return min(retry_after, self.max_wait)
        return min(self.backoff * 2 ** (failures - 1), self.max_wait)


# (what is retried, the failure, retry number, retries allowed, seconds until it): said as it happens,
# so that an offline fetch is not 20 silent seconds of backoff.
OnRetry = Callable[[str, str, int, int, float], None]


class Tally:
    """Bytes received and retries made, shared by all worker threads of one fetch."""

    def __init__(self, on_bytes: Callable[[int], None] | None = None, on_retry: OnRetry | None = None) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.retries = 0
        self.on_bytes = on_bytes  # progress hook; set once the total is known
        self.on_retry = on_retry

    def received(self, n: int, *, new: bool = True) -> None:
        """`n` bytes delivered; `new=False` for bytes already in memory (progress, but no download)."""
        if new:
            with self._lock:
                self.bytes += n
        if self.on_bytes is not None:
            self.on_bytes(n)

    def retried(self) -> None:
        with self._lock:
            self.retries += 1


class Backoff:
    """Counts consecutive failures of one transfer; sleeps between them, gives up past the policy."""

    def __init__(self, what: str, policy: RetryPolicy, tally: Tally) -> None:
        self.what = what
        self.policy = policy
        self.tally = tally
        self.failures = 0

    def failed(self, err: Transient) -> None:
        """Record `err`; sleep before the next try, or raise FetchError when retries are spent."""
        self.failures += 1
        if self.failures > self.policy.retries:
            raise FetchError(f"{self.what}: {err} (gave up after {self.policy.retries} retries)") from err
        self.tally.retried()
        wait = self.policy.wait(self.failures, err.retry_after)
        if self.tally.on_retry is not None:
            self.tally.on_retry(self.what, str(err), self.failures, self.policy.retries, wait)
        time.sleep(wait)

    def progressed(self) -> None:
        self.failures = 0
