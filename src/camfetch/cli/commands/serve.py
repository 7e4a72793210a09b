"""``camfetch serve [CONFIG]``: run the configured jobs and the API until Ctrl-C."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from camfetch.cli import output
from camfetch.cli.output import note, run, say
from camfetch.service.config import load_config
from camfetch.service.server import serve as serve_service
from camfetch.service.service import CaptureService

ConfigArg = Annotated[Path, typer.Argument(metavar="CONFIG", help="The configuration file (YAML).")]


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)


def serve(
    config: ConfigArg = Path("camfetch.yaml"),
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=1, help="Stop after this many seconds (default: Ctrl-C)."),
    ] = None,
) -> None:
    """Run the configured jobs (timelapse, health) and the JSON API until Ctrl-C."""
    run(_serve(config, duration))


async def _serve(path: Path, duration: float | None) -> None:
    cfg = load_config(path)
    service = CaptureService(cfg)
    output.remember_secrets(service.fleet.secrets())
    stop = output.interrupt_event()
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)

    def ready(address: str) -> None:
        jobs = ", ".join(f"{j.name} ({j.type})" for j in cfg.jobs) or "none"
        say(f"camfetch serving {len(cfg.devices)} devices; jobs: {jobs}")
        say(f"API {address}/api/devices  (OpenAPI docs {address}/docs, metrics {address}/metrics)")
        note(f"pictures and catalog under {cfg.storage.root}; Ctrl-C to stop")

    await serve_service(service, stop, on_ready=ready)
