"""Many simulated cameras in one process, for benchmarks and load tests.

``python -m camfetch.sim.fleet --count 200 --latency 0.15`` starts 200
single-channel Viewtron cameras on loopback, prints one JSON line per camera
(``{"url": …}``) and then ``{"ready": true}``, and runs until stdin closes or
the process is signalled. Each camera serves one snapshot at a time and
answers after ``latency`` seconds, like a small IP camera.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from camfetch.sim.viewtron import ViewtronSimulator


def build_fleet(
    count: int,
    *,
    latency: float,
    size: tuple[int, int],
    frame_period: float,
    api: str = "2.0",
) -> list[ViewtronSimulator]:
    fleet = []
    for n in range(count):
        sim = ViewtronSimulator(
            api=api,  # type: ignore[arg-type]
            kind="ipc",
            name=f"Camera {n + 1:03d}",
            tz="UTC",
            size=size,
            frame_period=frame_period,
            snapshot_concurrency=1,
            snapshot_delay=latency,
        )
        fleet.append(sim)
    return fleet


async def serve(args: argparse.Namespace) -> None:
    width, _, height = args.size.partition("x")
    fleet = build_fleet(
        args.count,
        latency=args.latency,
        size=(int(width), int(height)),
        frame_period=args.frame_period,
        api=args.api,
    )
    for sim in fleet:
        await sim.start()
        # Render each camera's picture now so the first sweep measures the network path.
        await asyncio.to_thread(sim.frames.jpeg, 1, sim.live_moment())
        print(json.dumps({"url": sim.device_url()}), flush=True)
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
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--latency", type=float, default=0.15, help="seconds each snapshot takes to produce"
    )
    parser.add_argument("--size", default="1920x1080", help="picture size WxH")
    parser.add_argument("--frame-period", type=float, default=3600.0, help="seconds per picture")
    parser.add_argument("--api", choices=["1.9", "2.0"], default="2.0")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
