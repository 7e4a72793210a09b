"""Health checks: can each camera be reached, is its picture real, is its clock right?

:func:`check_channel` looks at one channel once and returns an
:class:`Observation`: the snapshot's latency, whether the JPEG decodes, its
size, its mean luminance, whether it is the same picture as the last checks,
and the device's clock skew, summed up as a :class:`Reason` and a
:class:`Status`. A :class:`HealthMemory` carries what checks need to remember
from one to the next (recent pictures per channel, each device's clock
reading). A :class:`HealthTracker` adds hysteresis: the status it reports
changes only after the same new status was observed several times in a row,
and it returns the :class:`~camfetch.service.catalog.HealthRecord` to store.

Only the device interface is used, so every vendor is checked the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import re
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from camfetch.device import Device
from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    CorruptImageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MalformedResponseError,
    UnreachableError,
    UnsupportedError,
)
from camfetch.media.jpeg import decode_check
from camfetch.models import Capability
from camfetch.service.config import Thresholds

if TYPE_CHECKING:
    from camfetch.service.catalog import HealthRecord


class Reason(StrEnum):
    """Why a channel is not ok (or ``ok``). :data:`STATUS_OF` maps each to a status."""

    OK = "ok"
    UNREACHABLE = "unreachable"  # no connection, or it dropped
    TIMEOUT = "timeout"  # no complete answer in time
    AUTH = "auth"  # the device rejected the credentials
    REFUSED = "refused"  # the device said no (an error code, a channel it cannot show)
    ERROR = "error"  # no picture for another reason (the detail says which)
    CORRUPT = "corrupt"  # an answer that is not a picture that decodes
    UNSUPPORTED = "unsupported"  # no live snapshot: only reachability and clock checked
    BLACK = "black"  # mean luminance below the threshold
    FROZEN = "frozen"  # the same picture several checks in a row
    RESOLUTION = "resolution"  # not the expected size (or not the size first seen)
    SLOW = "slow"  # the snapshot took longer than the threshold
    CLOCK_SKEW = "clock_skew"  # the device clock is off by more than the threshold


class Status(StrEnum):
    """ok: all is well; degraded: a picture arrives but something is wrong with it or
    with the device's clock; offline: no picture arrives at all."""

    OK = "ok"
    DEGRADED = "degraded"
    OFFLINE = "offline"


#: The status each reason means.
STATUS_OF: dict[Reason, Status] = {
    Reason.OK: Status.OK,
    Reason.UNREACHABLE: Status.OFFLINE,
    Reason.TIMEOUT: Status.OFFLINE,
    Reason.AUTH: Status.OFFLINE,
    Reason.REFUSED: Status.OFFLINE,
    Reason.ERROR: Status.OFFLINE,
    Reason.CORRUPT: Status.DEGRADED,
    Reason.UNSUPPORTED: Status.DEGRADED,
    Reason.BLACK: Status.DEGRADED,
    Reason.FROZEN: Status.DEGRADED,
    Reason.RESOLUTION: Status.DEGRADED,
    Reason.SLOW: Status.DEGRADED,
    Reason.CLOCK_SKEW: Status.DEGRADED,
}

#: When a check finds several problems, the first of these is its reason.
PRECEDENCE: tuple[Reason, ...] = tuple(r for r in Reason if r is not Reason.OK)

_SEVERITY = {Status.OK: 0, Status.DEGRADED: 1, Status.OFFLINE: 2}

#: The picture fingerprint: mean luminance on a grid of this many cells (columns, rows).
GRID = (64, 36)
#: Two pictures are the same when no cell differs by more than this (of 255). JPEG
#: re-encoding moves cells by up to about 5; a changed clock digit moves one by 14 or more.
SAME_PICTURE_TOLERANCE = 8


def reason_of(error: CamfetchError) -> Reason:
    """The reason a typed camfetch error stands for."""
    if isinstance(error, AuthenticationError):
        return Reason.AUTH
    if isinstance(error, DeviceTimeoutError):
        return Reason.TIMEOUT
    if isinstance(error, UnreachableError):
        return Reason.UNREACHABLE
    if isinstance(error, MalformedResponseError):  # CorruptImageError, ResponseTooLargeError
        return Reason.CORRUPT
    if isinstance(error, DeviceRefusedError):
        return Reason.REFUSED
    if isinstance(error, UnsupportedError):
        return Reason.UNSUPPORTED
    return Reason.ERROR


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"1920x1080"`` (a config's ``expected_size``) as (width, height); None stays None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None or not int(match.group(1)) or not int(match.group(2)):
        raise ValueError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, not {text!r}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True, slots=True)
class Observation:
    """What one check of one channel saw.

    ``reasons`` lists every problem found, most important first (empty when all
    is well); :attr:`reason` and :attr:`status` sum it up. ``channel`` is None
    when the check concerned the whole device (its channels could not be listed).
    """

    device: str  # the device's label: no credentials
    channel: int | None
    checked: datetime  # aware, UTC: when the check began
    reasons: tuple[Reason, ...] = ()
    latency: float | None = None  # seconds the live snapshot took
    width: int | None = None
    height: int | None = None
    luma: float | None = None  # mean luminance, 0-255
    skew: float | None = None  # device clock minus host clock, seconds
    detail: str = ""  # one line for people

    @property
    def reason(self) -> Reason:
        return self.reasons[0] if self.reasons else Reason.OK

    @property
    def status(self) -> Status:
        return STATUS_OF[self.reason]

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @classmethod
    def of_error(
        cls, device: str, channel: int | None, error: CamfetchError, *, checked: datetime
    ) -> Observation:
        """A check that ended in a typed error: its reason, and its message as the detail."""
        return cls(device, channel, checked, (reason_of(error),), detail=error.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "checked": self.checked.isoformat(),
            "status": self.status.value,
            "reason": self.reason.value,
            "reasons": [r.value for r in self.reasons],
            "latency": None if self.latency is None else round(self.latency, 3),
            "width": self.width,
            "height": self.height,
            "luma": None if self.luma is None else round(self.luma, 1),
            "skew": self.skew,
            "detail": self.detail,
        }


# -- what checks remember -----------------------------------------------------------------------


@dataclass(slots=True)
class _ChannelMemory:
    anchor: bytes | None = None  # fingerprint of the first picture of the current run
    run: int = 0  # how many pictures in a row were the same as the anchor
    first_size: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class _ClockReading:
    read: float  # time.monotonic() of the reading
    skew: float | None
    note: str | None  # why there is no skew


class HealthMemory:
    """What checks remember from one to the next, per channel and per device.

    Per channel: the fingerprint of the picture a run of identical pictures began
    with, the length of that run (frozen), and the first picture size seen (the
    resolution check when no size is expected). Per device: its clock skew, read
    with ``info()`` at most once every ``clock_max_age`` seconds, so the channels
    of an NVR checked together ask once. Keep one memory for as long as checks
    repeat (a service's lifetime, one command's run).
    """

    def __init__(self, *, clock_max_age: float = 60.0) -> None:
        self.clock_max_age = clock_max_age
        self._channels: dict[tuple[str, int], _ChannelMemory] = {}
        self._clocks: dict[str, _ClockReading] = {}
        self._clock_locks: dict[str, asyncio.Lock] = {}

    def channel(self, device: str, channel: int) -> _ChannelMemory:
        return self._channels.setdefault((device, channel), _ChannelMemory())

    def forget(self, device: str, channel: int | None = None) -> None:
        """Drop what is remembered of a channel (None: of the whole device)."""
        if channel is None:
            self._clocks.pop(device, None)
            for key in [k for k in self._channels if k[0] == device]:
                del self._channels[key]
        else:
            self._channels.pop((device, channel), None)

    async def clock_skew(self, device: Device) -> tuple[float | None, str | None]:
        """The device's clock skew in seconds, or None and a note saying why not."""
        key = device.label
        lock = self._clock_locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._clocks.get(key)
            now = time.monotonic()
            if found is not None and now - found.read < self.clock_max_age:
                return found.skew, found.note
            try:
                info = await device.info()
            except CamfetchError as exc:
                reading = _ClockReading(now, None, f"clock not read: {exc.message}")
            else:
                skew = info.clock_skew_seconds
                note = None if skew is not None else "the device does not tell its time"
                reading = _ClockReading(now, skew, note)
            self._clocks[key] = reading
            return reading.skew, reading.note


# -- looking at a picture -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PictureFacts:
    """What a decoded picture shows: its size, mean luminance and a small fingerprint."""

    width: int
    height: int
    luma: float
    fingerprint: bytes  # GRID cells of mean luminance, row by row


def analyse_picture(data: bytes) -> PictureFacts:
    """Decode the whole image (CorruptImageError if it does not), then measure a small
    luminance version of it (JPEG draft mode: the decoder scales down, cheaply)."""
    from PIL import Image, ImageStat, UnidentifiedImageError

    width, height = decode_check(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (GRID[0] * 2, GRID[1] * 2))
            small = image.convert("L")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptImageError(f"image does not decode: {exc}") from None
    luma = float(ImageStat.Stat(small).mean[0])
    fingerprint = small.resize(GRID, Image.Resampling.BOX).tobytes()
    return PictureFacts(width, height, luma, fingerprint)


def same_picture(a: bytes, b: bytes) -> bool:
    """Whether two fingerprints show the same picture, up to JPEG re-encoding noise."""
    if len(a) != len(b):
        return False
    return all(abs(x - y) <= SAME_PICTURE_TOLERANCE for x, y in zip(a, b, strict=True))


@functools.cache
def _decoders() -> ThreadPoolExecutor:
    """A few threads for decoding, so a fleet's checks never take the default executor."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="camfetch-health")


# -- checking -----------------------------------------------------------------------------------


async def check_channel(
    device: Device,
    channel: int,
    *,
    thresholds: Thresholds | None = None,
    expected_size: tuple[int, int] | None = None,
    memory: HealthMemory | None = None,
) -> Observation:
    """Check one channel once: a timed live snapshot, decoded and measured, and the clock.

    Never raises a camfetch error: a failure is an observation with its reason
    (unreachable, timeout, auth, refused, corrupt …). ``expected_size`` is
    (width, height); without it the first size ``memory`` saw is expected.
    Frozen pictures are seen only through ``memory``: pass the same one to
    every check of the channel (a fresh memory is used when none is given).
    """
    limits = thresholds if thresholds is not None else Thresholds()
    remembered = memory if memory is not None else HealthMemory()
    checked = datetime.now(UTC)
    try:
        capabilities = await device.capabilities()
        if Capability.SNAPSHOT not in capabilities:
            return await _check_clock_only(device, channel, limits, checked)
        await device.timezone()  # learnt once, so the timing below is the snapshot alone
        started = time.monotonic()
        snap = await device.snapshot(channel)
        latency = time.monotonic() - started
        loop = asyncio.get_running_loop()
        facts = await loop.run_in_executor(_decoders(), analyse_picture, snap.data)
    except CamfetchError as exc:
        return Observation.of_error(device.label, channel, exc, checked=checked)
    skew, clock_note = await remembered.clock_skew(device)
    state = remembered.channel(device.label, channel)
    problems: dict[Reason, str] = {}
    size = (facts.width, facts.height)
    shown = f"{size[0]}x{size[1]}"
    if expected_size is not None:
        if size != expected_size:
            problems[Reason.RESOLUTION] = (
                f"picture {shown}, expected {expected_size[0]}x{expected_size[1]}"
            )
    elif state.first_size is None:
        state.first_size = size
    elif size != state.first_size:
        first = state.first_size
        problems[Reason.RESOLUTION] = f"picture {shown}, was {first[0]}x{first[1]} at first"
    if facts.luma < limits.black_luma:
        problems[Reason.BLACK] = f"mean luminance {facts.luma:.1f} < {limits.black_luma:g}"
    if state.anchor is not None and same_picture(state.anchor, facts.fingerprint):
        state.run += 1
    else:
        state.anchor, state.run = facts.fingerprint, 1
    if state.run >= limits.frozen_checks:
        problems[Reason.FROZEN] = f"the same picture {state.run} checks in a row"
    if latency > limits.latency:
        problems[Reason.SLOW] = f"snapshot took {latency:.2f} s (limit {limits.latency:g} s)"
    if skew is not None and abs(skew) > limits.skew:
        problems[Reason.CLOCK_SKEW] = f"device clock {skew:+.0f} s off (limit {limits.skew:g} s)"
    reasons = tuple(r for r in PRECEDENCE if r in problems)
    if reasons:
        detail = "; ".join(problems[r] for r in reasons)
    else:
        clock = f"clock {skew:+.0f} s" if skew is not None else (clock_note or "clock unknown")
        detail = f"{shown} in {latency:.2f} s, luminance {facts.luma:.0f}, {clock}"
    return Observation(
        device.label, channel, checked, reasons, latency=latency, width=facts.width,
        height=facts.height, luma=facts.luma, skew=skew, detail=detail,
    )  # fmt: skip


async def _check_clock_only(
    device: Device, channel: int, limits: Thresholds, checked: datetime
) -> Observation:
    """A device without live snapshots: it answers (info) and its clock is right, or not."""
    info = await device.info()  # reachability: errors become the observation's reason
    skew = info.clock_skew_seconds
    problems = {Reason.UNSUPPORTED: "the device offers no live snapshot: picture not checked"}
    if skew is not None and abs(skew) > limits.skew:
        problems[Reason.CLOCK_SKEW] = f"device clock {skew:+.0f} s off (limit {limits.skew:g} s)"
    reasons = tuple(r for r in PRECEDENCE if r in problems)
    return Observation(
        device.label, channel, checked, reasons, skew=skew,
        detail="; ".join(problems[r] for r in reasons),
    )  # fmt: skip


#: Reasons that concern the whole device: once one channel shows one, the device's other
#: channels are not asked again in that run (each would wait for the same timeout).
DEVICE_REASONS = frozenset({Reason.UNREACHABLE, Reason.TIMEOUT, Reason.AUTH})


async def sample_device(
    device: Device,
    channels: Sequence[int],
    *,
    samples: int,
    interval: float = 1.0,
    thresholds: Thresholds | None = None,
    expected_size: tuple[int, int] | None = None,
    memory: HealthMemory | None = None,
    on_result: Callable[[Observation], None] | None = None,
) -> list[Observation]:
    """A one-off verdict for channels of one device: each checked ``samples`` times.

    One check cannot see a frozen picture; several in a row can, so every
    channel is checked in ``samples`` rounds at least ``interval`` seconds
    apart. Within a round the channels are checked one after the other: a
    device serves few requests at once, and a snapshot waiting for another
    channel's would be timed as slow. A channel's verdict is its worst
    observation (offline, then degraded; the latest of equals); an offline one
    ends its sampling. When the device itself fails (unreachable, timeout,
    auth), its remaining channels get that observation without being asked.
    ``on_result`` hears each channel's verdict as soon as it is final.
    Returns the verdicts in the order of ``channels``.
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    remembered = memory if memory is not None else HealthMemory()
    worst: dict[int, Observation] = {}
    final: dict[int, Observation] = {}

    def settle(channel: int, observation: Observation) -> None:
        final[channel] = observation
        if on_result is not None:
            on_result(observation)

    loop = asyncio.get_running_loop()
    for number in range(samples):
        began = loop.time()
        for channel in channels:
            if channel in final:
                continue
            seen = await check_channel(
                device, channel, thresholds=thresholds, expected_size=expected_size,
                memory=remembered,
            )  # fmt: skip
            previous = worst.get(channel)
            if previous is None or _SEVERITY[seen.status] >= _SEVERITY[previous.status]:
                worst[channel] = seen
            if seen.status is Status.OFFLINE:
                settle(channel, worst[channel])
            if seen.reason in DEVICE_REASONS:
                for other in channels:
                    if other not in final:
                        note = f"{seen.detail} (seen on channel {channel}; not asked)"
                        settle(other, dataclasses.replace(seen, channel=other, detail=note))
                break
        if len(final) == len(channels):
            break
        if number + 1 < samples:
            await asyncio.sleep(max(0.0, interval - (loop.time() - began)))
    for channel in channels:
        if channel not in final:
            settle(channel, worst[channel])
    return [final[channel] for channel in channels]


# -- hysteresis ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackedHealth:
    """A target's reported health: its status after hysteresis and what is pending."""

    status: Status
    reason: Reason  # the latest observed reason that agrees with the status
    since: datetime  # when the status became what it is
    pending: Status | None = None  # a different status observed, not yet confirmed
    pending_count: int = 0  # how many times in a row it was observed


class HealthTracker:
    """Status with hysteresis, per target (any hashable key: a fleet Target, a tuple).

    The first observation of a target sets its status. After that the status
    changes only when ``hysteresis`` observations in a row say the same other
    status, so one lost snapshot does not flip a camera offline and back.
    """

    def __init__(self, hysteresis: int = 2) -> None:
        if hysteresis < 1:
            raise ValueError("hysteresis must be at least 1")
        self.hysteresis = hysteresis
        self._states: dict[Hashable, TrackedHealth] = {}

    def state(self, key: Hashable) -> TrackedHealth | None:
        return self._states.get(key)

    def states(self) -> dict[Hashable, TrackedHealth]:
        return dict(self._states)

    def restore(self, key: Hashable, record: HealthRecord) -> None:
        """Start from a stored record (the latest in the catalog, after a restart)."""
        self._states[key] = TrackedHealth(
            Status(record.status), Reason(record.reason), record.checked
        )

    def forget(self, key: Hashable) -> None:
        self._states.pop(key, None)

    def observe(self, key: Hashable, observation: Observation) -> TrackedHealth:
        """Apply one observation; returns the target's health after it."""
        seen = observation.status
        current = self._states.get(key)
        if current is None:
            tracked = TrackedHealth(seen, observation.reason, observation.checked)
        elif seen is current.status:
            tracked = TrackedHealth(current.status, observation.reason, current.since)
        else:
            count = current.pending_count + 1 if current.pending is seen else 1
            if count >= self.hysteresis:
                tracked = TrackedHealth(seen, observation.reason, observation.checked)
            else:
                tracked = TrackedHealth(current.status, current.reason, current.since, seen, count)
        self._states[key] = tracked
        return tracked

    def update(
        self, key: Hashable, observation: Observation, *, channel_id: int = 0
    ) -> HealthRecord:
        """Apply one observation and return the record to store for it.

        ``channel_id`` is the catalog's id of the channel (``Catalog.add_health``
        takes it again; records that are not stored may leave it 0).
        """
        from camfetch.service.catalog import HealthRecord  # the catalog's import is heavy

        tracked = self.observe(key, observation)
        return HealthRecord(
            channel_id=channel_id,
            checked=observation.checked,
            status=tracked.status.value,
            observed=observation.status.value,
            reason=observation.reason.value,
            latency=observation.latency,
            width=observation.width,
            height=observation.height,
            luma=observation.luma,
            skew=observation.skew,
            detail=observation.detail,
        )
