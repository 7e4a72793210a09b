"""Files written so that a crash never leaves half of one, and names that are safe.

Everything camfetch writes goes to a temporary file in the target directory
first and is renamed over the target when complete (``os.replace`` is atomic on
one filesystem). With ``durable=True`` the data is flushed to disk before the
rename, so even a power cut leaves either the old file or the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import queue
import re
import secrets
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, *, fallback: str = "device", max_length: int = 80) -> str:
    """A file-name component made from any device or camera name.

    Keeps letters, digits, dot, dash and underscore (accents folded to ASCII);
    everything else becomes ``_``. Never empty, never ``.``/``..``, no slashes.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", folded).strip("._-")
    cleaned = cleaned[:max_length].rstrip("._-")
    return cleaned or fallback


_counter = itertools.count()
_TOKEN = secrets.token_hex(3)  # per process, so two processes never pick the same name


def _temp_path(target: Path, suffix: str, folder: Path | None = None) -> Path:
    name = f".{target.name}.{_TOKEN}{next(_counter)}{suffix}"
    return (folder or target.parent) / name


def write_atomic(
    path: Path, data: bytes, *, durable: bool = True, tmp_dir: Path | None = None
) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``.

    The temporary file goes next to ``path``, or into ``tmp_dir`` (which must be
    on the same filesystem), where a crash's leftovers are easy to clear.
    """
    tmp = _temp_path(path, ".part", tmp_dir)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            tmp.replace(path)
        except FileNotFoundError:  # the target's folder does not exist yet
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


@contextlib.contextmanager
def atomic_output(path: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to fill (e.g. by ffmpeg); it replaces ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the target's extension, so tools that pick a
    format by extension still work.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path, "".join(path.suffixes[-1:]))
    try:
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class BackgroundWriter:
    """Atomic file writes off the event loop, taken in batches.

    Writer threads take every write queued so far and do them in order, then
    wake each waiting event loop once per batch: a fleet's worth of pictures
    arriving together costs a few thread hand-offs, not one per file. A slow
    disk makes writes queue here instead of stalling the event loop.
    """

    BATCH = 64

    def __init__(self, *, threads: int = 2, name: str = "camfetch-write") -> None:
        self._queue: queue.SimpleQueue[_WriteJob] = queue.SimpleQueue()
        self._threads = threads
        self._name = name
        self._started = False
        self._lock = threading.Lock()

    async def write(
        self, path: Path, data: bytes, *, durable: bool = False, tmp_dir: Path | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._start()
        self._queue.put(_WriteJob(path, data, durable, tmp_dir, loop, future))
        await future

    def _start(self) -> None:
        if self._started:
            return
        with self._lock:
            if not self._started:
                for n in range(self._threads):
                    threading.Thread(
                        target=self._work, name=f"{self._name}-{n}", daemon=True
                    ).start()
                self._started = True

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            settled: dict[asyncio.AbstractEventLoop, list[tuple[_WriteJob, BaseException | None]]]
            settled = {}
            for job in batch:
                error: BaseException | None = None
                try:
                    write_atomic(job.path, job.data, durable=job.durable, tmp_dir=job.tmp_dir)
                except BaseException as exc:  # handed to the waiting coroutine
                    error = exc
                settled.setdefault(job.loop, []).append((job, error))
            for loop, results in settled.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    loop.call_soon_threadsafe(_settle, results)


@dataclass(frozen=True, slots=True)
class _WriteJob:
    path: Path
    data: bytes
    durable: bool
    tmp_dir: Path | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


def _settle(results: list[tuple[_WriteJob, BaseException | None]]) -> None:
    for job, error in results:
        if job.future.done():
            continue
        if error is None:
            job.future.set_result(None)
        else:
            job.future.set_exception(error)
