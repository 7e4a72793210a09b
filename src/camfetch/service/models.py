"""The catalog's tables (SQLAlchemy 2). The schema itself is made by Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class DeviceRow(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(1000))  # masked: never a password
    vendor: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class ChannelRow(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("device_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))


class CaptureRow(Base):
    """A picture taken and stored: where, what, when (UTC and on the device's clock)."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_channel_utc", "channel_id", "utc"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000))  # storage key
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    utc: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    device_time: Mapped[str] = mapped_column(String(40))  # ISO 8601 with the device's offset
    kept: Mapped[bool] = mapped_column(Boolean, default=False)  # retention never deletes it


class GapRow(Base):
    """A capture that was due and did not happen, and why."""

    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_channel_due", "channel_id", "due"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(200))
    due: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(500))


class HealthRow(Base):
    __tablename__ = "health"
    __table_args__ = (Index("ix_health_channel_checked", "channel_id", "checked"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    checked: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    status: Mapped[str] = mapped_column(String(20))  # ok, degraded, offline (after hysteresis)
    observed: Mapped[str] = mapped_column(String(20))  # what this check alone says
    reason: Mapped[str] = mapped_column(String(40))
    latency: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    luma: Mapped[float | None] = mapped_column(Float)
    skew: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(500))


class ExportRow(Base):
    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    path: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    manifest: Mapped[str | None] = mapped_column(String(1000))
    created: Mapped[datetime] = mapped_column(DateTime)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_device_time", "device_id", "time"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    channel: Mapped[int | None] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    code: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
