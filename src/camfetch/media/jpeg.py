"""JPEG checks that cost microseconds: markers, frame size, end of image.

:func:`inspect_jpeg` walks the marker segments up to the start of scan and checks
that the image ends with EOI, which catches the usual failures (a truncated
transfer, an HTML page, garbage) without decoding. :func:`decode_check` decodes
the image for callers that need certainty (health checks).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from camfetch.errors import CorruptImageError

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


@dataclass(frozen=True, slots=True)
class JpegInfo:
    width: int
    height: int
    components: int
    progressive: bool


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def inspect_jpeg(data: bytes) -> JpegInfo:
    """Frame size of a complete JPEG; CorruptImageError for anything else."""
    if not is_jpeg(data):
        raise CorruptImageError(f"not a JPEG image (starts with {data[:8]!r})")
    if not _ends_with_eoi(data):
        raise CorruptImageError(f"JPEG is truncated: no end-of-image marker ({len(data)} bytes)")
    n = len(data)
    i = 2
    info: JpegInfo | None = None
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise CorruptImageError(f"JPEG marker expected at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker == 0xD9:
            break
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2 or i + 2 + length > n:
            raise CorruptImageError(f"JPEG segment at byte {i} runs past the end")
        if marker in _SOF:
            if length < 8:
                raise CorruptImageError("JPEG frame header too short")
            height = (data[i + 5] << 8) | data[i + 6]
            width = (data[i + 7] << 8) | data[i + 8]
            info = JpegInfo(width, height, data[i + 9], marker in {0xC2, 0xC6, 0xCA, 0xCE})
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            if info is None:
                raise CorruptImageError("JPEG has no frame header before its scan")
            if info.width == 0 or info.height == 0:
                raise CorruptImageError("JPEG frame has zero size")
            return info
        i += 2 + length
    raise CorruptImageError("JPEG has no image data")


def _ends_with_eoi(data: bytes) -> bool:
    tail = data[-64:].rstrip(b"\x00")  # some cameras pad after EOI
    return tail.endswith(EOI)


def decode_check(data: bytes) -> tuple[int, int]:
    """Fully decode the image with Pillow; returns (width, height)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptImageError(f"image does not decode: {exc}") from None
