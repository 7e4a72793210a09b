"""``camfetch timelapse build`` and ``camfetch grid`` on a config of simulated Viewtron devices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from camfetch import timeutil
from camfetch.media.mp4 import inspect_mp4
from camfetch.registry import open_device
from camfetch.service.catalog import Catalog
from camfetch.service.storage import LocalStorage
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import PASSWORD
from tests.service_media.media import capture, device_entry, offline_entry, write_config

BERLIN = timeutil.zone("Europe/Berlin")
ENV = {"CAM_PW": PASSWORD}


def no_secret(text: str) -> bool:
    return PASSWORD not in text and quote(PASSWORD, safe="") not in text


def populate(
    folder: Path,
    sim: ViewtronSimulator,
    name: str,
    channel: int,
    times: list[datetime],
    *,
    source: int | None = None,
) -> None:
    """Catalogue snapshots of ``sim`` as ``name``:``channel`` taken at ``times``."""

    async def work() -> None:
        catalog = Catalog(f"sqlite:///{folder / 'data' / 'catalog.db'}")
        await catalog.open()
        storage = LocalStorage(folder / "data")
        try:
            async with open_device(sim.secret_url()) as device:
                await capture(device, catalog, storage, name, channel, times, BERLIN, source=source)
        finally:
            await catalog.close()
            storage.close()

    asyncio.run(work())


def recent(count: int) -> list[datetime]:
    """``count`` whole minutes ending a few minutes ago."""
    last = timeutil.utcnow().replace(second=0, microsecond=0) - timedelta(minutes=3)
    return [last - timedelta(minutes=count - 1 - i) for i in range(count)]


def wall(when: datetime) -> str:
    return timeutil.format_wall(when, BERLIN)


@pytest.fixture
def yard(make_sim: Callable[..., Any]) -> ViewtronSimulator:
    sim: ViewtronSimulator = make_sim(
        api="2.0", kind="nvr", channels=2, name="Yard", tz="Europe/Berlin", size=(640, 360)
    )
    return sim


@pytest.fixture
def door(make_sim: Callable[..., Any]) -> ViewtronSimulator:
    sim: ViewtronSimulator = make_sim(
        api="1.9", kind="ipc", name="Door", tz="Europe/Berlin", size=(480, 360)
    )
    return sim


# -- timelapse build -------------------------------------------------------------------------


def test_timelapse_build_json(cli, yard: ViewtronSimulator, tmp_path: Path):
    config = write_config(tmp_path, [device_entry("yard", yard)])
    times = recent(10)
    populate(tmp_path, yard, "yard", 2, times, source=2)
    out = tmp_path / "yard.mp4"
    start, end = wall(times[0] - timedelta(seconds=30)), wall(times[-1] + timedelta(seconds=30))
    args = ["timelapse", "build", "yard:2", "--from", start, "--to", end, "--fps", "5"]
    result = cli(*args, "-o", str(out), "--config", str(config), "--json", env=ENV)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["camera"] == "yard:2" and data["channel"] == 2 and data["kept"] is False
    assert data["frames"] == 10 == data["pictures"] and data["skipped"] == 0 and data["gaps"] == []
    assert data["duration"] == pytest.approx(2.0) and data["codec"] == "h264"
    assert (data["width"], data["height"]) == (640, 360) and data["path"] == str(out)
    assert data["from"] == (times[0] - timedelta(seconds=30)).astimezone(BERLIN).isoformat()
    info = inspect_mp4(out)
    assert info.video is not None and info.video.frames == 10
    assert no_secret(result.output)
    # The same wall-clock times read as UTC miss the pictures: naive means the device's zone.
    shifted = ["--from", start + "Z", "--to", end + "Z"]
    utc = cli(*args[:3], *shifted, "-o", str(out), "--config", str(config), env=ENV)
    assert utc.exit_code == 5 and "nothing-found" in utc.stderr


def test_timelapse_build_text_default_name_and_bare_device(
    cli, door: ViewtronSimulator, tmp_path: Path
):
    config = write_config(tmp_path, [device_entry("door", door)])
    times = recent(4)
    populate(tmp_path, door, "door", 1, times)
    folder = tmp_path / "videos"  # does not exist yet: the trailing slash makes it a folder
    result = cli(
        "timelapse", "build", "door", "--from", "-1h", "--to", "now", "--no-stamp",
        "--width", "240", "-o", f"{folder}/", "--config", str(config), env=ENV,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path.parent == folder and path.name.startswith("door_ch1_") and path.suffix == ".mp4"
    info = inspect_mp4(path)
    assert info.video is not None and (info.video.width, info.video.height) == (240, 180)
    assert info.video.frames == 4 and "4 pictures" in result.stderr


def test_timelapse_build_errors(cli, yard: ViewtronSimulator, tmp_path: Path):
    config = write_config(tmp_path, [device_entry("yard", yard)])
    common = [
        "--from",
        "-1h",
        "--to",
        "now",
        "-o",
        str(tmp_path / "x.mp4"),
        "--config",
        str(config),
    ]
    # no catalog yet: nothing catalogued
    result = cli("timelapse", "build", "yard:1", *common, env=ENV)
    assert result.exit_code == 5 and "no catalog yet" in result.stderr
    populate(tmp_path, yard, "yard", 1, recent(2), source=1)
    populate(tmp_path, yard, "yard", 2, recent(2), source=2)
    result = cli("timelapse", "build", "yard", *common, env=ENV)
    assert result.exit_code == 2 and "channels 1, 2: name one" in result.stderr
    result = cli("timelapse", "build", "yard:1", *common[:-4], "--from", "-3d", "--to", "-2d",
                 *common[-4:], env=ENV)  # fmt: skip
    assert result.exit_code == 5 and "catalogued between" in result.stderr
    for camera, words in (("gate", "no device named 'gate'"), ("yard:x", "channel is a number")):
        result = cli("timelapse", "build", camera, *common, env=ENV)
        assert result.exit_code == 2 and words in result.stderr
    result = cli("timelapse", "build", "yard:1", *common[:-2], "--config", "missing.yaml")
    assert result.exit_code == 2 and "cannot read" in result.stderr
    assert not (tmp_path / "x.mp4").exists()
    assert "Traceback" not in result.output


# -- grid -------------------------------------------------------------------------------------


def test_grid_fresh_catalog_and_offline_tiles(
    cli, yard: ViewtronSimulator, door: ViewtronSimulator, tmp_path: Path
):
    config = write_config(
        tmp_path,
        [
            device_entry("yard", yard),
            device_entry("door", door),
            offline_entry("gate", channels=[1]),  # down, but catalogued earlier
            offline_entry("shed"),  # down, never seen
        ],
    )
    populate(tmp_path, door, "gate", 1, recent(1))
    out = tmp_path / "grid.jpg"
    result = cli("grid", str(config), "-o", str(out), "--width", "1200", "--json", env=ENV)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tiles = [(t["camera"], t["source"]) for t in data["tiles"]]
    assert tiles == [
        ("yard:1", "fresh"), ("yard:2", "fresh"), ("door:1", "fresh"),
        ("gate:1", "catalog"), ("shed", "none"),
    ]  # fmt: skip
    assert [t["drawn"] for t in data["tiles"]] == [True, True, True, True, False]
    gate, shed = data["tiles"][3], data["tiles"][4]
    assert gate["error"].startswith("unreachable:") and gate["time"] is not None
    assert shed["channel"] is None and shed["error"].startswith("unreachable:")
    assert data["tiles"][0]["time"].endswith(("+01:00", "+02:00"))
    assert (data["cols"], data["rows"], data["pictures"]) == (3, 2, 4)
    with Image.open(out) as sheet:
        assert sheet.size == (1200, data["height"]) and sheet.format == "JPEG"
    assert no_secret(result.output)


def test_grid_catalog_only_asks_no_device(
    cli, yard: ViewtronSimulator, door: ViewtronSimulator, tmp_path: Path
):
    config = write_config(
        tmp_path,
        [device_entry("yard", yard), device_entry("door", door), offline_entry("gate")],
    )
    populate(tmp_path, yard, "yard", 2, recent(2), source=2)
    before = (yard.requests, door.requests)
    folder = tmp_path / "sheets"
    result = cli("grid", str(config), "-o", f"{folder}/", "--catalog-only", "--json", env=ENV)
    assert result.exit_code == 0, result.output
    assert (yard.requests, door.requests) == before
    data = json.loads(result.stdout)
    assert [(t["camera"], t["source"], t["error"]) for t in data["tiles"]] == [
        ("yard:2", "catalog", None), ("door", "none", None), ("gate", "none", None),
    ]  # fmt: skip
    path = Path(data["path"])
    assert path.parent == folder and path.name.startswith("grid_") and path.exists()


def test_grid_without_any_picture_still_writes_the_sheet(cli, tmp_path: Path):
    config = write_config(tmp_path, [offline_entry("shed", channels=[1, 2])])
    out = tmp_path / "grid.jpg"
    result = cli("grid", str(config), "-o", str(out), "--cols", "1", env=ENV)
    assert result.exit_code == 5 and result.stdout.strip() == str(out)
    assert "every tile of the sheet is empty" in result.stderr
    with Image.open(out) as sheet:
        assert sheet.width == 1920 and sheet.height > 2 * 1920 * 9 / 16  # two rows, one column
