"""ffmpeg from the imageio-ffmpeg wheel: locating it, running it safely.

Every run has a hard wall-clock limit, reads its input from a pipe, and has
its stderr scrubbed of credentials before any of it is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from camfetch.address import scrub
from camfetch.errors import MediaError

#: Bytes of stderr kept for error messages.
STDERR_KEEP = 64 * 1024


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped in the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    try:
        path: str = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # pragma: no cover - the wheel always carries one
        raise MediaError(f"ffmpeg is not available: {exc}") from None
    return path


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    import imageio_ffmpeg

    version: str = imageio_ffmpeg.get_ffmpeg_version()
    return version


def error_tail(stderr: bytes, secrets: Iterable[str], lines: int = 3) -> str:
    """The last meaningful stderr lines, credentials removed, on one line."""
    text = scrub(stderr.decode("utf-8", "replace"), secrets)
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    kept = [ln for ln in kept if not ln.startswith(("frame=", "size=", "Press [q]"))]
    return " | ".join(kept[-lines:]) if kept else "no message"


async def run_ffmpeg(
    args: Sequence[str],
    *,
    input_data: bytes | None = None,
    timeout: float,
    secrets: Iterable[str] = (),
    what: str = "ffmpeg",
) -> bytes:
    """Run ffmpeg with ``args``; return stdout. MediaError on failure or timeout."""
    secret_list = list(secrets)
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        "-hide_banner",
        *(["-nostdin"] if input_data is None else []),
        *args,
        stdin=asyncio.subprocess.PIPE if input_data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_quiet_env(),
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(input_data), timeout)
    except TimeoutError:
        await kill(proc)
        raise MediaError(f"{what}: stopped after {timeout:g} s time limit") from None
    except BaseException:
        await kill(proc)
        raise
    if proc.returncode != 0:
        raise MediaError(f"{what} failed: {error_tail(stderr[-STDERR_KEEP:], secret_list)}")
    return stdout


async def kill(proc: asyncio.subprocess.Process) -> None:
    """Stop a child for good and reap it.

    Its pipes are drained while waiting: asyncio only reports the exit once
    every pipe is closed, so an unread stdout would make the wait hang.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()

    async def drain(stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        with contextlib.suppress(Exception):
            while await stream.read(65536):
                pass

    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            asyncio.gather(drain(proc.stdout), drain(proc.stderr), proc.wait()), 5
        )


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AV_LOG_FORCE_NOCOLOR", "1")
    return env


_ANNEXB = re.compile(b"\x00\x00\x00?\x01")


def elementary_codec(data: bytes) -> str | None:
    """'h264' or 'hevc' for an Annex-B elementary stream, by its first NAL unit."""
    match = _ANNEXB.match(data)
    if match is None:
        return None
    header = data[match.end() : match.end() + 2]
    if len(header) < 2:
        return None
    # HEVC NAL headers are two bytes, the second 0x01 for layer 0 / temporal id 1:
    # VPS 32, SPS 33, PPS 34, AUD 35, SEI 39, IDR 19/20, CRA 21.
    if header[1] == 0x01 and (header[0] >> 1) & 0x3F in {19, 20, 21, 32, 33, 34, 35, 39}:
        return "hevc"
    # H.264: non-IDR 1, IDR 5, SEI 6, SPS 7, PPS 8, AUD 9.
    if header[0] & 0x1F in {1, 5, 6, 7, 8, 9}:
        return "h264"
    return None


async def keyframe_to_jpeg(data: bytes, codec: str, *, timeout: float = 20.0) -> bytes:
    """Decode one H.264/H.265 key frame (Annex-B) to a JPEG through pipes."""
    demuxer = {"h264": "h264", "hevc": "hevc"}[codec]
    jpeg = await run_ffmpeg(
        [
            "-loglevel", "error",
            "-f", demuxer, "-i", "pipe:0",
            "-frames:v", "1", "-q:v", "2",
            "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1",
        ],
        input_data=data,
        timeout=timeout,
        what=f"decoding the {codec.upper()} key frame",
    )  # fmt: skip
    if not jpeg:
        raise MediaError(f"the {codec.upper()} key frame did not decode to a picture")
    return jpeg
