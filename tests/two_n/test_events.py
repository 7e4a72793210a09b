"""The device log as camfetch's event stream: long polls, resubscription, backoff, unsubscribe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from camfetch.errors import AuthenticationError
from camfetch.models import DeviceEvent, EventAction
from camfetch.registry import open_device
from camfetch.sim.faults import Fault
from camfetch.sim.two_n import TwoNSimulator
from tests.two_n.conftest import until, wrong_password


async def collect(
    url: str, count: int, emit: Callable[[], None], notes: list[str]
) -> list[DeviceEvent]:
    """Follow the log, call ``emit`` once subscribed, return the first ``count`` events."""
    found: list[DeviceEvent] = []
    async with open_device(url) as dev:
        stream = dev.events(on_status=notes.append)
        waiting = asyncio.ensure_future(anext(stream))
        await until(lambda: bool(notes))
        emit()
        found.append(await asyncio.wait_for(waiting, 10))
        while len(found) < count:
            found.append(await asyncio.wait_for(anext(stream), 10))
        await stream.aclose()
    return found


async def test_events_are_mapped_and_the_subscription_closed(make_2n, on_sim):
    sim: TwoNSimulator = make_2n(tz="Europe/Prague")

    def visitor() -> None:
        sim.emit("MotionDetected", state="in")
        sim.emit("CallStateChanged", direction="outgoing", state="ringing", peer="sip:1@x")
        sim.emit("CardEntered", direction="in", reader="internal", uid="04A1", valid=True)
        sim.emit("SwitchStateChanged", switch=1, state=True, originator="card")

    notes: list[str] = []
    events = await collect(sim.secret_url(), 4, lambda: on_sim(visitor), notes)
    assert [(e.code, e.kind, e.action) for e in events] == [
        ("MotionDetected", "motion", EventAction.START),
        ("CallStateChanged", "call", EventAction.START),
        ("CardEntered", "access", EventAction.PULSE),
        ("SwitchStateChanged", "door", EventAction.START),
    ]
    assert events[0].channel == 1 and events[2].data["uid"] == "04A1"
    assert str(events[0].time.tzinfo) == "Europe/Prague"
    assert notes[0].startswith("following the device log (subscription ")
    assert sim.log.subscriptions == {}  # unsubscribed on the way out


async def test_cancelling_the_stream_unsubscribes(make_2n):
    sim: TwoNSimulator = make_2n()
    async with open_device(sim.secret_url()) as dev:

        async def follow() -> None:
            async for _ in dev.events():
                pass

        task = asyncio.ensure_future(follow())
        await until(lambda: len(sim.log.subscriptions) == 1)
        await asyncio.sleep(0.1)  # in the middle of a long poll
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await until(lambda: not sim.log.subscriptions)


async def test_a_forgotten_subscription_is_renewed(make_2n, on_sim):
    sim: TwoNSimulator = make_2n()
    notes: list[str] = []
    async with open_device(sim.secret_url()) as dev:
        stream = dev.events(on_status=notes.append)
        first = asyncio.ensure_future(anext(stream))
        await until(lambda: len(sim.log.subscriptions) == 1)
        (old,) = list(sim.log.subscriptions)
        on_sim(sim.log.forget)  # as a restart does: the waiting poll answers error 12 (id)
        await until(lambda: bool(sim.log.subscriptions) and old not in sim.log.subscriptions)
        on_sim(lambda: sim.emit("TamperSwitchActivated", state="in"))
        event = await asyncio.wait_for(first, 10)
        await stream.aclose()
    assert event.kind == "tamper" and event.action is EventAction.START
    assert any(f"no longer knows subscription {old}" in n for n in notes)
    assert sum(n.startswith("following the device log") for n in notes) == 2


async def test_a_failing_device_is_retried_with_backoff_without_losing_events(make_2n, on_sim):
    sim: TwoNSimulator = make_2n()
    notes: list[str] = []
    async with open_device(sim.secret_url()) as dev:
        stream = dev.events(on_status=notes.append)
        first = asyncio.ensure_future(anext(stream))
        await until(lambda: len(sim.log.subscriptions) == 1)

        def break_pulls() -> None:  # the poll under way answers; the ones after it fail
            sim.faults.fault = Fault.DROP
            sim.faults.only = frozenset({"log/pull"})
            sim.emit("UnauthorizedDoorOpen")

        on_sim(break_pulls)
        before = await asyncio.wait_for(first, 10)
        second = asyncio.ensure_future(anext(stream))
        await until(lambda: any("trying again in 1 s" in n for n in notes))
        on_sim(lambda: sim.emit("DoorOpenTooLong", state="in"))  # while unreachable
        on_sim(lambda: setattr(sim.faults, "fault", Fault.NONE))
        event = await asyncio.wait_for(second, 10)
        await stream.aclose()
    assert (before.code, before.action) == ("UnauthorizedDoorOpen", EventAction.PULSE)
    assert event.code == "DoorOpenTooLong" and event.kind == "door"
    assert list(sim.log.subscriptions) == []
    assert sum(n.startswith("following the device log") for n in notes) == 1  # same subscription
    assert "dropped the connection" in next(n for n in notes if "trying again" in n)


async def test_wrong_credentials_end_the_stream(intercom: TwoNSimulator):
    async with open_device(wrong_password(intercom.secret_url())) as dev:
        with pytest.raises(AuthenticationError):
            async for _ in dev.events():
                pass


async def test_a_subscriber_sees_only_what_its_privileges_allow(make_2n, on_sim):
    from camfetch.sim.two_n import ApiUser, Privilege
    from tests.conftest import PASSWORD
    from tests.two_n.conftest import as_user

    guard = ApiUser("guard", "G-1:pw", frozenset({Privilege.CAMERA}))
    sim: TwoNSimulator = make_2n(users=[ApiUser("admin", PASSWORD), guard])

    def happen() -> None:
        sim.emit("CallStateChanged", direction="incoming", state="ringing")
        sim.emit("KeyPressed", key="1")
        sim.emit("MotionDetected", state="in")

    notes: list[Any] = []
    events = await collect(as_user(sim.secret_url(), guard), 1, lambda: on_sim(happen), notes)
    assert [e.code for e in events] == ["MotionDetected"]


async def test_a_log_that_cannot_be_followed_at_all_fails_at_once():
    from camfetch.errors import UnreachableError

    async with open_device("2n://admin:pw-unused@127.0.0.1:9?tz=UTC&timeout=2") as dev:
        with pytest.raises(UnreachableError, match="cannot connect"):
            await asyncio.wait_for(anext(dev.events()), 10)
