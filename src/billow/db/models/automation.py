"""The automation run's own state: its lock, its log, and what it has already done.

These tables are what make ``billow cron`` safe to run twice and safe to kill:

* :class:`AutomationLock` is a lease row. A run takes it with one conditional UPDATE
  (atomic on SQLite and on PostgreSQL, across machines), renews it as it works and gives
  it back at the end; a killed run's lease expires, or is taken over at once when its
  owner process is known to be dead.
* :class:`AutomationTaskDay` records that a daily task finished for a billing date, so a
  second run that day skips it, and a run killed half way repeats only what is missing.
* :class:`AutomationMark` is a per-item idempotency key for work that leaves no trace on
  the item itself (a reminder e-mail): unique per task and key, written in the same
  transaction as the work.
* :class:`AutomationRun` and :class:`AutomationTaskLog` are the automation log that
  ``GetAutomationLog`` reads: one row per run, one per task execution, with counts and
  failure reasons.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billow import clock
from billow.db.base import Base
from billow.db.types import UTCDateTime


class AutomationLock(Base):
    """A named lease: who holds it, when they last proved they are alive, when it lapses."""

    __tablename__ = "automation_locks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``host:pid:token`` of the holder; empty when free.
    owner: Mapped[str] = mapped_column(String(255), default="")
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AutomationRun(Base):
    """One invocation of ``billow cron``."""

    __tablename__ = "automation_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The billing date the run acted as of (``--date`` or today).
    run_date: Mapped[date] = mapped_column(Date, index=True)
    owner: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: True when this run performed the daily tasks (WHMCS's "daily cron invocation").
    daily: Mapped[bool] = mapped_column(Boolean, default=False)
    #: running | completed | failed | interrupted (found running with its lock gone).
    status: Mapped[str] = mapped_column(String(20), default="running")


class AutomationTaskLog(Base):
    """One task's execution within a run: the automation log's unit."""

    __tablename__ = "automation_task_logs"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_runs.id", ondelete="CASCADE"), index=True)
    #: WHMCS task namespace (``CreateInvoices``, ``AutoSuspensions`` ...).
    task: Mapped[str] = mapped_column(String(64), index=True)
    run_date: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: running | completed | failed | skipped
    status: Mapped[str] = mapped_column(String(20), default="running")
    #: Items handled (succeeded or failed) in committed batches.
    processed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    #: What the task did, by kind: ``{"invoices": 12, "emails": 12}``.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Failures with reasons: ``[{"item": "service:12", "reason": "..."}]`` (capped).
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text, default="")


class AutomationTaskDay(Base):
    """A daily task finished for a billing date."""

    __tablename__ = "automation_task_days"
    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    log_id: Mapped[int] = mapped_column(Integer, default=0)


class AutomationMark(Base):
    """An item a task has done, keyed so that doing it again is refused by the database."""

    __tablename__ = "automation_marks"
    __table_args__ = (UniqueConstraint("task", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    #: Task-chosen key, e.g. ``invoice:42:first-overdue``.
    key: Mapped[str] = mapped_column(String(191))
    run_date: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class PayMethod(Base):
    """A stored way for a client to pay without being present (WHMCS ``tblpaymethods``).

    Only the gateway's token is kept (encrypted), never card numbers: the gateway holds
    the card. The automatic capture task charges invoices through it.
    """

    __tablename__ = "pay_methods"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    #: ``CreditCard`` | ``RemoteCreditCard`` | ``BankAccount`` | ``RemoteBankAccount``
    type: Mapped[str] = mapped_column(String(30), default="RemoteCreditCard")
    #: System name of the gateway that holds the card (``paymentmethod`` vocabulary).
    gateway: Mapped[str] = mapped_column(String(50), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    #: The gateway's token for the stored card, encrypted with the installation key.
    token_enc: Mapped[str] = mapped_column(Text, default="")
    card_last_four: Mapped[str] = mapped_column(String(4), default="")
    #: ``MM/YY``
    card_expiry: Mapped[str] = mapped_column(String(5), default="")
    #: Card brand as the gateway reports it (``Visa``, ``MasterCard``).
    card_type: Mapped[str] = mapped_column(String(30), default="")
    #: Bank accounts: the bank's name, the account type, and the routing code and account
    #: number encrypted with the installation key (shown masked, never in full).
    bank_name: Mapped[str] = mapped_column(String(100), default="")
    bank_account_type: Mapped[str] = mapped_column(String(30), default="")
    bank_code_enc: Mapped[str] = mapped_column(Text, default="")
    bank_account_enc: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Lower is preferred; the capture uses the first usable method.
    order_preference: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
