"""Politeness towards other people's servers: at most one request per interval to each host.

intel-worker paces its feed fetches and knowledge-worker its crawl with the same `PerHostPacer`; the host is
the URL's `host[:port]`, lower-cased, so two feeds on one site wait for each other.

    pacer = PerHostPacer(interval=1.0)
    await pacer.wait_for_url(url)    # returns at once for a new host, else when the interval has passed
"""

import asyncio
import time
from urllib.parse import urlsplit


class PerHostPacer:
    """At most one request per `interval` seconds to each host; callers for one host go in turn."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, host: str) -> None:
        key = host.lower()
        # The lock makes concurrent callers for one host queue up: each waits for the slot the previous took.
        async with self._locks.setdefault(key, asyncio.Lock()):
            delay = self._next_at.get(key, 0.0) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next_at[key] = time.monotonic() + self.interval

    async def wait_for_url(self, url: str) -> None:
        await self.wait(urlsplit(url).netloc)
