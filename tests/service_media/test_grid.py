"""Contact sheets: layout, labels, empty tiles, and JPEG draft decoding of large pictures."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from camfetch import timeutil
from camfetch.errors import UsageError
from camfetch.jobs.grid import Tile, decode_fitted, layout, make_grid
from camfetch.sim.frames import FrameGenerator
from tests.service_media.media import difference, mean

BERLIN = timeutil.zone("Europe/Berlin")
WHEN = datetime(2026, 11, 20, 14, 3, 9, tzinfo=UTC).astimezone(BERLIN)


@functools.cache
def picture(width: int, height: int, channel: int = 1) -> bytes:
    return FrameGenerator("Yard", tz=BERLIN, width=width, height=height).jpeg(channel, WHEN)


def bright(image: Image.Image, level: int = 200) -> int:
    """How many pixels are brighter than ``level`` (text on the dark label band)."""
    return image.convert("L").point(lambda v: 255 if v > level else 0).histogram()[255]


def reddish(image: Image.Image) -> int:
    """Pixels in the colour of an empty tile's words."""
    red, green, _ = image.convert("RGB").split()
    strong = red.point(lambda v: 255 if v > 180 else 0)
    weak = green.point(lambda v: 255 if v < 150 else 0)
    return ImageChops.multiply(strong, weak).histogram()[255]


async def test_tiles_labels_and_empty_tiles(tmp_path: Path):
    tiles = [
        Tile("yard", 1, picture(640, 360, 1), WHEN),
        Tile("yard", 2, picture(640, 360, 2), WHEN, note="from catalog"),
        Tile("gate", 1, None, missing="offline"),
        Tile("shed", None, None),
        Tile("door", 1, b"\xff\xd8\xff\xe0 broken \xff\xd9", WHEN),
    ]
    out = tmp_path / "sheet.jpg"
    result = await make_grid(tiles, out, width=960)
    plan = layout(5, 960, None)
    assert (result.cols, result.rows) == (3, 2) == (plan.cols, plan.rows)
    with Image.open(out) as sheet:
        assert sheet.size == (960, plan.height) == (result.width, result.height)
        sheet = sheet.convert("RGB")
    assert [t.drawn for t in result.tiles] == [True, True, False, False, False]
    assert result.pictures == 2 and result.tiles[4].problem is not None
    box_w, box_h = plan.picture
    for index in range(5):
        x, y = plan.origin(index)
        band = sheet.crop((x, y + box_h + plan.pad, x + box_w, y + plan.cell[1]))
        assert bright(band) > 40, f"tile {index} has no label"  # name (and time) written
        pic = sheet.crop((x + plan.pad, y + plan.pad, x + plan.pad + box_w, y + plan.pad + box_h))
        if index < 2:
            assert mean(pic) > 40 and reddish(pic) < 50
        else:  # "offline", "no picture", "unreadable picture" in red on grey
            assert reddish(pic) > 100 and 30 < mean(pic) < 80
    # an unused cell stays background
    x, y = plan.origin(5)
    assert mean(sheet.crop((x, y, x + box_w, y + box_h))) < 25


async def test_labels_say_name_channel_and_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tiles = [Tile("yard", 2, picture(640, 360), WHEN, note="from catalog"), Tile("gate", 1)]
    written: list[str] = []
    real = ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        written.append(text)
        return real(self, xy, text, *args, **kwargs)

    monkeypatch.setattr("PIL.ImageDraw.ImageDraw.text", spy)
    await make_grid(tiles, tmp_path / "a.jpg", width=1280, cols=2)
    assert written == [
        "yard  ch2", "2026-11-20 15:03:09  from catalog", "no picture", "gate  ch1", "",
    ]  # fmt: skip


async def test_4k_pictures_are_decoded_in_draft_mode(tmp_path: Path, draft_calls: list):
    big = picture(3840, 2160)
    tiles = [Tile(f"cam{i}", 1, big, WHEN) for i in range(4)]
    drafted = await make_grid(tiles, tmp_path / "draft.jpg", width=1000, cols=2)
    box = drafted.tile_size
    assert box == layout(4, 1000, 2, round(3840 / 2160, 2)).picture
    # The decoder itself scaled 3840x2160 by 1/4: the smallest step still covering the tile.
    assert draft_calls == [((3840, 2160), box, (960, 540))] * 4
    assert [t.decoded_size for t in drafted.tiles] == [(960, 540)] * 4
    draft_calls.clear()
    full = await make_grid(tiles, tmp_path / "full.jpg", width=1000, cols=2, draft=False)
    assert draft_calls == [] and [t.decoded_size for t in full.tiles] == [(3840, 2160)] * 4
    assert (full.width, full.height) == (drafted.width, drafted.height)
    with Image.open(drafted.path) as a, Image.open(full.path) as b:
        assert a.size == b.size
        assert difference(a.convert("RGB"), b.convert("RGB")) < 4  # the same picture


def test_decode_fitted_keeps_the_aspect_ratio():
    image, source, decoded = decode_fitted(picture(640, 480), (320, 180))
    assert source == (640, 480) and decoded == (320, 240) and image.size == (240, 180)


async def test_the_cells_take_the_pictures_shape(tmp_path: Path):
    tiles = [Tile("a", 1, picture(640, 480), WHEN), Tile("b", 1, picture(640, 480), WHEN)]
    result = await make_grid(tiles, tmp_path / "a.jpg", width=800)
    assert result.tile_size[0] / result.tile_size[1] == pytest.approx(4 / 3, abs=0.02)


async def test_the_sheet_replaces_an_old_one_atomically(tmp_path: Path):
    out = tmp_path / "grid.jpg"
    out.write_bytes(b"old")
    await make_grid([Tile("a", 1, picture(640, 360), WHEN)], out, width=400)
    assert out.read_bytes()[:3] == b"\xff\xd8\xff" and sorted(tmp_path.iterdir()) == [out]


def test_bad_layouts_are_usage_errors():
    with pytest.raises(UsageError, match="at least one camera"):
        layout(0, 1920, None)
    with pytest.raises(UsageError, match="64 to"):
        layout(4, 10, None)
    with pytest.raises(UsageError, match="do not fit"):
        layout(100, 640, 100)
    assert layout(3, 1920, 10).cols == 3  # never more columns than tiles
