"""Amcrest/Dahua simulators for the tests: a legacy Amcrest camera and a modern Dahua NVR."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from camfetch import timeutil
from camfetch.models import RecordingKind
from camfetch.sim.amcrest import AmcrestSimulator
from camfetch.sim.archive import Recording
from tests.conftest import PASSWORD, SimLoop

SMALL = (640, 360)  # recordings encode fast at this size


@pytest.fixture(scope="session")
def legacy(sim_loop: SimLoop) -> Iterator[AmcrestSimulator]:
    """An Amcrest IP2M-841 on 2016 firmware (Basic and Digest, 200 + ErrorID), New York."""
    yield from sim_loop.serve(
        AmcrestSimulator(
            profile="legacy",
            name="Porch",
            tz="America/New_York",
            password=PASSWORD,
            size=SMALL,
            event_interval=0.1,
        )
    )


@pytest.fixture(scope="session")
def modern(sim_loop: SimLoop) -> Iterator[AmcrestSimulator]:
    """A 4-channel Dahua NVR on current firmware (Digest only, 400/501), Berlin."""
    yield from sim_loop.serve(
        AmcrestSimulator(
            profile="modern",
            channels=4,
            name="Depot",
            tz="Europe/Berlin",
            password=PASSWORD,
            size=SMALL,
            event_interval=0.1,
        )
    )


@pytest.fixture(params=["legacy", "modern"])
def profile(request: pytest.FixtureRequest) -> AmcrestSimulator:
    """Each test using this runs against both firmware profiles."""
    sim: AmcrestSimulator = request.getfixturevalue(request.param)
    return sim


def url(sim: AmcrestSimulator, **options: str) -> str:
    """The simulator's URL (password included) with extra options."""
    extra = "".join(f"&{key}={value}" for key, value in options.items())
    return sim.secret_url() + extra


def recording(
    sim: AmcrestSimulator,
    channel: int = 1,
    *,
    longer: float = 0,
    shorter: float = 3600,
    kind: RecordingKind | None = None,
) -> Recording:
    """A whole recording (one file) of the last hours lasting between ``longer`` and
    ``shorter`` seconds."""
    now = timeutil.utcnow()
    for rec in sim.archive.segments(channel, now - timedelta(hours=8), now - timedelta(minutes=10)):
        if longer < rec.seconds < shorter and (kind is None or rec.kind is kind):
            whole = sim.archive.segments(channel, rec.start - timedelta(hours=1), rec.end)
            if whole[-1] == rec:  # not clipped by the window
                return rec
    raise AssertionError("no such recording in the archive")


def shown(sim: AmcrestSimulator, when: datetime) -> datetime:
    """A true instant as the device's clock shows it (aware, in its zone)."""
    return (when + sim.clock.skew).astimezone(sim.clock.tz)
