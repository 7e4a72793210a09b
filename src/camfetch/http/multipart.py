"""Reading ``multipart/x-mixed-replace`` streams as devices really send them.

MJPEG streams and event streams arrive as an endless multipart body. Devices
differ from the RFC in small ways, all tolerated here:

- the boundary in the Content-Type may or may not carry the leading ``--``,
  and parts may be introduced with or without it;
- part headers may lack the space after the colon (``Content-Length:39``) and
  may end lines with LF instead of CRLF;
- a part may have a Content-Length or not (then it ends at the next boundary);
- junk between parts (a stray HTTP header block, blank lines) is skipped until
  the next boundary line.

Every part and header block is size-capped; bytes that never reach a boundary
make the stream malformed rather than use memory without end.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from camfetch.errors import MalformedResponseError, ResponseTooLargeError

MAX_HEADERS = 16 * 1024
_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";,\s]+)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    headers: dict[str, str]  # lowercase names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def boundary_of(content_type: str) -> str | None:
    """The boundary token of a multipart Content-Type, without leading dashes."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    return match.group(1).lstrip("-") or None


def parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in block.replace(b"\r\n", b"\n").split(b"\n"):
        line = raw.decode("latin-1").strip()
        name, sep, value = line.partition(":")
        if sep and name:
            headers[name.strip().lower()] = value.strip()
    return headers


class PartReader:
    """Parts of a multipart stream, read from an aiohttp StreamReader."""

    def __init__(
        self, content: aiohttp.StreamReader, boundary: str, *, max_part: int = 16 * 1024 * 1024
    ) -> None:
        self.content = content
        self.token = boundary.lstrip("-").encode("latin-1")
        self.max_part = max_part
        self.buffer = bytearray()
        self.finished = False

    async def _fill(self) -> bool:
        chunk = await self.content.readany()
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def _boundary_line(self) -> tuple[int, int] | None:
        """(start, end) of the first boundary line: ``[--]token[--]`` at a line start."""
        search_from = 0
        while True:
            at = self.buffer.find(self.token, search_from)
            if at < 0:
                return None
            start = at
            while start > 0 and self.buffer[start - 1 : start] == b"-":
                start -= 1
            if start == 0 or self.buffer[start - 1 : start] == b"\n":
                end = self.buffer.find(b"\n", at)
                if end < 0:
                    return None  # the rest of the line has not arrived
                return start, end + 1
            search_from = at + len(self.token)

    async def _sync(self) -> bool:
        """Drop everything up to and including the next boundary line. False at the end."""
        while True:
            found = self._boundary_line()
            if found is not None:
                start, end = found
                closing = bytes(self.buffer[start:end]).strip().endswith(self.token + b"--")
                del self.buffer[:end]
                return not closing
            if len(self.buffer) > self.max_part:
                raise MalformedResponseError(
                    f"no multipart boundary within {self.max_part // 1024} KiB"
                )
            if not await self._fill():
                return False

    async def _headers(self) -> dict[str, str] | None:
        while True:
            for marker in (b"\r\n\r\n", b"\n\n"):
                end = self.buffer.find(marker)
                if end >= 0:
                    block = bytes(self.buffer[:end])
                    del self.buffer[: end + len(marker)]
                    return parse_headers(block)
            if self.buffer.startswith((b"\r\n", b"\n")):  # a part without headers
                del self.buffer[: 2 if self.buffer.startswith(b"\r\n") else 1]
                return {}
            if len(self.buffer) > MAX_HEADERS:
                raise MalformedResponseError("multipart part headers are too long")
            if not await self._fill():
                return None

    async def _body(self, headers: dict[str, str]) -> bytes | None:
        length_text = headers.get("content-length", "")
        if length_text.isdigit():
            length = int(length_text)
            if length > self.max_part:
                raise ResponseTooLargeError(
                    f"a part of {length} bytes is over the {self.max_part // 1024} KiB limit"
                )
            while len(self.buffer) < length:
                if not await self._fill():
                    return None
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            return body
        while True:  # no length: the body runs to the next boundary line
            found = self._boundary_line()
            if found is not None:
                start = found[0]
                body = bytes(self.buffer[:start]).removesuffix(b"\n").removesuffix(b"\r")
                del self.buffer[:start]
                return body
            if len(self.buffer) > self.max_part:
                raise ResponseTooLargeError(f"a part is over the {self.max_part // 1024} KiB limit")
            if not await self._fill():
                return None

    async def parts(self) -> AsyncIterator[Part]:
        while not self.finished:
            if not await self._sync():
                self.finished = True
                return
            headers = await self._headers()
            if headers is None:
                return
            body = await self._body(headers)
            if body is None:
                return
            yield Part(headers, body)


def iter_parts(
    content: aiohttp.StreamReader, boundary: str, *, max_part: int = 16 * 1024 * 1024
) -> AsyncIterator[Part]:
    """Parts of a multipart stream, as they arrive; ends when the stream ends."""
    return PartReader(content, boundary, max_part=max_part).parts()
