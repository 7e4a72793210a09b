"""H.264 for simulated devices: an ffmpeg/libx264 encoder, key frames, and recorded playback.

:class:`H264Encoder` drives one ffmpeg process: raw RGB frames go in on stdin,
an Annex-B stream comes out on stdout and is cut into access units (one per
frame, thanks to ``aud=1``). :class:`RecordingStream` renders a recorded time
range frame by frame at the recording's own instants, encodes it, adds a G.711
µ-law audio track if asked, and serves it to :class:`~camfetch.sim.rtsp.RtspServer`
as a :class:`~camfetch.sim.rtsp.MediaSource`. :func:`encode_keyframe` makes the
single-frame H.264/H.265 streams some NVRs answer snapshot-by-time requests with.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

from PIL import Image

from camfetch.aio import uncancellable
from camfetch.errors import MediaError
from camfetch.media.ffmpeg import error_tail, ffmpeg_exe, run_ffmpeg
from camfetch.sim.rtsp import MediaFrame, Track

#: A coded picture: its NAL units, without start codes (and without access unit delimiters).
AccessUnit = list[bytes]

_START_CODE = b"\x00\x00\x01"
_H264_AUD, _H264_SEI, _H264_IDR, _H264_SPS, _H264_PPS = 9, 6, 5, 7, 8
_HEVC_SEI = {39, 40}
_READ_CHUNK = 65536
_STDERR_KEEP = 8192
_VIDEO_PT = 96

#: G.711 audio as NVRs send it: 8 kHz µ-law in 20 ms packets of 160 samples.
AUDIO_RATE = 8000
AUDIO_PACKET_SECONDS = 0.02
_AUDIO_PACKET_SAMPLES = 160
_TONE_HZ = 400  # a whole number of cycles per packet, so every packet is the same
_TONE_AMPLITUDE = 1000  # about -30 dBFS: quiet


@dataclass(frozen=True, slots=True)
class VideoFormat:
    """Picture size, frame rate and key-frame interval of an encoded stream."""

    width: int
    height: int
    fps: float = 10.0
    gop_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"frame size must be positive and even: {self.width}x{self.height}")
        if self.fps <= 0 or self.gop_seconds <= 0:
            raise ValueError("fps and gop_seconds must be positive")

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop_seconds * self.fps))

    @property
    def rate(self) -> str:
        """The frame rate as ffmpeg takes it, exact for rates like 30000/1001."""
        fraction = Fraction(self.fps).limit_denominator(1001)
        return f"{fraction.numerator}/{fraction.denominator}"


# -- Annex-B --------------------------------------------------------------------------------------


class AnnexBSplitter:
    """Cuts an Annex-B byte stream, fed in arbitrary chunks, into NAL units."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._in_nal = False  # whether the buffer starts right after a start code
        self._scan = 0  # where to look for the next start code

    def feed(self, data: bytes) -> list[bytes]:
        """The NAL units completed by ``data``."""
        self._buffer += data
        out: list[bytes] = []
        while True:
            found = self._buffer.find(_START_CODE, self._scan)
            if found < 0:
                self._scan = max(0, len(self._buffer) - 2)
                return out
            if self._in_nal and (nal := bytes(self._buffer[:found]).rstrip(b"\x00")):
                out.append(nal)
            del self._buffer[: found + 3]
            self._in_nal = True
            self._scan = 0

    def flush(self) -> list[bytes]:
        """The last NAL unit, at the end of the stream."""
        nal = bytes(self._buffer).rstrip(b"\x00") if self._in_nal else b""
        self._buffer.clear()
        self._in_nal = False
        self._scan = 0
        return [nal] if nal else []


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of a complete Annex-B stream."""
    splitter = AnnexBSplitter()
    return splitter.feed(data) + splitter.flush()


def join_annexb(nals: Iterable[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def h264_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def is_keyframe(unit: AccessUnit) -> bool:
    """Whether an H.264 access unit is an IDR picture."""
    return any(h264_type(nal) == _H264_IDR for nal in unit)


def h264_fmtp(sps: bytes, pps: bytes) -> str:
    """The SDP ``a=fmtp`` parameters (RFC 6184) for a stream with these parameter sets."""
    sprop = ",".join(base64.b64encode(p).decode() for p in (sps, pps))
    profile = sps[1:4].hex().upper()
    return f"packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={sprop}"


def parameter_sets(unit: AccessUnit) -> tuple[bytes, bytes]:
    """SPS and PPS carried in an access unit; MediaError if it lacks them."""
    sps = next((nal for nal in unit if h264_type(nal) == _H264_SPS), None)
    pps = next((nal for nal in unit if h264_type(nal) == _H264_PPS), None)
    if sps is None or pps is None or len(sps) < 4:
        raise MediaError("the encoder's first access unit has no SPS/PPS")
    return sps, pps


# -- the encoder ----------------------------------------------------------------------------------


class H264Encoder:
    """One libx264 ffmpeg process: RGB24 frames in, access units out, one per frame, in order.

    Write with :meth:`write` and read with :meth:`read` from different tasks:
    the pipes are small and each side blocks until the other moves. Frames
    whose index is in ``keyframes`` become IDR pictures; besides, there is one
    every ``gop_frames``. :meth:`close` kills and reaps the process whatever
    state it is in.
    """

    def __init__(self, fmt: VideoFormat, *, keyframes: Iterable[int] = ()) -> None:
        self.format = fmt
        self.keyframes = sorted(set(keyframes))
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[bytes] | None = None
        self._splitter = AnnexBSplitter()
        self._units: deque[AccessUnit] = deque()
        self._current: AccessUnit = []
        self._eof = False

    async def __aenter__(self) -> H264Encoder:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def command(self) -> list[str]:
        """The ffmpeg arguments (after the binary)."""
        fmt = self.format
        forced = ["-force_key_frames", ",".join(f"{k / fmt.fps:.6f}" for k in self.keyframes)]
        return [
            "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{fmt.width}x{fmt.height}",
            "-r", fmt.rate, "-i", "pipe:0",
            "-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-bf", "0", "-g", str(fmt.gop_frames), "-pix_fmt", "yuv420p",
            "-x264-params", "aud=1:repeat-headers=1:scenecut=0", "-forced-idr", "1",
            *(forced if self.keyframes else []),
            "-fps_mode", "passthrough", "-flush_packets", "1", "-f", "h264", "pipe:1",
        ]  # fmt: skip

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            ffmpeg_exe(),
            *self.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stderr is not None
        self._stderr_task = asyncio.create_task(_read_tail(self._proc.stderr))

    async def write(self, rgb: bytes) -> None:
        """Feed one frame (``width*height*3`` bytes of RGB24)."""
        stdin = self._pipes()[0]
        try:
            stdin.write(rgb)
            await stdin.drain()
        except ConnectionError as exc:
            raise MediaError(f"the H.264 encoder stopped taking frames: {exc}") from None

    async def end_input(self) -> None:
        """No more frames: the encoder flushes and ends its output."""
        stdin = self._pipes()[0]
        stdin.close()
        with contextlib.suppress(ConnectionError):
            await stdin.wait_closed()

    async def read(self) -> AccessUnit | None:
        """The next access unit, or None once the encoder has ended cleanly."""
        stdout = self._pipes()[1]
        while not self._units:
            if self._eof:
                return None
            chunk = await stdout.read(_READ_CHUNK)
            if chunk:
                self._take(self._splitter.feed(chunk))
            else:
                await self._finish()
        return self._units.popleft()

    async def close(self) -> None:
        """Kill the process (if still running), reap it and close its pipes.

        This runs to its end even if the caller is cancelled meanwhile.
        """
        await uncancellable(self._shutdown())

    async def _shutdown(self) -> None:
        # wait() returns only once every pipe is closed, so stdout is read to its end
        # alongside: unread output would otherwise hold the reaping up.
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        assert proc.stdin is not None and proc.stdout is not None
        assert self._stderr_task is not None
        proc.stdin.close()
        ended = asyncio.gather(_drain(proc.stdout), proc.wait(), self._stderr_task)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ended, 5)

    def _pipes(self) -> tuple[asyncio.StreamWriter, asyncio.StreamReader]:
        if self._proc is None or self._proc.stdin is None or self._proc.stdout is None:
            raise MediaError("the H.264 encoder is not running")
        return self._proc.stdin, self._proc.stdout

    def _take(self, nals: list[bytes]) -> None:
        """Group NAL units into access units; each delimiter starts a new one."""
        for nal in nals:
            if h264_type(nal) == _H264_AUD:
                if self._current:
                    self._units.append(self._current)
                self._current = []
            else:
                self._current.append(nal)

    async def _finish(self) -> None:
        """End of output: keep the last access unit if ffmpeg succeeded, else raise."""
        assert self._proc is not None and self._stderr_task is not None
        self._eof = True
        code = await self._proc.wait()
        if code != 0:
            stderr = await self._stderr_task
            raise MediaError(f"the H.264 encoder failed: {error_tail(stderr, ())}")
        self._take(self._splitter.flush())
        if self._current:
            self._units.append(self._current)
            self._current = []


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(_READ_CHUNK):
        pass


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    """Read a child's stderr to the end (so it never blocks), keeping the tail."""
    tail = b""
    while chunk := await stream.read(_READ_CHUNK):
        tail = (tail + chunk)[-_STDERR_KEEP:]
    return tail


# -- key frames -----------------------------------------------------------------------------------


async def encode_keyframe(image: Image.Image, codec: Literal["h264", "hevc"] = "h264") -> bytes:
    """One picture as an Annex-B stream: parameter sets and an IDR picture, nothing else.

    This is what a Viewtron v1.9 NVR answers GetSnapshotByTime with. The image is
    cropped to even dimensions (4:2:0 needs them).
    """
    width, height = image.width & ~1, image.height & ~1
    raw = await asyncio.to_thread(
        lambda: image.convert("RGB").crop((0, 0, width, height)).tobytes()
    )
    encoder = (
        ["-c:v", "libx264", "-preset", "veryfast", "-f", "h264"]
        if codec == "h264"
        else ["-c:v", "libx265", "-preset", "veryfast", "-x265-params", "log-level=error",
              "-f", "hevc"]
    )  # fmt: skip
    stream = await run_ffmpeg(
        [
            "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "pipe:0",
            "-frames:v", "1", "-pix_fmt", "yuv420p", *encoder, "pipe:1",
        ],
        input_data=raw,
        timeout=30,
        what=f"encoding an {codec.upper()} key frame",
    )  # fmt: skip
    if codec == "h264":
        keep = [n for n in split_annexb(stream) if h264_type(n) != _H264_SEI]
    else:
        keep = [n for n in split_annexb(stream) if (n[0] >> 1) & 0x3F not in _HEVC_SEI]
    return join_annexb(keep)


# -- audio ----------------------------------------------------------------------------------------


def mulaw_encode(samples: Iterable[int]) -> bytes:
    """G.711 µ-law bytes of signed 16-bit linear samples."""
    out = bytearray()
    for sample in samples:
        sign = 0x80 if sample < 0 else 0
        magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
        exponent = max(0, magnitude.bit_length() - 8)
        mantissa = (magnitude >> (exponent + 3)) & 0x0F
        out.append(~(sign | exponent << 4 | mantissa) & 0xFF)
    return bytes(out)


def _tone_packet() -> bytes:
    """20 ms of a quiet tone, µ-law; the tone repeats exactly from packet to packet."""
    step = 2 * math.pi * _TONE_HZ / AUDIO_RATE
    return mulaw_encode(
        round(_TONE_AMPLITUDE * math.sin(step * n)) for n in range(_AUDIO_PACKET_SAMPLES)
    )


# -- recorded playback ----------------------------------------------------------------------------

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class _Slot:
    """One frame to send: its track, recorded instant, media time and playback time."""

    track: int
    when: datetime
    pts: float
    send_at: float


class RecordingStream:
    """Playback of recorded spans as H.264 (+ optional G.711 µ-law), for the RTSP server.

    ``render(when)`` draws the picture of the aware instant ``when``; frames are
    taken every 1/fps inside each span, so the picture shows the recording's own
    clock. ``spans`` are sorted, non-overlapping (start, end) pairs already clipped
    to the requested range; each one starts with an IDR picture, as a new
    recording file does. ``pts`` keeps the gaps between spans (as devices do),
    ``send_at`` skips them (so the server does not idle through a gap).

    :meth:`open` starts the encoder and takes SPS/PPS for the SDP from its first
    access unit, so they are the ones the stream carries. Rendering runs in a
    thread and stays a few seconds ahead of playback; memory is bounded.
    """

    VIDEO_TRACK = 0
    AUDIO_TRACK = 1

    def __init__(
        self,
        render: Callable[[datetime], Image.Image],
        spans: Sequence[Span],
        fmt: VideoFormat,
        *,
        audio: bool = False,
        speed: float = 1.0,
        buffer_seconds: float = 3.0,
    ) -> None:
        _check_spans(spans)
        self.render = render
        self.spans = list(spans)
        self.format = fmt
        self.audio = audio
        self.speed = speed
        self.tracks: list[Track] = []
        per_second = fmt.fps + (1 / AUDIO_PACKET_SECONDS if audio else 0)
        self._queue: asyncio.Queue[MediaFrame | None] = asyncio.Queue(
            max(8, math.ceil(buffer_seconds * per_second))
        )
        self._encoder = H264Encoder(fmt, keyframes=self._span_first_frames())
        self._first_unit: asyncio.Future[AccessUnit] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failure: MediaError | None = None
        self._tone = _tone_packet() if audio else b""

    @property
    def duration(self) -> float:
        """Media seconds from the first recorded instant to the last one, gaps included."""
        return (self.spans[-1][1] - self.spans[0][0]).total_seconds()

    async def open(self) -> None:
        """Start rendering and encoding; learn SPS/PPS and announce the tracks."""
        if self._runner is not None:
            return
        self._first_unit = asyncio.get_running_loop().create_future()
        await self._encoder.start()
        self._runner = asyncio.create_task(self._run())
        sps, pps = parameter_sets(await self._first_unit)
        self.tracks = [Track("video", _VIDEO_PT, "H264", 90000, fmtp=h264_fmtp(sps, pps))]
        if self.audio:
            self.tracks.append(Track("audio", 0, "PCMU", AUDIO_RATE))

    async def next_frame(self) -> MediaFrame | None:
        frame = await self._queue.get()
        if frame is None and self._failure is not None:
            raise self._failure
        return frame

    async def close(self) -> None:
        """Stop rendering and encoding, to the end even if the caller is cancelled meanwhile."""
        await uncancellable(self._shutdown())

    async def _shutdown(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        await self._encoder.close()

    # -- pipeline -----------------------------------------------------------------------------

    async def _run(self) -> None:
        """Feed the encoder and collect its output side by side; record any failure."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._feed())
                group.create_task(self._collect())
        except Exception as exc:
            cause = exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
            self._failure = MediaError(f"recording playback failed: {cause}")
            self._failure.__cause__ = cause
            assert self._first_unit is not None
            if not self._first_unit.done():
                self._first_unit.set_exception(self._failure)
            await self._queue.put(None)

    async def _feed(self) -> None:
        for slot in self._slots(audio=False):
            await self._encoder.write(await asyncio.to_thread(self._raw_frame, slot.when))
        await self._encoder.end_input()

    async def _collect(self) -> None:
        for slot in self._slots(audio=self.audio):
            if slot.track == self.AUDIO_TRACK:
                payload = [self._tone]
            else:
                unit = await self._encoder.read()
                if unit is None:
                    raise MediaError("the H.264 encoder ended before the last frame")
                assert self._first_unit is not None
                if not self._first_unit.done():
                    self._first_unit.set_result(unit)
                payload = unit
            await self._queue.put(MediaFrame(slot.track, slot.pts, slot.send_at, payload))
        await self._queue.put(None)

    def _raw_frame(self, when: datetime) -> bytes:
        """RGB24 bytes of the picture at ``when``, at the stream's size (runs in a thread)."""
        picture = self.render(when).convert("RGB")
        if picture.size != self.format.size:
            picture = picture.resize(self.format.size)
        return picture.tobytes()

    # -- timeline -----------------------------------------------------------------------------

    def _span_first_frames(self) -> list[int]:
        """Frame indices where a span starts (each becomes an IDR picture)."""
        firsts, count = [], 0
        for start, end in self.spans:
            firsts.append(count)
            count += _steps(end - start, 1 / self.format.fps)
        return firsts

    def _slots(self, *, audio: bool) -> Iterator[_Slot]:
        """Frames in sending order: per span, video frames with the audio packets due by then."""
        origin = self.spans[0][0]
        played = 0.0
        for start, end in self.spans:
            length = end - start
            offset = (start - origin).total_seconds()
            video = _span_slots(self.VIDEO_TRACK, start, length, 1 / self.format.fps)
            sound = _span_slots(self.AUDIO_TRACK, start, length, AUDIO_PACKET_SECONDS)
            merged = heapq.merge(sound, video, key=lambda s: s[2]) if audio else video
            for track, when, seconds in merged:
                yield _Slot(track, when, offset + seconds, played + seconds)
            played += length.total_seconds()


def _steps(length: timedelta, step: float) -> int:
    """How many frames of ``step`` seconds start inside a span of ``length``."""
    return max(1, math.ceil(length.total_seconds() / step - 1e-9))


def _span_slots(
    track: int, start: datetime, length: timedelta, step: float
) -> Iterator[tuple[int, datetime, float]]:
    for k in range(_steps(length, step)):
        yield track, start + timedelta(seconds=k * step), k * step


def _check_spans(spans: Sequence[Span]) -> None:
    if not spans:
        raise ValueError("a recording stream needs at least one recorded span")
    previous_end: datetime | None = None
    for start, end in spans:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("recorded spans need aware datetimes")
        if end <= start or (previous_end is not None and start < previous_end):
            raise ValueError("recorded spans must be sorted, non-empty and non-overlapping")
        previous_end = end
