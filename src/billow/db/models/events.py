"""Tables downstream of the outbox: webhook endpoints and deliveries, e-mail templates and log.

The outbox row (:class:`billow.db.models.outbox.OutboxEvent`) is the source of truth; the
dispatcher fans each event out into one :class:`WebhookDelivery` per matching endpoint and
one :class:`EmailMessage` per recipient, in one transaction, so fan-out is all or nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billow import clock
from billow.db.base import Base, Timestamps
from billow.db.types import UTCDateTime


class WebhookEndpoint(Timestamps, Base):
    """A receiver of signed event POSTs (Billow extension; WHMCS has none)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    #: WHMCS hook names this endpoint receives; empty means every event.
    events: Mapped[list] = mapped_column(JSON, default=list)
    #: ``whsec_...`` signing secret, Fernet-encrypted (it must be read back to sign).
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Deliveries that ran out of retries since the last success; disables at a threshold.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)


class WebhookDelivery(Base):
    """One event for one endpoint: retried with backoff until it succeeds or runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "resource_key", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    #: The event's uuid: sent as ``webhook-id`` so receivers de-duplicate retries and replays.
    event_uuid: Mapped[str] = mapped_column(String(36))
    event_name: Mapped[str] = mapped_column(String(100))
    #: ``<resource_type>:<resource_id>``: deliveries of one key go out in event order.
    resource_key: Mapped[str] = mapped_column(String(100), default="")
    #: pending | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    response_code: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    #: Set while a worker holds the delivery; an expired lease means the worker died.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The delivery this one replays (0 for the original).
    replay_of: Mapped[int] = mapped_column(Integer, default=0)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, kept for the integrator to inspect."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: succeeded | failed
    status: Mapped[str] = mapped_column(String(20))
    response_code: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


class EmailTemplate(Timestamps, Base):
    """An editable e-mail template (WHMCS ``tblemailtemplates``), Jinja2 syntax."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("name", "language"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    #: general | product | domain | invoice | support | affiliate | admin | user
    type: Mapped[str] = mapped_column(String(20), index=True)
    language: Mapped[str] = mapped_column(String(50), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: True for templates an admin added (WHMCS ``custom``), False for the shipped ones.
    custom: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Attach the invoice PDF (WHMCS does for invoice templates when PDFs are enabled).
    attach_invoice_pdf: Mapped[bool] = mapped_column(Boolean, default=False)


class EmailMessage(Base):
    """One e-mail to send and, once sent, the client's e-mail log (WHMCS ``tblemails``)."""

    __tablename__ = "email_messages"
    __table_args__ = (
        UniqueConstraint("event_uuid", "to"),
        Index("ix_email_messages_due", "pending", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    userid: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: The outbox event this e-mail came from (empty for direct sends): de-duplicates fan-out.
    event_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    template: Mapped[str] = mapped_column(String(150), default="")
    relid: Mapped[int] = mapped_column(Integer, default=0)
    to: Mapped[str] = mapped_column(String(500))
    cc: Mapped[str] = mapped_column(Text, default="")
    bcc: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    #: Attachment specs ``{"kind": "invoice", "id": 5, "filename": ...}`` made at send time.
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    date: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
