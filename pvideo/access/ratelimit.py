"""A token bucket per key (a viewer token's render id), kept in process memory.

Each key may spend ``burst`` events at once and earns ``rate`` events per
second back. ``take`` answers how long to wait (0 = allowed). Buckets are
kept in an LRU of bounded size, so a flood of keys cannot grow memory. With
several server processes each has its own buckets: the effective limit is
``processes x rate``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: int = 1) -> float:
        """Spend ``cost`` from ``key``'s bucket; return 0, or the seconds until it would be allowed.

        A cost above ``burst`` counts as ``burst`` (it needs, and empties, a full bucket)."""
        cost = min(cost, self.burst)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if cost <= tokens:
                tokens -= cost
                wait = 0.0
            else:
                wait = (cost - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait

    def wait(self, key: str) -> float:
        """Seconds until ``key`` could spend one token; 0 when it can now. Spends nothing."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate
