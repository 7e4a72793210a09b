"""A compact RTSP/1.0 server for device simulators: playback over RTP interleaved in TCP.

Vendor simulators plug in a *resolver*, an async callable that turns the
DESCRIBE request (its URL exactly as the client sent it) into a
:class:`MediaSource`, and optionally an authenticator (:class:`BasicAuth`,
:class:`DigestAuth`). The server does the protocol: SDP, sessions, RTP
packetisation (H.264 per RFC 6184, G.711 per RFC 3551), pacing by the source's
``speed``, and an RTCP BYE at the end of the stream, which makes ffmpeg end its
input cleanly.

Only ``RTP/AVP/TCP;interleaved=a-b`` transport is offered, as device playback
over the internet is used in practice. Every media source and task a client
causes ends when the client leaves or the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import random
import re
import secrets
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from camfetch.aio import uncancellable
from camfetch.sim.httpauth import basic_credentials, digest_response, parse_digest

log = logging.getLogger(__name__)

#: Largest request header block accepted; a longer one is refused and the connection closed.
MAX_HEADER_BYTES = 8192
#: Largest request body accepted (GET_PARAMETER / SET_PARAMETER bodies are read and ignored).
MAX_BODY_BYTES = 65536
#: Largest RTP payload sent; larger H.264 NAL units are split into FU-A fragments.
MAX_PAYLOAD = 1400
#: Kernel send buffer of each client socket: a client that stops reading holds up the
#: source after this much, not after megabytes of autotuned buffer.
SEND_BUFFER_BYTES = 256 * 1024
#: The idle timeout announced in the Session header, in seconds.
SESSION_TIMEOUT = 60
#: Requests a client may queue while an earlier one is still being answered.
MAX_PENDING_REQUESTS = 16

METHODS = (
    "OPTIONS",
    "DESCRIBE",
    "SETUP",
    "PLAY",
    "PAUSE",
    "TEARDOWN",
    "GET_PARAMETER",
    "SET_PARAMETER",
)

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    453: "Not Enough Bandwidth",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
}

_METHOD = re.compile(r"[A-Z][A-Z_]*")
_TRACK_SUFFIX = re.compile(r"/trackID=(\d+)$")
_INTERLEAVED = re.compile(r"interleaved=(\d+)-(\d+)")
_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


class RtspError(Exception):
    """An RTSP error answer: raised by resolvers and handlers, sent as ``status reason``."""

    def __init__(self, status: int, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason or REASONS.get(status, "Error")
        super().__init__(f"{status} {self.reason}")


# -- what a media source provides -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Track:
    """One media stream of a source, as announced in the SDP.

    ``encoding`` selects the RTP packetisation: ``H264`` is packetised per RFC
    6184 from access units; anything else (``PCMU``, ``PCMA``) is sent one
    payload chunk per packet, so the source must cut it to packet size.
    """

    media: str  # "video" or "audio"
    payload_type: int
    encoding: str
    clock_rate: int
    fmtp: str | None = None
    channels: int | None = None

    def sdp(self, control: str) -> list[str]:
        """The SDP media section of this track, with its control attribute."""
        pt = self.payload_type
        rtpmap = f"{self.encoding}/{self.clock_rate}"
        if self.channels is not None:
            rtpmap += f"/{self.channels}"
        lines = [f"m={self.media} 0 RTP/AVP {pt}", f"a=rtpmap:{pt} {rtpmap}"]
        if self.fmtp:
            lines.append(f"a=fmtp:{pt} {self.fmtp}")
        lines.append(f"a=control:{control}")
        return lines


@dataclass(frozen=True, slots=True)
class MediaFrame:
    """One unit of media for one track.

    ``payload`` is an access unit's NAL units (without start codes) for H.264,
    or packet-sized chunks for other encodings. ``pts`` is the media time in
    seconds from the first frame (it sets the RTP timestamp; gaps stay gaps).
    ``send_at`` is when to send it, in seconds of playback at speed 1.
    """

    track: int
    pts: float
    send_at: float
    payload: Sequence[bytes]


class MediaSource(Protocol):
    """What a resolver returns: a playable stream, used by one RTSP session.

    The server calls :meth:`open` once at DESCRIBE (after which ``tracks`` and
    ``duration`` are final), pulls frames with :meth:`next_frame` after PLAY,
    and always calls :meth:`close`, also when the client goes away first.
    """

    @property
    def tracks(self) -> Sequence[Track]:
        """The streams, in SDP order; the index is the ``trackID``."""
        ...

    @property
    def duration(self) -> float | None:
        """Seconds of media time from the first frame to the end; None for live."""
        ...

    @property
    def speed(self) -> float:
        """Playback speed: 1.0 real time, 8.0 eight times faster, 0 as fast as possible."""
        ...

    async def open(self) -> None:
        """Get ready to describe the stream (e.g. start an encoder, learn SPS/PPS)."""
        ...

    async def next_frame(self) -> MediaFrame | None:
        """The next frame in ``send_at`` order, or None at the end of the stream."""
        ...

    async def close(self) -> None:
        """Stop producing and release everything (processes, tasks); idempotent."""
        ...


@dataclass(frozen=True, slots=True)
class RtspRequest:
    """A parsed client request, as handed to the resolver.

    ``url`` is the request URL exactly as sent, minus any ``user:pass@``; for
    requests other than DESCRIBE a trailing ``/trackID=N`` is cut off into
    ``track``. ``headers`` has lowercase names.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    track: int | None = None

    @property
    def target(self) -> str:
        """Path and query as sent: ``/chID=1&date=…``, ``/cam/playback?channel=1&…``."""
        rest = self.url.split("://", 1)[-1]
        ends = [i for i in (rest.find("/"), rest.find("?")) if i >= 0]
        return rest[min(ends) :] if ends else ""

    @property
    def session_id(self) -> str | None:
        """The Session header's id, without parameters."""
        value = self.headers.get("session")
        return value.split(";", 1)[0].strip() if value else None


Resolver = Callable[[RtspRequest], Awaitable[MediaSource]]


# -- authentication -------------------------------------------------------------------------------


class RtspAuth(Protocol):
    """Checks the Authorization header of every request and words the 401 challenge."""

    def verify(self, method: str, authorization: str | None) -> bool:
        """Whether the header carries valid credentials for a request of ``method``."""
        ...

    def challenge(self) -> str:
        """The WWW-Authenticate header value of a 401 answer."""
        ...


class BasicAuth:
    """HTTP Basic authentication against ``users`` (name → password, read on each check)."""

    def __init__(self, users: Mapping[str, str], *, realm: str = "RTSP Server") -> None:
        self.users = users
        self.realm = realm

    def verify(self, method: str, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        pair = basic_credentials(token) if scheme.lower() == "basic" else None
        if pair is None:
            return False
        expected = self.users.get(pair[0])
        return expected is not None and hmac.compare_digest(expected, pair[1])

    def challenge(self) -> str:
        return f'Basic realm="{self.realm}"'


class DigestAuth:
    """HTTP Digest (MD5) authentication against ``users``.

    With ``qop=False`` the challenge has no qop and the response is the RFC 2069
    ``MD5(HA1:nonce:HA2)``, as Dahua RTSP servers do; with ``qop=True`` it is
    RFC 2617 ``qop=auth``. A nonce stays valid while it is among the most
    recently issued ones, so a client may reuse it for a whole session.
    """

    _KEEP_NONCES = 1024

    def __init__(
        self, users: Mapping[str, str], *, realm: str = "RTSP Server", qop: bool = False
    ) -> None:
        self.users = users
        self.realm = realm
        self.qop = qop
        self._nonces: OrderedDict[str, None] = OrderedDict()

    def challenge(self) -> str:
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = None
        while len(self._nonces) > self._KEEP_NONCES:
            self._nonces.popitem(last=False)
        qop = ', qop="auth"' if self.qop else ""
        return f'Digest realm="{self.realm}", nonce="{nonce}"{qop}'

    def verify(self, method: str, authorization: str | None) -> bool:
        scheme, _, rest = (authorization or "").partition(" ")
        if scheme.lower() != "digest":
            return False
        fields = parse_digest(rest)
        password = self.users.get(fields.get("username", ""))
        nonce = fields.get("nonce", "")
        if password is None or nonce not in self._nonces or fields.get("realm") != self.realm:
            return False
        if bool(fields.get("qop")) != self.qop:
            return False
        expected = digest_response(method, fields, self.realm, password)
        return expected is not None and hmac.compare_digest(expected, fields.get("response", ""))


# -- the server -----------------------------------------------------------------------------------


class RtspServer:
    """An RTSP/1.0 server on ``host:port`` (port 0: any free port) serving resolved sources."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        auth: RtspAuth | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        server_name: str = "camfetch-sim RTSP",
    ) -> None:
        self.resolver = resolver
        self.auth = auth
        self.host = host
        self.server_name = server_name
        self._port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The listening port (the one chosen by the system if 0 was asked)."""
        return self._port

    async def start(self) -> None:
        """Listen for clients."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self._port, limit=MAX_HEADER_BYTES
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, close every connection and every media source."""
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        try:
            await _Connection(self, reader, writer).run()
        except asyncio.CancelledError:
            pass  # stop() ended this connection; Python 3.11's stream callback logs a re-raise
        finally:
            self._clients.discard(task)


@dataclass(slots=True)
class _Reply:
    """A handler's answer; ``then`` runs right after it is written (e.g. start streaming)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    then: Callable[[], None] | None = None


class _Connection:
    """One client connection: a reader that frames requests, a worker that answers them in order.

    Reading goes on while a request is being answered, so a client that leaves
    during a resolver that never returns is noticed and everything it caused ends.
    """

    def __init__(
        self, server: RtspServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.pending: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(MAX_PENDING_REQUESTS)
        self.described: dict[str, MediaSource] = {}  # by URL, until a SETUP takes it
        self.sessions: dict[str, _Session] = {}
        self.handlers: dict[str, Callable[[RtspRequest], Awaitable[_Reply]]] = {
            "OPTIONS": self._options,
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "PAUSE": self._pause,
            "TEARDOWN": self._teardown,
            "GET_PARAMETER": self._keepalive,
            "SET_PARAMETER": self._keepalive,
        }

    async def run(self) -> None:
        worker = asyncio.create_task(self._answer_requests())
        try:
            await self._read_requests()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            worker.cancel()
            await uncancellable(self._release(worker))

    async def _release(self, worker: asyncio.Task[None]) -> None:
        """End the worker, close every session and source of this connection, then the socket."""
        await asyncio.gather(worker, return_exceptions=True)
        sources = list(self.described.values())
        self.described.clear()
        sessions = list(self.sessions.values())
        self.sessions.clear()
        await asyncio.gather(
            *(s.close() for s in sessions),
            *(s.close() for s in sources),
            return_exceptions=True,
        )
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    # -- framing --------------------------------------------------------------------------------

    async def _read_requests(self) -> None:
        """Queue each request (head, body); skip interleaved data the client sends (RTCP RR)."""
        while True:
            first = await self.reader.read(1)
            if not first:
                return
            if first == b"$":
                _channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
                await self.reader.readexactly(length)
                continue
            try:
                head = first + await self.reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                self._refuse(400, "Request Header Too Large")
                return
            length = _content_length(head)
            if length is None or length > MAX_BODY_BYTES:
                self._refuse(400 if length is None else 413)
                return
            body = await self.reader.readexactly(length) if length else b""
            try:
                self.pending.put_nowait((head, body))
            except asyncio.QueueFull:
                log.warning("RTSP client sent too many requests without waiting; closing")
                return

    def _refuse(self, status: int, reason: str | None = None) -> None:
        """Answer a request that cannot even be framed; the connection then closes."""
        error = RtspError(status, reason)
        self.writer.write(f"RTSP/1.0 {status} {error.reason}\r\nConnection: close\r\n\r\n".encode())

    async def _answer_requests(self) -> None:
        while True:
            head, body = await self.pending.get()
            cseq, reply = await self._answer(head, body)
            self.writer.write(self._render(cseq, reply))
            if reply.then is not None:
                reply.then()
            await self.writer.drain()

    def _render(self, cseq: str | None, reply: _Reply) -> bytes:
        lines = [f"RTSP/1.0 {reply.status} {REASONS.get(reply.status, 'Error')}"]
        if cseq is not None:
            lines.append(f"CSeq: {cseq}")
        lines.append(f"Server: {self.server.server_name}")
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if reply.body:
            lines.append(f"Content-Length: {len(reply.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body

    # -- dispatch -------------------------------------------------------------------------------

    async def _answer(self, head: bytes, body: bytes) -> tuple[str | None, _Reply]:
        """The CSeq to echo and the reply to a framed request."""
        try:
            request = _parse_request(head, body)
        except RtspError as exc:
            return _find_cseq(head), _Reply(exc.status)
        cseq = request.headers.get("cseq")
        if cseq is None:
            return None, _Reply(400)
        auth = self.server.auth
        credentials = request.headers.get("authorization")
        if auth is not None and not auth.verify(request.method, credentials):
            return cseq, _Reply(401, [("WWW-Authenticate", auth.challenge())])
        handler = self.handlers.get(request.method)
        if handler is None:
            return cseq, _Reply(501, [("Public", ", ".join(METHODS))])
        try:
            return cseq, await handler(request)
        except RtspError as exc:
            return cseq, _Reply(exc.status)
        except Exception:
            log.exception("RTSP %s %s failed", request.method, request.url)
            return cseq, _Reply(500)

    async def _options(self, request: RtspRequest) -> _Reply:
        return _Reply(headers=[("Public", ", ".join(METHODS))])

    async def _keepalive(self, request: RtspRequest) -> _Reply:
        return _Reply()

    async def _describe(self, request: RtspRequest) -> _Reply:
        source = await self._resolve(request)
        old = self.described.pop(_source_key(request.url), None)
        self.described[_source_key(request.url)] = source
        if old is not None:
            await uncancellable(old.close())
        base = request.url if request.url.endswith("/") else request.url + "/"
        sdp = _sdp(source, self.server.server_name, self.server.host)
        return _Reply(
            headers=[("Content-Base", base), ("Content-Type", "application/sdp")],
            body=sdp.encode(),
        )

    async def _setup(self, request: RtspRequest) -> _Reply:
        channels = _interleaved_channels(request.headers.get("transport", ""))
        session = self._session(request) if request.session_id else None
        if session is not None and session.started:
            raise RtspError(455)
        if session is None:
            source = self.described.pop(_source_key(request.url), None)
            if source is None:  # no DESCRIBE on this connection first
                source = await self._resolve(request)
            try:
                index = _track_index(request, source)
            except RtspError:
                await uncancellable(source.close())
                raise
            session = _Session(source, self.writer)
            self.sessions[session.id] = session
        else:
            index = _track_index(request, session.source)
        sender = session.add_track(index, channels, _original_url(request))
        transport = (
            f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[1]};ssrc={sender.ssrc:08X}"
        )
        return _Reply(headers=[("Transport", transport), session.header()])

    async def _play(self, request: RtspRequest) -> _Reply:
        session = self._session(request)
        if not session.senders:
            raise RtspError(455)
        headers = [session.header(), ("Range", session.npt_range())]
        if not session.started:
            headers.append(("RTP-Info", session.rtp_info()))
        return _Reply(headers=headers, then=session.play)

    async def _pause(self, request: RtspRequest) -> _Reply:
        session = self._session(request)
        if not session.started:
            raise RtspError(455)
        session.pause()
        return _Reply(headers=[session.header()])

    async def _teardown(self, request: RtspRequest) -> _Reply:
        session = self._session(request)
        del self.sessions[session.id]
        await session.close()
        return _Reply(headers=[("Session", session.id)])

    def _session(self, request: RtspRequest) -> _Session:
        session = self.sessions.get(request.session_id or "")
        if session is None:
            raise RtspError(454)
        return session

    async def _resolve(self, request: RtspRequest) -> MediaSource:
        """Ask the resolver for the source and open it; closes it again if opening fails."""
        source = await self.server.resolver(request)
        try:
            await source.open()
        except BaseException:
            await uncancellable(source.close())
            raise
        return source


# -- sessions and RTP -----------------------------------------------------------------------------


class _PlaybackClock:
    """Maps ``send_at`` (seconds at speed 1) to loop time, across pauses."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin = 0.0
        self._paused_at: float | None = None

    def start(self) -> None:
        self._origin = asyncio.get_running_loop().time()

    def pause(self) -> None:
        self._paused_at = asyncio.get_running_loop().time()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._origin += asyncio.get_running_loop().time() - self._paused_at
            self._paused_at = None

    def delay(self, send_at: float) -> float:
        """Seconds to wait before sending what is due at ``send_at`` (≤ 0: now)."""
        if self.speed <= 0:
            return 0.0
        return self._origin + send_at / self.speed - asyncio.get_running_loop().time()


class _RtpSender:
    """RTP/RTCP for one track of a session: sequence, timestamps, packets, SR + BYE."""

    def __init__(self, track: Track, channels: tuple[int, int], url: str) -> None:
        self.track = track
        self.channels = channels
        self.url = url  # the SETUP URL, which RTP-Info must repeat exactly
        self.ssrc = random.getrandbits(32)
        self.first_seq = random.getrandbits(16)
        self.base_timestamp = random.randrange(1, 1 << 32)  # ffmpeg ignores rtptime=0
        self._seq = self.first_seq
        self._last_timestamp = self.base_timestamp
        self._last_sent = time.time()
        self._packets = 0
        self._octets = 0

    def rtp_info(self) -> str:
        return f"url={self.url};seq={self.first_seq};rtptime={self.base_timestamp}"

    def frame(self, frame: MediaFrame) -> bytes:
        """The interleaved RTP packets carrying ``frame``."""
        timestamp = (self.base_timestamp + round(frame.pts * self.track.clock_rate)) & 0xFFFFFFFF
        if self.track.encoding == "H264":
            payloads = [p for nal in frame.payload for p in _h264_payloads(nal)]
            last = len(payloads) - 1
            packets = [self._packet(p, timestamp, marker=i == last) for i, p in enumerate(payloads)]
        else:
            packets = [self._packet(p, timestamp, marker=False) for p in frame.payload]
        self._last_timestamp = timestamp
        self._last_sent = time.time()
        return b"".join(_interleave(self.channels[0], p) for p in packets)

    def goodbye(self) -> bytes:
        """An interleaved RTCP compound packet: sender report, then BYE."""
        ntp = self._last_sent + _NTP_EPOCH_OFFSET
        seconds = int(ntp)
        fraction = int((ntp - seconds) * (1 << 32)) & 0xFFFFFFFF
        report = struct.pack(
            "!BBHIIIIII",
            0x80, 200, 6, self.ssrc,
            seconds & 0xFFFFFFFF, fraction, self._last_timestamp, self._packets, self._octets,
        )  # fmt: skip
        bye = struct.pack("!BBHI", 0x81, 203, 1, self.ssrc)
        return _interleave(self.channels[1], report + bye)

    def _packet(self, payload: bytes, timestamp: int, *, marker: bool) -> bytes:
        second = (0x80 if marker else 0) | self.track.payload_type
        header = struct.pack("!BBHII", 0x80, second, self._seq, timestamp, self.ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        self._packets += 1
        self._octets += len(payload)
        return header + payload


class _Session:
    """An RTSP session: one source, the tracks set up, and the task that streams them."""

    def __init__(self, source: MediaSource, writer: asyncio.StreamWriter) -> None:
        self.id = secrets.token_hex(8).upper()
        self.source = source
        self.writer = writer
        self.senders: dict[int, _RtpSender] = {}
        self.clock = _PlaybackClock(source.speed)
        self._playing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def header(self) -> tuple[str, str]:
        return "Session", f"{self.id};timeout={SESSION_TIMEOUT}"

    def add_track(self, index: int, channels: tuple[int, int], url: str) -> _RtpSender:
        if index in self.senders:
            raise RtspError(455)
        used = {c for s in self.senders.values() for c in s.channels}
        if used & set(channels):
            raise RtspError(461)
        sender = _RtpSender(self.source.tracks[index], channels, url)
        self.senders[index] = sender
        return sender

    def npt_range(self) -> str:
        duration = self.source.duration
        return "npt=0.000-" if duration is None else f"npt=0.000-{duration:.3f}"

    def rtp_info(self) -> str:
        return ",".join(s.rtp_info() for _, s in sorted(self.senders.items()))

    def play(self) -> None:
        """Start streaming, or resume after PAUSE."""
        if self._task is None:
            self.clock.start()
            self._task = asyncio.create_task(self._stream())
        else:
            self.clock.resume()
        self._playing.set()

    def pause(self) -> None:
        if self._playing.is_set():
            self._playing.clear()
            self.clock.pause()

    async def close(self) -> None:
        """Stop streaming and close the source, to the end even if cancelled meanwhile."""
        await uncancellable(self._shutdown())

    async def _shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.source.close()

    async def _stream(self) -> None:
        try:
            while (frame := await self.source.next_frame()) is not None:
                sender = self.senders.get(frame.track)
                if sender is None:
                    continue
                await self._wait_until_due(frame.send_at)
                self.writer.write(sender.frame(frame))
                await self.writer.drain()
            self.writer.write(b"".join(s.goodbye() for s in self.senders.values()))
            await self.writer.drain()
        except ConnectionError:
            pass  # the client left; the connection cleans up
        except Exception:
            log.exception("RTSP session %s: the media source failed", self.id)
            self.writer.close()

    async def _wait_until_due(self, send_at: float) -> None:
        while True:
            await self._playing.wait()
            delay = self.clock.delay(send_at)
            if delay <= 0:
                return
            await asyncio.sleep(delay)
            if self._playing.is_set() and self.clock.delay(send_at) <= 0:
                return


def _h264_payloads(nal: bytes) -> list[bytes]:
    """RTP payloads for one NAL unit: itself if it fits, else FU-A fragments (RFC 6184)."""
    if len(nal) <= MAX_PAYLOAD:
        return [nal]
    indicator = (nal[0] & 0xE0) | 28
    kind = nal[0] & 0x1F
    step = MAX_PAYLOAD - 2
    body = nal[1:]
    out = []
    for offset in range(0, len(body), step):
        start = 0x80 if offset == 0 else 0
        end = 0x40 if offset + step >= len(body) else 0
        out.append(bytes((indicator, start | end | kind)) + body[offset : offset + step])
    return out


def _interleave(channel: int, packet: bytes) -> bytes:
    return struct.pack("!cBH", b"$", channel, len(packet)) + packet


# -- parsing --------------------------------------------------------------------------------------


def _parse_request(head: bytes, body: bytes) -> RtspRequest:
    """A request from its header block; RtspError(400/505) if it is not RTSP/1.0."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise RtspError(400) from None
    line, *header_lines = text[: -len("\r\n\r\n")].split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]) or not parts[2].startswith("RTSP/"):
        raise RtspError(400)
    method, url, version = parts
    if version != "RTSP/1.0":
        raise RtspError(505)
    headers: dict[str, str] = {}
    for header in header_lines:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise RtspError(400)
        headers[name.strip().lower()] = value.strip()
    url = _without_userinfo(url)
    track = None
    if method != "DESCRIBE" and (match := _TRACK_SUFFIX.search(url)):
        url, track = url[: match.start()], int(match.group(1))
    return RtspRequest(method, url, headers, body, track)


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    ends = [i for i in (rest.find("/"), rest.find("?")) if i >= 0]
    cut = min(ends) if ends else len(rest)
    authority = rest[:cut]
    return f"{scheme}://{authority.rpartition('@')[2]}{rest[cut:]}"


def _content_length(head: bytes) -> int | None:
    """The Content-Length of a header block (0 if absent), None if it is not a number."""
    match = re.search(rb"(?im)^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$", head)
    if match is None:
        return 0
    value = match.group(1)
    return int(value) if value.isdigit() else None


def _find_cseq(head: bytes) -> str | None:
    match = re.search(rb"(?im)^cseq[ \t]*:[ \t]*(\d+)", head)
    return match.group(1).decode() if match else None


def _source_key(url: str) -> str:
    """How a SETUP URL (suffix cut off) is matched to the DESCRIBE URL."""
    return url.rstrip("/")


def _original_url(request: RtspRequest) -> str:
    """The URL the client sent, with its track suffix put back (RTP-Info repeats it)."""
    if request.track is None:
        return request.url
    return f"{request.url}/trackID={request.track}"


def _track_index(request: RtspRequest, source: MediaSource) -> int:
    if request.track is None:
        if len(source.tracks) == 1:
            return 0
        raise RtspError(459)
    if request.track >= len(source.tracks):
        raise RtspError(404)
    return request.track


def _interleaved_channels(transport: str) -> tuple[int, int]:
    """The interleaved channel pair of the first TCP choice in a Transport header, else 461."""
    for spec in transport.split(","):
        params = spec.strip().split(";")
        match = _INTERLEAVED.search(spec)
        if params[0].upper() == "RTP/AVP/TCP" and match is not None:
            rtp, rtcp = int(match.group(1)), int(match.group(2))
            if rtp <= 255 and rtcp <= 255:
                return rtp, rtcp
    raise RtspError(461)


def _sdp(source: MediaSource, name: str, host: str) -> str:
    """The session description of an opened source."""
    duration = source.duration
    npt = "0-" if duration is None else f"0-{duration:.3f}"
    session_id = random.getrandbits(62)
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {host}",
        f"s={name}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        f"a=range:npt={npt}",
    ]
    for index, track in enumerate(source.tracks):
        lines += track.sdp(f"trackID={index}")
    return "\r\n".join(lines) + "\r\n"
