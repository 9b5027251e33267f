"""Billing tasks of the daily run: invoices, payment reminders, late fees, automatic capture.

Each rule lives in the billing services; these tasks only decide *which* invoices are
due for what today and call them, recording what they did so a re-run does nothing twice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import exists, select

from billow.automation.base import RunContext, Task
from billow.db.models import Client, Invoice, InvoiceItem, PayMethod
from billow.errors import Conflict
from billow.events import request_email
from billow.money import quantize
from billow.services.activity import log_activity
from billow.services.billing import generation
from billow.services.settings import setting_decimal, setting_int, setting_on
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


#: (type for the hook, setting with the day offset, sign, WHMCS e-mail template)
REMINDER_STAGES = (
    ("reminder", "SendInvoiceReminderDays", -1, "Invoice Payment Reminder"),
    ("firstoverdue", "SendFirstOverdueInvoiceReminder", 1, "First Invoice Overdue Notice"),
    ("secondoverdue", "SendSecondOverdueInvoiceReminder", 1, "Second Invoice Overdue Notice"),
    ("thirdoverdue", "SendThirdOverdueInvoiceReminder", 1, "Third Invoice Overdue Notice"),
)
#: A stage missed because no run happened on its day is still sent this many days late.
REMINDER_CATCH_UP_DAYS = 7


def reminder_schedule(uow: UnitOfWork) -> list[tuple[int, str, str]]:
    """The enabled stages as ``(offset from the due date, hook type, template)``, in order."""
    stages = []
    for kind, key, sign, template in REMINDER_STAGES:
        days = setting_int(uow, key, 0)
        if days > 0:
            stages.append((sign * days, kind, template))
    return sorted(stages)


def reminder_due(schedule: list[tuple[int, str, str]], duedate: date, today: date) -> tuple[str, str] | None:
    """The stage an unpaid invoice is in today, or None.

    The latest stage whose day has come is the one sent (an earlier stage that was missed
    is not sent late once a later one applies); a stage is sent up to
    :data:`REMINDER_CATCH_UP_DAYS` after its day, and the before-due reminder only
    before the due date.
    """
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
        schedule = reminder_schedule(uow)
        if not schedule:
            return []
        earliest = ctx.today - timedelta(days=schedule[-1][0] + REMINDER_CATCH_UP_DAYS)
        latest = ctx.today - timedelta(days=schedule[0][0])
        return list(uow.session.scalars(
            select(Invoice.id).join(Client, Client.id == Invoice.client_id)
            .where(Invoice.id > after, Invoice.status == "Unpaid", Invoice.duedate >= earliest,
                   Invoice.duedate <= latest, Client.overideduenotices.is_(False))
            .order_by(Invoice.id).limit(limit)))

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        schedule = reminder_schedule(uow)
        due: dict[str, tuple[int, str, str]] = {}
        for invoice_id, duedate in uow.session.execute(
                select(Invoice.id, Invoice.duedate).where(Invoice.id.in_(items), Invoice.status == "Unpaid")):
            stage = reminder_due(schedule, duedate, ctx.today)
            if stage is not None:
                due[f"invoice:{invoice_id}:{stage[0]}"] = (invoice_id, *stage)
        for key in sorted(ctx.claim(uow, list(due))):
            invoice_id, kind, template = due[key]
            uow.emit("InvoicePaymentReminder", {"invoiceid": invoice_id, "type": kind},
                     resource_type="invoice", resource_id=invoice_id)
            request_email(uow, template, invoice_id)
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
        return setting_int(uow, "AddLateFeeDays") > 0 and setting_decimal(uow, "InvoiceLateFeeAmount") > 0

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.today - timedelta(days=setting_int(uow, "AddLateFeeDays"))
        has_fee = exists().where(InvoiceItem.invoice_id == Invoice.id, InvoiceItem.type == "LateFee")
        return list(uow.session.scalars(
            select(Invoice.id).join(Client, Client.id == Invoice.client_id)
            .where(Invoice.id > after, Invoice.status == "Unpaid", Invoice.duedate <= cutoff,
                   Invoice.total > 0, Client.latefeeoveride.is_(False), ~has_fee)
            .order_by(Invoice.id).limit(limit)))

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        from billow.services.billing.invoices import lock_invoice, places_of, recalculate

        invoice = lock_invoice(uow, item)
        if invoice.status != "Unpaid" or any(line.type == "LateFee" for line in invoice.items):
            return
        places = places_of(invoice)
        amount = setting_decimal(uow, "InvoiceLateFeeAmount")
        if get_fee_type(uow) == "Percentage":
            fee = quantize(invoice.total * amount / Decimal(100), places)
            fee = max(fee, quantize(setting_decimal(uow, "LateFeeMinimum"), places))
        else:
            fee = quantize(amount, places)
        if fee <= 0:
            return
        invoice.items.append(InvoiceItem(
            client_id=invoice.client_id, type="LateFee", relid=0,
            description=f"Late Fee (Added {ctx.today.strftime('%d/%m/%Y')})", amount=fee, taxed=False,
            duedate=invoice.duedate, paymentmethod=invoice.paymentmethod))
        recalculate(uow, invoice)
        log_activity(uow, f"Late Fee Added - Invoice ID: {invoice.id} - Amount: {fee}",
                     client_id=invoice.client_id)
        uow.emit("AddInvoiceLateFee", {"invoiceid": invoice.id}, resource_type="invoice",
                 resource_id=invoice.id)
        ctx.count("latefees")


def get_fee_type(uow: UnitOfWork) -> str:
    from billow.services.settings import get_setting

    kind = get_setting(uow, "LateFeeType").strip().lower()
    return "Percentage" if kind.startswith("perc") else "Fixed Amount"


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
        horizon = ctx.today + timedelta(days=setting_int(uow, "CCProcessDaysBefore"))
        stored = exists().where(PayMethod.client_id == Invoice.client_id, PayMethod.deleted_at.is_(None))
        return list(uow.session.scalars(
            select(Invoice.id).join(Client, Client.id == Invoice.client_id)
            .where(Invoice.id > after, Invoice.status == "Unpaid", Invoice.duedate <= horizon,
                   Invoice.total > 0, Client.disableautocc.is_(False), stored)
            .order_by(Invoice.id).limit(limit)))

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

    def _may_attempt(self, ctx: RunContext, uow: UnitOfWork, invoice: Invoice) -> bool:
        from billow.db.models import AutomationMark

        last = invoice.last_capture_attempt
        if last is None:
            return True
        attempts = len(list(uow.session.scalars(select(AutomationMark.id).where(
            AutomationMark.task == self.name, AutomationMark.key.like(f"invoice:{invoice.id}:%")))))
        weeks = setting_int(uow, "CCRetryEveryWeekFor")
        last_day = ctx.today if last.date() > ctx.today else last.date()
        if weeks > 0:
            return (ctx.today - last_day).days >= 7 and attempts <= weeks
        return not setting_on(uow, "CCAttemptOnlyOnce")

    def _capture(self, ctx: RunContext, invoice_id: int) -> None:
        from billow.modules.gateways import load_gateway
        from billow.modules.gateways.base import PaymentRequest, supports
        from billow.security import decrypt
        from billow.services.billing.invoices import invoice_balance, lock_invoice

        # 1. Record the attempt (and claim today's key) before any money moves.
        with ctx.transaction(0) as uow:
            invoice = lock_invoice(uow, invoice_id)
            if invoice.status != "Unpaid" or not self._may_attempt(ctx, uow, invoice):
                return
            if not ctx.claim(uow, [f"invoice:{invoice_id}:{ctx.today}"]):
                return
            amount = invoice_balance(uow, invoice)
            method = uow.session.scalar(
                select(PayMethod)
                .where(PayMethod.client_id == invoice.client_id, PayMethod.deleted_at.is_(None))
                .order_by(PayMethod.order_preference, PayMethod.id))
            gateway = load_gateway(uow, method.gateway) if method is not None else None
            invoice.last_capture_attempt = ctx.now
            request = None
            if amount > 0 and method is not None and gateway is not None and supports(gateway, "capture"):
                request = PaymentRequest(
                    invoice_id=invoice.id, amount=amount, currency=invoice.currency.code,
                    description=f"Invoice #{invoice.id}", client={"userid": invoice.client_id},
                    settings=gateway.settings, transid=decrypt(method.token_enc) if method.token_enc else "",
                    gatewayid=str(method.id))
            gateway_name = method.gateway if method is not None else ""
        if request is None:
            ctx.fail(self, invoice_id,
                     f"no stored pay method with a gateway able to capture ({gateway_name or '-'})")
            return
        # 2. Ask the gateway (outside any transaction: it may be slow).
        try:
            result = gateway.capture(request)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a broken gateway is a failed attempt, not a crash
            ctx.fail(self, invoice_id, f"{gateway_name}: {exc}")
            return
        # 3. Record the outcome.
        if result.ok:
            from billow.services.billing.payments import add_payment

            with ctx.transaction(1) as uow:
                try:
                    add_payment(uow, invoice_id, transid=result.transid, gateway=gateway_name,
                                amount=request.amount, fees=result.fee)
                except Conflict:
                    ctx.count("already_recorded")
                else:
                    ctx.count("captured")
            return
        with ctx.transaction(0) as uow:
            reason = result.reason or result.status
            log_activity(uow, f"Automatic Capture Failed - Invoice ID: {invoice_id} - {reason}",
                         client_id=request.client.get("userid", 0))
            request_email(uow, "Credit Card Payment Failed", invoice_id)
            ctx.count("declined")
        ctx.fail(self, invoice_id, f"{gateway_name}: {result.reason or result.status}")


class CreditCardExpiryNotices(Task):
    """On day ``CCDaySendExpiryNotices`` of the month, warn clients whose stored card expires
    this month ("Credit Card Expiring Soon"), once per card and expiry date."""

    name = "CreditCardExpiryNotices"
    title = "Card expiry notices"
    order = 45
    batch_size = 500
    setting = "CCDaySendExpiryNotices"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        if ctx.today.day != setting_int(uow, "CCDaySendExpiryNotices"):
            return []
        expiring = ctx.today.strftime("%m/%y")
        return list(uow.session.scalars(
            select(PayMethod.id).join(Client, Client.id == PayMethod.client_id)
            .where(PayMethod.id > after, PayMethod.deleted_at.is_(None), PayMethod.card_expiry == expiring,
                   Client.status != "Closed")
            .order_by(PayMethod.id).limit(limit)))

    def describe(self, item: int) -> str:
        return f"paymethod:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        method = uow.session.get(PayMethod, item)
        if method is None or not ctx.claim(uow, [f"paymethod:{item}:{method.card_expiry}"]):
            return
        request_email(uow, "Credit Card Expiring Soon", method.client_id, paymethodid=method.id,
                      cardlastfour=method.card_last_four, expirydate=method.card_expiry)
        ctx.count("notices")
