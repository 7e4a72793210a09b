from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from camfetch import timeutil
from camfetch.errors import UsageError


def test_parse_iso_with_and_without_offset():
    aware = timeutil.parse_user_time("2026-04-02T11:00:00+02:00")
    assert aware.utcoffset() == timedelta(hours=2)
    naive = timeutil.parse_user_time("2026-04-02 11:00:00")
    assert naive.tzinfo is None and naive.hour == 11
    assert timeutil.parse_user_time("2026-04-02T09:00:00Z").tzinfo is not None


def test_relative_times():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert timeutil.parse_user_time("now", now=now) == now
    assert timeutil.parse_user_time("now-10m", now=now) == now - timedelta(minutes=10)
    assert timeutil.parse_user_time("-2h", now=now) == now - timedelta(hours=2)
    assert timeutil.parse_user_time("-1d", now=now) == now - timedelta(days=1)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01 00:00:00", "12:00"])
def test_bad_times(text: str):
    with pytest.raises(UsageError):
        timeutil.parse_user_time(text)


def test_resolve_naive_as_device_local():
    berlin = ZoneInfo("Europe/Berlin")
    aware = timeutil.resolve(datetime(2026, 7, 1, 12, 0), berlin)
    assert aware.astimezone(UTC).hour == 10


def test_wall_clock_round_trip_and_dst_edges():
    ny = ZoneInfo("America/New_York")
    # the skipped hour moves forward; the repeated hour is read as its first occurrence
    gap = timeutil.from_wall(datetime(2026, 3, 8, 2, 30), ny)
    assert gap.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    fold = timeutil.from_wall(datetime(2026, 11, 1, 1, 30), ny)
    assert fold.utcoffset() == timedelta(hours=-4)
    moment = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
    assert timeutil.format_wall(moment, ny) == "2026-06-01 12:00:00"
    assert timeutil.parse_wall("2026-6-1 12:00:00", ny) == moment  # unpadded, as devices send


def test_posix_rules():
    cst = timeutil.posix_zone("CST-8")
    assert datetime(2026, 1, 1, tzinfo=UTC).astimezone(cst).hour == 8
    us = timeutil.posix_zone("EST5EDT,M3.2.0,M11.1.0")
    assert datetime(2026, 7, 1, 12, tzinfo=UTC).astimezone(us).hour == 8
    assert datetime(2026, 1, 1, 12, tzinfo=UTC).astimezone(us).hour == 7
    with pytest.raises(ValueError):
        timeutil.posix_zone("not a rule")


def test_zone_accepts_names_offsets_and_rules():
    assert timeutil.zone("UTC") is UTC
    assert timeutil.zone("+05:30").utcoffset(None) == timedelta(hours=5, minutes=30)
    assert timeutil.zone("Europe/Berlin").key == "Europe/Berlin"  # type: ignore[attr-defined]
    assert timeutil.zone("CET-1CEST,M3.5.0,M10.5.0/3") is not None
    with pytest.raises(UsageError):
        timeutil.zone("Mars/Olympus")


def test_posix_rule_of_iana_zone_matches_the_zone():
    rule = timeutil.posix_rule_for("Europe/Berlin")
    assert rule == "CET-1CEST,M3.5.0,M10.5.0/3"
    zone = timeutil.posix_zone(rule)
    for month in (1, 7):
        moment = datetime(2026, month, 15, 12, tzinfo=UTC)
        assert (
            moment.astimezone(zone).utcoffset()
            == moment.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
        )
