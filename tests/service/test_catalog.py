"""The catalog on SQLite and on PostgreSQL: migrations, captures, retention safety, health."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from camfetch.service.catalog import Catalog, HealthRecord


async def opened(url: str) -> tuple[Catalog, int]:
    catalog = Catalog(url)
    await catalog.open()
    device = await catalog.ensure_device("cam", url="viewtron://admin@h", labels={"site": "hq"})
    return catalog, await catalog.ensure_channel(device, 1, "Gate")


async def test_captures_gaps_and_queries(catalog_url: str):
    catalog, channel = await opened(catalog_url)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    ids = await asyncio.gather(
        *(
            catalog.add_capture(
                channel,
                job="tl",
                path=f"cam/1/{n}.jpg",
                sha256="0" * 64,
                size=n,
                width=640,
                height=480,
                utc=start + timedelta(minutes=n),
                device_time=(start + timedelta(minutes=n)).astimezone(),
            )
            for n in range(300)
        )
    )
    assert len(set(ids)) == 300
    found = await catalog.captures(
        channel, start + timedelta(minutes=10), start + timedelta(minutes=20)
    )
    assert [c.size for c in found] == list(range(10, 20))
    assert found[0].utc == start + timedelta(minutes=10) and found[0].utc.tzinfo is not None
    assert (await catalog.latest_capture(channel)).size == 299  # type: ignore[union-attr]
    await catalog.add_gap(channel, job="tl", due=start, reason="timeout", detail="no answer")
    assert (await catalog.gaps(channel, start, start + timedelta(hours=1)))[0][
        "reason"
    ] == "timeout"
    assert (await catalog.devices())[0]["channels"] == [
        {"number": 1, "name": "Gate", "id": channel}
    ]
    await catalog.close()


async def test_retention_never_forgets_a_kept_capture(catalog_url: str):
    catalog, channel = await opened(catalog_url)
    old = datetime.now(UTC) - timedelta(days=40)
    ids = [
        await catalog.add_capture(
            channel,
            job="tl",
            path=f"p{n}",
            sha256="0" * 64,
            size=1,
            width=1,
            height=1,
            utc=old + timedelta(seconds=n),
            device_time=old,
        )
        for n in range(10)
    ]
    await catalog.keep(ids[:3])
    expired = await catalog.expired("tl", datetime.now(UTC) - timedelta(days=30))
    assert {c.id for c in expired} == set(ids[3:])
    await catalog.keep([ids[5]])  # kept after the query, before the delete
    forgotten = await catalog.forget(c.id for c in expired)
    assert {c.id for c in forgotten} == set(ids[3:]) - {ids[5]}
    assert await catalog.is_kept("p5") and await catalog.is_kept("p0")
    await catalog.close()


async def test_health_history_and_current(catalog_url: str):
    catalog, channel = await opened(catalog_url)
    now = datetime.now(UTC)
    for n, status in enumerate(["ok", "ok", "degraded"]):
        reason = "black" if status != "ok" else "ok"
        when = now + timedelta(seconds=n)
        record = HealthRecord(channel, when, status, status, reason, 0.1, 640, 480, 3.0, 0.0, "")
        await catalog.add_health(channel, record)
    (current,) = await catalog.health_now()
    assert (
        current["device"] == "cam"
        and current["status"] == "degraded"
        and current["reason"] == "black"
    )
    assert [r.status for r in await catalog.health_history(channel)] == ["degraded", "ok", "ok"]
    await catalog.close()


async def test_migrations_are_idempotent_and_sqlite_uses_wal(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    for _ in range(2):
        catalog, _ = await opened(url)
        await catalog.close()
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"


async def test_events_table_takes_device_events(catalog_url: str):
    catalog, _ = await opened(catalog_url)
    device = await catalog.ensure_device("cam", url="viewtron://admin@h", labels={})
    await catalog.add_event(
        device, time=datetime.now(UTC), code="VideoMotion", kind="motion", action="start",
        channel=1, data={"region": ["Region1"], "score": 0.9},
    )  # fmt: skip
    import sqlalchemy

    url = catalog_url.replace("postgresql://", "postgresql+psycopg://")
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            sqlalchemy.text("SELECT code, kind, action, channel, data FROM events")
        ).one()
    engine.dispose()
    data = row.data if isinstance(row.data, dict) else __import__("json").loads(row.data)
    assert (row.code, row.kind, row.action, row.channel) == ("VideoMotion", "motion", "start", 1)
    assert data == {"region": ["Region1"], "score": 0.9}
    await catalog.close()
