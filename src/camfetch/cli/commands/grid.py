"""``camfetch grid``: the latest picture of every configured camera on one labelled JPEG.

Every camera is asked for a fresh snapshot at once (each device still serves
only as many requests at a time as its ``max_requests`` allows); a camera that
fails is shown with its latest catalogued picture, and one without either as
an ``offline`` (or ``no picture``) tile. ``--catalog-only`` asks no device.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from camfetch import timeutil
from camfetch.cli import output
from camfetch.cli.commands.timelapse import load, open_catalog, output_path
from camfetch.cli.output import print_json, run, say
from camfetch.errors import CamfetchError, NothingFoundError, UnreachableError
from camfetch.jobs.grid import DEFAULT_WIDTH, Tile, make_grid
from camfetch.service.catalog import Catalog
from camfetch.service.config import Config
from camfetch.service.fleet import Fleet
from camfetch.service.storage import LocalStorage

#: Snapshots in flight at once over the whole fleet (each device has its own limit too).
MAX_IN_FLIGHT = 64


def register(app: typer.Typer) -> None:
    app.command("grid")(grid)


def grid(
    out: Annotated[
        str,
        typer.Option(
            "-o", "--output", metavar="PATH", help="JPEG file to write, or a directory (ends in /)."
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Argument(
            metavar="[CONFIG]",
            help="Service configuration (default: ./camfetch.yaml).",
        ),
    ] = None,
    cols: Annotated[
        int | None, typer.Option("--cols", min=1, help="Columns (default: as square as fits).")
    ] = None,
    width: Annotated[
        int, typer.Option("--width", min=64, max=16384, help="Width of the sheet in pixels.")
    ] = DEFAULT_WIDTH,
    catalog_only: Annotated[
        bool,
        typer.Option("--catalog-only", help="Ask no device: the latest catalogued pictures only."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (see docs).")] = False,
) -> None:
    """A contact sheet of the latest picture of every camera, labelled with name and time."""
    run(_grid(config, out, cols, width, catalog_only, as_json))


@dataclass(frozen=True, slots=True)
class _Found:
    """One camera's tile and where its picture came from."""

    device: str
    tile: Tile
    source: str  # "fresh", "catalog" or "none"
    error: CamfetchError | None = None

    def to_json(self) -> dict[str, Any]:
        tile = self.tile
        return {
            "camera": self.device if tile.channel is None else f"{self.device}:{tile.channel}",
            "device": self.device,
            "channel": tile.channel,
            "source": self.source,
            "time": tile.time.isoformat() if tile.time else None,
            "error": f"{self.error.kind}: {self.error.message}" if self.error else None,
        }


async def _grid(
    config_file: Path | None,
    out: str,
    cols: int | None,
    width: int,
    catalog_only: bool,
    as_json: bool,
) -> None:
    config = load(config_file)
    fleet = Fleet(config)
    catalog = await open_catalog(config)
    storage = LocalStorage(config.storage.root)
    try:
        cameras = await _cameras(config, fleet, catalog, catalog_only)
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        label = "Reading the catalog" if catalog_only else "Taking snapshots"
        with output.progress_bar(label, len(cameras)) as bar:

            async def one(device: str, channel: int | None) -> _Found:
                async with slots:
                    found = await _picture(
                        device, channel, fleet, catalog, storage, fresh=not catalog_only
                    )
                bar.advance(bar.task_ids[0])
                return found

            found = await asyncio.gather(*(one(d, c) for d, c in cameras))
        path = output_path(out, f"grid_{timeutil.utcnow().astimezone():%Y%m%d-%H%M%S}.jpg")
        result = await make_grid([f.tile for f in found], path, width=width, cols=cols)
    finally:
        await fleet.close()
        if catalog is not None:
            await catalog.close()
        storage.close()
    if as_json:
        tiles = []
        for item, outcome in zip(found, result.tiles, strict=True):
            entry = item.to_json()
            entry["drawn"] = outcome.drawn
            entry["problem"] = outcome.problem
            tiles.append(entry)
        print_json({**result.to_json(), "tiles": tiles})
    else:
        say(str(result.path))
        counts: defaultdict[str, int] = defaultdict(int)
        for item in found:
            counts[item.source] += 1
        output.note(
            f"{len(found)} cameras on {result.cols}x{result.rows} tiles "
            f"({result.width}x{result.height}): {counts['fresh']} fresh, "
            f"{counts['catalog']} from the catalog, {counts['none']} without a picture"
        )
    if result.pictures == 0:
        raise NothingFoundError("no camera gave a picture: every tile of the sheet is empty")


async def _cameras(
    config: Config, fleet: Fleet, catalog: Catalog | None, catalog_only: bool
) -> list[tuple[str, int | None]]:
    """(device, channel) of every camera in configuration order; channel None if unknown.

    Channels come from the configuration, else the device (unless
    ``catalog_only``), else the catalog; a device known by none of them gets
    one tile of its own.
    """
    listed: dict[str, list[int]] = defaultdict(list)
    if not catalog_only:
        # Ask every device for its channels at once; resolve() then reads the answers.
        await asyncio.gather(*(fleet.channels(name) for name in fleet.names()))
        for target in await fleet.resolve(["*"]):
            listed[target.device].append(target.channel)
    catalogued: dict[str, list[int]] = {}
    if catalog is not None:
        for device in await catalog.devices():
            catalogued[device["name"]] = [int(c["number"]) for c in device["channels"]]
    cameras: list[tuple[str, int | None]] = []
    for cfg in config.devices:
        numbers = listed.get(cfg.name) or cfg.channels or catalogued.get(cfg.name) or []
        if numbers:
            cameras += [(cfg.name, number) for number in sorted(numbers)]
        else:
            cameras.append((cfg.name, None))
    return cameras


async def _picture(
    device: str,
    channel: int | None,
    fleet: Fleet,
    catalog: Catalog | None,
    storage: LocalStorage,
    *,
    fresh: bool,
) -> _Found:
    """A fresh snapshot, else the latest catalogued picture, else an empty tile."""
    error: CamfetchError | None = None
    if channel is None:
        if not fresh:
            return _Found(device, Tile(device, None, missing="no picture"), "none")
        error = UnreachableError("could not list its channels", device=device)
        return _Found(device, Tile(device, None, missing="offline"), "none", error)
    if fresh:
        try:
            snap = await fleet.device(device).snapshot(channel)
        except CamfetchError as exc:
            error = exc
        else:
            return _Found(device, Tile(device, channel, snap.data, snap.device_time), "fresh")
    if catalog is not None:
        channel_id = await catalog.channel_id(device, channel)
        capture = await catalog.latest_capture(channel_id) if channel_id is not None else None
        if capture is not None:
            data: bytes | None = None
            with contextlib.suppress(OSError, CamfetchError):
                data = await storage.read(capture.path)
            if data is not None:
                when: datetime | None
                try:
                    when = datetime.fromisoformat(capture.device_time)
                except ValueError:
                    when = capture.utc
                tile = Tile(device, channel, data, when, note="from catalog")
                return _Found(device, tile, "catalog", error)
    if error is None:
        return _Found(device, Tile(device, channel, missing="no picture"), "none")
    missing = "offline" if isinstance(error, UnreachableError) else error.kind
    return _Found(device, Tile(device, channel, note=error.kind, missing=missing), "none", error)
