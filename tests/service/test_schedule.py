"""Clock-aligned ticks, cron fields, daylight and time windows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from camfetch.service.config import ActiveWindow, Daylight
from camfetch.service.schedule import CronSpec, is_active, next_tick, sun_times


def test_ticks_are_multiples_of_the_interval():
    assert next_tick(1000.5, 60) == 1020.0
    assert next_tick(1020.0, 60) == 1080.0  # exactly on a tick: the next one
    assert next_tick(299.9, 300) == 300.0
    moment = datetime(2026, 5, 1, 10, 17, 42, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(next_tick(moment, 60), UTC).second == 0


def test_cron_matching():
    spec = CronSpec.parse("*/15 6-20 * * mon-fri")
    assert spec.matches(datetime(2026, 11, 20, 6, 45))  # a Friday
    assert not spec.matches(datetime(2026, 11, 21, 6, 45))  # Saturday
    assert not spec.matches(datetime(2026, 11, 20, 21, 0))
    assert not spec.matches(datetime(2026, 11, 20, 7, 10))
    both = CronSpec.parse("0 12 1 * sun")  # day of month OR weekday, as cron does
    assert both.matches(datetime(2026, 11, 1, 12, 0)) and both.matches(datetime(2026, 11, 8, 12, 0))
    assert CronSpec.parse("0 0 * * 7").matches(datetime(2026, 11, 22, 0, 0))  # 7 is Sunday too


@pytest.mark.parametrize(
    "bad", ["* * * *", "60 * * * *", "* 5-1 * * *", "*/0 * * * *", "x * * * *"]
)
def test_bad_cron(bad: str):
    with pytest.raises(ValueError):
        CronSpec.parse(bad)


def test_sunrise_and_sunset_in_berlin():
    times = sun_times(date(2026, 6, 21), 52.52, 13.40)
    assert isinstance(times, tuple)
    rise, fall = times
    assert abs((rise - datetime(2026, 6, 21, 2, 43, tzinfo=UTC)).total_seconds()) < 600
    assert abs((fall - datetime(2026, 6, 21, 19, 33, tzinfo=UTC)).total_seconds()) < 600
    assert sun_times(date(2026, 6, 21), 78.2, 15.6) is True  # Svalbard: midnight sun
    assert sun_times(date(2026, 12, 21), 78.2, 15.6) is False  # polar night


def test_windows():
    berlin = ZoneInfo("Europe/Berlin")
    evening = datetime(2026, 6, 21, 20, 30, tzinfo=UTC)  # 22:30 in Berlin
    assert not is_active(ActiveWindow(between="06:00-20:00"), evening, berlin)
    assert is_active(ActiveWindow(between="22:00-06:00"), evening, berlin)  # wraps midnight
    light = ActiveWindow(daylight=Daylight(latitude=52.52, longitude=13.40))
    assert is_active(light, datetime(2026, 6, 21, 12, tzinfo=UTC), berlin)
    assert not is_active(light, datetime(2026, 6, 21, 23, tzinfo=UTC), berlin)
    assert is_active(ActiveWindow(cron="30 22 * * *"), evening, berlin)
    assert is_active(None, evening, berlin)
    with pytest.raises(ValueError):
        ActiveWindow(between="06:00-20:00", cron="* * * * *")
