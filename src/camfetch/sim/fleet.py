"""Many simulated devices in one process, for benchmarks and load tests.

``python -m camfetch.sim.fleet --vendor viewtron --count 200 --latency 0.15``
starts 200 single-channel devices on loopback, prints one JSON line per device
(``{"url": …, "bare": {"url", "auth", "username", "password"}}``: the camfetch
URL, and how a plain HTTP client fetches the same snapshot) and then
``{"ready": true}``, and runs until stdin closes or the process is signalled.
Each device takes ``latency`` seconds per snapshot and serves one at a time,
like a small IP camera. Each vendor's simulator module provides
``fleet_member(number, *, latency, size)``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import signal
import sys
from collections.abc import Callable

from camfetch.sim.base import SimulatedDevice

#: vendor name -> "module:function" building one fleet member.
MEMBERS: dict[str, str] = {
    "viewtron": "camfetch.sim.viewtron:fleet_member",
    "amcrest": "camfetch.sim.amcrest:fleet_member",
    "2n": "camfetch.sim.two_n:fleet_member",
    "flussonic-jpg": "camfetch.sim.flussonic:fleet_member_jpeg",
    "flussonic-mp4": "camfetch.sim.flussonic:fleet_member_mp4",
}


def member_factory(vendor: str) -> Callable[..., SimulatedDevice]:
    module, _, name = MEMBERS[vendor].partition(":")
    factory: Callable[..., SimulatedDevice] = getattr(importlib.import_module(module), name)
    return factory


def build_fleet(
    vendor: str, count: int, *, latency: float, size: tuple[int, int], channels: int = 1
) -> list[SimulatedDevice]:
    """``count`` devices; ``channels`` > 1 makes recorders (vendors that have them)."""
    make = member_factory(vendor)
    extra = {"channels": channels} if channels > 1 else {}
    return [make(n + 1, latency=latency, size=size, **extra) for n in range(count)]


async def serve(args: argparse.Namespace) -> None:
    width, _, height = args.size.partition("x")
    fleet = build_fleet(
        args.vendor,
        args.count,
        latency=args.latency,
        size=(int(width), int(height)),
        channels=args.channels,
    )
    for sim in fleet:
        await sim.start()
        if args.channels == 1:
            await sim.warm_up()
        bare = dataclasses.asdict(sim.snapshot_request(1))
        print(json.dumps({"url": sim.secret_url(), "bare": bare}), flush=True)
    print(json.dumps({"ready": True}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    await stop.wait()
    for sim in fleet:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vendor", choices=sorted(MEMBERS), default="viewtron")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--latency", type=float, default=0.15, help="seconds each snapshot takes to produce"
    )
    parser.add_argument("--size", default="1920x1080", help="picture size WxH")
    parser.add_argument("--channels", type=int, default=1, help="channels per device (NVRs)")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
