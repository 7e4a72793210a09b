"""HTTP authentication for devices: Basic and Digest, chosen by the device's challenge.

The scheme that worked is remembered, so after the first exchange no request
pays an extra 401: Basic is sent preemptively, Digest reuses the nonce
(aiohttp's :class:`~aiohttp.DigestAuthMiddleware`, which also renews a stale
nonce). Once the device has rejected the credentials, :class:`DeviceAuth` refuses
to send them again until reset, so a wrong password cannot lock the account.
"""

from __future__ import annotations

import base64
from typing import Literal

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, DigestAuthMiddleware, hdrs

AuthMode = Literal["auto", "basic", "digest"]


def offered_schemes(response: ClientResponse) -> set[str]:
    """Auth schemes in the WWW-Authenticate headers of a 401 answer (lowercase)."""
    schemes: set[str] = set()
    for header in response.headers.getall(hdrs.WWW_AUTHENTICATE, []):
        for part in header.split(","):
            word = part.strip().split(" ", 1)[0]
            if word and "=" not in word:
                schemes.add(word.lower())
    return schemes


class DeviceAuth:
    """An aiohttp client middleware holding one device's credentials.

    ``mode`` is the scheme to start with: ``basic`` (sent preemptively, switches
    to Digest if the device asks for it), ``digest`` (wait for the challenge), or
    ``auto`` (send nothing until the device says what it wants).
    """

    def __init__(self, username: str, password: str, mode: AuthMode = "auto") -> None:
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._digest = DigestAuthMiddleware(username, password, preemptive=True)
        self.scheme: str | None = None if mode == "auto" else mode
        self.rejected = False

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if self.scheme == "digest":
            return await self._digest(request, handler)
        if self.scheme == "basic":
            request.headers[hdrs.AUTHORIZATION] = self._basic
            response = await handler(request)
            if response.status == 401 and "digest" in offered_schemes(response):
                response.release()
                self.scheme = "digest"
                request.headers.pop(hdrs.AUTHORIZATION, None)
                return await self._digest(request, handler)
            return response
        response = await handler(request)
        if response.status != 401:
            return response
        offered = offered_schemes(response)
        if "digest" in offered:
            # The Digest middleware asks again for its own challenge (one more 401 without
            # credentials): cheaper than a second wrong-password attempt, since it retries
            # every 401 once to renew a stale nonce.
            response.release()
            self.scheme = "digest"
            return await self._digest(request, handler)
        if "basic" in offered:
            response.release()
            self.scheme = "basic"
            request.headers[hdrs.AUTHORIZATION] = self._basic
            return await handler(request)
        return response
