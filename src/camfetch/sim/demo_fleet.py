"""The simulated fleet of the demo and the tour: one or more devices of every vendor.

Each device keeps its own clock zone, recordings of the last days and the
protocol quirks of its vendor. :func:`run_scenario` then makes the fleet
misbehave the way real ones do, so every health reason shows up: a black
channel, a frozen one, a camera that drops off the network now and then, a slow
one, and a clock that is five minutes off.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from camfetch.sim.base import SimulatedDevice


@dataclass(frozen=True, slots=True)
class Member:
    key: str  # the device's name in configs: folders and API paths
    device: SimulatedDevice
    url_options: str = ""  # extra URL options a client needs (self-signed HTTPS)


def demo_fleet() -> list[Member]:
    """Every vendor camfetch supports, as devices a site could have."""
    from camfetch.sim.amcrest import AmcrestSimulator
    from camfetch.sim.flussonic import FlussonicSimulator
    from camfetch.sim.two_n import TwoNSimulator
    from camfetch.sim.viewtron import ViewtronSimulator

    return [
        Member(
            "front-door",
            ViewtronSimulator(
                api="1.9", kind="ipc", name="Front Door", tz="America/New_York",
                snapshot_by_time="h264",
            ),
        ),
        Member(
            "warehouse-nvr",
            ViewtronSimulator(
                api="2.0", kind="nvr", channels=4, name="Warehouse NVR", tz="Europe/Berlin"
            ),
        ),
        Member(
            "loading-dock",
            AmcrestSimulator(profile="modern", channels=2, name="Loading Dock", tz="Asia/Tokyo"),
        ),
        Member("main-gate", TwoNSimulator(name="Main Gate", tz="Europe/Prague")),
        Member(
            "city-watcher",
            FlussonicSimulator(
                watcher=True, cameras=3, name="City Watcher", tz="Europe/Amsterdam",
                titles=["Square", "Harbour", "Bridge"],
            ),
        ),
    ]  # fmt: skip


async def start(fleet: list[Member]) -> None:
    for member in fleet:
        await member.device.start()


async def stop(fleet: list[Member]) -> None:
    for member in fleet:
        with contextlib.suppress(Exception):
            await member.device.stop()


def url(member: Member) -> str:
    """The device URL for camfetch (the simulators' password is the public default)."""
    base = member.device.device_url(reveal_password=True)
    return base + (("&" if "?" in base else "?") + member.url_options if member.url_options else "")


async def run_scenario(fleet: list[Member], stop_event: asyncio.Event) -> None:
    """Black, frozen, slow and skewed devices for good, one that comes and goes."""
    devices = {m.key: m.device for m in fleet}
    devices["warehouse-nvr"].set_picture("black", channel=3)
    devices["warehouse-nvr"].set_picture("frozen", channel=4)
    await devices["loading-dock"].set_condition(skew=300.0)
    await devices["main-gate"].set_condition(latency=1.5)
    door = devices["front-door"]
    while not stop_event.is_set():  # offline for 40 s every two minutes
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), 80)
            return
        await door.go_offline()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), 40)
        await door.come_back()
