"""python-amcrest (PyPI ``amcrest``), an independent client, reads the simulators: evidence
of fidelity. It also shows the finder leak the reference describes: it ends a search with
``factory.close``/``factory.destroy``, which devices do not know."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice

import pytest
from amcrest.exceptions import CommError

from amcrest import AmcrestCamera
from camfetch import timeutil
from camfetch.drivers.amcrest import parse_found, parse_key_values
from camfetch.media.jpeg import decode_check
from camfetch.models import RecordingKind
from camfetch.registry import open_device
from camfetch.sim.amcrest import AmcrestSimulator


def camera(sim: AmcrestSimulator) -> AmcrestCamera:
    client = AmcrestCamera(
        "127.0.0.1", sim.port, sim.username, sim.password, retries_connection=0
    ).camera
    return client


@pytest.mark.parametrize("profile", ["legacy", "modern"])
def test_login_identity_snapshot_and_events(make_sim, profile: str):
    sim: AmcrestSimulator = make_sim(
        AmcrestSimulator, profile=profile, tz="Europe/Berlin", event_interval=0.05
    )
    cam = camera(sim)
    assert cam.serial_number == sim.serial  # logs in first: Basic, then Digest if refused
    assert cam.device_type == sim.model and cam.machine_name == sim.name
    assert cam.software_information[0] == sim.firmware[0]
    assert cam.vendor_information == sim.vendor
    assert f"serialNumber={sim.serial}" in cam.system_information
    assert decode_check(cam.snapshot(channel=1, stream=False)) == (1280, 720)
    events = list(islice(cam.event_actions("All"), 4))
    codes = [code for code, _ in events]
    assert codes[0] == "VideoMotion" and events[0][1]["action"] == "Start"
    assert all(payload["index"] == "0" for _, payload in events)
    if profile == "modern":
        assert events[0][1]["data"]["RegionName"] == ["Region1"]  # JSON data decoded
        assert "CrossLineDetection" in codes
    else:
        assert "data" not in events[0][1]


@pytest.mark.parametrize("profile", ["legacy", "modern"])
def test_find_files_pages_and_leaks_its_finder(make_sim, profile: str):
    sim: AmcrestSimulator = make_sim(AmcrestSimulator, profile=profile, tz="UTC")
    cam = camera(sim)
    now = timeutil.utcnow()
    start, end = now - timedelta(hours=6), now - timedelta(minutes=5)
    pages: list[str] = []
    try:
        for page in cam.find_files(
            start.replace(tzinfo=None), end.replace(tzinfo=None), channel=1, types=["dav"]
        ):
            pages.append(page)
        assert profile == "legacy"  # ErrorID=2 comes with HTTP 200: python-amcrest goes on
    except CommError:
        assert profile == "modern"  # 501 for factory.close
    files = [item for page in pages for item in parse_found(parse_key_values(page), sim.clock.tz)]
    assert len(pages) > 1 and len(files) == len(sim.archive.segments(1, start, end))
    assert sim.open_finders == 1  # never destroyed


async def test_flag_and_flags_conditions_find_the_same_files(make_sim):
    """python-amcrest sends condition.Flag[k], camfetch condition.Flags[k]: both work."""
    sim: AmcrestSimulator = make_sim(AmcrestSimulator, profile="legacy", tz="UTC")
    now = timeutil.utcnow()
    start, end = now - timedelta(hours=3), now - timedelta(minutes=5)
    pages = list(
        camera(sim).find_files(
            start.replace(tzinfo=None), end.replace(tzinfo=None), channel=1, flags=["Timing"]
        )
    )
    theirs = [f for page in pages for f in parse_found(parse_key_values(page), sim.clock.tz)]
    async with open_device(sim.secret_url()) as dev:
        ours = [s async for s in dev.search(1, start, end, ["schedule"])]
    truth = sim.archive.segments(1, start, end, [RecordingKind.SCHEDULE])
    assert len(theirs) == len(ours) == len(truth) > 0
    assert {f.flags for f in theirs} == {("Timing",)}
    assert [s.end for s in ours] == [r.end for r in truth]
