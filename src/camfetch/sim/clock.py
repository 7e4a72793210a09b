"""A simulated device's clock: its own time zone and, optionally, a skew."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from camfetch import timeutil


@dataclass
class DeviceClock:
    tz: tzinfo
    skew: timedelta = field(default_factory=timedelta)  # device clock minus true time

    @property
    def zone_name(self) -> str:
        return timeutil.zone_name(self.tz)

    def now(self) -> datetime:
        """What the device believes the time is, in its zone."""
        return (timeutil.utcnow() + self.skew).astimezone(self.tz)

    def true_time(self, device_time: datetime) -> datetime:
        """The real instant a device timestamp refers to (removes the skew)."""
        return device_time - self.skew

    def wall(self, when: datetime) -> str:
        """``YYYY-MM-DD HH:MM:SS`` on the device's wall clock for an aware instant."""
        return timeutil.format_wall(when, self.tz)

    def parse_wall(self, text: str) -> datetime:
        return timeutil.parse_wall(text, self.tz)
