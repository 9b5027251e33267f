"""Disk space and bandwidth overage charges, on the last day of each month.

The rules (limits, units, rounding, currency, the two billing methods) live in
:mod:`billow.services.billing.overages`; this task picks the clients to bill and keeps the run
idempotent: every billed service claims ``overage:<serviceid>:<YYYY-MM>`` in the
transaction that stores its charges, so a re-run of the same month (``--force``, a
catch-up with ``--date``, a crash half-way) bills nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, cast, exists, literal, select

from billow.automation.base import RunContext, Task
from billow.db.models import AutomationMark, BillableItem, Client, Product, Service
from billow.services.activity import log_activity
from billow.services.billing import overages
from billow.services.clients.accounts import default_currency
from billow.uow import UnitOfWork


class OverageBilling(Task):
    """Bill usage above the soft limits of overage-enabled products (WHMCS "Overage Billing").

    Runs on the last day of the month only (after ``UpdateServerUsage`` has read the
    month's final figures); on other days it finds nothing to do. A run missed on that day
    is caught up with ``billow cron --date YYYY-MM-<last day>`` while the usage figures
    still describe that month. Work is per client, so that "invoice now" makes one
    invoice per client with all of its services' charges.
    """

    name = "OverageBilling"
    title = "Overage charges"
    order = 85
    batch_size = 100

    def _key(self, ctx: RunContext, service_id: int) -> str:
        return f"overage:{service_id}:{overages.period_key(ctx.today)}"

    def _unbilled(self, ctx: RunContext):  # type: ignore[no-untyped-def]
        """Billable services of overage products not yet claimed for this month."""
        key = literal("overage:", String) + cast(Service.id, String) \
            + literal(f":{overages.period_key(ctx.today)}", String)
        claimed = exists().where(AutomationMark.task == self.name, AutomationMark.key == key)
        return (Service.status.in_(overages.BILLED_STATUSES), Product.overagesenabled.is_(True), ~claimed)

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        if not overages.is_billing_day(ctx.today):
            return []
        return list(uow.session.scalars(
            select(Service.userid).join(Product, Product.id == Service.packageid)
            .where(Service.userid > after, *self._unbilled(ctx))
            .group_by(Service.userid).order_by(Service.userid).limit(limit)))

    def describe(self, item: int) -> str:
        return f"client:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        rows = list(uow.session.execute(
            select(Service, Product).join(Product, Product.id == Service.packageid)
            .where(Service.userid.in_(items), *self._unbilled(ctx)).order_by(Service.userid, Service.id)))
        overrides = overages.limit_overrides(uow, [service for service, _ in rows])
        clients = {c.id: c for c in uow.session.scalars(select(Client).where(Client.id.in_(items)))}
        default = default_currency(uow)
        charges: dict[int, list[overages.OverageCharge]] = {}
        for service, product in rows:
            client = clients[service.userid]
            found = overages.compute_charges(product, service, client.currency or default, default, ctx.today,
                                             overrides.get(service.id))
            if found:
                charges.setdefault(service.id, []).extend(found)
            else:
                ctx.count("within_limits")
        fresh = ctx.claim(uow, [self._key(ctx, service_id) for service_id in charges])
        billed: list[overages.OverageCharge] = []
        for service_id, found in charges.items():
            if self._key(ctx, service_id) in fresh:
                billed.extend(found)
                ctx.count("services")
            else:
                ctx.count("already_billed")
        if not billed:
            return
        method = overages.billing_method(uow)
        items = overages.store_charges(uow, billed, ctx.today, method)
        for resource, label in (("disk", "disk"), ("bw", "bandwidth")):
            if lines := sum(1 for c in billed if c.resource == resource):
                ctx.count(label, lines)
        by_client: dict[int, list[BillableItem]] = {}
        for item in items:
            by_client.setdefault(item.client_id, []).append(item)
        now = method != overages.NEXT_INVOICE
        invoices = overages.invoice_charges(uow, by_client, ctx.today) if now else {}
        for client_id in sorted(by_client):
            ids = ", ".join(str(i.id) for i in by_client[client_id])
            if method == overages.NEXT_INVOICE:
                log_activity(uow, f"Overage Charges Added to Next Invoice - Billable Item IDs: {ids}",
                             client_id=client_id)
                ctx.count("next_invoice_items", len(by_client[client_id]))
                continue
            log_activity(uow, f"Overage Charges Invoiced - Invoice ID: {invoices[client_id]} - "
                              f"Billable Item IDs: {ids}", client_id=client_id)
            ctx.count("invoices")
