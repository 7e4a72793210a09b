"""The service's JSON API (FastAPI): devices, latest pictures, captures, health, jobs, metrics.

OpenAPI documentation is at ``/docs``. When the service listens beyond
loopback, every ``/api`` and ``/metrics`` request needs
``Authorization: Bearer <api.token>``.

The latest picture of a channel comes from :class:`~camfetch.service.latest.LatestCache`:
however many clients ask, a camera is asked at most once per refresh interval.
If the camera cannot be reached, the last catalogued capture is served instead
(``X-Camfetch-Source: catalog``).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from camfetch import __version__, timeutil
from camfetch.errors import CamfetchError, UsageError
from camfetch.service.config import is_loopback
from camfetch.service.fleet import Target
from camfetch.service.scheduler import percentile
from camfetch.service.service import CaptureService

MAX_CAPTURES = 10_000


def create_api(service: CaptureService) -> FastAPI:
    app = FastAPI(
        title="camfetch",
        version=__version__,
        description="Pictures from the configured cameras, their captures and their health.",
    )
    settings = service.config.api
    token = settings.token
    open_access = is_loopback(settings.host) and not token

    def authorized(request: Request) -> None:
        if open_access:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not token or not hmac.compare_digest(given, token):
            raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})

    guard = [Depends(authorized)]

    @app.exception_handler(CamfetchError)
    async def camfetch_error(request: Request, exc: CamfetchError) -> JSONResponse:
        status = 400 if isinstance(exc, UsageError) else 502
        return JSONResponse({"error": exc.kind, "message": str(exc)}, status_code=status)

    def target(device: str, channel: int) -> Target:
        if device not in service.fleet.names():
            raise HTTPException(404, f"no device named {device!r}")
        return Target(device, channel)

    @app.get("/api/devices", dependencies=guard, summary="Devices and their channels")
    async def devices() -> list[dict[str, Any]]:
        return await service.catalog.devices()

    @app.get(
        "/api/devices/{device}/channels/{channel}/latest.jpg",
        dependencies=guard,
        summary="The latest picture of a channel (cached; see the refresh interval)",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    async def latest(device: str, channel: int) -> Response:
        wanted = target(device, channel)
        try:
            found = await service.latest.get(wanted)
        except CamfetchError as exc:
            return await _from_catalog(service, wanted, exc)
        source = "fresh" if found.fresh else "cache"
        service.metrics.latest_served.labels(source).inc()
        snap = found.snapshot
        return Response(
            snap.data,
            media_type="image/jpeg",
            headers={
                "X-Camfetch-Source": source,
                "X-Camfetch-Device-Time": snap.device_time.isoformat(),
                "Cache-Control": f"max-age={int(settings.refresh)}",
            },
        )

    @app.get(
        "/api/devices/{device}/channels/{channel}/captures",
        dependencies=guard,
        summary="Captures of a channel in a time range (default: the last hour)",
    )
    async def captures(
        device: str,
        channel: int,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CAPTURES)] = 1000,
    ) -> dict[str, Any]:
        wanted = target(device, channel)
        zone = await service.zone(device)
        until = timeutil.resolve(timeutil.parse_user_time(end), zone) if end else datetime.now(UTC)
        since = (
            timeutil.resolve(timeutil.parse_user_time(start), zone)
            if start
            else until - timedelta(hours=1)
        )
        channel_id = await service.channel_id(wanted)
        found = await service.catalog.captures(channel_id, since, until, limit=limit)
        gaps = await service.catalog.gaps(channel_id, since, until)
        return {
            "device": device,
            "channel": channel,
            "from": since.isoformat(),
            "to": until.isoformat(),
            "captures": [{**c.to_json(), "url": f"/api/captures/{c.id}.jpg"} for c in found],
            "gaps": gaps,
        }

    @app.get(
        "/api/captures/{capture_id}.jpg",
        dependencies=guard,
        summary="One captured picture",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    async def capture(capture_id: int) -> Response:
        found = await service.catalog.capture(capture_id)
        if found is None:
            raise HTTPException(404, "no such capture")
        try:
            data = await service.storage.read(found.path)
        except OSError:
            raise HTTPException(410, "the picture is no longer stored") from None
        return Response(data, media_type="image/jpeg")

    @app.get("/api/health", dependencies=guard, summary="The current status of every channel")
    async def health() -> list[dict[str, Any]]:
        return await service.catalog.health_now()

    @app.get(
        "/api/devices/{device}/channels/{channel}/health",
        dependencies=guard,
        summary="A channel's health history, newest first",
    )
    async def health_history(
        device: str, channel: int, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> list[dict[str, Any]]:
        channel_id = await service.channel_id(target(device, channel))
        records = await service.catalog.health_history(channel_id, limit=limit)
        return [r.to_json() for r in records]

    @app.get("/api/jobs", dependencies=guard, summary="Jobs, their next run and their record")
    async def jobs() -> list[dict[str, Any]]:
        out = []
        for name, state in service.jobs.items():
            stats = service.scheduler.stats.get(name)
            next_run = service.scheduler.next_run.get(name)
            out.append(
                {
                    "name": name,
                    "type": state.type,
                    "interval": state.interval,
                    "targets": state.targets,
                    "next_run": datetime.fromtimestamp(next_run, UTC).isoformat()
                    if next_run
                    else None,
                    "done": stats.done if stats else 0,
                    "failed": stats.failed if stats else 0,
                    "gaps": dict(stats.gaps) if stats else {},
                    "lateness_p50": percentile(stats.lateness, 0.5) if stats else None,
                    "lateness_p99": percentile(stats.lateness, 0.99) if stats else None,
                }
            )
        return out

    @app.get("/metrics", dependencies=guard, summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    return app


async def _from_catalog(service: CaptureService, wanted: Target, error: CamfetchError) -> Response:
    """The camera failed: serve its last catalogued capture, or say why there is none."""
    channel_id = await service.channel_id(wanted)
    found = await service.catalog.latest_capture(channel_id)
    if found is not None:
        try:
            data = await service.storage.read(found.path)
        except OSError:
            data = b""
        if data:
            service.metrics.latest_served.labels("catalog").inc()
            return Response(
                data,
                media_type="image/jpeg",
                headers={
                    "X-Camfetch-Source": "catalog",
                    "X-Camfetch-Device-Time": found.device_time,
                    "X-Camfetch-Error": f"{error.kind}: {error.message}"[:200],
                },
            )
    return JSONResponse(
        {"error": error.kind, "message": str(error)}, status_code=503, headers={"Retry-After": "5"}
    )
