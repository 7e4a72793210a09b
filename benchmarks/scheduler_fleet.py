"""The capture service driving many simulated channels: tick lateness, CPU and memory.

A fleet of simulated NVRs (``--devices`` × ``--channels``, default 100 × 100 =
10,000 channels) runs in a separate process. In this process a CaptureService
with one timelapse job (``--interval``, default 60 s) captures every channel at
every tick into a temporary store and a SQLite catalog, for ``--ticks`` ticks.

Reported, from that one run:

- tick lateness: how late each round began after its tick (timer precision and
  the cost of dispatching the round), p50 and p99;
- capture lateness: how late each capture started after its tick (this
  includes waiting in the device's lane, i.e. the devices' own throughput);
- how long a round took to finish, captures done, gaps;
- CPU per capture (user + system of this process, all threads) and peak memory.

    python benchmarks/scheduler_fleet.py [--devices 100] [--channels 100] [--ticks 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from camfetch.service.config import Config, DeviceConfig, StorageConfig, TimelapseJob
from camfetch.service.scheduler import percentile
from camfetch.service.service import CaptureService


def start_fleet(args: argparse.Namespace) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "camfetch.sim.fleet", "--vendor", "viewtron",
            "--count", str(args.devices), "--channels", str(args.channels),
            "--latency", str(args.latency), "--size", args.size,
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    urls: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        if message.get("ready"):
            return proc, urls
        urls.append(message["url"])
    raise RuntimeError("the fleet did not start")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace, urls: list[str], folder: Path) -> dict[str, Any]:
    config = Config(
        storage=StorageConfig(root=folder),
        devices=[
            DeviceConfig(
                name=f"nvr{n:03d}",
                url=url,
                channels=list(range(1, args.channels + 1)),
                max_requests=args.max_requests,
            )
            for n, url in enumerate(urls)
        ],
        jobs=[TimelapseJob(name="tl", type="timelapse", interval=args.interval)],
    )
    service = CaptureService(config)
    await service.start()
    stats = service.scheduler.stats["tl"]
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    rounds: list[float] = []
    cpu_start = None
    done_start = 0
    for tick in range(args.ticks + 1):
        # wait for the next tick's round to finish: every capture done or missed
        while service.scheduler.next_run.get("tl") is None:
            await asyncio.sleep(0.05)
        due = service.scheduler.next_run["tl"]
        target = args.devices * args.channels * (tick + 1)
        while stats.done + stats.failed + sum(stats.gaps.values()) < target:
            await asyncio.sleep(0.02)
        rounds.append(time.time() - due)
        if tick == 0:  # the first round warms connections and caches: measure the rest
            cpu_start = cpu_seconds()
            done_start = stats.done
            stats.lateness.clear()
            stats.ticks.clear()
    cpu = cpu_seconds() - (cpu_start or 0.0)
    captures = stats.done - done_start
    stop.set()
    await runner
    await service.close()
    return {
        "channels": args.devices * args.channels,
        "interval_s": args.interval,
        "ticks_measured": args.ticks,
        "captures": captures,
        "gaps": dict(stats.gaps),
        "failed": stats.failed,
        "tick_lateness_p50_ms": 1000 * percentile(stats.ticks, 0.5),
        "tick_lateness_p99_ms": 1000 * percentile(stats.ticks, 0.99),
        "capture_lateness_p50_s": percentile(stats.lateness, 0.5),
        "capture_lateness_p99_s": percentile(stats.lateness, 0.99),
        "round_finished_after_s": rounds[1:],
        "cpu_ms_per_capture": 1000 * cpu / max(1, captures),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--ticks", type=int, default=3, help="ticks measured after the first")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per snapshot")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--max-requests", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    proc, urls = start_fleet(args)
    try:
        with tempfile.TemporaryDirectory(prefix="camfetch-sched-") as tmp:
            figures = asyncio.run(run(args, urls, Path(tmp)))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    f = figures
    print(
        f"{f['channels']} channels at a {f['interval_s']:g} s interval, {f['ticks_measured']} ticks"
    )
    p50, p99 = f["tick_lateness_p50_ms"], f["tick_lateness_p99_ms"]
    print(f"  tick lateness     : p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"  capture lateness  : p50 {f['capture_lateness_p50_s']:.2f} s, "
        f"p99 {f['capture_lateness_p99_s']:.2f} s (includes waiting for the device)"
    )
    rounds = ", ".join(f"{r:.1f}" for r in f["round_finished_after_s"])
    print(f"  rounds finished   : after {rounds} s")
    gaps = f["gaps"] or "none"
    print(f"  captures          : {f['captures']} ok, gaps {gaps}, failed {f['failed']}")
    print(f"  CPU per capture   : {f['cpu_ms_per_capture']:.2f} ms")
    print(f"  peak memory       : {f['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
