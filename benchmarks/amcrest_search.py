"""Recording search over a busy day on a simulated Amcrest/Dahua device: time and requests.

A simulated camera (Digest, ``Connection: close`` on every answer, as the devices
do) records around the clock with many events and a short pack duration (a new
file every ``--pack-minutes``), so one day holds thousands of files (defaults:
60 events an hour, 1-minute packs: about 2,300 files). It runs in a thread with
its own event loop; the client runs in the main one. Measured:

- camfetch: ``Device.search`` over the whole day (device time, yesterday):
  ``factory.create`` → ``findFile`` → ``findNextFile`` (100 a page) until
  ``found=0`` → ``close`` → ``destroy``; the segments it yields are checked
  against the simulator's archive;
- for reference, python-amcrest's ``find_files`` on the same day (synchronous,
  ``requests``; it logs in with Basic first, and ends with ``factory.close``/
  ``factory.destroy``, which the device refuses: its finder leaks).

Each figure is the median of ``--repeat`` runs; requests are counted on the
device, 401 answers included.

    python benchmarks/amcrest_search.py [--events-per-hour 60] [--pack-minutes 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from amcrest.exceptions import CommError

from amcrest import AmcrestCamera
from camfetch import timeutil
from camfetch.registry import open_device
from camfetch.sim.amcrest import AmcrestSimulator

T = TypeVar("T")


class SimThread:
    """The simulator in its own thread and event loop, like a device on the network."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def camfetch_search(sim: AmcrestSimulator, start: datetime, end: datetime) -> dict[str, Any]:
    async with open_device(sim.secret_url()) as dev:
        await dev.channels()  # opening costs (auth, channel list) are not the search
        requests, refusals = sim.requests, sim.unauthorized
        began = time.perf_counter()
        segments = [s async for s in dev.search(1, start, end)]
        seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "files": len(segments),
        "requests": sim.requests - requests,
        "unauthorized": sim.unauthorized - refusals,
        "open_finders_after": sim.open_finders,
        "segments": segments,
    }


def python_amcrest_search(sim: AmcrestSimulator, start: datetime, end: datetime) -> dict[str, Any]:
    camera = AmcrestCamera(
        "127.0.0.1", sim.port, sim.username, sim.password, retries_connection=0
    ).camera
    camera.serial_number  # noqa: B018 - log in first, as camfetch's channel list does
    requests, refusals = sim.requests, sim.unauthorized
    began = time.perf_counter()
    pages: list[str] = []
    first, last = timeutil.to_wall(start, sim.clock.tz), timeutil.to_wall(end, sim.clock.tz)
    try:
        for page in camera.find_files(first, last, channel=1, types=["dav"]):
            pages.append(page)
    except CommError:
        pass  # factory.close: 501 on current firmware, after every page was read
    seconds = time.perf_counter() - began
    files = sum(int(page.split("\r\n", 1)[0].partition("=")[2]) for page in pages)
    leaked = sim.open_finders
    sim.finders.clear()  # the leak, cleaned up so the next run can search
    return {
        "seconds": seconds,
        "files": files,
        "requests": sim.requests - requests,
        "unauthorized": sim.unauthorized - refusals,
        "open_finders_after": leaked,
    }


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=["legacy", "modern"], default="modern")
    parser.add_argument("--events-per-hour", type=float, default=60.0)
    parser.add_argument("--pack-minutes", type=int, default=1, help="a new file every N minutes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    sims = SimThread()
    sim = AmcrestSimulator(
        profile=args.profile,
        name="Busy",
        tz="Europe/Berlin",
        events_per_hour=args.events_per_hour,
        pack_minutes=args.pack_minutes,
    )
    sims.call(sim.start())
    try:
        yesterday = (timeutil.utcnow() - timedelta(days=1)).astimezone(sim.clock.tz)
        midnight = datetime(yesterday.year, yesterday.month, yesterday.day)
        start = timeutil.from_wall(midnight, sim.clock.tz)
        end = timeutil.from_wall(midnight + timedelta(days=1), sim.clock.tz)
        truth = len([f for f in sim.files(1, start, end) if f.type == "dav"])
        ours = [asyncio.run(camfetch_search(sim, start, end)) for _ in range(args.repeat)]
        for run in ours:
            del run["segments"]
            if run["files"] != truth:
                raise SystemExit(f"camfetch found {run['files']} files, the archive has {truth}")
        theirs = [python_amcrest_search(sim, start, end) for _ in range(args.repeat)]
    finally:
        sims.call(sim.stop())
        sims.close()
    figures = {
        "profile": args.profile,
        "day": f"{start.astimezone(sim.clock.tz):%Y-%m-%d} (device time)",
        "files": truth,
        "repeat": args.repeat,
        "camfetch_seconds": median_of(ours, "seconds"),
        "camfetch_requests": median_of(ours, "requests"),
        "camfetch_401": median_of(ours, "unauthorized"),
        "camfetch_open_finders_after": max(run["open_finders_after"] for run in ours),
        "python_amcrest_seconds": median_of(theirs, "seconds"),
        "python_amcrest_requests": median_of(theirs, "requests"),
        "python_amcrest_401": median_of(theirs, "unauthorized"),
        "python_amcrest_open_finders_after": max(run["open_finders_after"] for run in theirs),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    f = figures
    print(f"search over a busy day: {f['files']} files on {f['day']}, {args.profile} profile")
    print(f"median of {args.repeat} runs      time      requests  (401s)  finders left open")
    print(
        f"  camfetch         {f['camfetch_seconds'] * 1000:7.0f} ms  {f['camfetch_requests']:8.0f}"
        f"  ({f['camfetch_401']:.0f})     {f['camfetch_open_finders_after']}"
    )
    print(
        f"  python-amcrest   {f['python_amcrest_seconds'] * 1000:7.0f} ms  "
        f"{f['python_amcrest_requests']:8.0f}  ({f['python_amcrest_401']:.0f})     "
        f"{f['python_amcrest_open_finders_after']}"
    )
    print(f"  files per second (camfetch): {f['files'] / f['camfetch_seconds']:.0f}")


if __name__ == "__main__":
    main()
