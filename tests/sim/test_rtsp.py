"""The simulators' RTSP playback server and H.264 pipeline, against the real ffmpeg client.

Everything runs over loopback sockets with the ffmpeg binary from imageio-ffmpeg.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from camfetch.media.ffmpeg import ffmpeg_exe, keyframe_to_jpeg
from camfetch.sim.frames import FrameGenerator
from camfetch.sim.h264 import (
    H264Encoder,
    RecordingStream,
    VideoFormat,
    encode_keyframe,
    h264_type,
    is_keyframe,
    mulaw_encode,
    split_annexb,
)
from camfetch.sim.rtsp import (
    BasicAuth,
    DigestAuth,
    MediaSource,
    RtspAuth,
    RtspError,
    RtspRequest,
    RtspServer,
)

T0 = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
USERS = {"admin": "s3cret"}
VIEWTRON_PATH = "/chID=1&date=2026-04-02&time=11:00:00&timelen=10&streamType=main&action=playback"
DAHUA_PATH = (
    "/cam/playback?channel=1&subtype=0&starttime=2026_04_02_11_00_00&endtime=2026_04_02_11_00_10"
)
GENERATOR = FrameGenerator("NVR-SIM", tz=UTC)
SMALL = VideoFormat(320, 240)


def spans(*pairs: tuple[float, float]) -> list[tuple[datetime, datetime]]:
    """Recorded spans given as (start, end) seconds after T0."""
    return [(T0 + timedelta(seconds=a), T0 + timedelta(seconds=b)) for a, b in pairs]


def recording(
    pairs: Sequence[tuple[float, float]],
    *,
    fmt: VideoFormat = SMALL,
    audio: bool = True,
    speed: float = 0.0,
) -> RecordingStream:
    return RecordingStream(
        lambda when: GENERATOR.image(1, when), spans(*pairs), fmt, audio=audio, speed=speed
    )


class Recorder:
    """A resolver that serves one recording and remembers what it was asked and what it made."""

    def __init__(self, make: Callable[[], RecordingStream]) -> None:
        self.make = make
        self.requests: list[RtspRequest] = []
        self.made: list[RecordingStream] = []

    async def __call__(self, request: RtspRequest) -> MediaSource:
        self.requests.append(request)
        stream = self.make()
        self.made.append(stream)
        return stream


@asynccontextmanager
async def serving(
    resolver: Callable[[RtspRequest], object], auth: RtspAuth | None = None
) -> AsyncIterator[RtspServer]:
    server = RtspServer(resolver, auth=auth)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def url(server: RtspServer, path: str, user: str = "admin", password: str = "s3cret") -> str:
    return f"rtsp://{user}:{password}@127.0.0.1:{server.port}{path}"


async def ffmpeg(*args: str, timeout: float = 30) -> tuple[int, str]:
    """Run the ffmpeg binary; its exit code and stderr."""
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode("utf-8", "replace")


async def export(source: str, out: Path, *extra: str, timeout: str = "5000000") -> tuple[int, str]:
    """The documented NVR export command."""
    return await ffmpeg(
        "-rtsp_transport", "tcp", "-timeout", timeout, "-i", source,
        *extra, "-y", str(out),
    )  # fmt: skip


async def probe(path: Path) -> tuple[float, str, int]:
    """Duration, video stream line and video frame count of a media file."""
    _, text = await ffmpeg("-i", str(path), "-map", "0:v", "-c", "copy", "-f", "null", "-")
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    stream = re.search(r"Stream #0:0.*Video: .*", text)
    frames = re.findall(r"frame=\s*(\d+)", text)
    assert duration and stream and frames, text
    hours, minutes, seconds = duration.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return total, stream.group(0), int(frames[-1])


def ffmpeg_children() -> list[int]:
    """Live (or unreaped) ffmpeg processes whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and comm.startswith("ffmpeg"):
            found.append(int(entry.name))
    return found


async def no_ffmpeg_children(within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while ffmpeg_children():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- exports with the ffmpeg client --------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        (BasicAuth(USERS, realm="NVR"), VIEWTRON_PATH),
        (DigestAuth(USERS, realm="Login to 4K01FD2PAJ6E3FF"), DAHUA_PATH),
        (DigestAuth(USERS, realm="Login to X", qop=True), VIEWTRON_PATH),
    ],
    ids=["basic", "digest-no-qop", "digest-qop"],
)
async def test_export_to_mp4(tmp_path: Path, auth: RtspAuth, path: str) -> None:
    resolver = Recorder(lambda: recording([(0, 10)], fmt=VideoFormat(1280, 720)))
    out = tmp_path / "out.mp4"
    async with serving(resolver, auth) as server:
        code, err = await export(url(server, path), out, "-map", "0:v", "-c:v", "copy", "-an",
                                 "-t", "6")  # fmt: skip
        assert code == 0, err
    duration, stream, _ = await probe(out)
    assert abs(duration - 6) < 1
    assert "h264" in stream and "1280x720" in stream
    assert resolver.requests[0].target == path  # handed over exactly as sent
    assert resolver.requests[0].url == f"rtsp://127.0.0.1:{server.port}{path}"


async def test_gap_stays_in_the_timestamps(tmp_path: Path) -> None:
    resolver = Recorder(lambda: recording([(0, 2), (4, 12)], audio=False))
    out = tmp_path / "gap.mp4"
    async with serving(resolver) as server:
        code, err = await export(url(server, VIEWTRON_PATH), out, "-c:v", "copy", "-an", "-t", "6")
        assert code == 0, err
    duration, _, frames = await probe(out)
    assert abs(duration - 6) < 1
    assert 38 <= frames <= 42  # 2 s + 2 s at 10 fps: the 2 s gap holds no frames


async def test_audio_track_is_mulaw_and_does_not_fit_mp4(tmp_path: Path) -> None:
    resolver = Recorder(lambda: recording([(0, 3)]))
    async with serving(resolver) as server:
        code, err = await export(url(server, VIEWTRON_PATH), tmp_path / "a.mp4", "-c", "copy")
        assert code != 0
        assert "pcm_mulaw, 8000 Hz, mono" in err
        code, err = await export(url(server, VIEWTRON_PATH), tmp_path / "b.mp4", "-c", "copy",
                                 "-an")  # fmt: skip
        assert code == 0, err


@pytest.mark.parametrize(("speed", "at_least", "at_most"), [(1.0, 3.5, 8.0), (0.0, 0.0, 2.5)])
async def test_pacing_follows_speed(
    tmp_path: Path, speed: float, at_least: float, at_most: float
) -> None:
    resolver = Recorder(lambda: recording([(0, 4)], speed=speed))
    async with serving(resolver) as server:
        started = time.monotonic()
        code, err = await export(url(server, VIEWTRON_PATH), tmp_path / "p.mp4", "-c:v", "copy",
                                 "-an")  # fmt: skip
        took = time.monotonic() - started
    assert code == 0, err  # no -t: the stream's RTCP BYE ended the input
    assert at_least <= took <= at_most
    assert abs((await probe(tmp_path / "p.mp4"))[0] - 4) < 0.5


async def test_concurrent_clients(tmp_path: Path) -> None:
    resolver = Recorder(lambda: recording([(0, 3)]))
    async with serving(resolver, DigestAuth(USERS)) as server:
        results = await asyncio.gather(
            *(
                export(url(server, path), tmp_path / f"c{i}.mp4", "-c:v", "copy", "-an")
                for i, path in enumerate([VIEWTRON_PATH, DAHUA_PATH] * 3)
            )
        )
    assert [code for code, _ in results] == [0] * 6, results
    assert len(resolver.made) == 6


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [BasicAuth(USERS), DigestAuth(USERS)], ids=["basic", "digest"])
async def test_wrong_password_is_401(tmp_path: Path, auth: RtspAuth) -> None:
    resolver = Recorder(lambda: recording([(0, 3)]))
    async with serving(resolver, auth) as server:
        code, err = await export(url(server, VIEWTRON_PATH, password="wrong"), tmp_path / "x.mp4")
    assert code != 0
    assert "401" in err
    assert resolver.requests == []


async def test_resolver_error_becomes_the_answer(tmp_path: Path) -> None:
    async def not_found(request: RtspRequest) -> MediaSource:
        raise RtspError(404)

    async with serving(not_found) as server:
        code, err = await export(url(server, DAHUA_PATH), tmp_path / "x.mp4")
    assert code != 0
    assert "404" in err


async def test_hanging_resolver_does_not_block_others(tmp_path: Path) -> None:
    cancelled = asyncio.Event()
    serve = Recorder(lambda: recording([(0, 2)], audio=False))

    async def resolver(request: RtspRequest) -> MediaSource:
        if "action=playback" in request.target:  # this NVR hangs on this URL
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.set()
        return await serve(request)

    async with serving(resolver) as server:
        started = time.monotonic()
        hung = asyncio.create_task(
            export(url(server, VIEWTRON_PATH), tmp_path / "h.mp4", timeout="2000000")
        )
        await asyncio.sleep(0.5)
        code, err = await export(url(server, DAHUA_PATH), tmp_path / "ok.mp4", "-c:v", "copy")
        assert code == 0, err
        code, _ = await hung
        assert code != 0
        assert time.monotonic() - started < 8
        await asyncio.wait_for(cancelled.wait(), 5)  # the client left: its DESCRIBE ended


@pytest.mark.parametrize("fail_at", [0, 25], ids=["at-describe", "midstream"])
async def test_render_failure_ends_the_stream(tmp_path: Path, fail_at: int) -> None:
    rendered = 0

    def render(when: datetime) -> Image.Image:
        nonlocal rendered
        rendered += 1
        if rendered > fail_at:
            raise OSError("disk read error")
        return GENERATOR.image(1, when)

    resolver = Recorder(lambda: RecordingStream(render, spans((0, 10)), SMALL, speed=0))
    async with serving(resolver) as server:
        code, err = await export(url(server, VIEWTRON_PATH), tmp_path / "f.mp4", "-c:v", "copy")
        if fail_at == 0:
            assert code != 0 and "500" in err
        else:  # the server hangs up, as a device does; ffmpeg keeps what came
            assert "End of file" in err
        assert await no_ffmpeg_children()


async def test_client_killed_midstream_leaves_nothing_running(tmp_path: Path) -> None:
    resolver = Recorder(lambda: recording([(0, 60)], speed=1.0))
    async with serving(resolver) as server:
        client = await asyncio.create_subprocess_exec(
            ffmpeg_exe(), "-nostdin", "-rtsp_transport", "tcp", "-i", url(server, VIEWTRON_PATH),
            "-c:v", "copy", "-an", "-y", str(tmp_path / "k.mp4"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(1.5)
        assert len(ffmpeg_children()) == 2  # the client and the server's encoder
        client.kill()
        await client.wait()
        assert await no_ffmpeg_children()  # noticed without waiting for stop()
    assert ffmpeg_children() == []


async def test_stop_ends_streams_in_progress(tmp_path: Path) -> None:
    resolver = Recorder(lambda: recording([(0, 60)], speed=1.0))
    async with serving(resolver) as server:
        client = asyncio.create_task(
            export(url(server, VIEWTRON_PATH), tmp_path / "s.mp4", "-c:v", "copy", "-an")
        )
        await asyncio.sleep(1.5)
    code, _ = await asyncio.wait_for(client, 10)  # the server hung up on it
    assert code is not None
    assert ffmpeg_children() == []  # and its encoder, 58 s short of the end, is gone


# -- the protocol at the byte level --------------------------------------------------------------


class RawClient:
    """A minimal RTSP client over TCP for checking the server's answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.cseq = 0
        self.packets: list[tuple[int, bytes]] = []  # interleaved data seen while waiting

    @classmethod
    async def connect(cls, server: RtspServer, receive_buffer: int | None = None) -> RawClient:
        sock = socket.socket()
        if receive_buffer is not None:  # a fixed size also stops the kernel's autotuning
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        return cls(reader, writer)

    async def play(self, base: str) -> str:
        """DESCRIBE, SETUP both tracks and PLAY; the session id."""
        assert (await self.request("DESCRIBE", base))[0] == 200
        _, headers, _ = await self.request(
            "SETUP", base + "/trackID=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1"
        )
        session = headers["session"].split(";")[0]
        await self.request(
            "SETUP", base + "/trackID=1", Transport="RTP/AVP/TCP;unicast;interleaved=2-3",
            Session=session,
        )  # fmt: skip
        assert (await self.request("PLAY", base + "/", Session=session))[0] == 200
        return session

    async def request(
        self, method: str, target: str, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        self.cseq += 1
        lines = [f"{method} {target} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, answer, body = await self.answer()
        assert answer.get("cseq") == str(self.cseq)
        return status, answer, body

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        """The next RTSP answer, keeping interleaved packets that come before it."""
        while (first := await self.reader.readexactly(1)) == b"$":
            self.packets.append(await self._packet())
        head = (first + await self.reader.readuntil(b"\r\n\r\n")).decode()
        status_line, *rest = head.strip().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in rest)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body

    async def packet(self) -> tuple[int, bytes]:
        """The next interleaved (channel, packet)."""
        assert await self.reader.readexactly(1) == b"$"
        return await self._packet()

    async def _packet(self) -> tuple[int, bytes]:
        channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
        return channel, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_malformed_unknown_and_unsupported() -> None:
    resolver = Recorder(lambda: recording([(0, 3)]))
    async with serving(resolver) as server:
        client = await RawClient.connect(server)
        base = f"rtsp://127.0.0.1:{server.port}{VIEWTRON_PATH}"
        assert (await client.request("ANNOUNCE", base))[0] == 501
        assert (await client.request("SETUP", base + "/trackID=0", Transport="RTP/AVP;unicast;"
                                     "client_port=5000-5001"))[0] == 461  # fmt: skip
        assert (await client.request("PLAY", base + "/", Session="NOSUCH"))[0] == 454
        client.writer.write(b"HELLO\r\nCSeq: 9\r\n\r\n")
        status, headers, _ = await client.answer()
        assert (status, headers["cseq"]) == (400, "9")
        client.writer.write(b"OPTIONS * RTSP/1.0\r\n\r\n")  # no CSeq
        assert (await client.answer())[0] == 400
        client.writer.write(b"OPTIONS * RTSP/1.0\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n")
        assert (await client.answer())[0] == 400
        assert await client.reader.read() == b""  # refused and closed
        await client.close()


async def test_describe_setup_play_pause_teardown() -> None:
    resolver = Recorder(lambda: recording([(0, 30)], speed=1.0))
    async with serving(resolver) as server:
        client = await RawClient.connect(server)
        base = f"rtsp://127.0.0.1:{server.port}{DAHUA_PATH}"
        status, headers, body = await client.request("DESCRIBE", base, Accept="application/sdp")
        assert status == 200 and headers["content-base"] == base + "/"
        sdp = body.decode()
        for line in ("a=control:*", "a=range:npt=0-30.000", "m=video 0 RTP/AVP 96",
                     "a=rtpmap:96 H264/90000", "a=control:trackID=0", "m=audio 0 RTP/AVP 0",
                     "a=rtpmap:0 PCMU/8000", "a=control:trackID=1"):  # fmt: skip
            assert line in sdp.splitlines(), sdp
        sprop = re.search(r"sprop-parameter-sets=([^,;\s]+),([^;\s]+)", sdp)
        profile = re.search(r"profile-level-id=([0-9A-F]{6})", sdp)
        assert sprop and profile and "packetization-mode=1" in sdp

        status, headers, _ = await client.request(
            "SETUP", base + "/trackID=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1"
        )
        assert status == 200 and headers["session"].endswith(";timeout=60")
        session = headers["session"].split(";")[0]
        assert "interleaved=0-1" in headers["transport"]
        status, _, _ = await client.request(
            "SETUP", base + "/trackID=1", Transport="RTP/AVP/TCP;unicast;interleaved=2-3",
            Session=session,
        )  # fmt: skip
        assert status == 200
        status, headers, _ = await client.request("PLAY", base + "/", Session=session)
        assert status == 200 and headers["range"] == "npt=0.000-30.000"
        info = {
            track: (int(seq), int(rtptime))
            for track, seq, rtptime in re.findall(
                r"trackID=(\d);seq=(\d+);rtptime=(\d+)", headers["rtp-info"]
            )
        }

        first: dict[int, bytes] = {}
        while len(first) < 2:
            channel, packet = await client.packet()
            first.setdefault(channel, packet)
        for track, channel in (("0", 0), ("1", 2)):
            seq, timestamp = struct.unpack("!HI", first[channel][2:8])
            assert (seq, timestamp) == info[track]
        video = first[0]
        assert video[1] & 0x7F == 96 and video[12] & 0x1F == 7  # SPS first, as a single NAL
        assert video[12:] == base64.b64decode(sprop.group(1))
        assert first[2][1] == 0 and len(first[2]) == 12 + 160  # PCMU, 20 ms

        assert (await client.request("PAUSE", base + "/", Session=session))[0] == 200
        await asyncio.sleep(0.3)  # packets already on the way arrive; then nothing
        client.packets.clear()
        while True:
            try:
                client.packets.append(await asyncio.wait_for(client.packet(), 0.5))
            except TimeoutError:
                break
        assert len(client.packets) < 60  # at most what was buffered before the pause
        assert (await client.request("PLAY", base + "/", Session=session))[0] == 200
        assert (await asyncio.wait_for(client.packet(), 2))[0] in (0, 2)
        status, _, _ = await client.request("GET_PARAMETER", base + "/", Session=session)
        assert status == 200
        status, _, _ = await client.request("TEARDOWN", base + "/", Session=session)
        assert status == 200
        await client.close()
        await asyncio.sleep(0.2)
        assert ffmpeg_children() == []


async def test_slow_client_holds_up_rendering() -> None:
    rendered = 0

    def render(when: datetime) -> Image.Image:
        nonlocal rendered
        rendered += 1
        return GENERATOR.image(1, when)

    fmt = VideoFormat(1280, 720)
    resolver = Recorder(lambda: RecordingStream(render, spans((0, 120)), fmt, speed=0))
    async with serving(resolver) as server:
        client = await RawClient.connect(server, receive_buffer=32768)
        await client.play(f"rtsp://127.0.0.1:{server.port}/x")  # and never read again
        counts = [-1]
        while counts[-1] != rendered:  # until rendering stalls
            counts.append(rendered)
            await asyncio.sleep(0.5)
        assert rendered < 300  # of 1200 frames at speed 0: the server waits for the client
        await client.close()


async def test_auth_challenges_every_request() -> None:
    resolver = Recorder(lambda: recording([(0, 3)]))
    async with serving(resolver, DigestAuth(USERS, realm="Login to X")) as server:
        client = await RawClient.connect(server)
        status, headers, _ = await client.request("OPTIONS", f"rtsp://127.0.0.1:{server.port}/")
        assert status == 401
        assert re.fullmatch(r'Digest realm="Login to X", nonce="[0-9a-f]{32}"',
                            headers["www-authenticate"])  # fmt: skip
        await client.close()


# -- the H.264 pipeline ---------------------------------------------------------------------------


async def test_recording_stream_timeline() -> None:
    stream = recording([(0, 2), (5, 6.5)], audio=True)
    await stream.open()
    try:
        frames = []
        while (frame := await stream.next_frame()) is not None:
            frames.append(frame)
    finally:
        await stream.close()
    video = [f for f in frames if f.track == 0]
    audio = [f for f in frames if f.track == 1]
    assert len(video) == 35 and len(audio) == 175
    assert [round(f.pts, 3) for f in video[19:21]] == [1.9, 5.0]  # the gap stays in pts
    assert [round(f.send_at, 3) for f in video[19:21]] == [1.9, 2.0]  # and is skipped in time
    assert [i for i, f in enumerate(video) if is_keyframe(list(f.payload))] == [0, 20]
    sps = next(n for n in video[20].payload if h264_type(n) == 7)
    assert base64.b64encode(sps).decode() in (stream.tracks[0].fmtp or "")
    assert all(len(f.payload) == 1 and len(f.payload[0]) == 160 for f in audio)
    assert [f.send_at for f in frames] == sorted(f.send_at for f in frames)


async def test_encoder_is_killed_when_abandoned() -> None:
    frame = Image.new("RGB", SMALL.size, (10, 20, 30)).tobytes()
    async with H264Encoder(SMALL) as encoder:

        async def feed() -> None:
            while True:
                await encoder.write(frame)

        # Nobody reads: the pipes fill up and the writer blocks until cancelled.
        feeder = asyncio.create_task(feed())
        await asyncio.sleep(0.5)
        assert not feeder.done()
        assert len(ffmpeg_children()) == 1
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
    assert ffmpeg_children() == []


async def test_encoder_output_is_one_unit_per_frame() -> None:
    frames = [Image.new("RGB", SMALL.size, (i * 20, 0, 0)).tobytes() for i in range(7)]
    async with H264Encoder(SMALL, keyframes=[0, 4]) as encoder:

        async def feed() -> None:
            for frame in frames:
                await encoder.write(frame)
            await encoder.end_input()

        feeder = asyncio.create_task(feed())
        units = []
        while (unit := await encoder.read()) is not None:
            units.append(unit)
        await feeder
    assert [is_keyframe(u) for u in units] == [True, False, False, False, True, False, False]
    assert all(h264_type(nal) != 9 for u in units for nal in u)  # delimiters stripped


@pytest.mark.parametrize("codec", ["h264", "hevc"])
async def test_encode_keyframe_decodes(codec: str) -> None:
    picture = GENERATOR.image(2, T0, size=(640, 360))
    data = await encode_keyframe(picture, codec)  # type: ignore[arg-type]
    nals = split_annexb(data)
    if codec == "h264":
        assert [h264_type(n) for n in nals] == [7, 8, 5]
    else:
        assert [(n[0] >> 1) & 0x3F for n in nals][:3] == [32, 33, 34]
    jpeg = await keyframe_to_jpeg(data, codec)
    assert Image.open(io.BytesIO(jpeg)).size == (640, 360)


def test_mulaw_reference_values() -> None:
    assert mulaw_encode([0, 32767, -32768, 1000, -1000]) == bytes([0xFF, 0x80, 0x00, 0xCE, 0x4E])
