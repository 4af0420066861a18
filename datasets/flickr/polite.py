"""How gently the scraper calls Flickr: a sliding-window rate limit and exponential backoff with
jitter that honours ``Retry-After``."""
from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional

import requests


class RateLimiter:
    """Sliding-window limiter: at most ``max_calls`` acquisitions in any window of ``period_s``.

    Keeps the times of the last ``max_calls`` acquisitions; when full, waits until the oldest one
    is ``period_s`` old. ``clock`` must be monotonic; ``clock`` and ``sleep`` are injectable so
    that tests run on a virtual clock. Thread-safe.
    """

    def __init__(
        self,
        max_calls: int,
        period_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1 or period_s <= 0:
            raise ValueError(f"need max_calls >= 1 and period_s > 0, got {max_calls}, {period_s}")
        self.max_calls, self.period_s = int(max_calls), float(period_s)
        self._clock, self._sleep = clock, sleep
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more call fits in the window, then count it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._times and self._times[0] <= now - self.period_s:
                    self._times.popleft()
                if len(self._times) < self.max_calls:
                    self._times.append(now)
                    return
                self._sleep(self._times[0] + self.period_s - now)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt k waits U(d/2, d), d = min(max_s, base_s·factor^k).

    A server's ``Retry-After`` replaces the computed delay (capped at ``max_retry_after_s``).
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 120.0
    max_retries: int = 5
    max_retry_after_s: float = 600.0

    def delay(self, attempt: int, rng: random.Random, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        d = min(self.max_s, self.base_s * self.factor**attempt)
        return d / 2 + rng.uniform(0.0, d / 2)


def _retry_after(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
        return (when - dt.datetime.now(dt.timezone.utc)).total_seconds()
    return None
