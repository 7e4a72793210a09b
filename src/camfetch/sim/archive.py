"""The recording archive of a simulated device: what was recorded, when, and why.

Recordings are generated hour by hour from a seed, so any time range can be
answered without storing anything and the same question always gets the same
answer. Each channel records around the clock ("schedule"), files roll over at
the top of every hour, events (motion, smart detection, alarm input, manual)
replace schedule recording while they last, and now and then an hour has a
gap (disk or network trouble). The archive reaches back ``retention`` from now
and ends at now, where the current recording is still being written.

Times here are true instants (aware, UTC); vendor simulators convert them to
their own wall clock and names.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from camfetch.models import RecordingKind

HOUR = timedelta(hours=1)
_EVENT_KINDS = (
    (RecordingKind.MOTION, 0.80),
    (RecordingKind.SMART, 0.12),
    (RecordingKind.ALARM, 0.06),
    (RecordingKind.MANUAL, 0.02),
)


@dataclass(frozen=True, slots=True)
class Recording:
    start: datetime
    end: datetime
    kind: RecordingKind

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class RecordingArchive:
    def __init__(
        self,
        seed: str,
        *,
        retention: timedelta = timedelta(days=3),
        events_per_hour: float = 12.0,
        gap_chance: float = 0.08,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.seed = seed
        self.retention = retention
        self.events_per_hour = events_per_hour
        self.gap_chance = gap_chance
        self._now = now or (lambda: datetime.now(UTC))
        self._hours: dict[tuple[int, int], list[Recording]] = {}

    def now(self) -> datetime:
        return self._now()

    @property
    def oldest(self) -> datetime:
        start = self.now() - self.retention
        return _floor_hour(start) + HOUR

    def segments(
        self,
        channel: int,
        start: datetime,
        end: datetime,
        kinds: Iterable[RecordingKind] | None = None,
    ) -> list[Recording]:
        """Recordings overlapping [start, end), oldest first, clipped to the window."""
        wanted = None if kinds is None else set(kinds)
        lo = max(start, self.oldest)
        hi = min(end, self.now())
        out: list[Recording] = []
        if hi <= lo:
            return out
        hour = _floor_hour(lo)
        while hour < hi:
            for rec in self._hour(channel, hour):
                if rec.end <= lo or rec.start >= hi:
                    continue
                if wanted is not None and rec.kind not in wanted:
                    continue
                out.append(Recording(max(rec.start, lo), min(rec.end, hi), rec.kind))
            hour += HOUR
        return out

    def next_recorded(self, channel: int, when: datetime, limit: datetime) -> datetime | None:
        """The first recorded instant at or after ``when`` and before ``limit``."""
        found = self.segments(channel, when, limit)
        return found[0].start if found else None

    # -- generation --------------------------------------------------------------------------

    def _hour(self, channel: int, hour: datetime) -> list[Recording]:
        key = (channel, int(hour.timestamp()) // 3600)
        cached = self._hours.get(key)
        if cached is None:
            cached = self._generate(channel, hour, key[1])
            if len(self._hours) > 20000:
                self._hours.clear()
            self._hours[key] = cached
        return cached

    def _generate(self, channel: int, hour: datetime, index: int) -> list[Recording]:
        digest = hashlib.sha256(f"{self.seed}:{channel}:{index}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        end_of_hour = hour + HOUR
        gap: tuple[datetime, datetime] | None = None
        if rng.random() < self.gap_chance:
            length = timedelta(seconds=rng.randint(180, 2400))
            offset = timedelta(seconds=rng.randint(0, 3600 - int(length.total_seconds())))
            gap = (hour + offset, hour + offset + length)
        events: list[Recording] = []
        count = _poisson(rng, self.events_per_hour)
        for _ in range(count):
            at = hour + timedelta(seconds=rng.randint(0, 3599))
            length = timedelta(seconds=rng.randint(10, 120))
            kind = _pick_kind(rng)
            events.append(Recording(at, min(at + length, end_of_hour), kind))
        events.sort(key=lambda r: r.start)
        merged: list[Recording] = []
        for ev in events:  # overlapping events merge; the first one names the segment
            if merged and ev.start <= merged[-1].end:
                last = merged[-1]
                merged[-1] = Recording(last.start, max(last.end, ev.end), last.kind)
            else:
                merged.append(ev)
        timeline: list[Recording] = []
        cursor = hour
        for ev in merged:
            if ev.start > cursor:
                timeline.append(Recording(cursor, ev.start, RecordingKind.SCHEDULE))
            timeline.append(ev)
            cursor = ev.end
        if cursor < end_of_hour:
            timeline.append(Recording(cursor, end_of_hour, RecordingKind.SCHEDULE))
        if gap is None:
            return timeline
        cut: list[Recording] = []
        for rec in timeline:
            if rec.end <= gap[0] or rec.start >= gap[1]:
                cut.append(rec)
                continue
            if rec.start < gap[0]:
                cut.append(Recording(rec.start, gap[0], rec.kind))
            if rec.end > gap[1]:
                cut.append(Recording(gap[1], rec.end, rec.kind))
        return cut


def _floor_hour(when: datetime) -> datetime:
    ts = int(when.timestamp()) // 3600 * 3600
    return datetime.fromtimestamp(ts, UTC)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; fine for the small means used here.
    limit = math.exp(-mean)
    k, p = 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pick_kind(rng: random.Random) -> RecordingKind:
    roll = rng.random()
    acc = 0.0
    for kind, weight in _EVENT_KINDS:
        acc += weight
        if roll < acc:
            return kind
    return RecordingKind.MOTION
