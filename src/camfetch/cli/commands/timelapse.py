"""``camfetch timelapse build``: a video of one camera from the pictures the service catalogued.

The configuration (``--config FILE``, else ``camfetch.yaml`` here, as for
``camfetch serve``) says where the catalog and the pictures are and which
time zone a device's clock is in. Nothing is asked of the devices. The
helpers :func:`load`, :func:`open_catalog` and :func:`output_path` are shared with the
other commands that read the service's data (``grid``).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated

import typer

from camfetch import timeutil
from camfetch.cli import output
from camfetch.cli.output import note, print_json, run, say
from camfetch.errors import NothingFoundError, UsageError
from camfetch.jobs.timelapse import (
    DEFAULT_FPS,
    MAX_FPS,
    build_from_catalog,
    human_duration,
    timelapse_filename,
)
from camfetch.service.catalog import Catalog
from camfetch.service.config import Config, DeviceConfig, load_config
from camfetch.service.fleet import device_address
from camfetch.service.storage import LocalStorage

#: The configuration file used when none is named.
DEFAULT_CONFIG = "camfetch.yaml"

timelapse_app = typer.Typer(
    help="Timelapse videos from the pictures the capture service catalogued.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help=f"Service configuration (default: ./{DEFAULT_CONFIG}).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(timelapse_app, name="timelapse")


# -- shared with the other service-data commands ---------------------------------------------


def load(given: Path | None) -> Config:
    """The configuration (``given``, else ./camfetch.yaml); its devices' secrets are masked."""
    config = load_config(given or Path(DEFAULT_CONFIG))
    for cfg in config.devices:
        output.remember_secrets(device_address(cfg).secrets())
    return config


async def open_catalog(config: Config) -> Catalog | None:
    """The service's catalog, or None when it is a SQLite file that does not exist yet.

    Reading commands never create an empty catalog as a side effect.
    """
    from sqlalchemy.engine import make_url

    url = config.catalog_url()
    parsed = make_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not Path(parsed.database or "").exists()
    ):
        return None
    catalog = Catalog(url)
    await catalog.open()
    return catalog


def output_path(text: str, default_name: str) -> Path:
    """The file ``-o`` names; an existing directory or a path ending in / gets ``default_name``.

    The option is read as text because a trailing slash is lost once it is a Path.
    """
    path = Path(text)
    if path.is_dir() or text.endswith(("/", "\\")):
        return path / default_name
    return path


def device_zone(cfg: DeviceConfig) -> tzinfo:
    """The zone of a device's clock as the configuration says (its URL's tz=), else UTC."""
    name = cfg.time_zone or device_address(cfg).options.get("tz")
    return timeutil.zone(name) if name else UTC


# -- timelapse build -----------------------------------------------------------------------------


@timelapse_app.command("build")
def build(
    camera: Annotated[
        str,
        typer.Argument(
            metavar="CAMERA", help="A device of the configuration, or device:channel (number)."
        ),
    ],
    start: Annotated[str, typer.Option("--from", metavar="TIME", help="Start of the range.")],
    end: Annotated[str, typer.Option("--to", metavar="TIME", help="End of the range.")],
    out: Annotated[
        str,
        typer.Option(
            "-o", "--output", metavar="PATH", help="MP4 file to write, or a directory (ends in /)."
        ),
    ],
    fps: Annotated[
        int, typer.Option("--fps", min=1, max=MAX_FPS, help="Video frames per second.")
    ] = DEFAULT_FPS,
    stamp: Annotated[
        bool, typer.Option("--stamp/--no-stamp", help="Stamp the device time on each picture.")
    ] = True,
    width: Annotated[
        int | None,
        typer.Option("--width", min=16, help="Video width in pixels (default: the pictures')."),
    ] = None,
    mark_gaps: Annotated[
        bool,
        typer.Option(
            "--mark-gaps/--no-mark-gaps",
            help="Show a half-second card where pictures are missing.",
        ),
    ] = True,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep", help="Mark the pictures used as kept: retention never deletes them."
        ),
    ] = False,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (see docs).")] = False,
) -> None:
    """Build an H.264 timelapse of one camera's catalogued pictures. Exit 5 if there are none."""
    run(_build(camera, start, end, out, fps, stamp, width, mark_gaps, keep, config, as_json))


async def _build(
    camera: str,
    start_text: str,
    end_text: str,
    out: str,
    fps: int,
    stamp: bool,
    width: int | None,
    mark_gaps: bool,
    keep: bool,
    config_file: Path | None,
    as_json: bool,
) -> None:
    config = load(config_file)
    name, sep, channel_text = camera.partition(":")
    cfg = config.device(name)
    if sep and (not channel_text.isdigit() or int(channel_text) < 1):
        raise UsageError(f"{camera!r}: the channel is a number from 1 (device:channel)")
    tz = device_zone(cfg)
    start = timeutil.resolve(timeutil.parse_user_time(start_text), tz)
    end = timeutil.resolve(timeutil.parse_user_time(end_text), tz)
    if end <= start:
        raise UsageError("--to must be after --from")
    catalog = await open_catalog(config)
    if catalog is None:
        raise NothingFoundError(
            f"there is no catalog yet ({config.catalog_url()}): the service has captured nothing"
        )
    storage = LocalStorage(config.storage.root)
    try:
        channel = int(channel_text) if sep else await _only_channel(catalog, cfg)
        path = output_path(out, timelapse_filename(name, channel, start, end, tz))
        with output.progress_bar("Building", None) as bar:
            task = bar.task_ids[0]

            def advance(done: int, total: int) -> None:
                bar.update(task, total=total, completed=done, detail=f"{done}/{total} pictures")

            result = await build_from_catalog(
                catalog, storage, name, channel, start, end, path, fps=fps, stamp=stamp,
                width=width, mark_gaps=mark_gaps, keep=keep, progress=advance,
            )  # fmt: skip
    finally:
        await catalog.close()
        storage.close()
    if as_json:
        data = {
            "camera": f"{name}:{channel}",
            "device": name,
            "channel": channel,
            "from": start.astimezone(tz).isoformat(),
            "to": end.astimezone(tz).isoformat(),
            "kept": keep,
            **result.to_json(),
        }
        print_json(data)
        return
    say(str(result.path))
    marked = sum(1 for g in result.gaps if g.marked)
    note(
        f"H.264 {result.width}x{result.height}, {result.frames} frames at {result.fps} fps "
        f"= {result.duration:.1f} s from {result.pictures} pictures "
        f"({_local(result.first, tz)} to {_local(result.last, tz)}), "
        f"{result.size / 1e6:.1f} MB in {result.elapsed:.1f} s"
    )
    if result.gaps:
        longest = max(g.seconds for g in result.gaps)
        note(
            f"{len(result.gaps)} gap{'s' if len(result.gaps) != 1 else ''} "
            f"(longest {human_duration(longest)}), {marked} marked in the video"
        )
    if result.skipped:
        output.warn(
            f"{len(result.skipped)} picture{'s' if len(result.skipped) != 1 else ''} skipped "
            f"(unreadable), e.g. {result.skipped[0]}"
        )


async def _only_channel(catalog: Catalog, cfg: DeviceConfig) -> int:
    """The channel meant by a bare device name: its only configured or catalogued channel."""
    if cfg.channels and len(cfg.channels) == 1:
        return cfg.channels[0]
    if cfg.channels:
        numbers = cfg.channels
    else:
        found = next((d for d in await catalog.devices() if d["name"] == cfg.name), None)
        numbers = [c["number"] for c in found["channels"]] if found else []
    if not numbers:
        raise NothingFoundError(f"the catalog has no pictures of {cfg.name}")
    if len(numbers) == 1:
        return int(numbers[0])
    listed = ", ".join(str(n) for n in sorted(numbers))
    raise UsageError(
        f"{cfg.name} has channels {listed}: name one, e.g. {cfg.name}:{sorted(numbers)[0]}"
    )


def _local(device_time: str | None, tz: tzinfo) -> str:
    if device_time is None:
        return "-"
    try:
        moment = datetime.fromisoformat(device_time)
    except ValueError:
        return device_time
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M:%S}"
