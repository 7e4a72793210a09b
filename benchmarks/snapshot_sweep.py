"""Snapshot sweep over a simulated fleet: camfetch's snapshot path against a bare loop.

A fleet of single-channel devices of one vendor (``--vendor``) runs in a
separate process (so it does not share the client's event loop): each takes
``--latency`` seconds (150 ms) to produce a snapshot and serves one request at
a time. Two clients are measured in the same run, taking turns:

- bare: one aiohttp session, the snapshot request each simulator describes
  (its URL, with Basic or Digest auth or none), read, discard;
- camfetch: devices opened through the registry, sharing one HttpPool, and
  ``save_snapshot``: fetch, JPEG check, atomic write (temp file + rename) of
  each camera's latest picture into a directory on the local disk.

Two figures come out of one run:

- throughput: every camera polled in its own loop (ask, handle, ask again)
  for ``--seconds``; snapshots per second of each client and their ratio
  (target: camfetch at least 0.8 of the bare loop);
- sweep: all cameras asked at the same instant, until the last picture is
  written; the median camfetch sweep time against the latency floor (target:
  within 2x).

    python benchmarks/snapshot_sweep.py [--vendor viewtron] [--cameras 200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from camfetch.address import DeviceAddress
from camfetch.device import Device
from camfetch.http import HttpPool
from camfetch.jobs.capture import save_snapshot
from camfetch.registry import open_device

Member = dict[str, Any]  # {"url": camfetch URL, "bare": {url, auth, username, password}}


def start_fleet(
    vendor: str, count: int, latency: float, size: str
) -> tuple[subprocess.Popen[str], list[Member]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "camfetch.sim.fleet", "--vendor", vendor, "--count", str(count),
         "--latency", str(latency), "--size", size],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    members: list[Member] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        if message.get("ready"):
            return proc, members
        members.append(message)
    raise RuntimeError("the fleet did not start")


class BareTarget:
    """One device as a plain aiohttp client sees it: a URL and its authentication."""

    def __init__(self, bare: dict[str, str]) -> None:
        self.url = bare["url"]
        self.headers: dict[str, str] = {}
        self.middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
        if bare["auth"] == "basic":
            token = base64.b64encode(f"{bare['username']}:{bare['password']}".encode()).decode()
            self.headers["Authorization"] = "Basic " + token
        elif bare["auth"] == "digest":
            self.middlewares = (aiohttp.DigestAuthMiddleware(bare["username"], bare["password"]),)


async def bare_fetch(session: aiohttp.ClientSession, target: BareTarget) -> int:
    async with session.get(
        target.url, headers=target.headers, middlewares=target.middlewares
    ) as response:
        body = await response.read()
    assert response.status == 200 and body, response.status
    return len(body)


async def camfetch_fetch(device: Device, path: Path) -> int:
    saved = await save_snapshot(device, 1, path, durable=False)
    return saved.snapshot.size


async def poll(fetch: Callable[[int], Awaitable[int]], count: int, seconds: float) -> float:
    """Every camera in its own loop for ``seconds``; snapshots per second."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(n: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await fetch(n)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(count)))
    return done / (time.perf_counter() - started)


async def sweep(fetch: Callable[[int], Awaitable[int]], count: int) -> float:
    """All cameras at once; seconds until the last one is done."""
    started = time.perf_counter()
    await asyncio.gather(*(fetch(n) for n in range(count)))
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict[str, float]:
    proc, members = start_fleet(args.vendor, args.cameras, args.latency, args.size)
    pool = HttpPool()
    try:
        addresses = [DeviceAddress.parse(m["url"]) for m in members]
        targets = [BareTarget(m["bare"]) for m in members]
        devices = [open_device(a, pool=pool) for a in addresses]
        with tempfile.TemporaryDirectory(prefix="camfetch-bench-", dir=args.dir) as tmp:
            folder = Path(tmp)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                clients: dict[str, Callable[[int], Awaitable[int]]] = {
                    "bare": lambda n: bare_fetch(session, targets[n]),
                    "camfetch": lambda n: camfetch_fetch(devices[n], folder / f"cam{n:03d}.jpg"),
                }
                for fetch in clients.values():  # warm-up: connections, probing, code paths
                    await sweep(fetch, args.cameras)
                rates: dict[str, list[float]] = {name: [] for name in clients}
                sweeps: dict[str, list[float]] = {name: [] for name in clients}
                for _ in range(args.rounds):
                    for name, fetch in clients.items():
                        rates[name].append(await poll(fetch, args.cameras, args.seconds))
                for _ in range(args.sweeps):
                    for name, fetch in clients.items():
                        sweeps[name].append(await sweep(fetch, args.cameras))
                size = await bare_fetch(session, targets[0])
        for device in devices:
            await device.close()
    finally:
        await pool.close()
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    bare_rate = statistics.mean(rates["bare"])
    our_rate = statistics.mean(rates["camfetch"])
    our_sweep = statistics.median(sweeps["camfetch"])
    return {
        "vendor": args.vendor,
        "cameras": args.cameras,
        "latency_floor_s": args.latency,
        "snapshot_bytes": size,
        "poll_seconds": args.seconds * args.rounds,
        "bare_per_s": bare_rate,
        "camfetch_per_s": our_rate,
        "ideal_per_s": args.cameras / args.latency,
        "throughput_ratio": our_rate / bare_rate,
        "sweeps": args.sweeps,
        "bare_sweep_s": statistics.median(sweeps["bare"]),
        "camfetch_sweep_s": our_sweep,
        "sweep_vs_floor": our_sweep / args.latency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vendor", default="viewtron", help="viewtron, amcrest, 2n, …")
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--size", default="1920x1080", help="picture size of the cameras")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one polling round")
    parser.add_argument("--rounds", type=int, default=2, help="polling rounds per client")
    parser.add_argument("--sweeps", type=int, default=10)
    parser.add_argument("--dir", default=None, help="where pictures are written (default: temp)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    f = asyncio.run(run(args))
    if args.json:
        print(json.dumps(f, indent=2))
        return
    print(
        f"{f['vendor']}: {f['cameras']} devices, {f['snapshot_bytes'] / 1024:.0f} KiB snapshots, "
        f"{f['latency_floor_s'] * 1000:.0f} ms each, one request at a time"
    )
    print(f"throughput, every camera polled in a loop ({f['poll_seconds']:g} s per client):")
    print(f"  bare aiohttp loop : {f['bare_per_s']:7.0f} snapshots/s")
    print(f"  camfetch snapshot : {f['camfetch_per_s']:7.0f} snapshots/s")
    print(f"  (fleet maximum    : {f['ideal_per_s']:7.0f} snapshots/s)")
    print(f"  ratio             : {f['throughput_ratio']:.2f}  (target >= 0.80)")
    print(f"sweep, all cameras at once (median of {f['sweeps']}):")
    print(f"  bare aiohttp loop : {f['bare_sweep_s'] * 1000:7.1f} ms")
    print(f"  camfetch snapshot : {f['camfetch_sweep_s'] * 1000:7.1f} ms")
    print(f"  vs 150 ms floor   : {f['sweep_vs_floor']:.2f}x  (target <= 2.00x)")


if __name__ == "__main__":
    main()
