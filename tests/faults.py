"""Helpers of the fault tests: one device call by name, and the memory the client keeps."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Awaitable, Callable

from camfetch.registry import open_device


async def call(url: str, what: str) -> None:
    """One call to the device at ``url``: ``info``, ``snapshot``, ``events`` (the first
    event) or ``stream`` (three MJPEG frames)."""
    async with open_device(url) as dev:
        if what == "info":
            await dev.info()
        elif what == "snapshot":
            await dev.snapshot(1)
        elif what == "events":
            await anext(dev.events())
        elif what == "stream":
            frames = dev.mjpeg(1)
            for _ in range(3):
                await anext(frames)
        else:
            raise ValueError(f"no such call: {what}")


async def client_growth(round_trip: Callable[[], Awaitable[None]], rounds: int) -> tuple[int, int]:
    """Run ``round_trip`` once to warm caches, imports and pools, then ``rounds`` times under
    tracemalloc. Returns (bytes kept, peak bytes traced). The simulators share this process:
    only what is allocated outside ``camfetch/sim`` counts."""
    await round_trip()
    gc.collect()
    not_sim = tracemalloc.Filter(False, "*/camfetch/sim/*", all_frames=True)
    tracemalloc.start(25)
    try:
        before = tracemalloc.take_snapshot().filter_traces([not_sim])
        for _ in range(rounds):
            await round_trip()
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces([not_sim])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"client-side growth after {rounds} rounds: {growth} bytes")
    return growth, peak
