"""The latest picture of every channel, fetched at most once per refresh interval.

However many clients ask, a camera is asked at most once per ``refresh``
seconds: a picture younger than that is served from memory, and while a fetch
is under way every other asker waits for that same fetch (single flight).
Captures made by the scheduler refresh the cache too. Memory holds one picture
per channel that someone asked for (or that was captured).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from camfetch.models import Snapshot
from camfetch.service.fleet import Target

Fetch = Callable[[Target], Awaitable[Snapshot]]


@dataclass(frozen=True, slots=True)
class Latest:
    snapshot: Snapshot
    fetched: float  # monotonic
    fresh: bool  # fetched for this request (or joined a fetch), not from memory


class LatestCache:
    def __init__(
        self, fetch: Fetch, *, refresh: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self.refresh = refresh
        self._clock = clock
        self._pictures: dict[Target, tuple[Snapshot, float]] = {}
        self._flights: dict[Target, asyncio.Future[Snapshot]] = {}

    def offer(self, target: Target, snapshot: Snapshot) -> None:
        """A picture taken for another reason (a capture): keep it as the latest."""
        self._pictures[target] = (snapshot, self._clock())

    def peek(self, target: Target) -> Snapshot | None:
        found = self._pictures.get(target)
        return found[0] if found else None

    async def get(self, target: Target) -> Latest:
        """The latest picture, fetching it if the one in memory is older than ``refresh``."""
        held = self._pictures.get(target)
        if held is not None and self._clock() - held[1] < self.refresh:
            return Latest(held[0], held[1], fresh=False)
        flight = self._flights.get(target)
        if flight is None:
            flight = asyncio.ensure_future(self._fetch(target))
            self._flights[target] = flight
            flight.add_done_callback(lambda done: self._landed(target, done))
        snapshot = await asyncio.shield(flight)
        return Latest(snapshot, self._pictures[target][1], fresh=True)

    def _landed(self, target: Target, flight: asyncio.Future[Snapshot]) -> None:
        self._flights.pop(target, None)
        if not flight.cancelled() and flight.exception() is None:
            self._pictures[target] = (flight.result(), self._clock())
