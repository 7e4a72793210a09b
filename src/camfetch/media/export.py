"""Clip export: recorded video to an MP4 file, stream copy, verified.

ffmpeg reads the device's playback source (RTSP over TCP, or an HTTP
download), copies the video stream without re-encoding and drops audio (NVR
audio is G.711 µ-law, which MP4 cannot hold). The output goes to a temporary
file that replaces the target only after ffmpeg finished and the result was
verified (codec, frame size, duration). A hard wall-clock limit stops ffmpeg
if the device hangs; ffmpeg's own ``-timeout`` (µs, ffmpeg 5+) catches a
connection that goes quiet. Nothing of ffmpeg's output is shown before its
credentials are scrubbed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MediaError,
    NothingFoundError,
    UnreachableError,
    UnsupportedError,
)
from camfetch.files import atomic_output
from camfetch.media.ffmpeg import STDERR_KEEP, error_tail, ffmpeg_exe, ffmpeg_version, kill
from camfetch.media.mp4 import Mp4Info, inspect_mp4
from camfetch.models import PlaybackSource

Progress = Callable[[float], None]  # seconds of video written so far
#: Downloads an HTTP playback source into a file, reporting (bytes, total bytes).
Fetch = Callable[[Path, Callable[[int, int | None], None]], Awaitable[None]]

#: Allowed shortfall between the asked and the exported duration.
DURATION_TOLERANCE = 1.0


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    size: int
    sha256: str
    codec: str
    width: int | None
    height: int | None
    duration: float
    frames: int
    requested_duration: float
    elapsed: float
    source: str  # masked
    ffmpeg_version: str

    @property
    def complete(self) -> bool:
        """False when the device had less video than asked (a gap, or the recording ended)."""
        return self.duration + DURATION_TOLERANCE >= self.requested_duration

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "duration": round(self.duration, 3),
            "frames": self.frames,
            "requested_duration": round(self.requested_duration, 3),
            "complete": self.complete,
            "elapsed": round(self.elapsed, 3),
            "source": self.source,
            "ffmpeg_version": self.ffmpeg_version,
        }


def default_time_limit(source: PlaybackSource) -> float:
    """Wall-clock budget: real-time sources get their duration twice plus set-up time."""
    duration = source.duration
    return 30.0 + (2.0 * duration if source.realtime else 0.5 * duration)


def partial_path(output: Path) -> Path:
    """Where a download for ``output`` is kept until it is complete (and resumed from)."""
    return output.with_name(f".{output.name}.download")


def ffmpeg_arguments(
    source: PlaybackSource, output: Path, *, io_timeout: float, local: Path | None = None
) -> list[str]:
    """The ffmpeg command line (without the binary): from the device's RTSP playback,
    or from a downloaded file ``local`` (remuxed from its container)."""
    args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1"]
    if local is None:
        args += ["-rtsp_transport", "tcp", "-timeout", str(int(io_timeout * 1_000_000))]
        args += ["-i", source.url]
    else:
        if source.container:
            args += ["-f", source.container]
        if source.offset > 0:
            args += ["-ss", f"{source.offset:.3f}"]
        args += ["-i", str(local)]
    args += [
        "-map", "0:v:0", "-c:v", "copy", "-an", "-sn", "-dn",
        "-t", f"{source.duration:.3f}",
        "-movflags", "+faststart",
        "-f", "mp4", "-y", str(output),
    ]  # fmt: skip
    return args


async def export_clip(
    source: PlaybackSource,
    output: Path,
    *,
    fetch: Fetch | None = None,
    secrets: Sequence[str] = (),
    io_timeout: float = 10.0,
    time_limit: float | None = None,
    progress: Progress | None = None,
    durable: bool = True,
    expect_duration: float | None = None,
) -> ExportResult:
    """Export ``source`` to ``output`` (MP4) and verify it. Raises typed errors.

    RTSP sources are read by ffmpeg. HTTP sources are downloaded by ``fetch``
    (the driver's, with its authentication) into a partial file that survives
    an interruption when the device allows resuming; an MP4 download is then
    verified and moved into place as it is, anything else is remuxed by ffmpeg.

    ``expect_duration`` is how much video the device holds for the range (from a
    recording search); a shorter result means the stream stopped early, which
    ffmpeg does not report, so it fails here and nothing is written.
    """
    limit = default_time_limit(source) if time_limit is None else time_limit
    started = time.monotonic()
    deadline = started + limit
    local: Path | None = None
    if source.protocol == "http":
        local = await _download(source, output, fetch, limit, progress)
    with atomic_output(output, durable=durable) as tmp:
        if local is not None and source.container == "mp4":
            local.replace(tmp)  # the device's own MP4: kept byte for byte
        else:
            args = ffmpeg_arguments(source, tmp, io_timeout=io_timeout, local=local)
            remaining = max(5.0, deadline - time.monotonic())
            returncode, stderr = await _run(
                args,
                limit=remaining,
                progress=progress if local is None else None,
                label=source.display_url,
            )
            if returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
                if local is not None:
                    raise MediaError(
                        f"the downloaded {source.container or 'file'} does not convert to MP4: "
                        f"{error_tail(stderr, secrets)}",
                        device=source.display_url,
                    )
                raise _classify(stderr, secrets, source.display_url)
        info = _verify(tmp, source, expect_duration)
        digest, size = _digest(tmp)
    if local is not None:
        local.unlink(missing_ok=True)
    elapsed = time.monotonic() - started
    video = info.video
    assert video is not None  # _verify checked it
    return ExportResult(
        path=output,
        size=size,
        sha256=digest,
        codec=video.codec,
        width=video.width,
        height=video.height,
        duration=info.duration,
        frames=video.frames,
        requested_duration=source.duration,
        elapsed=elapsed,
        source=source.display_url,
        ffmpeg_version=ffmpeg_version(),
    )


async def _download(
    source: PlaybackSource,
    output: Path,
    fetch: Fetch | None,
    limit: float,
    progress: Progress | None,
) -> Path:
    """Fetch an HTTP source into its partial file; kept on failure only if resumable."""
    if fetch is None:
        raise UnsupportedError("this source is a download, and no downloader was given")
    local = partial_path(output)
    local.parent.mkdir(parents=True, exist_ok=True)

    def bytes_done(done: int, total: int | None) -> None:
        total = total or source.size_hint
        if progress is not None and total:
            progress(source.duration * min(1.0, done / total))

    try:
        await asyncio.wait_for(fetch(local, bytes_done), limit)
    except TimeoutError:
        if not source.resumable:
            local.unlink(missing_ok=True)
        raise DeviceTimeoutError(
            f"download stopped at its {limit:g} s time limit", device=source.display_url
        ) from None
    except BaseException:
        if not source.resumable:
            local.unlink(missing_ok=True)
        raise
    return local


async def _run(
    args: list[str], *, limit: float, progress: Progress | None, label: str
) -> tuple[int, bytes]:
    """Run ffmpeg, reporting progress; (exit code, stderr tail)."""
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.create_task(_tail(proc.stderr))

    async def follow() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and progress is not None and value.isdigit():
                progress(int(value) / 1_000_000)
        await proc.wait()

    try:
        await asyncio.wait_for(follow(), limit)
    except TimeoutError:
        stderr_task.cancel()
        await kill(proc)
        raise DeviceTimeoutError(
            f"export stopped at its {limit:g} s time limit (the device kept the stream "
            "open without finishing it)",
            device=label,
        ) from None
    except BaseException:
        stderr_task.cancel()
        await kill(proc)
        raise
    stderr = await stderr_task
    code = proc.returncode or 0
    if code != 0 and not stderr.strip():
        stderr = b"ffmpeg exited with code %d" % code
    return code, stderr


async def _tail(stream: asyncio.StreamReader) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > STDERR_KEEP:
            del kept[: len(kept) - STDERR_KEEP]
    return bytes(kept)


def _classify(stderr: bytes, secrets: Sequence[str], label: str) -> CamfetchError:
    message = error_tail(stderr, secrets)
    low = message.lower()
    if "401" in low or "unauthorized" in low:
        return AuthenticationError("the device refused the playback credentials", device=label)
    if "connection refused" in low:
        return UnreachableError(f"cannot connect for playback: {message}", device=label)
    if "timed out" in low or "timeout" in low:
        return DeviceTimeoutError(f"playback stream went quiet: {message}", device=label)
    if "404" in low and "not found" in low:
        return NothingFoundError(
            f"the device has no recording for that range: {message}", device=label
        )
    for status in ("400", "403", "453", "454", "457", "461", "500", "503"):
        if f" {status} " in f" {low} " or f"{status} " in low:
            return DeviceRefusedError(
                f"the device refused playback: {message}", code=status, device=label
            )
    return MediaError(f"export failed: {message}", device=label)


def _verify(path: Path, source: PlaybackSource, expect_duration: float | None) -> Mp4Info:
    info = inspect_mp4(path)
    video = info.video
    if video is None or video.frames == 0:
        raise MediaError("the export holds no video frames", device=source.display_url)
    if video.codec not in {"h264", "hevc"}:
        raise MediaError(f"unexpected video codec {video.codec}", device=source.display_url)
    if expect_duration is not None and info.duration + DURATION_TOLERANCE < expect_duration:
        raise MediaError(
            f"the stream stopped after {info.duration:.1f} s of the "
            f"{expect_duration:.1f} s the device holds for this range",
            device=source.display_url,
        )
    return info


def _digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size
