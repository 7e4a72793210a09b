"""Writing ``multipart/x-mixed-replace`` streams (MJPEG, event streams) from simulators.

Vendors differ in the bytes of each part (a space after ``Content-Length:`` or
not, CRLF after the body or not); :func:`part` builds one part exactly as asked,
and :func:`serve_parts` streams parts to a client until it leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from aiohttp import web


def part(
    body: bytes,
    *,
    boundary: str,
    content_type: str = "image/jpeg",
    headers: Mapping[str, str] | None = None,
    colon_space: bool = True,
    trailing_crlf: bool = True,
) -> bytes:
    """One part: ``--boundary``, its headers, a blank line, the body."""
    sep = ": " if colon_space else ":"
    lines = [f"--{boundary}", f"Content-Type{sep}{content_type}"]
    lines += [f"{name}{sep}{value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length{sep}{len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body + (b"\r\n" if trailing_crlf else b"")


async def serve_parts(
    request: web.Request,
    parts: AsyncIterator[bytes],
    *,
    boundary: str,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Send ``parts`` as a multipart/x-mixed-replace body until they end or the client leaves."""
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={boundary}",
            **(headers or {}),
        }
    )
    await response.prepare(request)
    try:
        async for chunk in parts:
            if request.transport is None or request.transport.is_closing():
                break
            await response.write(chunk)
    except (ConnectionError, RuntimeError):
        pass  # the client went away, as clients of endless streams do
    finally:
        close = getattr(parts, "aclose", None)
        if close is not None:
            await close()
    return response
