"""``camfetch sim <vendor>``: run a simulated device until Ctrl-C.

Each vendor's command lives in its own module under :mod:`camfetch.cli.sims`
and registers itself on :data:`sim_app`; :func:`load_vendor_commands` imports
them all. Options every simulator shares are defined here, and so are the
options of ``camfetch sim`` itself (``--picture``, ``--offline-after``), which
come before the vendor and apply to whichever simulator runs.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated

import typer

from camfetch.cli.output import out, say
from camfetch.sim.base import DEFAULT_PASSWORD, SimulatedDevice
from camfetch.sim.faults import Fault, FaultPlan
from camfetch.sim.frames import PictureMode

sim_app = typer.Typer(
    help="Run a simulated device (for tests, demos and integrators without hardware).",
    no_args_is_help=True,
)

PortOpt = Annotated[
    int, typer.Option("--port", "-p", min=0, max=65535, help="HTTP port (0: any free).")
]
UserOpt = Annotated[str, typer.Option("--user", help="User name the device accepts.")]
PasswordOpt = Annotated[
    str,
    typer.Option("--password", help=f"Password the device accepts (default {DEFAULT_PASSWORD})."),
]
TzOpt = Annotated[str, typer.Option("--tz", help="The device clock's time zone.")]
SkewOpt = Annotated[float, typer.Option("--skew", help="Device clock minus true time, seconds.")]
HostOpt = Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")]
LatencyOpt = Annotated[
    float, typer.Option("--latency", min=0, help="Seconds added to every answer.")
]
FaultOpt = Annotated[Fault, typer.Option("--fault", help="Misbehave in this way.")]
FaultRateOpt = Annotated[
    float, typer.Option("--fault-rate", min=0, max=1, help="Share of answers the fault hits.")
]
FaultOnOpt = Annotated[
    list[str] | None, typer.Option("--fault-on", metavar="COMMAND", help="Only these commands.")
]


def apply_faults(
    plan: FaultPlan, fault: Fault, rate: float, only: list[str] | None, latency: float
) -> None:
    plan.fault = fault
    plan.rate = rate
    plan.only = frozenset(only or ())
    plan.latency = latency


@dataclass
class SimConditions:
    """How simulators misbehave from the start: ``camfetch sim --picture … <vendor>``."""

    pictures: dict[int | None, PictureMode] = field(default_factory=dict)  # None: every channel
    offline_after: float | None = None
    offline_for: float = 30.0

    def describe(self) -> list[str]:
        lines = [
            f"  picture: {mode.value} on {'every channel' if ch is None else f'channel {ch}'}"
            for ch, mode in self.pictures.items()
            if mode is not PictureMode.NORMAL
        ]
        if self.offline_after is not None:
            lines.append(
                f"  offline {self.offline_after:g} s after starting, for {self.offline_for:g} s"
            )
        return lines

    def apply(self, devices: list[SimulatedDevice]) -> list[asyncio.Task[None]]:
        """Set the pictures on started devices; returns the outage tasks (cancel on exit)."""
        for device in devices:
            for channel, mode in self.pictures.items():
                device.set_picture(mode, channel)
        if self.offline_after is None:
            return []
        return [
            asyncio.create_task(device.outage(self.offline_for, after=self.offline_after))
            for device in devices
        ]


#: Set by the ``camfetch sim`` options; serve_until_stopped applies them to every device.
CONDITIONS = SimConditions()


def check_choices(*checks: tuple[str, str, Collection[str]]) -> None:
    """Each ``(flag, value, allowed)``: a value not allowed is a usage error naming them."""
    for flag, value, allowed in checks:
        if value not in allowed:
            raise typer.BadParameter(f"{flag} must be one of {', '.join(sorted(allowed))}")


def parse_pictures(values: list[str]) -> dict[int | None, PictureMode]:
    """``black`` (every channel) or ``3=frozen`` (channel 3), as ``--picture`` takes them."""
    pictures: dict[int | None, PictureMode] = {}
    for value in values:
        channel_text, sep, mode_text = value.rpartition("=")
        try:
            mode = PictureMode(mode_text.strip().lower())
            channel = int(channel_text) if sep else None
        except ValueError:
            raise typer.BadParameter(
                f"{value!r}: expected normal, black or frozen, or CHANNEL=MODE such as 2=black"
            ) from None
        if channel is not None and channel < 1:
            raise typer.BadParameter(f"{value!r}: channels are numbered from 1")
        pictures[channel] = mode
    return pictures


@sim_app.callback()
def sim_options(
    picture: Annotated[
        list[str] | None,
        typer.Option(
            "--picture",
            metavar="[CH=]MODE",
            help="Live picture: normal, black or frozen, on every channel or CH=MODE on one "
            "(repeatable).",
        ),
    ] = None,
    offline_after: Annotated[
        float | None,
        typer.Option(
            "--offline-after", metavar="S", min=0, help="Go offline S seconds after starting."
        ),
    ] = None,
    offline_for: Annotated[
        float,
        typer.Option(
            "--offline-for", metavar="S", min=0.1, help="Come back after S seconds offline."
        ),
    ] = 30.0,
) -> None:
    """Conditions for any simulator, given before the vendor: sim --picture black viewtron."""
    CONDITIONS.pictures = parse_pictures(picture or [])
    CONDITIONS.offline_after = offline_after
    CONDITIONS.offline_for = offline_for


async def serve_until_stopped(devices: list[SimulatedDevice]) -> None:
    """Start the devices, print how to reach them, run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    outages: list[asyncio.Task[None]] = []
    try:
        for device in devices:
            await device.start()
        outages = CONDITIONS.apply(devices)
        for device in devices:
            say(device.describe())
            if device.password == DEFAULT_PASSWORD:
                # The documented default of simulators is no secret: show a URL that works as is.
                out.print(f"  device URL: {device.device_url()}", markup=False)
            else:
                say(f"  device URL: {device.device_url()}  (password as given with --password)")
        for line in CONDITIONS.describe():
            say(line)
        say("Press Ctrl-C to stop.")
        await stop.wait()
    finally:
        for outage in outages:
            outage.cancel()
        for device in devices:
            await device.stop()


def load_vendor_commands() -> None:
    """Import every module of camfetch.cli.sims; each adds its ``sim <vendor>`` command."""
    import importlib
    import pkgutil

    from camfetch.cli import sims

    for module in pkgutil.iter_modules(sims.__path__):
        importlib.import_module(f"{sims.__name__}.{module.name}")
