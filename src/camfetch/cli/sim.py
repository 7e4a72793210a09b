"""``camfetch sim <vendor>``: run a simulated device until Ctrl-C.

Each vendor's command lives in its own module under :mod:`camfetch.cli.sims`
and registers itself on :data:`sim_app`; :func:`load_vendor_commands` imports
them all. Options every simulator shares are defined here.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from camfetch.cli.output import out, say
from camfetch.sim.base import DEFAULT_PASSWORD, SimulatedDevice
from camfetch.sim.faults import Fault, FaultPlan

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


async def serve_until_stopped(devices: list[SimulatedDevice]) -> None:
    """Start the devices, print how to reach them, run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for device in devices:
            await device.start()
        for device in devices:
            say(device.describe())
            if device.password == DEFAULT_PASSWORD:
                # The documented default of simulators is no secret: show a URL that works as is.
                out.print(f"  device URL: {device.device_url()}", markup=False)
            else:
                say(f"  device URL: {device.device_url()}  (password as given with --password)")
        say("Press Ctrl-C to stop.")
        await stop.wait()
    finally:
        for device in devices:
            await device.stop()


def load_vendor_commands() -> None:
    """Import every module of camfetch.cli.sims; each adds its ``sim <vendor>`` command."""
    import importlib
    import pkgutil

    from camfetch.cli import sims

    for module in pkgutil.iter_modules(sims.__path__):
        importlib.import_module(f"{sims.__name__}.{module.name}")
