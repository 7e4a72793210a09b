"""Timelapse videos from captured pictures: decoded with Pillow, piped to ffmpeg, verified.

:func:`build_timelapse` turns a list of pictures (:class:`Frame`: where the
JPEG is, when it was taken in UTC, and the device's wall-clock time as the
catalog stores it) into an H.264 MP4 (libx264, yuv420p, ``+faststart``) with
one video frame per picture. Pictures are decoded in a small thread pool
(Pillow's JPEG draft mode when they are scaled down, so 4K sources decode at
1/2, 1/4 or 1/8 scale), optionally stamped with the device time, and written
as raw RGB to ffmpeg's stdin: no picture is ever copied to a temporary file.
The MP4 goes to a temporary file that replaces the target only after
:func:`~camfetch.media.mp4.inspect_mp4` has read back exactly the frame count
and duration that were sent.

Gaps. A timelapse shows one picture per video frame, so time runs at a fixed
rate only while pictures arrive at their interval. The interval is the median
spacing of the pictures (or given). Where two consecutive pictures are more
than :data:`GAP_FACTOR` intervals apart (at least two captures in a row
missing: a camera offline, the service down, or outside an active window at
night), the build does **not** hold the last picture to keep real-time
proportion (a night outside a daylight window would become minutes of frozen
video), nor does it hide the jump: with ``mark_gaps`` it inserts a short
marker, half a second of the last picture darkened, saying how long nothing
was captured and between which device times. Every gap is also reported in
the result. Pictures that do not decode (truncated, garbage, deleted since
they were catalogued) are skipped and counted, never fatal.

:func:`build_from_catalog` builds the video of one camera from the catalog and
the picture store; :func:`run_build_job` is the daily ``timelapse-build`` job
of the service configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import itertools
import os
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from camfetch.errors import CamfetchError, MediaError, NothingFoundError, UsageError
from camfetch.files import atomic_output, safe_name
from camfetch.media.ffmpeg import STDERR_KEEP, error_tail, ffmpeg_exe, kill
from camfetch.media.jpeg import inspect_jpeg, is_jpeg
from camfetch.media.mp4 import inspect_mp4

if TYPE_CHECKING:
    from camfetch.service.catalog import Catalog
    from camfetch.service.config import TimelapseBuildJob
    from camfetch.service.fleet import Target
    from camfetch.service.storage import Storage

DEFAULT_FPS = 25
#: x264 constant rate factor: visually clean for camera scenes at a moderate size.
DEFAULT_CRF = 23
#: Fast enough for a day of 4K pictures on a small server; slower presets save ~10-20 %.
DEFAULT_PRESET = "veryfast"
#: Consecutive pictures further apart than this many capture intervals are a gap.
GAP_FACTOR = 2.5
#: How long a gap marker stays on screen.
GAP_MARKER_SECONDS = 0.5
#: A write to ffmpeg (or its final exit) that takes longer than this means it is stuck.
STALL_TIMEOUT = 120.0
MAX_FPS = 120

#: Receives (pictures done, pictures in total) while a build runs.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture of a timelapse.

    ``source`` is what the loader reads: a file path by default, or a storage
    key when :func:`build_timelapse` gets a ``load`` function.
    """

    source: str | Path
    utc: datetime  # aware
    device_time: str  # ISO 8601 with the device's offset, as the catalog stores it
    capture_id: int | None = None

    def wall_text(self) -> str:
        """The device's wall-clock time as stamped on the picture."""
        try:
            return datetime.fromisoformat(self.device_time).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return self.utc.strftime("%Y-%m-%d %H:%M:%S UTC")


#: Reads the JPEG of a frame (a file, a storage object).
Loader = Callable[[Frame], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch without pictures between two consecutive pictures of the video."""

    after: str  # device time of the last picture before the gap
    before: str  # device time of the first picture after it
    seconds: float
    marked: bool  # a marker was inserted into the video

    def to_json(self) -> dict[str, Any]:
        return {
            "after": self.after,
            "before": self.before,
            "seconds": round(self.seconds, 3),
            "marked": self.marked,
        }


@dataclass(frozen=True, slots=True)
class TimelapseResult:
    path: Path
    frames: int  # video frames: pictures plus gap-marker frames
    pictures: int  # pictures used
    skipped: tuple[str, ...]  # pictures that did not load or decode: "<source>: <reason>"
    gaps: tuple[Gap, ...]
    fps: int
    width: int
    height: int
    duration: float  # read back from the MP4
    size: int
    sha256: str
    interval: float | None  # the capture interval gaps were judged against (seconds)
    first: str | None  # device time of the first picture used
    last: str | None
    elapsed: float

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "frames": self.frames,
            "pictures": self.pictures,
            "skipped": len(self.skipped),
            "skipped_files": list(self.skipped),
            "gaps": [g.to_json() for g in self.gaps],
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "duration": round(self.duration, 3),
            "size": self.size,
            "sha256": self.sha256,
            "codec": "h264",
            "interval": self.interval,
            "first": self.first,
            "last": self.last,
            "elapsed": round(self.elapsed, 3),
        }


# -- building --------------------------------------------------------------------------------


async def build_timelapse(
    frames: Sequence[Frame],
    out: Path,
    *,
    fps: int = DEFAULT_FPS,
    stamp: bool = True,
    width: int | None = None,
    interval: float | None = None,
    mark_gaps: bool = True,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    progress: Progress | None = None,
    load: Loader | None = None,
    workers: int | None = None,
    stall_timeout: float = STALL_TIMEOUT,
) -> TimelapseResult:
    """Encode ``frames`` (in time order) into an H.264 MP4 at ``out``, atomically, verified.

    Every frame has the size of the first picture that decodes, or ``width``
    pixels across with its aspect ratio (both rounded down to even numbers, as
    yuv420p needs); pictures of another size are fitted with black bars.
    Raises NothingFoundError for an empty list, MediaError when no picture
    decodes, ffmpeg fails, or the file does not hold what was sent (then
    nothing is written).
    """
    if not frames:
        raise NothingFoundError("no pictures to build a timelapse from")
    if not 1 <= fps <= MAX_FPS:
        raise UsageError(f"fps {fps}: use 1 to {MAX_FPS} frames per second")
    if width is not None and width < 16:
        raise UsageError(f"width {width}: use at least 16 pixels")
    if interval is not None and interval <= 0:
        raise UsageError("the capture interval must be more than zero")
    ordered = sorted(frames, key=lambda f: f.utc)
    if interval is None:
        interval = capture_interval([f.utc for f in ordered])
    reader = load or _read_file
    threads = workers or min(4, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="camfetch-timelapse")
    started = time.monotonic()
    try:
        with atomic_output(out) as tmp:
            encoder = _Encoder(
                ordered, tmp, fps=fps, stamp=stamp, width=width, interval=interval,
                mark_gaps=mark_gaps, crf=crf, preset=preset, progress=progress,
                load=reader, pool=pool, ahead=threads + 1, stall_timeout=stall_timeout,
            )  # fmt: skip
            await encoder.run()
            info = inspect_mp4(tmp)
            video = info.video
            expected = encoder.sent / fps
            if video is None or video.codec != "h264":
                raise MediaError(f"{out.name}: ffmpeg wrote no H.264 video track")
            if video.frames != encoder.sent or abs(video.duration - expected) > 0.5 / fps + 0.002:
                raise MediaError(
                    f"{out.name}: the MP4 holds {video.frames} frames / {video.duration:.3f} s, "
                    f"but {encoder.sent} frames / {expected:.3f} s were sent"
                )
            if (video.width, video.height) != encoder.size:
                raise MediaError(
                    f"{out.name}: the MP4 is {video.width}x{video.height}, "
                    f"not {encoder.size[0]}x{encoder.size[1]}"
                )
            loop = asyncio.get_running_loop()
            digest, size = await loop.run_in_executor(pool, _sha256, tmp)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    used = encoder.used
    return TimelapseResult(
        path=out,
        frames=encoder.sent,
        pictures=len(used),
        skipped=tuple(encoder.skipped),
        gaps=tuple(encoder.gaps),
        fps=fps,
        width=encoder.size[0],
        height=encoder.size[1],
        duration=video.duration,
        size=size,
        sha256=digest,
        interval=interval,
        first=used[0].device_time if used else None,
        last=used[-1].device_time if used else None,
        elapsed=time.monotonic() - started,
    )


def capture_interval(times: Sequence[datetime]) -> float | None:
    """The usual spacing of pictures: the median gap between consecutive ones (seconds)."""
    deltas = [
        (later - earlier).total_seconds()
        for earlier, later in itertools.pairwise(times)
        if later > earlier
    ]
    return statistics.median(deltas) if deltas else None


@dataclass(slots=True)
class _Rendered:
    frame: Frame
    rgb: bytes | None  # raw RGB of the output size, or None when it did not decode
    size: tuple[int, int]
    problem: str = ""


class _Encoder:
    """One build: pictures decoded ahead in threads, written in order to ffmpeg's stdin."""

    def __init__(
        self,
        frames: list[Frame],
        target: Path,
        *,
        fps: int,
        stamp: bool,
        width: int | None,
        interval: float | None,
        mark_gaps: bool,
        crf: int,
        preset: str,
        progress: Progress | None,
        load: Loader,
        pool: ThreadPoolExecutor,
        ahead: int,
        stall_timeout: float,
    ) -> None:
        self.frames = frames
        self.target = target
        self.fps = fps
        self.stamp = stamp
        self.width = width
        self.interval = interval
        self.mark_gaps = mark_gaps
        self.crf = crf
        self.preset = preset
        self.progress = progress
        self.load = load
        self.pool = pool
        self.ahead = max(2, ahead)
        self.stall_timeout = stall_timeout
        self.size: tuple[int, int] = (0, 0)
        self.sent = 0
        self.used: list[Frame] = []
        self.skipped: list[str] = []
        self.gaps: list[Gap] = []
        self._done = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: asyncio.Task[bytes] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        index = 0
        first: _Rendered | None = None
        # The first picture that decodes sets the size of the video.
        while first is None and index < len(self.frames):
            rendered = await self._prepare(self.frames[index], None)
            index += 1
            if rendered.rgb is None:
                self._skip(rendered)
            else:
                first = rendered
        if first is None:
            raise MediaError(
                f"none of the {len(self.frames)} pictures decodes "
                f"(first problem: {self.skipped[0] if self.skipped else 'unknown'})"
            )
        self.size = first.size
        await self._start_ffmpeg()
        ahead: deque[asyncio.Task[_Rendered]] = deque()
        try:
            previous = await self._emit(first, None)
            while ahead or index < len(self.frames):
                while index < len(self.frames) and len(ahead) < self.ahead:
                    ahead.append(loop.create_task(self._prepare(self.frames[index], self.size)))
                    index += 1
                rendered = await ahead.popleft()
                if rendered.rgb is None:
                    self._skip(rendered)
                    continue
                previous = await self._emit(rendered, previous)
            await self._finish()
        except BaseException:
            for task in ahead:
                task.cancel()
            await asyncio.gather(*ahead, return_exceptions=True)
            if self._proc is not None:
                await kill(self._proc)
            if self._stderr is not None:
                self._stderr.cancel()
            raise

    # -- pictures ----------------------------------------------------------------------------

    async def _prepare(self, frame: Frame, size: tuple[int, int] | None) -> _Rendered:
        try:
            data = await self.load(frame)
        except (OSError, CamfetchError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return _Rendered(frame, None, (0, 0), reason or type(exc).__name__)
        text = frame.wall_text() if self.stamp else None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool, _render_picture, frame, data, size, self.width, text
        )

    def _skip(self, rendered: _Rendered) -> None:
        self.skipped.append(f"{rendered.frame.source}: {rendered.problem}")
        self._advance()

    async def _emit(self, rendered: _Rendered, previous: _Rendered | None) -> _Rendered:
        assert rendered.rgb is not None
        if previous is not None and self.interval is not None:
            seconds = (rendered.frame.utc - previous.frame.utc).total_seconds()
            if seconds > GAP_FACTOR * self.interval:
                gap = Gap(
                    previous.frame.device_time, rendered.frame.device_time, seconds, self.mark_gaps
                )
                self.gaps.append(gap)
                if self.mark_gaps and previous.rgb is not None:
                    loop = asyncio.get_running_loop()
                    marker = await loop.run_in_executor(
                        self.pool, _gap_marker, previous.rgb, self.size, previous.frame,
                        rendered.frame, seconds,
                    )  # fmt: skip
                    for _ in range(max(1, round(self.fps * GAP_MARKER_SECONDS))):
                        await self._write(marker)
        await self._write(rendered.rgb)
        self.used.append(rendered.frame)
        self._advance()
        return rendered

    def _advance(self) -> None:
        self._done += 1
        if self.progress is not None:
            self.progress(self._done, len(self.frames))

    # -- ffmpeg ------------------------------------------------------------------------------

    async def _start_ffmpeg(self) -> None:
        width, height = self.size
        self._proc = await asyncio.create_subprocess_exec(
            ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-framerate", str(self.fps), "-i", "pipe:0",
            "-an", "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
            "-pix_fmt", "yuv420p", "-g", str(2 * self.fps), "-movflags", "+faststart",
            "-f", "mp4", str(self.target),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._proc.stderr is not None
        self._stderr = asyncio.create_task(_tail(self._proc.stderr))

    async def _write(self, rgb: bytes) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(rgb)
            await asyncio.wait_for(proc.stdin.drain(), self.stall_timeout)
        except TimeoutError:
            raise MediaError(
                f"ffmpeg took no picture for {self.stall_timeout:g} s (stopped)"
            ) from None
        except (BrokenPipeError, ConnectionResetError):
            await kill(proc)
            raise MediaError(f"ffmpeg stopped: {await self._error_text()}") from None
        self.sent += 1

    async def _finish(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        proc.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await proc.stdin.wait_closed()
        try:
            code = await asyncio.wait_for(proc.wait(), self.stall_timeout)
        except TimeoutError:
            raise MediaError(
                f"ffmpeg did not finish within {self.stall_timeout:g} s (stopped)"
            ) from None
        if code != 0:
            raise MediaError(f"ffmpeg failed: {await self._error_text()}")

    async def _error_text(self) -> str:
        if self._stderr is None:
            return "no message"
        try:
            stderr = await asyncio.wait_for(self._stderr, 5)
        except TimeoutError:
            return "no message"
        return error_tail(stderr, ())


async def _tail(stream: asyncio.StreamReader) -> bytes:
    """Everything ffmpeg says on stderr, keeping the last STDERR_KEEP bytes."""
    kept = b""
    while chunk := await stream.read(65536):
        kept = (kept + chunk)[-STDERR_KEEP:]
    return kept


async def _read_file(frame: Frame) -> bytes:
    return await asyncio.to_thread(Path(frame.source).read_bytes)


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# -- pictures (in worker threads) ------------------------------------------------------------


def output_size(source: tuple[int, int], width: int | None) -> tuple[int, int]:
    """The video's frame size for a first picture of ``source`` size: even, at least 2x2."""
    src_w, src_h = source
    if width is None:
        w, h = src_w, src_h
    else:
        w, h = width, max(1, round(src_h * width / src_w))
    return max(2, w - w % 2), max(2, h - h % 2)


#: What Pillow (and the JPEG check) raise for a picture that is not one.
_DECODE_ERRORS = (
    CamfetchError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
)  # fmt: skip


def _render_picture(
    frame: Frame,
    data: bytes,
    size: tuple[int, int] | None,
    width: int | None,
    stamp: str | None,
) -> _Rendered:
    """Decode ``data`` to an RGB frame of ``size`` (None: the first picture decides)."""
    try:
        if is_jpeg(data):
            inspect_jpeg(data)  # truncated transfers and broken markers, in microseconds
        with Image.open(io.BytesIO(data)) as image:
            target = size or output_size(image.size, width)
            if image.width > target[0] and image.height > target[1]:
                image.draft("RGB", target)  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            picture = image.convert("RGB")
    except _DECODE_ERRORS as exc:
        message = exc.message if isinstance(exc, CamfetchError) else str(exc)
        return _Rendered(frame, None, (0, 0), message or type(exc).__name__)
    if picture.size != target:
        picture = ImageOps.pad(
            picture, target, method=Image.Resampling.BICUBIC, color=(0, 0, 0), centering=(0.5, 0.5)
        )
    if stamp is not None:
        _stamp(picture, stamp)
    return _Rendered(frame, picture.tobytes(), target)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _stamp(picture: Image.Image, text: str) -> None:
    """The device time in the bottom-left corner, white on a dark box."""
    height = picture.height
    font = _font(max(10, height // 28))
    draw = ImageDraw.Draw(picture)
    pad = max(2, height // 120)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    box_w, box_h = right - left + 4 * pad, bottom - top + 2 * pad
    y0 = height - box_h - 2 * pad
    draw.rectangle((2 * pad, y0, 2 * pad + box_w, y0 + box_h), fill=(0, 0, 0))
    draw.text((4 * pad - left, y0 + pad - top), text, font=font, fill=(255, 255, 255))


def _gap_marker(
    rgb: bytes, size: tuple[int, int], before: Frame, after: Frame, seconds: float
) -> bytes:
    """The last picture before a gap, darkened, saying how long nothing was captured."""
    picture = Image.frombytes("RGB", size, rgb)
    picture = ImageEnhance.Brightness(picture).enhance(0.3)
    draw = ImageDraw.Draw(picture)
    width, height = size
    lines = [
        (f"no pictures for {human_duration(seconds)}", max(10, height // 14)),
        (f"between {before.wall_text()} and {after.wall_text()}", max(8, height // 26)),
    ]
    boxes = [draw.textbbox((0, 0), text, font=_font(px)) for text, px in lines]
    total = sum(b[3] - b[1] for b in boxes) + height // 30
    y = (height - total) // 2
    for (text, px), (left, top, right, bottom) in zip(lines, boxes, strict=True):
        x = (width - (right - left)) // 2 - left
        draw.text((x, y - top), text, font=_font(px), fill=(255, 220, 120))
        y += bottom - top + height // 30
    return picture.tobytes()


def human_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 14 min``, ``3 d 4 h``."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, _ = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# -- from the catalog --------------------------------------------------------------------------


async def build_from_catalog(
    catalog: Catalog,
    storage: Storage,
    device: str,
    channel: int,
    start: datetime,
    end: datetime,
    out: Path,
    *,
    fps: int = DEFAULT_FPS,
    stamp: bool = True,
    width: int | None = None,
    mark_gaps: bool = True,
    keep: bool = False,
    record: bool = True,
    progress: Progress | None = None,
) -> TimelapseResult:
    """The timelapse of ``device``:``channel`` over [start, end) from catalogued pictures.

    NothingFoundError when the catalog holds no picture of the camera in the
    range. ``keep`` marks the pictures used as kept *before* reading them, so
    retention can neither delete them during the build nor later (for a
    timelapse whose source pictures must be preserved); by default they stay
    under retention, which otherwise would never free the pictures of any
    camera with a daily build. A picture retention removes while the build
    runs is skipped like any unreadable one. ``record`` adds the video to the
    catalog's exports.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if end <= start:
        raise UsageError("the end of the time range must be after its start")
    channel_id = await catalog.channel_id(device, channel)
    if channel_id is None:
        raise NothingFoundError(f"the catalog has no pictures of {device}:{channel}")
    captures = await catalog.captures(channel_id, start, end)
    if not captures:
        raise NothingFoundError(
            f"no pictures of {device}:{channel} catalogued between "
            f"{start.isoformat()} and {end.isoformat()}"
        )
    if keep:
        await catalog.keep(c.id for c in captures if not c.kept)
    frames = [Frame(c.path, c.utc, c.device_time, c.id) for c in captures]

    async def load(frame: Frame) -> bytes:
        key = str(frame.source)
        local = storage.local_path(key)
        if local is not None:
            return await asyncio.to_thread(local.read_bytes)
        return await storage.read(key)

    result = await build_timelapse(
        frames, out, fps=fps, stamp=stamp, width=width, mark_gaps=mark_gaps,
        progress=progress, load=load,
    )  # fmt: skip
    if record:
        await catalog.add_export(
            channel_id, start=start, end=end, path=str(result.path), sha256=result.sha256,
            size=result.size, manifest=None,
        )  # fmt: skip
    return result


def timelapse_filename(
    device: str, channel: int, start: datetime, end: datetime, tz: tzinfo
) -> str:
    """``<device>_ch<N>_<from>_<to>.mp4``, both on the device's clock (``YYYYmmdd-HHMMSS``)."""
    return (
        f"{safe_name(device)}_ch{channel}_{start.astimezone(tz):%Y%m%d-%H%M%S}_"
        f"{end.astimezone(tz):%Y%m%d-%H%M%S}.mp4"
    )


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What the daily build did for one camera."""

    camera: str  # device:channel
    status: str  # "built", "nothing" (no pictures in the range) or "failed"
    result: TimelapseResult | None = None
    error: str | None = None  # "<kind>: <message>" when failed

    def to_json(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "status": self.status,
            "result": self.result.to_json() if self.result else None,
            "error": self.error,
        }


async def run_build_job(
    job: TimelapseBuildJob,
    due: datetime,
    *,
    catalog: Catalog,
    storage: Storage,
    targets: Iterable[Target],
    folder: Path,
    zone_of: Callable[[str], Awaitable[tzinfo]],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[BuildOutcome]:
    """One run of a ``timelapse-build`` job: for each target, the video of [due - span, due).

    Videos go to ``folder/<device>/<device>_ch<N>_<from>_<to>.mp4`` (device
    clock, see :func:`timelapse_filename`). Cameras are built one after the
    other (encoding is CPU-bound); a camera without pictures in the range is
    ``nothing``, one whose build fails is ``failed`` with its error, and the
    others are built regardless.
    """
    end = due
    start = due - timedelta(seconds=job.span)
    outcomes: list[BuildOutcome] = []
    for target in targets:
        camera = f"{target.device}:{target.channel}"
        tz = await zone_of(target.device)
        out = (
            folder
            / safe_name(target.device)
            / timelapse_filename(target.device, target.channel, start, end, tz)
        )
        report = None if progress is None else functools.partial(progress, camera)
        try:
            result = await build_from_catalog(
                catalog, storage, target.device, target.channel, start, end, out,
                fps=job.fps, stamp=job.stamp, progress=report,
            )  # fmt: skip
        except NothingFoundError:
            outcomes.append(BuildOutcome(camera, "nothing"))
        except CamfetchError as exc:
            outcomes.append(BuildOutcome(camera, "failed", error=f"{exc.kind}: {exc.message}"))
        else:
            outcomes.append(BuildOutcome(camera, "built", result))
    return outcomes
