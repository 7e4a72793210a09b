"""Shared aiohttp session and the per-device HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from camfetch.errors import (
    AuthenticationError,
    DeviceTimeoutError,
    MalformedResponseError,
    ResponseTooLargeError,
    UnreachableError,
)
from camfetch.http.auth import AuthMode, DeviceAuth

MiB = 1024 * 1024
_CHUNK = 256 * 1024


class HttpPool:
    """One aiohttp session for a whole process; devices borrow it.

    Created lazily inside the running event loop; ``close()`` releases sockets.
    The connector has no global connection limit: limits are per device
    (:attr:`HttpSettings.max_requests`), so a slow device never starves others.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                raise_for_status=False,
                headers={"User-Agent": "camfetch"},
                # Devices send long headers (cookies, Digest challenges): allow 16 KiB.
                max_line_size=16384,
                max_field_size=16384,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout: float = 10.0  # whole request: connect, headers and body
    connect_timeout: float = 5.0
    max_body: int = 8 * MiB
    max_requests: int = 1  # concurrent requests to this device
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def content_type(self) -> str:
        raw = self.headers.get("Content-Type", "")
        return raw.split(";", 1)[0].strip().lower()

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class DeviceHttp:
    """HTTP to one device: base URL, auth, concurrency limit, timeouts and size caps."""

    def __init__(
        self,
        pool: HttpPool,
        base_url: str,
        *,
        label: str,
        username: str | None,
        password: str | None,
        auth_mode: AuthMode = "auto",
        settings: HttpSettings | None = None,
    ) -> None:
        self.pool = pool
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.settings = settings or HttpSettings()
        self._auth = (
            DeviceAuth(username, password or "", auth_mode) if username is not None else None
        )
        self._middlewares = (self._auth,) if self._auth else ()
        self._limit = asyncio.Semaphore(self.settings.max_requests)

    @property
    def auth_scheme(self) -> str | None:
        return self._auth.scheme if self._auth else None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_body: int | None = None,
    ) -> Reply:
        """Send one request and read the whole body (capped). 401 raises AuthenticationError."""
        if self._auth and self._auth.rejected:
            raise AuthenticationError(
                "the device rejected these credentials; not retrying them "
                "(repeated attempts can lock the account)",
                device=self.label,
            )
        limit = self.settings.timeout if timeout is None else timeout
        cap = self.settings.max_body if max_body is None else max_body
        client_timeout = aiohttp.ClientTimeout(
            total=limit, sock_connect=min(self.settings.connect_timeout, limit)
        )
        kwargs: dict[str, Any] = {
            "params": params,
            "data": data,
            "headers": headers,
            "timeout": client_timeout,
            "middlewares": self._middlewares,
            "allow_redirects": False,
        }
        if not self.settings.verify_tls:
            kwargs["ssl"] = False
        url = self.base_url + path
        try:
            async with self._limit, self.pool.session().request(method, url, **kwargs) as response:
                body = await _read_capped(response, cap, self.label)
                reply = Reply(response.status, response.headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise DeviceTimeoutError(
                f"no complete answer within {limit:g} s", device=self.label
            ) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise UnreachableError(
                f"TLS certificate not trusted ({exc.certificate_error}); "
                "add verify=0 to the URL for a self-signed certificate",
                device=self.label,
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.strerror or type(exc.os_error).__name__
            raise UnreachableError(f"cannot connect: {reason}", device=self.label) from None
        except aiohttp.ClientResponseError as exc:
            raise MalformedResponseError(
                f"not a valid HTTP answer ({exc.message})", device=self.label
            ) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
            raise UnreachableError(
                "the device dropped the connection before the answer was complete",
                device=self.label,
            ) from None
        except aiohttp.ClientOSError as exc:
            raise UnreachableError(
                f"connection failed: {exc.strerror or exc}", device=self.label
            ) from None
        except aiohttp.ClientError as exc:
            raise UnreachableError(
                f"HTTP failure: {type(exc).__name__}", device=self.label
            ) from None
        if reply.status == 401:
            if self._auth is None:
                raise AuthenticationError(
                    "the device asks for credentials; put a user in the URL", device=self.label
                )
            self._auth.rejected = True
            raise AuthenticationError("wrong user name or password", device=self.label)
        return reply


async def _read_capped(response: aiohttp.ClientResponse, cap: int, label: str) -> bytes:
    length = response.content_length
    if length is not None:
        if length > cap:
            raise ResponseTooLargeError(
                f"answer of {length} bytes is over the {cap // 1024} KiB limit", device=label
            )
        return await response.read()
    buf = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise ResponseTooLargeError(f"answer is over the {cap // 1024} KiB limit", device=label)
    return bytes(buf)
