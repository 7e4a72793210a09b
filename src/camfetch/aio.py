"""asyncio helpers shared by drivers and simulators."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable


async def uncancellable(cleanup: Awaitable[None]) -> None:
    """Await ``cleanup`` to its end even if the caller is cancelled meanwhile.

    Cleanup (closing a device's search finder, closing a media source, reaping
    ffmpeg) must not be cut short by the cancellation that caused it; a
    cancellation is re-raised once the cleanup is done.
    """
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(task)
        raise
