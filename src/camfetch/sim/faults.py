"""Fault knobs shared by every simulator: the ways real devices misbehave.

A :class:`FaultPlan` is applied by :func:`fault_middleware` to every HTTP answer
a simulator gives (or to the commands named in ``only``). It can be changed
while the simulator runs; tests flip it between requests.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Fault(StrEnum):
    NONE = "none"
    DROP = "drop"  # close the connection without answering
    CUT = "cut"  # send the headers and part of the body, then close
    HANG = "hang"  # accept the request, never answer
    DRIP = "drip"  # answer one byte every half second
    HTTP500 = "http500"  # 500 Internal Server Error
    GARBAGE = "garbage"  # random bytes under the normal content type
    TRUNCATED_JPEG = "truncated-jpeg"  # JPEGs cut short (complete HTTP, broken image)
    BAD_XML = "bad-xml"  # XML that is not well-formed
    XML_BOMB = "xml-bomb"  # entity expansion ("billion laughs")
    OVERSIZED = "oversized"  # a body that never ends
    HTML = "html"  # an HTML error page with status 200
    WRONG_TYPE = "wrong-type"  # the other kind of body: text for images, an image for XML


@dataclass
class FaultPlan:
    fault: Fault = Fault.NONE
    latency: float = 0.0  # seconds added before every answer
    rate: float = 1.0  # share of requests the fault hits
    only: frozenset[str] = field(default_factory=frozenset)  # commands; empty means all
    hits: int = 0  # how many answers were spoiled so far

    def applies(self, command: str) -> bool:
        if self.fault is Fault.NONE:
            return False
        if self.only and command not in self.only:
            return False
        return self.rate >= 1.0 or random.random() < self.rate


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<config version="1.0" xmlns="http://www.ipc.com/ver10"><deviceInfo>&lol9;</deviceInfo></config>
"""
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Error</title></head><body>"
    b"<h1>Service temporarily unavailable</h1><p>Please log in again.</p></body></html>"
)
OVERSIZED_LIMIT = 1024 * 1024 * 1024  # stop after 1 GiB even if the client keeps reading


def fault_middleware(plan: FaultPlan, command_of: Callable[[web.Request], str]) -> Middleware:
    """An aiohttp middleware applying ``plan``; ``command_of`` names a request's command."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if plan.latency > 0:
            await asyncio.sleep(plan.latency)
        if not plan.applies(command_of(request)):
            return await handler(request)
        plan.hits += 1
        fault = plan.fault
        if fault is Fault.DROP:
            _abort(request)
            return web.Response(status=500)  # never sent: the connection is gone
        if fault is Fault.HANG:
            await _wait_for_disconnect(request)
            return web.Response(status=500)
        if fault is Fault.HTTP500:
            return web.Response(
                status=500,
                body=b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                content_type="text/html",
            )
        if fault is Fault.HTML:
            return web.Response(status=200, body=HTML_PAGE, content_type="text/html")
        if fault is Fault.OVERSIZED:
            return await _endless(request)
        response = await handler(request)
        if not isinstance(response, web.Response) or response.body is None:
            return response
        body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
        ctype = response.content_type
        if fault is Fault.CUT:
            return await _cut(request, response.status, ctype, body)
        if fault is Fault.DRIP:
            return await _drip(request, response.status, ctype, body)
        return _spoil(fault, response, ctype, body)

    return middleware


def _spoil(fault: Fault, response: web.Response, ctype: str, body: bytes) -> web.Response:
    is_image = ctype.startswith("image/") or body[:3] == b"\xff\xd8\xff"
    is_xml = "xml" in ctype or body.lstrip()[:1] == b"<"
    if fault is Fault.GARBAGE:
        return _replace(response, os.urandom(max(64, len(body))), ctype)
    if fault is Fault.TRUNCATED_JPEG and is_image:
        return _replace(response, body[: max(16, len(body) // 2)], ctype)
    if fault is Fault.BAD_XML and is_xml:
        return _replace(response, body[: max(8, len(body) // 2)] + b"<unclosed", ctype)
    if fault is Fault.XML_BOMB and is_xml:
        return _replace(response, BOMB, ctype)
    if fault is Fault.WRONG_TYPE:
        if is_image:
            return _replace(response, b"OK\r\n", "text/plain")
        return _replace(response, _TINY_JPEG_HEADER, "image/jpeg")
    return response


# A JPEG start (SOI + APP0): what a confused device sends for an XML command.
_TINY_JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def _replace(response: web.Response, body: bytes, ctype: str) -> web.Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _FRAMING}
    headers["Content-Type"] = ctype
    return web.Response(status=response.status, body=body, headers=headers)


_FRAMING = {"content-length", "content-type", "transfer-encoding", "content-encoding"}


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _wait_for_disconnect(request: web.Request) -> None:
    """Sit on the request until the client gives up (bounded, so nothing leaks)."""
    for _ in range(7200):
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(0.5)


async def _cut(request: web.Request, status: int, ctype: str, body: bytes) -> web.StreamResponse:
    response = web.StreamResponse(
        status=status, headers={"Content-Type": ctype, "Content-Length": str(len(body))}
    )
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    _abort(request)
    return response


async def _drip(request: web.Request, status: int, ctype: str, body: bytes) -> web.StreamResponse:
    response = web.StreamResponse(
        status=status, headers={"Content-Type": ctype, "Content-Length": str(len(body))}
    )
    await response.prepare(request)
    for i in range(len(body)):
        if request.transport is None or request.transport.is_closing():
            break
        await response.write(body[i : i + 1])
        await asyncio.sleep(0.5)
    return response


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/xml"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"<config>" + b"A" * (64 * 1024 - 8)
    sent = 0
    try:
        while sent < OVERSIZED_LIMIT:
            if request.transport is None or request.transport.is_closing():
                break
            await response.write(chunk)
            sent += len(chunk)
    except (ConnectionError, RuntimeError):
        pass  # the client hung up, as it should
    return response
