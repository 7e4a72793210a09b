"""Contact sheets: many cameras' pictures on one labelled JPEG, cheap even for 4K sources.

:func:`make_grid` lays out :class:`Tile` s (a picture, or none, with the
camera's name, channel and device time) in ``cols`` columns on a sheet
``width`` pixels wide and writes it atomically. Each picture is decoded with
Pillow's JPEG draft mode (``Image.draft("RGB", (w, h))``): the decoder itself
scales by 1/2, 1/4 or 1/8 to the smallest size still at least the tile, so a
3840x2160 picture for a 480-pixel tile is decoded as 480x270, at a fraction
of the cost of a full decode followed by a resize (``benchmarks/grid_draft.py``
measures it). Pictures keep their aspect ratio inside the tile (black bars
where it differs from the sheet's). A camera without a picture gets a tile
saying so (``offline``, ``no picture``), as does a picture that does not decode.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import io
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from camfetch.errors import CamfetchError, CorruptImageError, UsageError
from camfetch.files import write_atomic
from camfetch.media.jpeg import inspect_jpeg, is_jpeg

DEFAULT_WIDTH = 1920
DEFAULT_QUALITY = 85
MAX_WIDTH = 16384
_BACKGROUND = (16, 16, 18)
_EMPTY = (44, 44, 48)


@dataclass(frozen=True, slots=True)
class Tile:
    """One camera on the sheet."""

    name: str  # the camera's name as configured
    channel: int | None  # None: the device's channels are not known
    picture: bytes | None = field(default=None, repr=False)  # a JPEG, or None
    time: datetime | None = None  # when the picture was taken (aware, device's offset)
    note: str | None = None  # shown after the time, e.g. "from catalog"
    missing: str = "no picture"  # what the tile says when there is no picture

    @property
    def title(self) -> str:
        return self.name if self.channel is None else f"{self.name}  ch{self.channel}"


@dataclass(frozen=True, slots=True)
class TileOutcome:
    name: str
    channel: int | None
    drawn: bool  # a picture is on the tile
    source_size: tuple[int, int] | None  # the picture's own size
    decoded_size: tuple[int, int] | None  # the size the decoder produced (draft mode: smaller)
    problem: str | None = None  # why a picture given could not be drawn

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": self.channel,
            "drawn": self.drawn,
            "source_size": list(self.source_size) if self.source_size else None,
            "decoded_size": list(self.decoded_size) if self.decoded_size else None,
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True)
class Layout:
    """Where tiles go: ``cols`` x ``rows`` cells of picture plus label band."""

    width: int
    cols: int
    rows: int
    picture: tuple[int, int]  # the box a picture is fitted into
    pad: int
    label: int  # height of the label band under each picture
    font: int  # label font size in pixels

    @property
    def cell(self) -> tuple[int, int]:
        return self.picture[0] + 2 * self.pad, self.picture[1] + self.label + 2 * self.pad

    @property
    def height(self) -> int:
        return self.rows * self.cell[1]

    def origin(self, index: int) -> tuple[int, int]:
        """Top-left corner of cell ``index`` (row by row)."""
        row, col = divmod(index, self.cols)
        return col * self.cell[0], row * self.cell[1]


def layout(count: int, width: int, cols: int | None, aspect: float = 16 / 9) -> Layout:
    """The layout of ``count`` tiles on a sheet ``width`` wide; ``aspect`` of the picture box.

    Without ``cols`` the sheet is as square as the count allows (ceil of the
    square root); more columns than tiles are never used.
    """
    if count < 1:
        raise UsageError("a grid needs at least one camera")
    if not 64 <= width <= MAX_WIDTH:
        raise UsageError(f"width {width}: use 64 to {MAX_WIDTH} pixels")
    if cols is not None and cols < 1:
        raise UsageError("--cols must be at least 1")
    columns = min(count, cols or math.ceil(math.sqrt(count)))
    cell_w = width // columns
    if cell_w < 32:
        raise UsageError(f"{columns} columns do not fit in {width} pixels (at least 32 each)")
    pad = max(1, cell_w // 120)
    pic_w = cell_w - 2 * pad
    pic_h = max(1, round(pic_w / aspect))
    font = max(9, min(28, cell_w // 26))
    label = 2 * font + 3 * pad + font // 2
    return Layout(width, columns, math.ceil(count / columns), (pic_w, pic_h), pad, label, font)


def decode_fitted(
    data: bytes, box: tuple[int, int], *, draft: bool = True
) -> tuple[Image.Image, tuple[int, int], tuple[int, int]]:
    """A picture scaled to fit ``box`` (aspect kept): (image, source size, decoded size).

    With ``draft`` a JPEG is decoded directly at the smallest 1/2, 1/4 or 1/8
    scale that still covers ``box``; without, it is decoded in full and then
    resized (the same resize either way). CorruptImageError if it does not decode.
    """
    try:
        if is_jpeg(data):
            inspect_jpeg(data)
        with Image.open(io.BytesIO(data)) as image:
            source = image.size
            if draft:
                image.draft("RGB", box)
            decoded = image.size
            picture = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise CorruptImageError(f"picture does not decode: {exc}") from None
    fitted = ImageOps.contain(picture, box, method=Image.Resampling.BICUBIC)
    return fitted, source, decoded


@dataclass(frozen=True, slots=True)
class GridResult:
    path: Path
    width: int
    height: int
    cols: int
    rows: int
    tile_size: tuple[int, int]  # the picture box of a tile
    tiles: tuple[TileOutcome, ...]
    size: int  # bytes
    draft: bool
    elapsed: float

    @property
    def pictures(self) -> int:
        return sum(1 for t in self.tiles if t.drawn)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "width": self.width,
            "height": self.height,
            "cols": self.cols,
            "rows": self.rows,
            "tile_width": self.tile_size[0],
            "tile_height": self.tile_size[1],
            "pictures": self.pictures,
            "size": self.size,
            "elapsed": round(self.elapsed, 3),
        }


async def make_grid(
    tiles: Sequence[Tile],
    out: Path,
    *,
    width: int = DEFAULT_WIDTH,
    cols: int | None = None,
    quality: int = DEFAULT_QUALITY,
    draft: bool = True,
    workers: int | None = None,
    durable: bool = True,
) -> GridResult:
    """Compose ``tiles`` into one labelled JPEG at ``out`` (written atomically).

    The picture box takes the aspect ratio most of the pictures have (read
    from their headers, without decoding), 16:9 when none has one. Pictures
    are decoded in ``workers`` threads (default: one per CPU, at most 8).
    """
    started = time.monotonic()
    aspect = _common_aspect(tiles)
    plan = layout(len(tiles), width, cols, aspect)
    loop = asyncio.get_running_loop()
    threads = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="camfetch-grid") as pool:
        decode = functools.partial(_decode_tile, box=plan.picture, draft=draft)
        decoded = await asyncio.gather(
            *(loop.run_in_executor(pool, decode, tile) for tile in tiles)
        )
        compose = functools.partial(_compose, tiles, decoded, plan, quality)
        data = await loop.run_in_executor(pool, compose)
        write = functools.partial(write_atomic, out, data, durable=durable)
        await loop.run_in_executor(pool, write)
    outcomes = tuple(outcome for _, outcome in decoded)
    return GridResult(
        path=out, width=plan.width, height=plan.height, cols=plan.cols, rows=plan.rows,
        tile_size=plan.picture, tiles=outcomes, size=len(data), draft=draft,
        elapsed=time.monotonic() - started,
    )  # fmt: skip


def _common_aspect(tiles: Sequence[Tile]) -> float:
    shapes: collections.Counter[float] = collections.Counter()
    for tile in tiles:
        if tile.picture is None or not is_jpeg(tile.picture):
            continue
        try:
            info = inspect_jpeg(tile.picture)
        except CamfetchError:
            continue
        shapes[round(info.width / info.height, 2)] += 1
    if not shapes:
        return 16 / 9
    return max(0.25, min(4.0, shapes.most_common(1)[0][0]))


def _decode_tile(
    tile: Tile, *, box: tuple[int, int], draft: bool
) -> tuple[Image.Image | None, TileOutcome]:
    if tile.picture is None:
        return None, TileOutcome(tile.name, tile.channel, False, None, None)
    try:
        picture, source, decoded = decode_fitted(tile.picture, box, draft=draft)
    except CorruptImageError as exc:
        return None, TileOutcome(tile.name, tile.channel, False, None, None, exc.message)
    return picture, TileOutcome(tile.name, tile.channel, True, source, decoded)


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=16)
def _font(size: int) -> _Font:
    return ImageFont.load_default(size=size)


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font: _Font, room: int) -> str:
    """``text``, shortened with "..." until it fits ``room`` pixels (the font has no "…")."""
    if draw.textlength(text, font=font) <= room:
        return text
    while text and draw.textlength(text + "...", font=font) > room:
        text = text[:-1]
    return text.rstrip() + "..." if text else ""


def _compose(
    tiles: Sequence[Tile],
    decoded: Sequence[tuple[Image.Image | None, TileOutcome]],
    plan: Layout,
    quality: int,
) -> bytes:
    sheet = Image.new("RGB", (plan.width, plan.height), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(plan.font)
    box_w, box_h = plan.picture
    for index, (tile, (picture, outcome)) in enumerate(zip(tiles, decoded, strict=True)):
        x, y = plan.origin(index)
        left, top = x + plan.pad, y + plan.pad
        if picture is not None:
            sheet.paste(
                picture, (left + (box_w - picture.width) // 2, top + (box_h - picture.height) // 2)
            )
        else:
            draw.rectangle((left, top, left + box_w - 1, top + box_h - 1), fill=_EMPTY)
            words = "unreadable picture" if outcome.problem else tile.missing
            big = _font(max(10, min(48, box_h // 6)))
            x0, y0, x1, y1 = draw.textbbox((0, 0), words, font=big)
            draw.text(
                (left + (box_w - (x1 - x0)) // 2 - x0, top + (box_h - (y1 - y0)) // 2 - y0),
                words, font=big, fill=(235, 110, 90),
            )  # fmt: skip
        line_y = top + box_h + plan.pad
        room = box_w - 2 * plan.pad
        draw.text(
            (left + plan.pad, line_y), _fit_text(draw, tile.title, font, room), font=font,
            fill=(245, 245, 245),
        )  # fmt: skip
        when = tile.time.strftime("%Y-%m-%d %H:%M:%S") if tile.time else ""
        second = "  ".join(part for part in (when, tile.note) if part)
        draw.text(
            (left + plan.pad, line_y + plan.font + plan.pad), _fit_text(draw, second, font, room),
            font=font, fill=(190, 200, 120),
        )  # fmt: skip
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
