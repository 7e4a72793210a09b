"""DHAV, the container Dahua and Amcrest devices store and send recordings in.

A DHAV stream is a sequence of frames ("chunks"), little-endian, each one::

    "DHAV"  type  subtype  channel  sub-number  frame-number(u32)  length(u32)
    date(u32)  timestamp(u16)  ext-length(u8)  checksum(u8)
    extension TLVs (ext-length bytes)
    payload (Annex-B H.264 for video, G.711 for audio)
    "dhav"  length(u32)

``length`` counts the whole chunk, header to trailer; the trailer repeats it so
readers can walk backwards. ``date`` is the device's local wall clock packed
into bit fields (seconds 0-5, minutes 6-11, hours 12-16, day 17-21, month
22-25, year-2000 26-31); ``timestamp`` is a millisecond counter that wraps at
65536. Video key frames are type ``0xFD`` and carry the codec, frame rate and
picture size in extensions ``0x81`` and ``0x82``; P-frames are ``0xFC``; audio
is ``0xF0`` with extension ``0x83`` (channels, codec, sample-rate index).
Files may start with a 1024-byte header beginning ``DAHUA``.

This follows FFmpeg's ``libavformat/dhav.c`` (the ``dhav`` demuxer, FFmpeg 4.2
and later), which is what makes the files playable; the checksum byte is not
checked by any known reader, and its algorithm is not public: the sum of the
23 bytes before it is used here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

MAGIC = b"DHAV"
TRAILER = b"dhav"
FILE_HEADER_SIZE = 0x400
HEADER_SIZE = 24
TRAILER_SIZE = 8

VIDEO_KEY = 0xFD
VIDEO_P = 0xFC
AUDIO = 0xF0

CODEC_H264 = 0x02
AUDIO_MULAW = 0x0A
RATE_INDEX_8000 = 0x00


def pack_date(wall: datetime) -> int:
    """The DHAV date field of a (naive) device wall-clock time."""
    if not 2000 <= wall.year < 2064:
        raise ValueError(f"DHAV dates cover 2000-2063, not {wall.year}")
    return (
        wall.second
        | wall.minute << 6
        | wall.hour << 12
        | wall.day << 17
        | wall.month << 22
        | (wall.year - 2000) << 26
    )


def unpack_date(value: int) -> datetime:
    """The wall-clock time of a DHAV date field (raises ValueError if it is no date)."""
    return datetime(
        ((value >> 26) & 0x3F) + 2000,
        (value >> 22) & 0x0F,
        (value >> 17) & 0x1F,
        (value >> 12) & 0x1F,
        (value >> 6) & 0x3F,
        value & 0x3F,
    )


def file_header() -> bytes:
    """The optional 1024-byte file header some devices put before the first frame."""
    return b"DAHUA".ljust(FILE_HEADER_SIZE, b"\x00")


@dataclass
class DhavWriter:
    """Builds the DHAV chunks of one recording, frame by frame.

    ``channel`` is the 0-based channel byte; ``start`` is the wall-clock time of
    the first frame, from which the millisecond counter runs.
    """

    channel: int
    width: int
    height: int
    fps: int
    start: datetime
    _frame_number: int = field(default=0, init=False)

    def video(self, wall: datetime, nals: Sequence[bytes], *, key: bool) -> bytes:
        """One video chunk: an access unit's NAL units (without start codes) at ``wall``."""
        payload = b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)
        if key:
            ext = struct.pack("<BBBB", 0x81, 0, CODEC_H264, self.fps)
            ext += struct.pack("<BBBBHH", 0x82, 0, 0, 0, self.width, self.height)
            return self._chunk(VIDEO_KEY, wall, ext, payload)
        return self._chunk(VIDEO_P, wall, b"", payload)

    def audio(self, wall: datetime, samples: bytes) -> bytes:
        """One audio chunk of 8 kHz mono G.711 µ-law samples."""
        ext = struct.pack("<BBBB", 0x83, 1, AUDIO_MULAW, RATE_INDEX_8000)
        return self._chunk(AUDIO, wall, ext, samples)

    def _chunk(self, kind: int, wall: datetime, ext: bytes, payload: bytes) -> bytes:
        """Header, extensions, payload and trailer; video frames are numbered."""
        length = HEADER_SIZE + len(ext) + len(payload) + TRAILER_SIZE
        millis = round((wall - self.start).total_seconds() * 1000) & 0xFFFF
        head = struct.pack(
            "<4sBBBBIIIHB",
            MAGIC,
            kind,
            0,
            self.channel & 0xFF,
            0,
            self._frame_number,
            length,
            pack_date(wall),
            millis,
            len(ext),
        )
        if kind != AUDIO:
            self._frame_number = (self._frame_number + 1) & 0xFFFFFFFF
        head += bytes((sum(head) & 0xFF,))
        return head + ext + payload + TRAILER + struct.pack("<I", length)
