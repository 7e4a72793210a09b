"""The catalog: what was captured, checked, exported and reported, in SQL.

SQLite (WAL mode) by default, any SQLAlchemy URL otherwise (PostgreSQL with
psycopg). The schema is created and upgraded by the Alembic migrations that
ship in the package. All database work happens in one thread of its own, so
the event loop never waits on disk; writes that arrive together are committed
together (group commit), which is what makes thousands of captures a second
possible on SQLite.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, Table, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from camfetch.service.models import (
    Base,
    CaptureRow,
    ChannelRow,
    DeviceRow,
    EventRow,
    ExportRow,
    GapRow,
    HealthRow,
)

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def naive_utc(when: datetime) -> datetime:
    """Aware -> naive UTC, the form every timestamp column holds."""
    return when.astimezone(UTC).replace(tzinfo=None)


def aware_utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Capture:
    id: int
    channel_id: int
    job: str
    path: str
    sha256: str
    size: int
    width: int | None
    height: int | None
    utc: datetime  # aware
    device_time: str
    kept: bool

    @classmethod
    def of(cls, row: CaptureRow) -> Capture:
        return cls(
            row.id, row.channel_id, row.job, row.path, row.sha256, row.size, row.width,
            row.height, aware_utc(row.utc), row.device_time, row.kept,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "utc": self.utc.isoformat(),
            "device_time": self.device_time,
            "kept": self.kept,
        }


@dataclass(frozen=True, slots=True)
class HealthRecord:
    channel_id: int
    checked: datetime  # aware
    status: str
    observed: str
    reason: str
    latency: float | None
    width: int | None
    height: int | None
    luma: float | None
    skew: float | None
    detail: str

    @classmethod
    def of(cls, row: HealthRow) -> HealthRecord:
        return cls(
            row.channel_id, aware_utc(row.checked), row.status, row.observed, row.reason,
            row.latency, row.width, row.height, row.luma, row.skew, row.detail,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked.isoformat(),
            "status": self.status,
            "observed": self.observed,
            "reason": self.reason,
            "latency": self.latency,
            "width": self.width,
            "height": self.height,
            "luma": self.luma,
            "skew": self.skew,
            "detail": self.detail,
        }


class Catalog:
    """The catalog behind one SQLAlchemy URL; use ``await open()`` then the methods below."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camfetch-catalog")
        self._pending: list[tuple[Callable[[Session], Any], Future[Any]]] = []
        self._inserts: dict[type[Base], list[tuple[dict[str, Any], Future[int]]]] = {}
        self._lock = threading.Lock()
        self._channels: dict[tuple[int, int], int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        await self._run(self._dispose)
        self._thread.shutdown(wait=True)

    def _open(self) -> None:
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        engine = create_engine(url, pool_pre_ping=True)
        if url.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        with engine.begin() as connection:
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
        self._engine = engine

    def _dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- the worker thread -------------------------------------------------------------------

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def _read(self, fn: Callable[[Session], T]) -> T:
        def work() -> T:
            with Session(self._require()) as session:
                return fn(session)

        return await self._run(work)

    async def _write(self, fn: Callable[[Session], T]) -> T:
        """Queue ``fn`` for the next group commit; returns its result once committed."""
        future: Future[T] = Future()
        with self._lock:
            self._pending.append((fn, future))
            self._wake()
        return await asyncio.wrap_future(future)

    async def _insert(self, model: type[Base], values: dict[str, Any]) -> int:
        """Queue one row for the next group commit's multi-row insert; returns its id."""
        future: Future[int] = Future()
        with self._lock:
            self._inserts.setdefault(model, []).append((values, future))
            self._wake()
        return await asyncio.wrap_future(future)

    def _wake(self) -> None:
        """Start a commit unless one is already queued (called with the lock held)."""
        if not self._commit_queued:
            self._commit_queued = True
            self._thread.submit(self._commit_pending)

    _commit_queued = False

    def _commit_pending(self) -> None:
        with self._lock:
            calls, self._pending = self._pending, []
            inserts, self._inserts = self._inserts, {}
            self._commit_queued = False
        if not calls and not inserts:
            return
        try:
            with Session(self._require()) as session, session.begin():
                results = [fn(session) for fn, _ in calls]
                ids = {
                    model: self._insert_rows(session, model, rows)
                    for model, rows in inserts.items()
                }
        except Exception:  # the whole batch failed: run each alone to isolate the culprit
            self._one_by_one(calls, inserts)
            return
        for (_, future), result in zip(calls, results, strict=True):
            future.set_result(result)
        for model, rows in inserts.items():
            for (_, future), row_id in zip(rows, ids[model], strict=True):
                future.set_result(row_id)

    @staticmethod
    def _insert_rows(
        session: Session, model: type[Base], rows: list[tuple[dict[str, Any], Future[int]]]
    ) -> list[int]:
        table = cast(Table, model.__table__)
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        result = session.execute(statement, [values for values, _ in rows])
        return [row_id for (row_id,) in result]

    def _one_by_one(
        self,
        calls: list[tuple[Callable[[Session], Any], Future[Any]]],
        inserts: dict[type[Base], list[tuple[dict[str, Any], Future[int]]]],
    ) -> None:
        for fn, future in calls:
            try:
                with Session(self._require()) as session, session.begin():
                    future.set_result(fn(session))
            except Exception as exc:
                future.set_exception(exc)
        for model, rows in inserts.items():
            for values, row_future in rows:
                try:
                    with Session(self._require()) as session, session.begin():
                        (row_id,) = self._insert_rows(session, model, [(values, row_future)])
                    row_future.set_result(row_id)
                except Exception as exc:
                    row_future.set_exception(exc)

    def _require(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("catalog not open")
        return self._engine

    # -- devices and channels ------------------------------------------------------------------

    async def ensure_device(
        self,
        name: str,
        *,
        url: str,
        labels: dict[str, str],
        vendor: str | None = None,
        model: str | None = None,
        serial: str | None = None,
    ) -> int:
        now = naive_utc(datetime.now(UTC))

        def work(session: Session) -> int:
            row = session.scalar(select(DeviceRow).where(DeviceRow.name == name))
            if row is None:
                row = DeviceRow(name=name, url=url, labels=labels, first_seen=now, last_seen=now)
                session.add(row)
            row.url, row.labels, row.last_seen = url, labels, now
            row.vendor = vendor or row.vendor
            row.model = model or row.model
            row.serial = serial or row.serial
            session.flush()
            return row.id

        return await self._write(work)

    async def ensure_channel(self, device_id: int, number: int, name: str) -> int:
        key = (device_id, number)
        if key in self._channels:
            return self._channels[key]

        def work(session: Session) -> int:
            row = session.scalar(
                select(ChannelRow).where(
                    ChannelRow.device_id == device_id, ChannelRow.number == number
                )
            )
            if row is None:
                row = ChannelRow(device_id=device_id, number=number, name=name)
                session.add(row)
            row.name = name
            session.flush()
            return row.id

        channel_id = await self._write(work)
        self._channels[key] = channel_id
        return channel_id

    async def channel_id(self, device: str, number: int) -> int | None:
        def work(session: Session) -> int | None:
            return session.scalar(
                select(ChannelRow.id)
                .join(DeviceRow, ChannelRow.device_id == DeviceRow.id)
                .where(DeviceRow.name == device, ChannelRow.number == number)
            )

        return await self._read(work)

    async def devices(self) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            out = []
            for device in session.scalars(select(DeviceRow).order_by(DeviceRow.name)):
                channels = session.scalars(
                    select(ChannelRow)
                    .where(ChannelRow.device_id == device.id)
                    .order_by(ChannelRow.number)
                )
                out.append(
                    {
                        "name": device.name,
                        "url": device.url,
                        "vendor": device.vendor,
                        "model": device.model,
                        "serial": device.serial,
                        "labels": device.labels,
                        "channels": [
                            {"number": c.number, "name": c.name, "id": c.id} for c in channels
                        ],
                    }
                )
            return out

        return await self._read(work)

    # -- captures and gaps ---------------------------------------------------------------------

    async def add_capture(
        self,
        channel_id: int,
        *,
        job: str,
        path: str,
        sha256: str,
        size: int,
        width: int | None,
        height: int | None,
        utc: datetime,
        device_time: datetime,
        kept: bool = False,
    ) -> int:
        values = {
            "channel_id": channel_id, "job": job, "path": path, "sha256": sha256, "size": size,
            "width": width, "height": height, "utc": naive_utc(utc),
            "device_time": device_time.isoformat(), "kept": kept,
        }  # fmt: skip
        return await self._insert(CaptureRow, values)

    async def add_gap(
        self, channel_id: int, *, job: str, due: datetime, reason: str, detail: str
    ) -> None:
        values = {
            "channel_id": channel_id, "job": job, "due": naive_utc(due), "reason": reason,
            "detail": detail[:500],
        }  # fmt: skip
        await self._insert(GapRow, values)

    async def captures(
        self, channel_id: int, start: datetime, end: datetime, *, limit: int | None = None
    ) -> list[Capture]:
        def work(session: Session) -> list[Capture]:
            query = (
                select(CaptureRow)
                .where(
                    CaptureRow.channel_id == channel_id,
                    CaptureRow.utc >= naive_utc(start),
                    CaptureRow.utc < naive_utc(end),
                )
                .order_by(CaptureRow.utc)
            )
            if limit is not None:
                query = query.limit(limit)
            return [Capture.of(row) for row in session.scalars(query)]

        return await self._read(work)

    async def capture(self, capture_id: int) -> Capture | None:
        def work(session: Session) -> Capture | None:
            row = session.get(CaptureRow, capture_id)
            return Capture.of(row) if row is not None else None

        return await self._read(work)

    async def latest_capture(self, channel_id: int) -> Capture | None:
        def work(session: Session) -> Capture | None:
            row = session.scalar(
                select(CaptureRow)
                .where(CaptureRow.channel_id == channel_id)
                .order_by(CaptureRow.utc.desc())
                .limit(1)
            )
            return Capture.of(row) if row is not None else None

        return await self._read(work)

    async def gaps(self, channel_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            rows = session.scalars(
                select(GapRow)
                .where(
                    GapRow.channel_id == channel_id,
                    GapRow.due >= naive_utc(start),
                    GapRow.due < naive_utc(end),
                )
                .order_by(GapRow.due)
            )
            return [
                {
                    "job": r.job,
                    "due": aware_utc(r.due).isoformat(),
                    "reason": r.reason,
                    "detail": r.detail,
                }
                for r in rows
            ]

        return await self._read(work)

    async def keep(self, capture_ids: Iterable[int]) -> None:
        ids = list(capture_ids)

        def work(session: Session) -> None:
            session.execute(update(CaptureRow).where(CaptureRow.id.in_(ids)).values(kept=True))

        await self._write(work)

    async def expired(self, job: str, before: datetime, *, limit: int = 1000) -> list[Capture]:
        """Captures of ``job`` older than ``before`` and not kept: retention may delete them."""

        def work(session: Session) -> list[Capture]:
            rows = session.scalars(
                select(CaptureRow)
                .where(
                    CaptureRow.job == job,
                    CaptureRow.utc < naive_utc(before),
                    CaptureRow.kept.is_(False),
                )
                .order_by(CaptureRow.utc)
                .limit(limit)
            )
            return [Capture.of(row) for row in rows]

        return await self._read(work)

    async def forget(self, capture_ids: Iterable[int]) -> list[Capture]:
        """Delete capture rows, never kept ones (checked again here); returns those deleted."""
        ids = list(capture_ids)

        def work(session: Session) -> list[Capture]:
            deleted = []
            for capture_id in ids:
                row = session.get(CaptureRow, capture_id)
                if row is not None and not row.kept:
                    deleted.append(Capture.of(row))
                    session.delete(row)
            return deleted

        return await self._write(work)

    async def is_kept(self, path: str) -> bool:
        def work(session: Session) -> bool:
            found = session.scalar(
                select(CaptureRow.id)
                .where(CaptureRow.path == path, CaptureRow.kept.is_(True))
                .limit(1)
            )
            return found is not None

        return await self._read(work)

    # -- health, exports, events ---------------------------------------------------------------

    async def add_health(self, channel_id: int, record: HealthRecord) -> None:
        values = {
            "channel_id": channel_id, "checked": naive_utc(record.checked),
            "status": record.status, "observed": record.observed, "reason": record.reason,
            "latency": record.latency, "width": record.width, "height": record.height,
            "luma": record.luma, "skew": record.skew, "detail": record.detail[:500],
        }  # fmt: skip
        await self._insert(HealthRow, values)

    async def health_history(self, channel_id: int, *, limit: int = 100) -> list[HealthRecord]:
        def work(session: Session) -> list[HealthRecord]:
            rows = session.scalars(
                select(HealthRow)
                .where(HealthRow.channel_id == channel_id)
                .order_by(HealthRow.checked.desc())
                .limit(limit)
            )
            return [HealthRecord.of(row) for row in rows]

        return await self._read(work)

    async def health_now(self) -> list[dict[str, Any]]:
        """The newest health record of every channel that has one, with device and channel."""

        def work(session: Session) -> list[dict[str, Any]]:
            newest = (
                select(HealthRow.channel_id, func.max(HealthRow.id).label("last"))
                .group_by(HealthRow.channel_id)
                .subquery()
            )
            rows = session.execute(
                select(HealthRow, ChannelRow, DeviceRow)
                .join(newest, HealthRow.id == newest.c.last)
                .join(ChannelRow, HealthRow.channel_id == ChannelRow.id)
                .join(DeviceRow, ChannelRow.device_id == DeviceRow.id)
                .order_by(DeviceRow.name, ChannelRow.number)
            )
            return [
                {
                    "device": device.name,
                    "channel": channel.number,
                    **HealthRecord.of(health).to_json(),
                }
                for health, channel, device in rows
            ]

        return await self._read(work)

    async def add_export(
        self,
        channel_id: int,
        *,
        start: datetime,
        end: datetime,
        path: str,
        sha256: str,
        size: int,
        manifest: str | None,
    ) -> None:
        row = ExportRow(
            channel_id=channel_id, start=naive_utc(start), end=naive_utc(end), path=path,
            sha256=sha256, size=size, manifest=manifest, created=naive_utc(datetime.now(UTC)),
        )  # fmt: skip
        await self._write(lambda session: session.add(row))

    async def add_event(
        self,
        device_id: int,
        *,
        time: datetime,
        code: str,
        kind: str,
        action: str,
        channel: int | None,
        data: dict[str, Any],
    ) -> None:
        values = {
            "device_id": device_id, "channel": channel, "time": naive_utc(time), "code": code,
            "kind": kind, "action": action, "data": data,
        }  # fmt: skip
        await self._insert(EventRow, values)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
