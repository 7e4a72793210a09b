"""Shared aiohttp session and the per-device HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from camfetch.address import DeviceAddress
from camfetch.errors import (
    AuthenticationError,
    DeviceRefusedError,
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

    @classmethod
    def from_address(
        cls, address: DeviceAddress, *, max_body: int, max_requests: int = 1
    ) -> HttpSettings:
        """The common URL options (``timeout``, ``max_requests``, ``verify``) applied."""
        return cls(
            timeout=address.float_option("timeout", 10.0, minimum=0.1),
            max_requests=address.int_option("max_requests", max_requests, minimum=1),
            verify_tls=address.bool_option("verify", True),
            max_body=max_body,
        )


def base_url(address: DeviceAddress) -> str:
    """``http(s)://host:port`` of a device: ``https=1`` picks the scheme and default port."""
    https = address.bool_option("https", False)
    port = address.port or (443 if https else 80)
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"{'https' if https else 'http'}://{host}:{port}"


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

    @classmethod
    def for_address(
        cls,
        pool: HttpPool,
        address: DeviceAddress,
        *,
        label: str,
        settings: HttpSettings,
        auth: AuthMode | None = "auto",
    ) -> DeviceHttp:
        """HTTP to the device at ``address``. ``auth`` is where authentication starts
        (the URL's ``auth=`` option overrides it); None sends no credentials at all
        (devices that log in with their own headers)."""
        if auth is None:
            return cls(
                pool, base_url(address), label=label, username=None, password=None,
                settings=settings,
            )  # fmt: skip
        mode = address.choice_option("auth", ("auto", "basic", "digest"), auth)
        return cls(
            pool,
            base_url(address),
            label=label,
            username=address.username,
            password=address.password,
            auth_mode=mode,  # type: ignore[arg-type]
            settings=settings,
        )

    @property
    def auth_scheme(self) -> str | None:
        return self._auth.scheme if self._auth else None

    def reject_credentials(self) -> None:
        """Remember that the device refused the credentials: no more attempts with them.

        Drivers call this when a device says so in its own way (an error code in
        a 200 answer); a plain 401 does it automatically.
        """
        if self._auth:
            self._auth.rejected = True

    def _check_credentials(self) -> None:
        if self._auth and self._auth.rejected:
            raise AuthenticationError(
                "the device rejected these credentials; not retrying them "
                "(repeated attempts can lock the account)",
                device=self.label,
            )

    def _kwargs(self, timeout: aiohttp.ClientTimeout, **extra: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "timeout": timeout,
            "middlewares": self._middlewares,
            "allow_redirects": False,
            **extra,
        }
        if not self.settings.verify_tls:
            kwargs["ssl"] = False
        return kwargs

    def _unauthorized(self) -> AuthenticationError:
        if self._auth is None:
            return AuthenticationError(
                "the device asks for credentials; put a user in the URL", device=self.label
            )
        self._auth.rejected = True
        return AuthenticationError("wrong user name or password", device=self.label)

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
        accept_401: bool = False,
    ) -> Reply:
        """Send one request and read the whole body (capped).

        A 401 raises AuthenticationError, unless ``accept_401``: then the answer
        is returned for the driver to read (devices that explain errors in a 401
        body); the driver calls :meth:`reject_credentials` if they were wrong.
        """
        self._check_credentials()
        limit = self.settings.timeout if timeout is None else timeout
        cap = self.settings.max_body if max_body is None else max_body
        client_timeout = aiohttp.ClientTimeout(
            total=limit, sock_connect=min(self.settings.connect_timeout, limit)
        )
        kwargs = self._kwargs(client_timeout, params=params, data=data, headers=headers)
        url = self.base_url + path
        with self._translate_errors(f"no complete answer within {limit:g} s"):
            async with self._limit, self.pool.session().request(method, url, **kwargs) as response:
                body = await _read_capped(response, cap, self.label)
                reply = Reply(response.status, response.headers, body)
        if reply.status == 401 and not accept_401:
            raise self._unauthorized()
        return reply

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float = 30.0,
        accept_401: bool = False,
    ) -> AsyncIterator[StreamReply]:
        """A response read as it arrives: MJPEG, event streams, long polls, downloads.

        There is no limit on the whole exchange, but every read must bring data
        within ``idle_timeout`` seconds, or DeviceTimeoutError is raised. Streams
        do not take one of the device's request slots, so a long event stream
        never blocks snapshots.
        """
        self._check_credentials()
        client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.settings.connect_timeout, sock_read=idle_timeout
        )
        kwargs = self._kwargs(client_timeout, params=params, data=data, headers=headers)
        url = self.base_url + path
        with self._translate_errors(f"the device sent nothing for {idle_timeout:g} s"):
            async with self.pool.session().request(method, url, **kwargs) as response:
                if response.status == 401 and not accept_401:
                    raise self._unauthorized()
                yield StreamReply(response, self.label)

    async def download(
        self,
        path: str,
        target: Path,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        idle_timeout: float = 30.0,
        max_bytes: int = 64 * 1024 * MiB,
        resume: bool = True,
        refuse: Callable[[StreamReply, bytes], Exception] | None = None,
    ) -> Download:
        """GET ``path`` into the file ``target``, resuming it with a Range request.

        If ``target`` holds the start of the file and the device answers 206 from
        that offset, the rest is appended; a device that answers 200 sends the
        whole file again. A non-2xx answer is turned into an exception by
        ``refuse`` (given the reply and the start of its body), by default a
        DeviceRefusedError naming the status.
        """
        have = target.stat().st_size if resume and target.exists() else 0
        wanted = dict(headers or {})
        if have:
            wanted["Range"] = f"bytes={have}-"
        async with self.stream(
            "GET", path, params=params, headers=wanted, idle_timeout=idle_timeout
        ) as reply:
            if reply.status == 416 and have:
                total = _content_range_total(reply.headers.get("Content-Range", ""))
                if total == have:  # already complete
                    return Download(have, have, resumed=True, content_type=reply.content_type)
            if reply.status not in (200, 206):
                body = await reply.read_capped(64 * 1024)
                raise (refuse or _refused)(reply, body)
            start = 0
            if reply.status == 206:
                start = _content_range_start(reply.headers.get("Content-Range", ""))
                if start != have:
                    raise MalformedResponseError(
                        f"asked to resume at byte {have}, the device sent from byte {start}",
                        device=self.label,
                    )
            length = reply.response.content_length
            total = start + length if length is not None else None
            if total is not None and total > max_bytes:
                raise ResponseTooLargeError(
                    f"download of {total} bytes is over the {max_bytes // MiB} MiB limit",
                    device=self.label,
                )
            done = start
            stalled = f"the download stalled for {idle_timeout:g} s"
            with self._translate_errors(stalled), target.open("ab" if start else "wb") as fh:
                async for chunk in reply.response.content.iter_chunked(_CHUNK):
                    done += len(chunk)
                    if done > max_bytes:
                        raise ResponseTooLargeError(
                            f"download is over the {max_bytes // MiB} MiB limit",
                            device=self.label,
                        )
                    fh.write(chunk)
                    if progress is not None:
                        progress(done, total)
            if total is not None and done < total:
                raise UnreachableError(
                    f"the download ended at byte {done} of {total}", device=self.label
                )
            return Download(done, total, resumed=start > 0, content_type=reply.content_type)

    @contextmanager
    def _translate_errors(self, timeout_message: str) -> Iterator[None]:
        """aiohttp's exceptions as camfetch's typed errors, naming the device."""
        try:
            yield
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise DeviceTimeoutError(timeout_message, device=self.label) from None
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


class StreamReply:
    """An answer whose body is still arriving; ``response.content`` reads it."""

    def __init__(self, response: aiohttp.ClientResponse, label: str) -> None:
        self.response = response
        self.label = label

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.response.headers

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def content(self) -> aiohttp.StreamReader:
        return self.response.content

    async def read_capped(self, cap: int) -> bytes:
        """At most ``cap`` bytes of the body (error pages, small answers)."""
        buf = bytearray()
        while len(buf) < cap:
            chunk = await self.response.content.read(cap - len(buf))
            if not chunk:
                break
            buf += chunk
        return bytes(buf)


@dataclass(frozen=True, slots=True)
class Download:
    size: int  # bytes in the file now
    total: int | None  # what the device said the whole file is
    resumed: bool
    content_type: str


def _refused(reply: StreamReply, body: bytes) -> Exception:
    return DeviceRefusedError(
        f"download refused: HTTP {reply.status}",
        code=f"HTTP {reply.status}",
        http_status=reply.status,
        device=reply.label,
    )


def _content_range_start(value: str) -> int:
    """``bytes 100-199/200`` -> 100."""
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return -1


def _content_range_total(value: str) -> int | None:
    """``bytes */200`` or ``bytes 0-9/200`` -> 200."""
    try:
        return int(value.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


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
