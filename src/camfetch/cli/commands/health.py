"""``camfetch health [CONFIG|DEVICE] [--json] [--samples N]``: check every camera once.

Every channel of every configured device (or of the one device URL given) is
checked: reachable, credentials accepted, snapshot latency, the JPEG decodes,
not black, not frozen, the expected size, the device's clock. Devices are
checked at the same time, the channels of one device one after the other.
Exit code 0 when every channel is ok, :data:`NOT_OK` (10) otherwise;
docs/health.md describes the reasons and statuses.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from camfetch.cli import output
from camfetch.cli.output import print_json, run, say
from camfetch.errors import CamfetchError, NothingFoundError, UsageError

if TYPE_CHECKING:
    from camfetch.jobs.health import Observation
    from camfetch.service.config import Config
    from camfetch.service.fleet import Fleet

#: Exit code when a camera is not ok (degraded or offline); errors.EXIT_CODES lists it.
NOT_OK = 10
#: The configuration read when no CONFIG is given.
DEFAULT_CONFIG = Path("camfetch.yaml")

_STYLE = {"ok": "green", "degraded": "yellow", "offline": "red"}


def register(app: typer.Typer) -> None:
    app.command("health")(health)


def health(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[CONFIG|DEVICE]",
            help="A configuration file (default: camfetch.yaml here) or one device URL.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (see docs/health.md).")
    ] = False,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            min=1,
            help="Snapshots per channel, to see a frozen picture "
            "(default: the frozen_checks threshold, 3).",
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between a channel's snapshots.")
    ] = 1.0,
) -> None:
    """Check every camera once: reachable, picture real, clock right. Exit 10 if one is not ok."""
    run(_health(target, as_json, samples, interval))


def _load(target: str | None) -> tuple[Config, str | None]:
    """The configuration to check, and the file it came from (None for a device URL)."""
    from camfetch.address import DeviceAddress
    from camfetch.service.config import Config, DeviceConfig, load_config

    if target is not None and "://" in target:
        address = DeviceAddress.parse(target)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", address.host).strip("-.") or "device"
        return Config(devices=[DeviceConfig(name=name, url=target)]), None
    path = Path(target) if target is not None else DEFAULT_CONFIG
    if target is None and not path.exists():
        raise UsageError(
            f"no CONFIG or DEVICE given and there is no {DEFAULT_CONFIG} in this directory"
        )
    return load_config(path), str(path)


async def _health(target: str | None, as_json: bool, samples: int | None, interval: float) -> int:
    from camfetch.jobs.health import HealthMemory, Observation, parse_size, sample_device
    from camfetch.service.config import HealthJob, Thresholds
    from camfetch.service.fleet import Fleet

    config, source = _load(target)
    jobs = [job for job in config.jobs if isinstance(job, HealthJob)]
    thresholds = jobs[0].thresholds if jobs else Thresholds()
    rounds = samples or thresholds.frozen_checks
    if rounds < thresholds.frozen_checks:
        output.note(
            f"{rounds} snapshot{'s' if rounds != 1 else ''} per channel: a frozen picture shows "
            f"only after {thresholds.frozen_checks} (--samples {thresholds.frozen_checks})"
        )
    fleet = Fleet(config)
    output.remember_secrets(fleet.secrets())
    memory = HealthMemory(clock_max_age=float("inf"))  # one run: each clock is read once
    started = datetime.now(UTC)
    try:
        for name in fleet.names():
            fleet.device(name)  # a URL no driver takes is a usage error, before any request
        with output.progress_bar("Checking", None) as bar:
            task = bar.task_ids[0]

            def done(_: Observation) -> None:
                bar.advance(task)

            async def one(name: str) -> list[Observation]:
                device = fleet.device(name)
                channels = await _channels(fleet, name)
                if isinstance(channels, CamfetchError):
                    failed = Observation.of_error(device.label, None, channels, checked=started)
                    done(failed)
                    return [failed]
                bar.update(task, total=(bar.tasks[0].total or 0) + len(channels))
                cfg = config.device(name)
                return await sample_device(
                    device, channels, samples=rounds, interval=interval, thresholds=thresholds,
                    expected_size=parse_size(cfg.expected_size), memory=memory, on_result=done,
                )  # fmt: skip

            names = fleet.names()
            results = await asyncio.gather(*(one(name) for name in names))
    finally:
        await fleet.close()
    rows = [(name, obs) for name, found in zip(names, results, strict=True) for obs in found]
    if not rows:
        raise NothingFoundError("the configuration lists no devices to check")
    if as_json:
        print_json(_json(fleet, source, started, rows))
    else:
        _table(rows)
    return 0 if all(obs.ok for _, obs in rows) else NOT_OK


async def _channels(fleet: Fleet, name: str) -> list[int] | CamfetchError:
    """The channels to check on a device (configured, or as it lists them), or why none."""
    if not fleet.config.device(name).channels:
        try:
            await fleet.device(name).channels()
        except UsageError:
            raise
        except CamfetchError as exc:
            return exc
    found = [target.channel for target in await fleet.resolve([name])]
    if not found:
        return NothingFoundError("the device lists no channels")
    return found


def _json(
    fleet: Fleet, source: str | None, started: datetime, rows: list[tuple[str, Observation]]
) -> dict[str, Any]:
    counts = {"ok": 0, "degraded": 0, "offline": 0}
    for _, obs in rows:
        counts[obs.status.value] += 1
    urls = {name: fleet.device(name).address.masked() for name in fleet.names()}
    return {
        "config": source,
        "checked": started.isoformat(),
        "ok": counts["ok"] == len(rows),
        "counts": counts,
        "channels": [{"device": name, "url": urls[name], **obs.to_json()} for name, obs in rows],
    }


def _table(rows: list[tuple[str, Observation]]) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("device", "channel", "status", "reason", "latency", "size", "luma", "skew"):
        right = column in {"channel", "latency", "luma", "skew"}
        table.add_column(column, justify="right" if right else "left")
    for name, obs in rows:
        table.add_row(
            output.clean(name),
            "-" if obs.channel is None else str(obs.channel),
            f"[{_STYLE[obs.status.value]}]{obs.status.value}[/]",
            obs.reason.value,
            "-" if obs.latency is None else f"{obs.latency:.2f} s",
            "-" if obs.width is None else f"{obs.width}x{obs.height}",
            "-" if obs.luma is None else f"{obs.luma:.0f}",
            "-" if obs.skew is None else f"{obs.skew:+.0f} s",
        )
    output.out.print(table)
    for name, obs in rows:
        if not obs.ok:
            where = name if obs.channel is None else f"{name}:{obs.channel}"
            say(f"{where}: {obs.reason.value}: {obs.detail}")
    counts = {status: sum(obs.status.value == status for _, obs in rows) for status in _STYLE}
    say(
        f"{len(rows)} channel{'s' if len(rows) != 1 else ''}: {counts['ok']} ok, "
        f"{counts['degraded']} degraded, {counts['offline']} offline"
    )
