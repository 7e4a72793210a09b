"""Shared fixtures: simulators on real loopback sockets, in a thread of their own.

The simulators run in a background event loop so that async tests (pytest's
loop), in-process CLI runs (``asyncio.run``) and subprocesses can all reach them
at the same time, as they would reach real devices.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from camfetch.cli import output
from camfetch.cli.app import app
from camfetch.sim.base import SimulatedDevice
from camfetch.sim.viewtron import ViewtronSimulator

T = TypeVar("T")
S = TypeVar("S", bound=SimulatedDevice)

#: Test devices use a password that needs percent-encoding and is no common word,
#: so "the password appears nowhere" checks mean something.
PASSWORD = "Pw:9f@x/%z!"


class SimLoop:
    """An event loop in a daemon thread that hosts simulators."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="sims")
        self.thread.start()

    def call(self, coro: Awaitable[T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def start(self, sim: SimulatedDevice) -> SimulatedDevice:
        self.call(sim.start())
        return sim

    def stop(self, sim: SimulatedDevice) -> None:
        self.call(sim.stop())

    def serve(self, sim: S) -> Iterator[S]:
        """A fixture's life of ``sim``: started, yielded, stopped (also when a test fails)."""
        self.start(sim)
        try:
            yield sim
        finally:
            self.stop(sim)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="session")
def sim_loop() -> Iterator[SimLoop]:
    loop = SimLoop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def ipc(sim_loop: SimLoop) -> Iterator[ViewtronSimulator]:
    """A Viewtron IPC on API v1.9 (config 1.7), clock in New York."""
    yield from sim_loop.serve(
        ViewtronSimulator(
            api="1.9",
            kind="ipc",
            name="Front Door",
            tz="America/New_York",
            playback_speed=4.0,
            password=PASSWORD,
        )
    )


@pytest.fixture(scope="session")
def nvr(sim_loop: SimLoop) -> Iterator[ViewtronSimulator]:
    """A 4-channel Viewtron NVR on API v2.0, clock in Berlin."""
    yield from sim_loop.serve(
        ViewtronSimulator(
            api="2.0",
            kind="nvr",
            channels=4,
            name="Warehouse",
            tz="Europe/Berlin",
            playback_speed=4.0,
            password=PASSWORD,
        )
    )


@pytest.fixture(params=["ipc", "nvr"])
def persona(request: pytest.FixtureRequest) -> ViewtronSimulator:
    """Each test using this runs against both firmware generations."""
    sim: ViewtronSimulator = request.getfixturevalue(request.param)
    return sim


@pytest.fixture
def make_sim(sim_loop: SimLoop) -> Iterator[Callable[..., Any]]:
    """A factory for fresh simulators (faults, odd settings), stopped after the test."""
    started: list[SimulatedDevice] = []

    def make(cls: type[SimulatedDevice] = ViewtronSimulator, **kwargs: Any) -> Any:
        kwargs.setdefault("password", PASSWORD)
        sim = cls(**kwargs)
        sim_loop.start(sim)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim_loop.stop(sim)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The CLI remembers secrets process-wide; in-process runs must not share them."""
    yield
    output.SECRETS.clear()


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the camfetch CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke
