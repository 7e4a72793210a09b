"""When things happen: clock-aligned ticks, active windows, cron fields, daylight.

An interval of 60 s fires at :00 of every minute, an interval of 300 s at
:00, :05, :10 …: ticks are multiples of the interval since the Unix epoch, so
they never drift with start-up time and two processes agree on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from camfetch.service.config import ActiveWindow, parse_between


def next_tick(now: float, interval: float) -> float:
    """The first multiple of ``interval`` (seconds since the epoch) after ``now``."""
    return (math.floor(now / interval) + 1) * interval


# -- cron ----------------------------------------------------------------------------------------

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (  # (name, low, high, names)
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A five-field cron expression (minute hour day-of-month month day-of-week)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is "*"
    any_weekday: bool  # day of week is "*"

    @classmethod
    def parse(cls, text: str) -> CronSpec:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"cron {text!r}: expected 5 fields (minute hour day month weekday)")
        sets = [_cron_field(value, *spec) for value, spec in zip(fields, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, fields[2] == "*", fields[4] == "*")

    def matches(self, local: datetime) -> bool:
        """Whether the minute of ``local`` (wall-clock time) is selected."""
        if local.minute not in self.minutes or local.hour not in self.hours:
            return False
        if local.month not in self.months:
            return False
        day_ok = local.day in self.days
        weekday_ok = (local.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:  # as cron does: a "*" field does not restrict
            return day_ok and weekday_ok
        return day_ok or weekday_ok


def _cron_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.lower().split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron {name}: step must be at least 1")
        if body == "*":
            first, last = low, high
        else:
            start, _, end = body.partition("-")
            first = _cron_value(start, name, low, high, names)
            last = (
                _cron_value(end, name, low, high, names) if end else (high if step_text else first)
            )
        if first > last:
            raise ValueError(f"cron {name}: range {body} runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"cron {name}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"cron {name}: {value} is outside {low}-{high}")
    return value


# -- daylight --------------------------------------------------------------------------------------


def sun_times(day: date, latitude: float, longitude: float) -> tuple[datetime, datetime] | bool:
    """Sunrise and sunset (UTC) on ``day`` by the sunrise equation; accurate to a few minutes.

    Returns True for midnight sun (daylight all day), False for polar night.
    """
    julian_day = day.toordinal() + 1721424.5  # 00:00 UTC
    n = math.ceil(julian_day - 2451545.0 + 0.0008)
    mean_noon = n - longitude / 360.0
    anomaly = math.radians((357.5291 + 0.98560028 * mean_noon) % 360)
    center = (
        1.9148 * math.sin(anomaly) + 0.02 * math.sin(2 * anomaly) + 0.0003 * math.sin(3 * anomaly)
    )
    ecliptic = math.radians((math.degrees(anomaly) + center + 180 + 102.9372) % 360)
    transit = 2451545.0 + mean_noon + 0.0053 * math.sin(anomaly) - 0.0069 * math.sin(2 * ecliptic)
    declination = math.asin(math.sin(ecliptic) * math.sin(math.radians(23.4397)))
    phi = math.radians(latitude)
    cos_hour = (math.sin(math.radians(-0.833)) - math.sin(phi) * math.sin(declination)) / (
        math.cos(phi) * math.cos(declination)
    )
    if cos_hour < -1:
        return True
    if cos_hour > 1:
        return False
    half_day = math.degrees(math.acos(cos_hour)) / 360.0
    return _from_julian(transit - half_day), _from_julian(transit + half_day)


def _from_julian(value: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=value - 2440587.5)


# -- active windows ---------------------------------------------------------------------------


def is_active(window: ActiveWindow | None, when: datetime, tz: tzinfo) -> bool:
    """Whether a job with this window captures at ``when`` (aware) for a device in ``tz``."""
    if window is None:
        return True
    local = when.astimezone(tz)
    if window.between is not None:
        start, end = parse_between(window.between)
        now = local.time().replace(tzinfo=None)
        return start <= now < end if start <= end else (now >= start or now < end)
    if window.cron is not None:
        return CronSpec.parse(window.cron).matches(local)
    assert window.daylight is not None
    light = window.daylight
    margin = timedelta(seconds=light.margin)
    moment = when.astimezone(UTC)
    for offset in (-1, 0, 1):  # the UTC date of a sunset can differ from the local date
        times = sun_times((moment + timedelta(days=offset)).date(), light.latitude, light.longitude)
        if times is True:
            if offset == 0:
                return True
            continue
        if times is False:
            continue
        sunrise, sunset = times
        if sunrise - margin <= moment <= sunset + margin:
            return True
    return False
