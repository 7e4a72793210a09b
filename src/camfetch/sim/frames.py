"""Pictures for simulated devices: real images that show who, which channel and when.

Every frame shows the device name, the channel and the device's wall-clock
time, over a per-channel scene with texture (so JPEGs have realistic sizes)
and a moving object (so consecutive frames differ). Live JPEGs are cached per channel and second.

A channel's picture can be made to fail as real cameras do (:class:`PictureMode`,
:meth:`FrameGenerator.set_mode`): black (a covered lens, dead IR at night: a dark,
noisy frame with the clock still burnt in) or frozen (the frame of one moment
held, re-encoded with varying quality as an encoder with rate control does).
The mode shapes every frame from the moment it was set on, live and recorded
alike; earlier frames stay as they were.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections import OrderedDict
from datetime import datetime, tzinfo
from enum import StrEnum

from PIL import Image, ImageDraw, ImageFont

_PALETTES = [
    ((24, 52, 92), (70, 110, 150), (60, 90, 50)),
    ((60, 40, 70), (140, 100, 120), (80, 70, 50)),
    ((20, 70, 70), (90, 150, 140), (70, 80, 60)),
    ((70, 60, 30), (170, 140, 90), (60, 60, 70)),
]


class PictureMode(StrEnum):
    """What a channel's camera shows: its scene, a black picture, or one frame held."""

    NORMAL = "normal"
    BLACK = "black"
    FROZEN = "frozen"


class FrameGenerator:
    def __init__(
        self,
        device_name: str,
        *,
        tz: tzinfo,
        width: int = 1280,
        height: int = 720,
        quality: int = 80,
    ) -> None:
        self.device_name = device_name
        self.tz = tz
        self.width = width
        self.height = height
        self.quality = quality
        self._backgrounds: dict[tuple[int, int, int], Image.Image] = {}
        self._fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}
        self._cache: OrderedDict[tuple[int, int, int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        # Picture modes: channel (None: every channel) -> (mode, device time it took effect).
        self._modes: dict[int | None, tuple[PictureMode, datetime]] = {}
        self._condition_cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._darkness: dict[tuple[int, int], Image.Image] = {}

    # -- rendering ---------------------------------------------------------------------------

    def image(
        self, channel: int, when: datetime, *, size: tuple[int, int] | None = None
    ) -> Image.Image:
        """An RGB frame of ``channel`` at the aware instant ``when`` (device time)."""
        mode, since = self.mode_at(channel, when)
        if mode is PictureMode.BLACK:
            return self._black_image(channel, when, size)
        if mode is PictureMode.FROZEN:
            when = since
        width, height = size or (self.width, self.height)
        frame = self._background(channel, width, height).copy()
        draw = ImageDraw.Draw(frame)
        local = when.astimezone(self.tz)
        seconds = local.timestamp()
        # A moving object crossing the scene every 20 s, bobbing on a 3 s period.
        phase = (seconds % 20.0) / 20.0
        r = max(6, height // 14)
        x = int(phase * (width + 2 * r)) - r
        y = int(height * 0.62 + math.sin(seconds * 2 * math.pi / 3.0) * height * 0.06)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(230, 200, 40), outline=(20, 20, 20))
        # A light that blinks every other second: visible change at one-second resolution.
        if int(seconds) % 2 == 0:
            lr = max(4, height // 40)
            draw.ellipse((width - 4 * lr, 3 * lr, width - 2 * lr, 5 * lr), fill=(240, 40, 40))
        font = self._font(max(12, height // 22))
        line1 = f"{self.device_name}  CH{channel}"
        line2 = local.strftime("%Y-%m-%d %H:%M:%S")
        pad = max(4, height // 90)
        box_h = 2 * (font.size if isinstance(font, ImageFont.FreeTypeFont) else 12) + 3 * pad
        box_w = int(max(draw.textlength(line1, font=font), draw.textlength(line2, font=font)))
        draw.rectangle((0, 0, box_w + 4 * pad, box_h), fill=(0, 0, 0))
        draw.text((pad * 2, pad), line1, font=font, fill=(255, 255, 255))
        draw.text((pad * 2, box_h // 2 + pad // 2), line2, font=font, fill=(255, 255, 120))
        return frame

    def jpeg(
        self,
        channel: int,
        when: datetime,
        *,
        size: tuple[int, int] | None = None,
        quality: int | None = None,
    ) -> bytes:
        """JPEG of :meth:`image`, cached per (channel, second, size, quality)."""
        conditioned = self._condition_jpeg(channel, when, size=size, quality=quality)
        if conditioned is not None:
            return conditioned
        cached = self.cached_jpeg(channel, when, size=size, quality=quality)
        if cached is not None:
            return cached
        width, height = size or (self.width, self.height)
        key = (channel, int(when.timestamp()), width, height, quality or self.quality)
        buf = io.BytesIO()
        self.image(channel, when, size=(width, height)).save(buf, "JPEG", quality=key[4])
        data = buf.getvalue()
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > 128:
                self._cache.popitem(last=False)
        return data

    async def jpeg_async(
        self, channel: int, when: datetime, *, size: tuple[int, int] | None = None
    ) -> bytes:
        """:meth:`jpeg` for a server: from the cache at once, else rendered in a worker
        thread so the event loop goes on serving meanwhile."""
        cached = self.cached_jpeg(channel, when, size=size)
        if cached is not None:
            return cached
        return await asyncio.to_thread(self.jpeg, channel, when, size=size)

    def cached_jpeg(
        self,
        channel: int,
        when: datetime,
        *,
        size: tuple[int, int] | None = None,
        quality: int | None = None,
    ) -> bytes | None:
        """The JPEG for this second if it was made already (cheap: no rendering)."""
        if self.mode_at(channel, when)[0] is not PictureMode.NORMAL:
            condition_key = self._condition_key(channel, when, size, quality)
            with self._lock:
                return self._condition_cache.get(condition_key)
        width, height = size or (self.width, self.height)
        key = (channel, int(when.timestamp()), width, height, quality or self.quality)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
            return found

    # -- picture modes -----------------------------------------------------------------------

    def set_mode(
        self, mode: PictureMode | str, channel: int | None = None, *, since: datetime
    ) -> None:
        """Show ``mode`` on ``channel`` (None: every channel) for frames from ``since`` on.

        ``since`` is an aware device time, normally the live moment: a frozen
        channel holds the frame of that moment. Setting every channel replaces
        the per-channel modes; a channel's own mode wins over the all-channel one.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        chosen = PictureMode(mode)
        with self._lock:
            if channel is None:
                self._modes.clear()
            self._modes[channel] = (chosen, since)
            self._condition_cache.clear()

    def mode(self, channel: int) -> PictureMode:
        """The mode ``channel`` is in now."""
        with self._lock:
            entry = self._modes.get(channel) or self._modes.get(None)
        return PictureMode.NORMAL if entry is None else entry[0]

    def modes(self) -> dict[int | None, PictureMode]:
        """The modes set other than normal: channel (None: every channel) -> mode."""
        with self._lock:
            return {ch: m for ch, (m, _) in self._modes.items() if m is not PictureMode.NORMAL}

    def mode_at(self, channel: int, when: datetime) -> tuple[PictureMode, datetime]:
        """The mode of the frame of ``channel`` at ``when``, and since when it holds."""
        with self._lock:
            entry = self._modes.get(channel) or self._modes.get(None)
        if entry is None or entry[0] is PictureMode.NORMAL or when < entry[1]:
            return PictureMode.NORMAL, when
        return entry

    def _condition_key(
        self, channel: int, when: datetime, size: tuple[int, int] | None, quality: int | None
    ) -> tuple[object, ...]:
        mode, since = self.mode_at(channel, when)
        width, height = size or (self.width, self.height)
        second = int(when.timestamp())
        return (mode.value, since.timestamp(), channel, second, width, height, quality)

    def _condition_jpeg(
        self,
        channel: int,
        when: datetime,
        *,
        size: tuple[int, int] | None,
        quality: int | None,
    ) -> bytes | None:
        """The JPEG of a black or frozen channel at ``when``; None while it is normal."""
        mode, _ = self.mode_at(channel, when)
        if mode is PictureMode.NORMAL:
            return None
        key = self._condition_key(channel, when, size, quality)
        with self._lock:
            found = self._condition_cache.get(key)
        if found is not None:
            return found
        level = quality or self.quality
        if mode is PictureMode.FROZEN:
            # The same picture, other bytes each second: rate control re-encoding it.
            level = max(10, level - 3 * (int(when.timestamp()) % 3))
        buf = io.BytesIO()
        self.image(channel, when, size=size).save(buf, "JPEG", quality=level)
        data = buf.getvalue()
        with self._lock:
            self._condition_cache[key] = data
            while len(self._condition_cache) > 64:
                self._condition_cache.popitem(last=False)
        return data

    def _black_image(
        self, channel: int, when: datetime, size: tuple[int, int] | None
    ) -> Image.Image:
        """A black picture: dark sensor noise, the on-screen text still burnt in."""
        width, height = size or (self.width, self.height)
        with self._lock:
            dark = self._darkness.get((width, height))
        if dark is None:
            noise = Image.effect_noise((width, height), 24)
            dark = noise.point(lambda v: v // 32).convert("RGB")
            with self._lock:
                self._darkness[(width, height)] = dark
        frame = dark.copy()
        draw = ImageDraw.Draw(frame)
        font = self._font(max(12, height // 22))
        pad = max(4, height // 90)
        line = font.size if isinstance(font, ImageFont.FreeTypeFont) else 12
        stamp = when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")
        title = f"{self.device_name}  CH{channel}"
        draw.text((pad * 2, pad), title, font=font, fill=(255, 255, 255))
        draw.text((pad * 2, line + 2 * pad), stamp, font=font, fill=(255, 255, 120))
        return frame

    # -- pieces ------------------------------------------------------------------------------

    def _font(self, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        font = self._fonts.get(size)
        if font is None:
            font = ImageFont.load_default(size=size)
            self._fonts[size] = font
        return font

    def _background(self, channel: int, width: int, height: int) -> Image.Image:
        key = (channel, width, height)
        with self._lock:
            found = self._backgrounds.get(key)
        if found is not None:
            return found
        sky, light, ground = _PALETTES[(channel - 1) % len(_PALETTES)]
        scene = Image.new("RGB", (width, height), sky)
        draw = ImageDraw.Draw(scene)
        horizon = int(height * 0.55)
        for row in range(horizon):
            t = row / max(1, horizon)
            color = tuple(int(a + (b - a) * t) for a, b in zip(sky, light, strict=True))
            draw.line((0, row, width, row), fill=color)
        draw.rectangle((0, horizon, width, height), fill=ground)
        # Buildings whose layout depends on the channel, so channels look different.
        seed = channel * 7919
        x = 0
        while x < width:
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            w = width // 16 + seed % (width // 8)
            h = height // 8 + (seed >> 8) % (height // 3)
            shade = 40 + (seed >> 16) % 80
            draw.rectangle((x, horizon - h, x + w - 2, horizon), fill=(shade, shade, shade + 10))
            for wy in range(horizon - h + 8, horizon - 8, max(8, height // 40)):
                for wx in range(x + 6, x + w - 8, max(10, width // 60)):
                    if (wx * 31 + wy * 17 + channel) % 3 == 0:
                        draw.rectangle((wx, wy, wx + 4, wy + 5), fill=(220, 210, 150))
            x += w
        # Sensor noise gives the JPEG realistic size and texture.
        noise = Image.effect_noise((width, height), 24).convert("RGB")
        scene = Image.blend(scene, noise, 0.12)
        with self._lock:
            self._backgrounds[key] = scene
        return scene
