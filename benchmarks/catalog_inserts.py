"""Catalog inserts per second: captures as the scheduler writes them (many at once).

Inserts ``--count`` capture rows in one run, two ways: all at once (what a
scheduler round does; the catalog commits them in groups) and one after the
other (each waiting for its commit), and reports rows per second of each.
SQLite in a temporary folder by default; ``--url`` for another database.

    python benchmarks/catalog_inserts.py [--count 20000] [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from camfetch.service.catalog import Catalog


async def insert(catalog: Catalog, channel: int, start: int, count: int, together: bool) -> float:
    base = datetime.now(UTC)

    def one(n: int):  # type: ignore[no-untyped-def]
        when = base + timedelta(seconds=n)
        return catalog.add_capture(
            channel, job="bench", path=f"cam/1/{n}.jpg", sha256="0" * 64, size=100_000,
            width=1920, height=1080, utc=when, device_time=when,
        )  # fmt: skip

    began = time.perf_counter()
    if together:
        await asyncio.gather(*(one(n) for n in range(start, start + count)))
    else:
        for n in range(start, start + count):
            await one(n)
    return count / (time.perf_counter() - began)


async def run(url: str, count: int) -> dict[str, float]:
    catalog = Catalog(url)
    await catalog.open()
    device = await catalog.ensure_device("bench", url="viewtron://bench", labels={})
    channel = await catalog.ensure_channel(device, 1, "one")
    await insert(catalog, channel, 0, 500, True)  # warm-up
    together = await insert(catalog, channel, 1_000_000, count, True)
    sequential = await insert(catalog, channel, 2_000_000, count // 10, False)
    await catalog.close()
    return {"count": count, "grouped_per_s": together, "one_by_one_per_s": sequential}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--url", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camfetch-cat-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'catalog.db'}"
        figures = asyncio.run(run(url, args.count))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    backend = url.split(":", 1)[0] if args.url else "sqlite (WAL)"
    print(f"catalog inserts, {backend}:")
    print(f"  {args.count} at once (group commit): {figures['grouped_per_s']:8.0f} rows/s")
    print(f"  {args.count // 10} one after the other : {figures['one_by_one_per_s']:8.0f} rows/s")


if __name__ == "__main__":
    main()
