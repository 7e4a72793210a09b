"""Simulated 2N intercoms for the 2N tests, on loopback in the shared simulator thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from camfetch.sim.two_n import ALL_PRIVILEGES, ApiUser, Privilege, TwoNSimulator
from tests.conftest import PASSWORD, SimLoop

T = TypeVar("T")

#: A second account: everything but Camera Monitoring.
VIEWER = ApiUser("viewer", "Vw-2:x@y", ALL_PRIVILEGES - {Privilege.CAMERA})


def as_user(url: str, user: ApiUser) -> str:
    """The same device URL with another account's credentials."""
    head, _, rest = url.partition("@")
    scheme = head.split("://", 1)[0]
    return f"{scheme}://{quote(user.name, safe='')}:{quote(user.password, safe='')}@{rest}"


def wrong_password(url: str) -> str:
    return url.replace(quote(PASSWORD, safe=""), "Zq9-not-it", 1)


@pytest.fixture(scope="session")
def intercom(sim_loop: SimLoop) -> Iterator[TwoNSimulator]:
    """A 2N IP Verso in Prague: Digest everywhere, HTTP and HTTPS, an admin and a viewer."""
    yield from sim_loop.serve(
        TwoNSimulator(
            name="Front Gate",
            tz="Europe/Prague",
            password=PASSWORD,
            users=[ApiUser("admin", PASSWORD), VIEWER],
            event_interval=0,
        )
    )


@pytest.fixture(scope="session")
def secure(sim_loop: SimLoop) -> Iterator[TwoNSimulator]:
    """A 2N IP Force whose services all refuse plain HTTP (error 7), Digest auth."""
    yield from sim_loop.serve(
        TwoNSimulator(
            variant="2N IP Force",
            name="Loading Dock",
            tz="America/Chicago",
            https_only=True,
            password=PASSWORD,
            event_interval=0,
        )
    )


@pytest.fixture
def make_2n(make_sim: Callable[..., Any]) -> Callable[..., TwoNSimulator]:
    """A fresh simulated intercom with the given knobs, stopped after the test."""

    def make(**kwargs: Any) -> TwoNSimulator:
        kwargs.setdefault("event_interval", 0)
        sim: TwoNSimulator = make_sim(TwoNSimulator, **kwargs)
        return sim

    return make


@pytest.fixture
def on_sim(sim_loop: SimLoop) -> Callable[[Callable[[], T]], T]:
    """Run a plain function inside the simulators' loop (emit events, change knobs)."""

    def run(action: Callable[[], T]) -> T:
        async def call() -> T:
            return action()

        return sim_loop.call(call())

    return run


async def until(check: Callable[[], bool], *, seconds: float = 5.0) -> None:
    """Wait until ``check()`` holds (state changed by the simulators' thread)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
