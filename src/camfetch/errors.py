"""Typed errors. Every failure camfetch reports is one of these.

Each class carries the exit code the command line uses for it, so a script can
tell a wrong password (3) from a device that refused (4), found nothing (5) or
could not be reached (6). Messages are one readable line and never contain
credentials: they are built from masked device labels only.
"""

from __future__ import annotations


class CamfetchError(Exception):
    """Base class of every error camfetch raises on purpose."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, device: str | None = None) -> None:
        self.message = message
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)

    def with_device(self, device: str) -> CamfetchError:
        """Attach the (masked) device label if none is set yet; returns self."""
        if self.device is None:
            self.device = device
            self.args = (f"{device}: {self.message}",)
        return self


class UsageError(CamfetchError):
    """The request itself is wrong: bad time, unknown channel, bad URL."""

    exit_code = 2
    kind = "usage"


class AuthenticationError(CamfetchError):
    """The device rejected the credentials (or we refused to retry them)."""

    exit_code = 3
    kind = "authentication"


class DeviceRefusedError(CamfetchError):
    """The device understood the request and said no, with its own code and text."""

    exit_code = 4
    kind = "refused"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        text: str | None = None,
        http_status: int | None = None,
        device: str | None = None,
    ) -> None:
        self.code = code
        self.text = text
        self.http_status = http_status
        super().__init__(message, device=device)


class NothingFoundError(CamfetchError):
    """Nothing is recorded for the time asked (or no frame near it)."""

    exit_code = 5
    kind = "nothing-found"


class UnreachableError(CamfetchError):
    """The device could not be reached, or the connection died."""

    exit_code = 6
    kind = "unreachable"


class DeviceTimeoutError(UnreachableError):
    """The device did not answer in time (it hangs, or drips bytes)."""

    kind = "timeout"


class MalformedResponseError(CamfetchError):
    """The device answered something that is not what the protocol says."""

    exit_code = 7
    kind = "malformed"


class ResponseTooLargeError(MalformedResponseError):
    """The body went past the size cap for its kind of request."""

    kind = "too-large"


class CorruptImageError(MalformedResponseError):
    """An image that does not decode: truncated JPEG, garbage bytes."""

    kind = "corrupt-image"


class UnsupportedError(CamfetchError):
    """The device (or its driver) does not offer what was asked."""

    exit_code = 8
    kind = "unsupported"


class MediaError(CamfetchError):
    """ffmpeg failed, was stopped at its time limit, or its output did not verify."""

    exit_code = 9
    kind = "media"


EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "internal error (a bug: please report it)",
    2: "bad usage: wrong arguments, time or URL",
    3: "authentication failed",
    4: "the device refused the request",
    5: "nothing found (no recording, no frame)",
    6: "unreachable or timed out",
    7: "malformed answer from the device",
    8: "not supported by the device",
    9: "media processing (ffmpeg) failed",
    10: "a camera is not ok (health: degraded or offline)",
    130: "interrupted",
}
