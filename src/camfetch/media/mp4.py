"""Read what an MP4 file holds (codec, frame size, duration) from its boxes.

The imageio-ffmpeg wheel ships ffmpeg but no ffprobe, and parsing ffmpeg's
log is fragile, so exported files are verified by reading the ISO BMFF
structure directly: ``moov/mvhd`` for the duration, and per track
``tkhd``, ``mdhd``, ``hdlr``, ``stsd`` and ``stts``. Only box headers and the
(small) ``moov`` box are read, so this is instant even for large files.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from camfetch.errors import MediaError

_CODECS = {
    "avc1": "h264",
    "avc3": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "mp4a": "aac",
    "mp4v": "mpeg4",
    "jpeg": "mjpeg",
    "ulaw": "pcm_mulaw",
    "alaw": "pcm_alaw",
}
_MAX_MOOV = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Mp4Track:
    kind: str  # "video", "audio", or the handler type
    codec: str
    duration: float
    frames: int
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Mp4Info:
    duration: float
    tracks: tuple[Mp4Track, ...]

    @property
    def video(self) -> Mp4Track | None:
        return next((t for t in self.tracks if t.kind == "video"), None)


def inspect_mp4(path: Path) -> Mp4Info:
    """Parse ``path``; MediaError if it is not a complete MP4."""
    try:
        with path.open("rb") as fh:
            moov = _find_top_level(fh, b"moov")
    except OSError as exc:
        raise MediaError(f"cannot read {path.name}: {exc.strerror}") from None
    if moov is None:
        raise MediaError(f"{path.name} is not a complete MP4 (no moov box)")
    try:
        return _parse_moov(moov)
    except (struct.error, IndexError, ValueError) as exc:
        raise MediaError(f"{path.name} has a damaged moov box ({exc})") from None


def _find_top_level(fh: BinaryIO, wanted: bytes) -> bytes | None:
    fh.seek(0, 2)
    end = fh.tell()
    pos = 0
    while pos + 8 <= end:
        fh.seek(pos)
        header = fh.read(8)
        size, kind = struct.unpack(">I4s", header)
        header_len = 8
        if size == 1:
            size = struct.unpack(">Q", fh.read(8))[0]
            header_len = 16
        elif size == 0:
            size = end - pos
        if size < header_len or pos + size > end:
            return None  # truncated file
        if kind == wanted:
            if size > _MAX_MOOV:
                raise MediaError("moov box is implausibly large")
            return fh.read(size - header_len)
        pos += size
    return None


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header_len = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header_len = 16
        elif size == 0:
            size = len(data) - pos
        if size < header_len or pos + size > len(data):
            raise ValueError(f"box {kind!r} runs past its parent")
        out.append((kind, data[pos + header_len : pos + size]))
        pos += size
    return out


def _child(data: bytes, *path: bytes) -> bytes | None:
    current: bytes | None = data
    for kind in path:
        if current is None:
            return None
        current = next((body for k, body in _boxes(current) if k == kind), None)
    return current


def _timescaled(body: bytes) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd payload."""
    version = body[0]
    if version == 1:
        timescale, duration = struct.unpack_from(">IQ", body, 20)
    else:
        timescale, duration = struct.unpack_from(">II", body, 12)
    return timescale, duration


def _parse_moov(moov: bytes) -> Mp4Info:
    mvhd = _child(moov, b"mvhd")
    if mvhd is None:
        raise ValueError("no mvhd")
    timescale, duration = _timescaled(mvhd)
    tracks = [_parse_trak(body) for kind, body in _boxes(moov) if kind == b"trak"]
    return Mp4Info(duration / timescale if timescale else 0.0, tuple(tracks))


def _parse_trak(trak: bytes) -> Mp4Track:
    mdia = _child(trak, b"mdia")
    if mdia is None:
        raise ValueError("track without mdia")
    hdlr = _child(mdia, b"hdlr")
    handler = hdlr[8:12].decode("latin-1") if hdlr else "????"
    kind = {"vide": "video", "soun": "audio"}.get(handler, handler)
    mdhd = _child(mdia, b"mdhd")
    timescale, duration = _timescaled(mdhd) if mdhd else (0, 0)
    stbl = _child(mdia, b"minf", b"stbl")
    codec = "unknown"
    width = height = None
    frames = 0
    if stbl is not None:
        stsd = _child(stbl, b"stsd")
        if stsd is not None and len(stsd) >= 16:
            fourcc = stsd[12:16].decode("latin-1")
            codec = _CODECS.get(fourcc, fourcc)
            if kind == "video" and len(stsd) >= 8 + 8 + 28:
                entry = stsd[8:]
                width, height = struct.unpack_from(">HH", entry, 32)
        stts = _child(stbl, b"stts")
        if stts is not None and len(stts) >= 8:
            (count,) = struct.unpack_from(">I", stts, 4)
            frames = sum(struct.unpack_from(">I", stts, 8 + 8 * i)[0] for i in range(count))
    if kind == "video" and not width:
        tkhd = _child(trak, b"tkhd")
        if tkhd is not None:
            offset = 84 if tkhd[0] == 1 else 72
            w, h = struct.unpack_from(">II", tkhd, offset + 4)
            width, height = w >> 16, h >> 16
    return Mp4Track(
        kind=kind,
        codec=codec,
        duration=duration / timescale if timescale else 0.0,
        frames=frames,
        width=width,
        height=height,
    )
