"""Payment reminders: the unpaid-invoice reminder and the first, second and third overdue notices.

Each stage is enabled by a day count setting (``SendInvoiceReminderDays`` before the due
date; ``Send{First,Second,Third}OverdueInvoiceReminder`` after it). The latest stage whose
day has come is the one sent; a missed stage is still sent up to
:data:`REMINDER_CATCH_UP_DAYS` late, and the before-due reminder only before the due date.
Clients with ``overideduenotices`` get none. Exactly-once sending is the caller's job
(the daily run claims ``invoice:ID:kind`` with the e-mail request).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select

from billow.db.models import Client, Invoice
from billow.events import request_email
from billow.services.settings import setting_int
from billow.uow import UnitOfWork

#: (type for the hook, setting with the day offset, sign, WHMCS e-mail template)
REMINDER_STAGES = (
    ("reminder", "SendInvoiceReminderDays", -1, "Invoice Payment Reminder"),
    ("firstoverdue", "SendFirstOverdueInvoiceReminder", 1, "First Invoice Overdue Notice"),
    ("secondoverdue", "SendSecondOverdueInvoiceReminder", 1, "Second Invoice Overdue Notice"),
    ("thirdoverdue", "SendThirdOverdueInvoiceReminder", 1, "Third Invoice Overdue Notice"),
)
#: A stage missed because no run happened on its day is still sent this many days late.
REMINDER_CATCH_UP_DAYS = 7

Schedule = list[tuple[int, str, str]]


def reminder_schedule(uow: UnitOfWork) -> Schedule:
    """The enabled stages as ``(offset from the due date, hook type, template)``, in order."""
    stages = []
    for kind, key, sign, template in REMINDER_STAGES:
        days = setting_int(uow, key, 0)
        if days > 0:
            stages.append((sign * days, kind, template))
    return sorted(stages)


def reminder_due(schedule: Schedule, duedate: date, today: date) -> tuple[str, str] | None:
    """The stage ``(kind, template)`` an unpaid invoice due on *duedate* is in today, or None."""
    current = None
    for offset, kind, template in schedule:
        if duedate + timedelta(days=offset) <= today:
            current = (offset, kind, template)
    if current is None:
        return None
    offset, kind, template = current
    if offset < 0 and today >= duedate:
        return None
    if (today - (duedate + timedelta(days=offset))).days > REMINDER_CATCH_UP_DAYS:
        return None
    return kind, template


def invoices_in_reminder_window(uow: UnitOfWork, today: date, after: int, limit: int) -> Sequence[int]:
    """Unpaid invoices (ids above *after*) whose due date can put them in some stage today."""
    schedule = reminder_schedule(uow)
    if not schedule:
        return []
    earliest = today - timedelta(days=schedule[-1][0] + REMINDER_CATCH_UP_DAYS)
    latest = today - timedelta(days=schedule[0][0])
    return list(uow.session.scalars(
        select(Invoice.id).join(Client, Client.id == Invoice.client_id)
        .where(Invoice.id > after, Invoice.status == "Unpaid", Invoice.duedate >= earliest,
               Invoice.duedate <= latest, Client.overideduenotices.is_(False))
        .order_by(Invoice.id).limit(limit)))


def reminders_due(
    uow: UnitOfWork, invoice_ids: Sequence[int], today: date
) -> dict[str, tuple[int, str, str]]:
    """``{"invoice:ID:kind": (invoice id, kind, template)}`` for those of *invoice_ids* in a stage today."""
    schedule = reminder_schedule(uow)
    due: dict[str, tuple[int, str, str]] = {}
    for invoice_id, duedate in uow.session.execute(
            select(Invoice.id, Invoice.duedate)
            .where(Invoice.id.in_(invoice_ids), Invoice.status == "Unpaid")):
        stage = reminder_due(schedule, duedate, today)
        if stage is not None:
            due[f"invoice:{invoice_id}:{stage[0]}"] = (invoice_id, *stage)
    return due


def send_reminder(uow: UnitOfWork, invoice_id: int, kind: str, template: str) -> None:
    """Fire ``InvoicePaymentReminder`` and queue the stage's e-mail."""
    uow.emit("InvoicePaymentReminder", {"invoiceid": invoice_id, "type": kind},
             resource_type="invoice", resource_id=invoice_id)
    request_email(uow, template, invoice_id)
