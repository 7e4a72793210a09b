"""Time: user input, device wall clocks and POSIX time-zone rules.

Devices speak local wall-clock time without an offset. Inside camfetch every
time is aware; drivers convert at the device edge with :func:`to_wall` and
:func:`from_wall`, using the device's zone (from the ``tz=`` option, or what the
device reports as a POSIX rule such as ``CST-8`` or ``CET-1CEST,M3.5.0,M10.5.0/3``).
"""

from __future__ import annotations

import io
import re
import struct
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from camfetch.errors import UsageError

WALL_FORMAT = "%Y-%m-%d %H:%M:%S"
_RELATIVE = re.compile(
    r"^(?:now)?\s*(?:(?P<sign>[-+])\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[smhd]))?$"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_user_time(text: str, *, now: datetime | None = None) -> datetime:
    """Parse a TIME argument.

    Accepts ISO 8601 with or without an offset (``2026-04-02T11:00:00+02:00``,
    ``2026-04-02T11:00:00``), ``YYYY-MM-DD HH:MM:SS``, and relative forms
    ``now``, ``now-10m``, ``-2h``, ``-90s``, ``-1d``. The result is naive when no
    offset was given: it is then the device's local time (see :func:`resolve`).
    Relative times are aware (UTC).
    """
    raw = text.strip()
    if not raw:
        raise UsageError("empty time")
    rel = _RELATIVE.match(raw.lower())
    if rel and (raw.lower().startswith("now") or rel["sign"]):
        base = now or utcnow()
        if rel["num"] is None:
            return base
        delta = timedelta(seconds=float(rel["num"]) * _UNITS[rel["unit"]])
        return base - delta if rel["sign"] == "-" else base + delta
    candidate = raw.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    raise UsageError(
        f"cannot read time {text!r}: use ISO 8601 (2026-04-02T11:00:00[+02:00]), "
        "'YYYY-MM-DD HH:MM:SS' or a relative time such as now-10m"
    )


def resolve(when: datetime, tz: tzinfo) -> datetime:
    """Make ``when`` aware: a naive time is read as wall-clock time in ``tz``."""
    if when.tzinfo is not None and when.utcoffset() is not None:
        return when
    return from_wall(when, tz)


def from_wall(wall: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a naive wall-clock time.

    An ambiguous time (the repeated hour when clocks go back) is read as the
    first occurrence, as devices do; a time in the skipped hour moves forward.
    """
    naive = wall.replace(tzinfo=None)
    aware = naive.replace(tzinfo=tz, fold=0)
    # A wall time in the gap does not survive a round trip through UTC.
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:
        # fold=0 reads a skipped time with the offset before the change: 02:30 becomes 03:30.
        aware = aware.astimezone(UTC).astimezone(tz)
    return aware


def to_wall(when: datetime, tz: tzinfo) -> datetime:
    """The naive wall-clock time a device in ``tz`` shows at the aware moment ``when``."""
    if when.tzinfo is None:
        raise ValueError("to_wall needs an aware datetime")
    return when.astimezone(tz).replace(tzinfo=None)


def format_wall(when: datetime, tz: tzinfo) -> str:
    return to_wall(when, tz).strftime(WALL_FORMAT)


def parse_wall(text: str, tz: tzinfo) -> datetime:
    """Parse a device's ``YYYY-MM-DD HH:MM:SS`` (single-digit fields allowed)."""
    value = text.strip()
    for fmt in (WALL_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return from_wall(datetime.strptime(value, fmt), tz)
        except ValueError:
            continue
    raise ValueError(f"not a device time: {text!r}")


def zone(name: str) -> tzinfo:
    """An IANA zone name, ``UTC``, a fixed offset like ``+02:00``, or a POSIX TZ rule."""
    value = name.strip()
    if not value:
        raise UsageError("empty time zone")
    if value.upper() in {"UTC", "Z", "GMT"}:
        return UTC
    if re.fullmatch(r"[+-]\d{2}:?\d{2}", value):
        sign = -1 if value[0] == "-" else 1
        digits = value[1:].replace(":", "")
        return timezone(timedelta(minutes=sign * (int(digits[:2]) * 60 + int(digits[2:]))))
    if "/" in value or value.isalpha():
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            if "/" in value and "," not in value:
                raise UsageError(f"unknown time zone {name!r}") from None
    try:
        return posix_zone(value)
    except ValueError:
        raise UsageError(f"unknown time zone {name!r}") from None


_POSIX = re.compile(
    r"^(?:<[^>]+>|[A-Za-z]{3,})[+-]?\d{1,2}(?::\d{2}){0,2}"
    r"(?:(?:<[^>]+>|[A-Za-z]{3,})(?:[+-]?\d{1,2}(?::\d{2}){0,2})?"
    r"(?:,[^,]+,[^,]+)?)?$"
)


@lru_cache(maxsize=64)
def posix_zone(rule: str) -> tzinfo:
    """A tzinfo for a POSIX TZ rule such as ``EST5EDT,M3.2.0,M11.1.0``.

    The rule is wrapped in a minimal TZif file (no transitions, the rule as its
    footer) and handed to :mod:`zoneinfo`, which implements POSIX rules exactly.
    """
    if not _POSIX.match(rule):
        raise ValueError(f"not a POSIX TZ rule: {rule!r}")
    empty_v1 = b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 0, 0)
    v2 = b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 1, 4)
    v2 += struct.pack(">lBB", 0, 0, 0) + b"UTC\0"
    data = empty_v1 + v2 + b"\n" + rule.encode("ascii") + b"\n"
    try:
        return ZoneInfo.from_file(io.BytesIO(data), key=rule)
    except (ValueError, OSError) as exc:
        raise ValueError(f"not a POSIX TZ rule: {rule!r} ({exc})") from None


def posix_rule_for(zone_name: str) -> str:
    """The POSIX rule (TZif footer) of an IANA zone, as a device would report it."""
    import importlib.resources
    import zoneinfo

    data: bytes | None = None
    for base in zoneinfo.TZPATH:
        candidate = f"{base}/{zone_name}"
        try:
            with open(candidate, "rb") as fh:
                data = fh.read()
            break
        except OSError:
            continue
    if data is None:
        package, _, resource = f"tzdata.zoneinfo.{zone_name}".replace("/", ".").rpartition(".")
        try:
            data = importlib.resources.files(package).joinpath(resource).read_bytes()
        except (ModuleNotFoundError, FileNotFoundError, OSError):
            return "UTC0"
    footer = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    text = footer.decode("ascii", "replace").strip()
    return text or "UTC0"


def zone_name(tz: tzinfo) -> str:
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    return str(tz)


def local_zone() -> tzinfo:
    """The host's zone (DST-aware where the system says which zone it is in)."""
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        fallback = datetime.now().astimezone().tzinfo
        return fallback if fallback is not None else UTC
