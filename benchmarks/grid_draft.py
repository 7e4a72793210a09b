"""Contact sheet of 4K pictures: JPEG draft decoding against full decoding.

Makes ``--count`` (64) 3840x2160 JPEGs once, with the simulators' frame
generator (a textured scene, sensor noise, overlay text, a moving object: real
JPEG sizes, ~1-2 MB each), then composes the same ``--width`` (1920) pixel
sheet from them with :func:`camfetch.jobs.grid.make_grid` both ways, taking
turns, ``--runs`` times each:

- full: every picture decoded at 3840x2160, then resized to its tile;
- draft: ``Image.draft("RGB", tile)``, so libjpeg decodes at 1/8 (or 1/4, 1/2)
  scale, then the same resize.

Both use the same thread pool size and write the same sheet size. It prints
the median time of each, milliseconds per picture, and the ratio.

    python benchmarks/grid_draft.py [--count 64] [--width 1920] [--cols 8] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from camfetch.jobs.grid import Tile, make_grid
from camfetch.sim.frames import FrameGenerator

SIZE = (3840, 2160)


def make_pictures(count: int, folder: Path) -> list[Path]:
    """``count`` distinct 4K JPEGs (4 scenes, the object and clock moving) written to files."""
    generator = FrameGenerator("Benchmark 4K", tz=UTC, width=SIZE[0], height=SIZE[1], quality=85)
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    def one(index: int) -> Path:
        data = generator.jpeg(index % 4 + 1, start + timedelta(seconds=3 * index))
        path = folder / f"cam{index:02d}.jpg"
        path.write_bytes(data)
        return path

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, range(count)))


async def measure(
    tiles: list[Tile], out: Path, *, width: int, cols: int, draft: bool, workers: int
) -> float:
    started = time.perf_counter()
    await make_grid(tiles, out, width=width, cols=cols, draft=draft, workers=workers, durable=False)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--cols", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="camfetch-grid-bench-") as tmp:
        folder = Path(tmp)
        made = time.perf_counter()
        paths = make_pictures(args.count, folder)
        made = time.perf_counter() - made
        now = datetime.now(UTC)
        tiles = [Tile(p.stem, 1, p.read_bytes(), now) for p in paths]
        megabytes = sum(len(t.picture or b"") for t in tiles) / 1e6
        times: dict[str, list[float]] = {"full": [], "draft": []}
        for _ in range(args.runs):  # taking turns, so both see the same machine state
            for mode in ("full", "draft"):
                out = folder / f"sheet-{mode}.jpg"
                use_draft = mode == "draft"
                took = await measure(
                    tiles,
                    out,
                    width=args.width,
                    cols=args.cols,
                    draft=use_draft,
                    workers=args.workers,
                )
                times[mode].append(took)
        with (
            Image.open(folder / "sheet-full.jpg") as a,
            Image.open(folder / "sheet-draft.jpg") as b,
        ):
            if a.size != b.size:
                raise SystemExit(f"sheets differ in size: {a.size} vs {b.size}")
            sheet = a.size

    full = statistics.median(times["full"])
    draft = statistics.median(times["draft"])
    figures = {
        "pictures": args.count,
        "picture_size": f"{SIZE[0]}x{SIZE[1]}",
        "jpeg_megabytes": round(megabytes, 1),
        "sheet": f"{sheet[0]}x{sheet[1]}",
        "cols": args.cols,
        "workers": args.workers,
        "runs": args.runs,
        "full_seconds": round(full, 3),
        "draft_seconds": round(draft, 3),
        "full_ms_per_picture": round(1000 * full / args.count, 1),
        "draft_ms_per_picture": round(1000 * draft / args.count, 1),
        "ratio": round(full / draft, 1),
        "generate_seconds": round(made, 1),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{args.count} pictures {SIZE[0]}x{SIZE[1]} ({megabytes:.0f} MB of JPEG, made in "
        f"{made:.1f} s) -> one {sheet[0]}x{sheet[1]} sheet, {args.cols} columns, "
        f"{args.workers} decoding threads, median of {args.runs} runs each"
    )
    print(f"  full decoding : {full:7.3f} s  {1000 * full / args.count:6.1f} ms per picture")
    print(f"  draft decoding: {draft:7.3f} s  {1000 * draft / args.count:6.1f} ms per picture")
    print(f"  draft is {full / draft:.1f}x faster")


if __name__ == "__main__":
    asyncio.run(main())
