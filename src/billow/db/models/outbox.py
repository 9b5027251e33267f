"""The durable outbox: every event, written in the transaction that caused it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billow import clock
from billow.db.base import Base
from billow.db.types import UTCDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable id receivers de-duplicate on (webhook-id).
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    resource_type: Mapped[str] = mapped_column(String(50), default="")
    resource_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    #: When the dispatcher fanned the event out to webhooks/e-mail (empty: not yet).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    #: Failed fan-outs (a bug in a resolver or template); the worker stops after a few.
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dispatch_error: Mapped[str] = mapped_column(Text, default="", server_default="")
