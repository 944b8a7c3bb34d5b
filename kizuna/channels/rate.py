"""A rate limiter for channels: at most `rate` starts per second, spread evenly."""

from __future__ import annotations

import asyncio


class RateLimiter:
    """Each `acquire` waits for the next free slot; slots are 1/rate seconds apart."""

    def __init__(self, rate_per_second: float) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate_per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)  # the throttle itself, not a synchronisation
