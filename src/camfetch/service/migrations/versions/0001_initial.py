"""The first catalog: devices, channels, captures, gaps, health, exports, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("vendor", sa.String(100)),
        sa.Column("model", sa.String(200)),
        sa.Column("serial", sa.String(200)),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "device_id",
            sa.Integer(),
            sa.ForeignKey("devices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.UniqueConstraint("device_id", "number"),
    )
    channel = sa.ForeignKey("channels.id", ondelete="CASCADE")
    op.create_table(
        "captures",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("channel_id", sa.Integer(), channel, nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("utc", sa.DateTime(), nullable=False),
        sa.Column("device_time", sa.String(40), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_captures_channel_utc", "captures", ["channel_id", "utc"])
    op.create_table(
        "gaps",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "channel_id",
            sa.Integer(),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("due", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("ix_gaps_channel_due", "gaps", ["channel_id", "due"])
    op.create_table(
        "health",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "channel_id",
            sa.Integer(),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("checked", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("observed", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("latency", sa.Float()),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("luma", sa.Float()),
        sa.Column("skew", sa.Float()),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("ix_health_channel_checked", "health", ["channel_id", "checked"])
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "channel_id",
            sa.Integer(),
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.String(1000)),
        sa.Column("created", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "device_id",
            sa.Integer(),
            sa.ForeignKey("devices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.Integer()),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_device_time", "events", ["device_id", "time"])


def downgrade() -> None:
    for index, table in (
        ("ix_events_device_time", "events"),
        ("ix_health_channel_checked", "health"),
        ("ix_gaps_channel_due", "gaps"),
        ("ix_captures_channel_utc", "captures"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("events", "exports", "health", "gaps", "captures", "channels", "devices"):
        op.drop_table(table)
