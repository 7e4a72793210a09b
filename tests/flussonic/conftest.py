"""Flussonic fixtures: a Watcher with three cameras and a directly addressed streamer.

Both run on loopback in the shared simulator loop, with small pictures (fast
ffmpeg) and an archive with many gaps (so "a frame near a gap" always exists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from camfetch import timeutil
from camfetch.sim.archive import RecordingArchive
from camfetch.sim.flussonic import FlussonicSimulator
from tests.conftest import PASSWORD, SimLoop

SIZE = (640, 360)


def gappy(sim: FlussonicSimulator) -> FlussonicSimulator:
    """Give the simulator an archive where every other hour has a gap."""
    sim.archive = RecordingArchive(sim.seed, retention=timedelta(days=2), gap_chance=0.6)
    return sim


@pytest.fixture(scope="session")
def watcher(sim_loop: SimLoop) -> Iterator[FlussonicSimulator]:
    """A Watcher with three cameras (one streamer on the same server), clock in Berlin."""
    yield from sim_loop.serve(
        gappy(
            FlussonicSimulator(
                watcher=True,
                cameras=3,
                name="Campus",
                tz="Europe/Berlin",
                password=PASSWORD,
                size=SIZE,
            )
        )
    )


@pytest.fixture(scope="session")
def streamer(sim_loop: SimLoop) -> Iterator[FlussonicSimulator]:
    """A Media Server with two streams and JPEG thumbnails, clock in New York."""
    yield from sim_loop.serve(
        gappy(
            FlussonicSimulator(
                cameras=2,
                name="Edge",
                tz="America/New_York",
                password=PASSWORD,
                size=SIZE,
            )
        )
    )


@pytest.fixture
def make_flussonic(make_sim: Callable[..., Any]) -> Callable[..., FlussonicSimulator]:
    """A fresh simulator with odd settings, stopped after the test."""

    def make(**kwargs: Any) -> FlussonicSimulator:
        kwargs.setdefault("size", SIZE)
        kwargs.setdefault("name", "Odd")
        sim: FlussonicSimulator = make_sim(FlussonicSimulator, **kwargs)
        return gappy(sim)

    return make


def recorded_start(sim: FlussonicSimulator, channel: int, seconds: int) -> datetime:
    """A whole second with at least ``seconds`` of uninterrupted recording after it."""
    now = int(timeutil.utcnow().timestamp())
    for start, end in sim.ranges(channel, now - 6 * 3600, now - 300):
        begin = max(start, now - 6 * 3600) + 5
        if end - begin >= seconds + 5:
            return datetime.fromtimestamp(begin, timeutil.utcnow().tzinfo)
    raise AssertionError("no long enough recording")


def gap_after(sim: FlussonicSimulator, channel: int) -> tuple[int, int]:
    """(last recorded second + 1, next recorded second) of a gap in the last day."""
    now = int(timeutil.utcnow().timestamp())
    spans = sim.ranges(channel, now - 86400, now - 300)
    assert len(spans) >= 2, "no gap in the archive"
    return spans[0][1], spans[1][0]
