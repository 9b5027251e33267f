"""Billing tasks of the daily run: invoices, payment reminders, late fees, automatic capture.

Each rule lives in the billing services; these tasks only decide *which* invoices are
due for what today and call them, recording what they did so a re-run does nothing twice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from sqlalchemy import select

from billow.automation.base import RunContext, Task
from billow.db.models import AutomationMark, PayMethod
from billow.errors import Conflict
from billow.services.billing import card_payments, generation, late_fees, reminders
from billow.uow import UnitOfWork

#: Lines whose (type, relid, due date) is claimed as an idempotency key. Services, addons
#: and domains need none: their next-invoice date moves with a compare-and-set UPDATE
#: (``DateAdvance``), which the database refuses for a date already invoiced.
CLAIMED_LINES = ("Item",)


class CreateInvoices(Task):
    """Generate the invoices due today: the same service as the ``GenInvoices`` action.

    Work is per client (one invoice per client and due date needs all of a client's due
    items together), a page of clients per transaction through the set-based writer.
    Sources advance their next-invoice dates in the same transaction with a
    compare-and-set UPDATE, so a client whose invoices committed is not due any more and
    the database refuses a second invoice for the same service and due date; billable
    items are also claimed as ``Item:relid:duedate``.
    """

    name = "CreateInvoices"
    title = "Generate invoices"
    order = 10
    #: Clients per transaction: a page is a handful of set-based statements.
    batch_size = 500

    def __init__(self) -> None:
        self._clients: list[int] | None = None

    def run(self, ctx: RunContext) -> None:
        # WHMCS fires these once per generation run; the pages below call the service per
        # client with announce=False.
        with ctx.transaction(0) as uow:
            uow.emit("PreInvoicingGenerateInvoiceItems", {}, resource_type="invoicing")
        self._clients = None
        try:
            super().run(ctx)
        finally:
            self._clients = None
        with ctx.transaction(0) as uow:
            uow.emit("AfterInvoicingGenerateInvoiceItems", {}, resource_type="invoicing")

    def _due_clients(self, ctx: RunContext, uow: UnitOfWork) -> list[int]:
        if self._clients is None:
            self._clients = sorted(generation.due_client_ids(uow, ctx.today))
        return self._clients

    def total(self, ctx: RunContext, uow: UnitOfWork) -> int | None:
        return len(self._due_clients(ctx, uow))

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        clients = self._due_clients(ctx, uow)
        start = bisect_right(clients, after)
        return clients[start:start + limit]

    def describe(self, item: int) -> str:
        return f"client:{item}"

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        invoices = generation.generate_invoices(uow, as_of=ctx.today, client_ids=items, announce=False)
        ctx.count("invoices", len(invoices))
        ctx.count("items", sum(len(invoice.items) for invoice in invoices))
        self._claim(ctx, uow, [f"{line.type}:{line.relid}:{line.duedate}" for invoice in invoices
                               for line in invoice.items if line.relid and line.type in CLAIMED_LINES])

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def _claim(self, ctx: RunContext, uow: UnitOfWork, keys: list[str]) -> None:
        # One claim per page. A key already taken (or twice in the page) fails the page;
        # the runner then replays it client by client, so only the culprit fails.
        fresh = ctx.claim(uow, keys)
        if len(fresh) != len(keys):
            taken = sorted(set(keys) - fresh) or sorted(k for k in set(keys) if keys.count(k) > 1)
            raise Conflict(f"already invoiced: {', '.join(taken[:5])}")


class InvoiceReminders(Task):
    """Send the unpaid-invoice reminder and the first, second and third overdue notices.

    Each notice is claimed as ``invoice:kind`` in the transaction that requests the
    e-mail, so it goes out exactly once. Clients with ``overideduenotices`` get none.
    """

    name = "InvoiceReminders"
    title = "Payment reminders"
    order = 20
    batch_size = 500
    setting = "SendReminder"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return reminders.invoices_in_reminder_window(uow, ctx.today, after, limit)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        due = reminders.reminders_due(uow, items, ctx.today)
        for key in sorted(ctx.claim(uow, list(due))):
            invoice_id, kind, template = due[key]
            reminders.send_reminder(uow, invoice_id, kind, template)
            ctx.count(kind)


class AddLateFees(Task):
    """Add one late fee to invoices unpaid ``AddLateFeeDays`` after their due date.

    The fee is ``InvoiceLateFeeAmount``, fixed or a percentage of the invoice total with
    ``LateFeeMinimum`` as the floor (``LateFeeType``). Clients with ``latefeeoveride``
    are exempt. The ``LateFee`` line on the invoice is the record that it was added.
    """

    name = "AddLateFees"
    title = "Late fees"
    order = 30
    batch_size = 200
    setting = "AddLateFeeDays"

    def enabled(self, ctx: RunContext, uow: UnitOfWork) -> bool:
        return late_fees.late_fees_enabled(uow)

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return late_fees.invoices_due_a_fee(uow, ctx.today, after, limit)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        if late_fees.add_late_fee(uow, item, ctx.today) is not None:
            ctx.count("latefees")


class ProcessCreditCardPayments(Task):
    """Charge unpaid invoices to the client's stored pay method through its gateway.

    Invoices are attempted from ``CCProcessDaysBefore`` days before their due date. A
    failed capture is retried daily, or with ``CCAttemptOnlyOnce`` never again, or with
    ``CCRetryEveryWeekFor`` N weekly for N weeks. Clients with ``disableautocc`` are
    skipped.

    The attempt is committed *before* the gateway is called (``last_capture_attempt`` and
    an ``invoice:date`` key), so a crash at any point can never charge an invoice twice
    on one day; the payment is then recorded with the gateway's transaction id, which
    the billing engine refuses to record twice.
    """

    name = "ProcessCreditCardPayments"
    title = "Automatic card captures"
    order = 40
    batch_size = 100
    isolate_items = True

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return card_payments.invoices_to_capture(uow, ctx.today, after, limit)

    def run(self, ctx: RunContext) -> None:
        after = 0
        while True:
            with ctx.reader() as uow:
                items = list(self.pending(ctx, uow, after, self.page_size(uow)))
            if not items:
                return
            for item in items:
                try:
                    self._capture(ctx, item)
                except Exception as exc:  # noqa: BLE001 - one broken invoice must not stop the others
                    ctx.fail(self, item, getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
            after = items[-1]

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self._capture(ctx, item)

    def _attempts(self, uow: UnitOfWork, invoice_id: int) -> int:
        """Captures of *invoice_id* tried so far: the run's own claims, one per attempt day."""
        return len(list(uow.session.scalars(select(AutomationMark.id).where(
            AutomationMark.task == self.name, AutomationMark.key.like(f"invoice:{invoice_id}:%")))))

    def _capture(self, ctx: RunContext, invoice_id: int) -> None:
        # 1. Record the attempt (and claim today's key) before any money moves.
        with ctx.transaction(0) as uow:
            invoice = card_payments.lock_for_capture(uow, invoice_id)
            if invoice is None or not card_payments.may_attempt(
                    uow, invoice, ctx.today, self._attempts(uow, invoice_id)):
                return
            if not ctx.claim(uow, [f"invoice:{invoice_id}:{ctx.today}"]):
                return
            prepared = card_payments.prepare_capture(uow, invoice, ctx.now)
        if prepared.request is None:
            ctx.fail(self, invoice_id,
                     f"no stored pay method with a gateway able to capture ({prepared.gateway_name or '-'})")
            return
        # 2. Ask the gateway (outside any transaction: it may be slow).
        try:
            result = prepared.gateway.capture(prepared.request)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a broken gateway is a failed attempt, not a crash
            ctx.fail(self, invoice_id, f"{prepared.gateway_name}: {exc}")
            return
        # 3. Record the outcome in a new transaction.
        if result.ok:
            with ctx.transaction(1) as uow:
                card_payments.log_capture(uow, prepared, result)
                recorded = card_payments.record_captured(uow, prepared, result.transid, result.fee)
                ctx.count("captured" if recorded else "already_recorded")
            return
        reason = result.reason or result.status
        with ctx.transaction(0) as uow:
            card_payments.log_capture(uow, prepared, result)
            card_payments.record_declined(uow, prepared, reason)
            ctx.count("declined")
        ctx.fail(self, invoice_id, f"{prepared.gateway_name}: {reason}")


class CreditCardExpiryNotices(Task):
    """On day ``CCDaySendExpiryNotices`` of the month, warn clients whose stored card expires
    this month ("Credit Card Expiring Soon"), once per card and expiry date."""

    name = "CreditCardExpiryNotices"
    title = "Card expiry notices"
    order = 45
    batch_size = 500
    setting = "CCDaySendExpiryNotices"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return card_payments.cards_expiring(uow, ctx.today, after, limit)

    def describe(self, item: int) -> str:
        return f"paymethod:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        method = uow.session.get(PayMethod, item)
        if method is None or not ctx.claim(uow, [f"paymethod:{item}:{method.card_expiry}"]):
            return
        card_payments.send_expiry_notice(uow, method)
        ctx.count("notices")
