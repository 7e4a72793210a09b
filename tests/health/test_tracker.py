"""Hysteresis: the reported status changes only after the same new status, N times in a row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from camfetch.jobs.health import HealthTracker, Observation, Reason, Status
from camfetch.service.catalog import HealthRecord

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def seen(reason: Reason, minute: int = 0) -> Observation:
    return Observation(
        "viewtron://admin@192.0.2.10", 1, T0 + timedelta(minutes=minute),
        () if reason is Reason.OK else (reason,), latency=0.1, width=1280, height=720,
        luma=80.0, skew=1.0, detail=reason.value,
    )  # fmt: skip


def feed(tracker: HealthTracker, reasons: list[Reason]) -> list[str]:
    return [
        tracker.update("cam", seen(reason, minute)).status for minute, reason in enumerate(reasons)
    ]


def test_the_first_observation_sets_the_status():
    assert feed(HealthTracker(3), [Reason.BLACK]) == ["degraded"]


def test_one_blip_does_not_flip_the_status():
    ok, lost = Reason.OK, Reason.UNREACHABLE
    assert feed(HealthTracker(2), [ok, lost, ok, lost, ok]) == ["ok"] * 5


def test_n_in_a_row_flip_it_both_ways():
    ok, lost = Reason.OK, Reason.TIMEOUT
    statuses = feed(HealthTracker(3), [ok, lost, lost, lost, ok, ok, ok])
    assert statuses == ["ok", "ok", "ok", "offline", "offline", "offline", "ok"]


def test_different_reasons_of_one_status_count_together():
    statuses = feed(HealthTracker(2), [Reason.OK, Reason.BLACK, Reason.FROZEN])
    assert statuses == ["ok", "ok", "degraded"]


def test_a_pending_change_restarts_when_another_status_comes():
    ok, bad, lost = Reason.OK, Reason.SLOW, Reason.UNREACHABLE
    assert feed(HealthTracker(2), [ok, bad, lost, bad, bad]) == [
        "ok", "ok", "ok", "ok", "degraded",
    ]  # fmt: skip


def test_hysteresis_of_one_follows_every_observation():
    assert feed(HealthTracker(1), [Reason.OK, Reason.AUTH, Reason.OK]) == [
        "ok", "offline", "ok",
    ]  # fmt: skip


def test_the_record_carries_status_observation_and_numbers():
    tracker = HealthTracker(2)
    tracker.update("cam", seen(Reason.OK, 0))
    record = tracker.update("cam", seen(Reason.BLACK, 5), channel_id=3)
    assert isinstance(record, HealthRecord)
    assert (record.status, record.observed, record.reason) == ("ok", "degraded", "black")
    assert record.channel_id == 3 and record.checked == T0 + timedelta(minutes=5)
    assert (record.latency, record.width, record.height, record.luma, record.skew) == (
        0.1, 1280, 720, 80.0, 1.0,
    )  # fmt: skip
    state = tracker.state("cam")
    assert state is not None and state.pending is Status.DEGRADED and state.pending_count == 1
    assert state.since == T0 and state.reason is Reason.OK


def test_targets_are_tracked_apart_and_can_be_restored():
    tracker = HealthTracker(2)
    tracker.update(("nvr", 1), seen(Reason.OK))
    tracker.update(("nvr", 2), seen(Reason.UNREACHABLE))
    assert tracker.state(("nvr", 1)).status is Status.OK  # type: ignore[union-attr]
    assert tracker.state(("nvr", 2)).status is Status.OFFLINE  # type: ignore[union-attr]
    stored = HealthRecord(9, T0, "offline", "offline", "timeout", None, None, None, None, None, "")
    restarted = HealthTracker(2)
    restarted.restore(("nvr", 1), stored)
    assert restarted.update(("nvr", 1), seen(Reason.OK, 1)).status == "offline"
    assert restarted.update(("nvr", 1), seen(Reason.OK, 2)).status == "ok"


def test_hysteresis_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        HealthTracker(0)
