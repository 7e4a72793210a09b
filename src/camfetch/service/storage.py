"""Where captured pictures live: a small interface, and the local-disk implementation.

Keys are ``<device>/<channel>/<YYYY>/<MM>/<DD>/<HHMMSS>.jpg`` with the date and
time in UTC (so a clock change never gives two pictures one name), every part
made safe from whatever a device or camera is called. Jobs talk to
:class:`Storage` only, so an S3-compatible backend can replace
:class:`LocalStorage` without touching them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from camfetch.errors import UsageError
from camfetch.files import safe_name, write_atomic


def picture_key(device: str, channel: int, when: datetime, *, suffix: str = ".jpg") -> str:
    """The storage key of a picture of ``device``/``channel`` taken at ``when`` (aware)."""
    utc = when.astimezone(UTC)
    return f"{safe_name(device)}/{channel}/{utc:%Y/%m/%d/%H%M%S}{suffix}"


class Storage(Protocol):
    """What jobs need from a picture store."""

    async def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` atomically; returns its SHA-256 (hex)."""
        ...

    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A file path for tools that need one (ffmpeg), or None for remote stores."""
        ...


class LocalStorage:
    """Pictures as files below ``root``, written atomically by a small writer pool.

    Files are written in ``<root>/.incoming`` and renamed into place when
    complete; whatever a crash left there is removed when the store opens, so
    no partial file survives a restart.
    """

    INCOMING = ".incoming"

    def __init__(self, root: Path, *, durable: bool = False, writers: int = 2) -> None:
        self.root = root.resolve()
        self.durable = durable
        self.incoming = self.root / self.INCOMING
        self.incoming.mkdir(parents=True, exist_ok=True)
        for leftover in self.incoming.iterdir():
            with contextlib.suppress(OSError):
                leftover.unlink()
        self._pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="camfetch-store")

    def path(self, key: str) -> Path:
        """The file for ``key``; refuses keys that would leave the root."""
        if key.startswith(("/", "\\", self.INCOMING)) or ".." in Path(key).parts:
            raise UsageError(f"storage key {key!r} is not inside the store")
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise UsageError(f"storage key {key!r} is not inside the store")
        return target

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    async def put(self, key: str, data: bytes) -> str:
        target = self.path(key)

        def write() -> str:
            write_atomic(target, data, durable=self.durable, tmp_dir=self.incoming)
            return hashlib.sha256(data).hexdigest()

        return await asyncio.get_running_loop().run_in_executor(self._pool, write)

    async def read(self, key: str) -> bytes:
        target = self.path(key)
        return await asyncio.get_running_loop().run_in_executor(self._pool, target.read_bytes)

    async def delete(self, key: str) -> None:
        target = self.path(key)
        unlink = functools.partial(target.unlink, missing_ok=True)
        await asyncio.get_running_loop().run_in_executor(self._pool, unlink)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
