"""Running the service: scheduler and HTTP API in one event loop, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import uvicorn

from camfetch.service.api import create_api
from camfetch.service.service import CaptureService


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the caller decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    service: CaptureService,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Start ``service`` and its API; run until ``stop`` is set; close everything."""
    settings = service.config.api
    await service.start()
    server = _EmbeddedServer(
        uvicorn.Config(
            create_api(service),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    api = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if api.done():
                api.result()  # the API could not start: say why
                return
            await asyncio.sleep(0.02)
        if on_ready is not None:
            host = f"[{settings.host}]" if ":" in settings.host else settings.host
            on_ready(f"http://{host}:{bound_port(server)}")
        await service.run(stop)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(api, 10)
        await service.close()


def bound_port(server: uvicorn.Server) -> int:
    """The port the API really listens on (the configured one, or the one given for 0)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return server.config.port
