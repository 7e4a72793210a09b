"""``camfetch demo``: a simulated fleet of every vendor, served with its jobs running.

Starts one or more simulated devices of every vendor camfetch supports,
writes a configuration for them (``<dir>/camfetch.yaml``; the password comes
from the environment, not the file) with a timelapse every 10 s and a health
check every 15 s, and runs the service with its API, printing the address.
The fleet misbehaves on purpose (a black channel, a frozen one, a camera that
drops off the network every two minutes, a slow intercom, a clock five minutes off)
so that every health reason can be seen. Runs until Ctrl-C or ``--duration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from camfetch.address import DeviceAddress
from camfetch.cli import output
from camfetch.cli.output import note, run, say
from camfetch.files import write_atomic
from camfetch.service.config import load_config
from camfetch.service.server import serve
from camfetch.service.service import CaptureService
from camfetch.sim import demo_fleet
from camfetch.sim.base import DEFAULT_PASSWORD

PASSWORD_VARIABLE = "CAMFETCH_DEMO_PASSWORD"  # noqa: S105 - a variable's name
STATUS_EVERY = 30.0


def demo(
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Directory for the demo's config and data.")
    ] = Path("camfetch-demo"),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="API port (0 or busy: any free one).")
    ] = 8080,
    duration: Annotated[
        float | None, typer.Option("--duration", min=1, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Serve a simulated fleet of every vendor with timelapse and health jobs; print the API."""
    run(_demo(out, port, duration))


def _free(port: int) -> int:
    """``port`` if it can be bound on loopback, else 0 (any free port)."""
    if port == 0:
        return 0
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def _config_url(member: demo_fleet.Member) -> str:
    """The device URL without its password (the config takes it from the environment)."""
    return DeviceAddress.parse(demo_fleet.url(member), environ={}).without_password()


def write_config(folder: Path, fleet: list[demo_fleet.Member], port: int) -> Path:
    devices = "".join(
        f"  - name: {m.key}\n"
        f"    url: '{_config_url(m)}'\n"
        f"    password: ${{{PASSWORD_VARIABLE}}}\n"
        f"    labels: {{vendor: {m.device.scheme}}}\n"
        for m in fleet
    )
    text = (
        "# Written by `camfetch demo` for its simulated fleet.\n"
        "storage: {root: ./data}\n"
        f"api: {{listen: '127.0.0.1:{port}', refresh: 2s}}\n"
        f"devices:\n{devices}"
        "jobs:\n"
        "  - {name: timelapse, type: timelapse, interval: 10s, retention: 1h}\n"
        "  - name: health\n"
        "    type: health\n"
        "    interval: 15s\n"
        "    thresholds: {latency: 1s, frozen_checks: 3, skew: 60s, hysteresis: 2}\n"
        "  - {name: nightly, type: timelapse-build, at: '00:10', span: 24h}\n"
    )
    path = folder / "camfetch.yaml"
    write_atomic(path, text.encode("utf-8"))
    return path


async def _demo(out: Path, port: int, duration: float | None) -> None:
    fleet = demo_fleet.demo_fleet()
    os.environ.setdefault(PASSWORD_VARIABLE, DEFAULT_PASSWORD)
    stop = output.interrupt_event()
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    await demo_fleet.start(fleet)
    background: list[asyncio.Task[None]] = []
    try:
        for member in fleet:
            say(member.device.describe())
        path = write_config(out, fleet, _free(port))
        config = load_config(path)
        service = CaptureService(config)
        output.remember_secrets(service.fleet.secrets())

        def ready(address: str) -> None:
            say("")
            say(f"camfetch demo: {len(fleet)} devices served with timelapse and health jobs")
            say(f"  API       {address}/api/devices   (docs {address}/docs)")
            say(f"  a picture {address}/api/devices/warehouse-nvr/channels/1/latest.jpg")
            say(f"  health    {address}/api/health    metrics {address}/metrics")
            say(f"  config    {path}   data {config.storage.root}")
            note("Ctrl-C to stop; a status line follows every 30 s")
            background.append(asyncio.create_task(demo_fleet.run_scenario(fleet, stop)))
            background.append(asyncio.create_task(_status(service, stop)))

        await serve(service, stop, on_ready=ready)
        say(f"demo stopped; its config and pictures stay in {out.resolve()}")
    finally:
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await demo_fleet.stop(fleet)


async def _status(service: CaptureService, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STATUS_EVERY)
            return
        stats = service.scheduler.stats.get("timelapse")
        gaps = (
            ", ".join(f"{n} {reason}" for reason, n in sorted(stats.gaps.items())) if stats else ""
        )
        health: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for tracker in service.trackers.values():
            for state in tracker.states().values():
                health[state.status.value] += 1
                if state.status.value != "ok":
                    reasons[state.reason.value] += 1
        say(
            f"{datetime.now():%H:%M:%S} captures {stats.done if stats else 0}"
            + (f" (gaps: {gaps})" if gaps else "")
            + " · health: "
            + ", ".join(f"{n} {status}" for status, n in sorted(health.items()))
            + (f" ({', '.join(sorted(reasons))})" if reasons else "")
        )
