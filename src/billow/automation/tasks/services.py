"""Service lifecycle tasks: overdue suspension and unsuspension, terminations,
cancellation requests, unpaid orders, usage statistics and client status.

Module calls go through :mod:`billow.services.hosting.provisioning` (which logs every exchange,
queues failures and fires the ``PreModule*``/``AfterModule*`` hooks). Each service is its
own transaction (:attr:`~billow.automation.base.Task.isolate_items`): a refused call leaves
the service as it was, is recorded in the automation log with the module's message, and
is tried again by the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import and_, exists, or_, select, update

from billow.automation.base import RunContext, Task
from billow.db.models import (
    CancelRequest,
    Client,
    ClientGroup,
    Invoice,
    InvoiceItem,
    ModuleQueueEntry,
    Order,
    Product,
    Server,
    Service,
    ServiceAddon,
)
from billow.events import request_email
from billow.services.activity import log_activity
from billow.services.hosting import addon_provisioning
from billow.services.hosting.addon_provisioning import module_backed, suspended_for_overdue
from billow.services.settings import get_setting, setting_int
from billow.uow import UnitOfWork

#: Cycles never suspended or terminated for non-payment.
NOT_RECURRING = ("Free Account", "One Time")


def overdue_reason() -> str:
    from billow.services.hosting.services import OVERDUE_REASON

    return OVERDUE_REASON


def _unpaid_invoice_for(id_column, due_by, line_type: str = "Hosting"):  # type: ignore[no-untyped-def]
    """An Unpaid invoice billing the service (or addon) that was due on or before *due_by*."""
    return exists().where(InvoiceItem.type == line_type, InvoiceItem.relid == id_column,
                          Invoice.id == InvoiceItem.invoice_id, Invoice.status == "Unpaid",
                          Invoice.duedate <= due_by)


def _not_exempt(today):  # type: ignore[no-untyped-def]
    """Services neither overridden (until a date) nor in a suspension-exempt client group."""
    exempt_group = exists().where(Client.id == Service.userid, ClientGroup.id == Client.group_id,
                                  ClientGroup.susptermexempt.is_(True))
    overridden = and_(Service.overideautosuspend.is_(True),
                      or_(Service.overidesuspenduntil.is_(None), Service.overidesuspenduntil >= today))
    return and_(~exempt_group, ~overridden)


def _module_product(uow: UnitOfWork, service: Service) -> Product | None:
    product = uow.session.get(Product, service.packageid)
    return product if product is not None and product.servertype else None


def module_action(uow: UnitOfWork, service: Service, key: str, *, reason: str = "") -> str:
    """Run module action *key* on *service*, or just change its status when it has no module.

    Returns the module's error message when it refused ("" on success). The service is
    then unchanged, and the provisioning service has queued the failure and logged the
    exchange: the caller commits that record and reports the failure.
    """
    from billow.services.hosting import provisioning

    if _module_product(uow, service) is not None:
        result = provisioning.run(uow, service, key, reason=reason)
        if not result.success:
            return result.error or f"{key} failed"
        _follow_addons(uow, service, key)
        return ""
    _follow_addons(uow, service, key)
    if key == "suspend":
        service.status, service.suspendreason = "Suspended", reason
    elif key == "unsuspend":
        service.status, service.suspendreason = "Active", ""
    elif key == "terminate":
        service.status, service.termination_date = "Terminated", uow.today
    label = {"suspend": "Suspended", "unsuspend": "Unsuspended", "terminate": "Terminated"}[key]
    log_activity(uow, f"Service {label} (no module) - Service ID: {service.id}", client_id=service.userid)
    return ""


#: Which of a service's addons follow it when it is suspended, unsuspended or terminated.
ADDON_FOLLOWS = {
    "suspend": ("Active",),
    "unsuspend": ("Suspended",),
    "terminate": ("Pending", "Active", "Suspended"),
}


def _follow_addons(uow: UnitOfWork, service: Service, key: str) -> None:
    """Status-only addons share their service's fate in its transaction (WHMCS suspends
    and terminates them with it).

    Addons with a provisioning module are left to :class:`AddonModuleActions` steps,
    which call the module one addon per transaction right after the services (a refused
    addon call must not undo its service's). A Pending addon was never provisioned, so
    it follows by status whatever its module.
    """
    query = select(ServiceAddon).where(ServiceAddon.service_id == service.id,
                                       ServiceAddon.status.in_(ADDON_FOLLOWS[key]),
                                       or_(~module_backed(), ServiceAddon.status == "Pending"))
    if key == "unsuspend":
        query = query.where(suspended_for_overdue())
    reason = overdue_reason() if key == "suspend" else ""
    for addon in list(uow.session.scalars(query)):
        addon_provisioning.change(uow, addon, key, reason=reason)


def _not_tried_in_run(ctx: RunContext, function: str):  # type: ignore[no-untyped-def]
    """Addons whose *function* did not already fail in this run (several tasks share the
    terminated-service sweep: a refusing module is asked once per run, not once per task)."""
    return ~exists().where(ModuleQueueEntry.service_type == "addon",
                           ModuleQueueEntry.service_id == ServiceAddon.id,
                           ModuleQueueEntry.module_action == function,
                           ModuleQueueEntry.completed.is_(False),
                           ModuleQueueEntry.last_attempt >= ctx.now)


class AddonModuleActions(Task):
    """One module action on client addons, one addon per transaction.

    Not registered on its own: each runs inside the service task whose work it completes
    and shares its log row (``name`` is the outer task's). A refused call leaves the addon
    as it was with a module queue entry, is recorded as a failure of the outer task, and
    is tried again by the next run because the addon still matches :meth:`pending`.
    """

    name = "AddonModuleActions"
    batch_size = 100
    isolate_items = True
    #: the module action (see :data:`billow.services.hosting.addon_provisioning.STEPS`)
    key = "suspend"
    #: the automation log counter of done addons
    counter = "addons"

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self, item: int) -> str:
        return f"addon:{item}"

    def still_due(self, ctx: RunContext, uow: UnitOfWork, row: ServiceAddon) -> bool:
        """Re-check, under the row lock, that the addon still needs the action."""
        return True

    def outcome(self, uow: UnitOfWork, row: ServiceAddon) -> tuple[str, str, str]:
        """(status, hook, counter) for *row*; blank status and hook mean the action's own."""
        return "", "", self.counter

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        row = uow.session.get(ServiceAddon, item, with_for_update=True)
        if row is None or not self.still_due(ctx, uow, row):
            return
        status, hook, counter = self.outcome(uow, row)
        reason = overdue_reason() if self.key == "suspend" else ""
        result = addon_provisioning.change(uow, row, self.key, status=status, hook=hook, reason=reason)
        if not result.success:
            ctx.fail_in_transaction(self, item, result.error or f"{self.key} failed")
            return
        ctx.count(counter)


class AutoSuspensions(Task):
    """Suspend Active services overdue by ``AutoSuspensionDays`` with an unpaid invoice.

    Skipped: free and one-time cycles, services with the auto-suspend override (until
    ``overidesuspenduntil`` when set), clients in a group exempt from suspension and
    termination. The suspension reason is WHMCS's "Overdue on Payment", which is what
    lets payment unsuspend it; the client gets "Service Suspension Notification".
    """

    name = "AutoSuspensions"
    title = "Overdue suspensions"
    order = 50
    batch_size = 100
    isolate_items = True
    setting = "AutoSuspension"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.today - timedelta(days=setting_int(uow, "AutoSuspensionDays", 0))
        return list(uow.session.scalars(
            select(Service.id).where(
                Service.id > after, Service.status == "Active", Service.nextduedate.is_not(None),
                Service.nextduedate <= cutoff, Service.billingcycle.not_in(NOT_RECURRING),
                _not_exempt(ctx.today), _unpaid_invoice_for(Service.id, cutoff))
            .order_by(Service.id).limit(limit)))

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        service = uow.session.get(Service, item, with_for_update=True)
        if service is None or service.status != "Active":
            return
        if error := module_action(uow, service, "suspend", reason=overdue_reason()):
            ctx.fail_in_transaction(self, item, error)
            return
        request_email(uow, "Service Suspension Notification", service.id)
        ctx.count("suspended")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        OverdueAddons(self.name).run(ctx)


class OverdueAddons(AddonModuleActions):
    """The addon half of :class:`AutoSuspensions`.

    Suspends addons overdue on their own invoice (with or without a module), and addons
    with a module whose service this task suspended (status-only addons were suspended
    with their service). The addon is remembered as suspended for non-payment, so
    :class:`AutoUnsuspensions` brings it back once it is paid.
    """

    key = "suspend"
    counter = "addons_suspended"
    batch_size = 200

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.today - timedelta(days=setting_int(uow, "AutoSuspensionDays", 0))
        exempt_group = exists().where(Client.id == ServiceAddon.userid, ClientGroup.id == Client.group_id,
                                      ClientGroup.susptermexempt.is_(True))
        overdue_itself = and_(
            ServiceAddon.nextduedate.is_not(None), ServiceAddon.nextduedate <= cutoff,
            ServiceAddon.billingcycle.not_in(NOT_RECURRING), ~exempt_group,
            _unpaid_invoice_for(ServiceAddon.id, cutoff, "Addon"))
        service_suspended = and_(module_backed(), exists().where(
            Service.id == ServiceAddon.service_id, Service.status == "Suspended",
            Service.suspendreason == overdue_reason()))
        return list(uow.session.scalars(
            select(ServiceAddon.id).where(
                ServiceAddon.id > after, ServiceAddon.status == "Active",
                or_(overdue_itself, service_suspended), _not_tried_in_run(ctx, "SuspendAccount"))
            .order_by(ServiceAddon.id).limit(limit)))

    def still_due(self, ctx: RunContext, uow: UnitOfWork, row: ServiceAddon) -> bool:
        return row.status == "Active"


class PaidAddons(AddonModuleActions):
    """The addon half of :class:`AutoUnsuspensions`: addons suspended for non-payment whose
    service is Active again and that owe nothing overdue themselves."""

    key = "unsuspend"
    counter = "addons_unsuspended"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.today - timedelta(days=setting_int(uow, "AutoSuspensionDays", 0))
        return list(uow.session.scalars(
            select(ServiceAddon.id).join(Service, Service.id == ServiceAddon.service_id)
            .where(ServiceAddon.id > after, ServiceAddon.status == "Suspended", Service.status == "Active",
                   suspended_for_overdue(),
                   or_(ServiceAddon.nextduedate.is_(None), ServiceAddon.nextduedate > cutoff),
                   ~_unpaid_invoice_for(ServiceAddon.id, cutoff, "Addon"),
                   _not_tried_in_run(ctx, "UnsuspendAccount"))
            .order_by(ServiceAddon.id).limit(limit)))

    def still_due(self, ctx: RunContext, uow: UnitOfWork, row: ServiceAddon) -> bool:
        return row.status == "Suspended"


class EndedServiceAddons(AddonModuleActions):
    """Addons with a module on a service that was terminated or cancelled: their module
    terminates them too. Runs after :class:`AutoTerminations`, :class:`FixedTermTerminations`
    and :class:`CancellationRequests` (whichever ended the service); an addon of a
    cancelled service becomes Cancelled (``AddonCancelled``), else Terminated."""

    key = "terminate"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return list(uow.session.scalars(
            select(ServiceAddon.id).join(Service, Service.id == ServiceAddon.service_id)
            .where(ServiceAddon.id > after, ServiceAddon.status.in_(("Active", "Suspended")),
                   Service.status.in_(("Terminated", "Cancelled")), module_backed(),
                   _not_tried_in_run(ctx, "TerminateAccount"))
            .order_by(ServiceAddon.id).limit(limit)))

    def still_due(self, ctx: RunContext, uow: UnitOfWork, row: ServiceAddon) -> bool:
        return row.status in ("Active", "Suspended")

    def outcome(self, uow: UnitOfWork, row: ServiceAddon) -> tuple[str, str, str]:
        service = uow.session.get(Service, row.service_id)
        if service is not None and service.status == "Cancelled":
            return "Cancelled", "AddonCancelled", "addons_cancelled"
        return "", "", "addons_terminated"


class AutoUnsuspensions(Task):
    """Unsuspend services suspended for non-payment once nothing is overdue any more.

    Payment unsuspends at once (the billing paid step); this task catches what that could
    not do: a panel that refused the call, or a service without a module.
    """

    name = "AutoUnsuspensions"
    title = "Unsuspend paid services"
    #: Every run: a payment should bring a service (and its addons) back within minutes.
    daily = False
    order = 55
    batch_size = 100
    isolate_items = True
    setting = "AutoUnsuspend"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.today - timedelta(days=setting_int(uow, "AutoSuspensionDays", 0))
        return list(uow.session.scalars(
            select(Service.id).where(
                Service.id > after, Service.status == "Suspended", Service.suspendreason == overdue_reason(),
                or_(Service.nextduedate.is_(None), Service.nextduedate > cutoff),
                ~_unpaid_invoice_for(Service.id, cutoff))
            .order_by(Service.id).limit(limit)))

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        # A payment unsuspends the service in the paying transaction; its addons follow here.
        PaidAddons(self.name).run(ctx)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        service = uow.session.get(Service, item, with_for_update=True)
        if service is None or service.status != "Suspended" or service.suspendreason != overdue_reason():
            return
        if error := module_action(uow, service, "unsuspend"):
            ctx.fail_in_transaction(self, item, error)
            return
        request_email(uow, "Service Unsuspension Notification", service.id)
        ctx.count("unsuspended")


class AutoTerminations(Task):
    """Terminate Active or Suspended services overdue by ``AutoTerminationDays`` (off by default)."""

    name = "AutoTerminations"
    title = "Overdue terminations"
    order = 60
    batch_size = 100
    isolate_items = True
    setting = "AutoTermination"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.today - timedelta(days=setting_int(uow, "AutoTerminationDays", 0))
        return list(uow.session.scalars(
            select(Service.id).where(
                Service.id > after, Service.status.in_(("Active", "Suspended")),
                Service.nextduedate.is_not(None), Service.nextduedate <= cutoff,
                Service.billingcycle.not_in(NOT_RECURRING), _not_exempt(ctx.today),
                _unpaid_invoice_for(Service.id, cutoff))
            .order_by(Service.id).limit(limit)))

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        service = uow.session.get(Service, item, with_for_update=True)
        if service is None or service.status not in ("Active", "Suspended"):
            return
        if error := module_action(uow, service, "terminate"):
            ctx.fail_in_transaction(self, item, error)
            return
        ctx.count("terminated")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        EndedServiceAddons(self.name).run(ctx)


class FixedTermTerminations(Task):
    """Terminate services of fixed-term products once their term has run out.

    A product's term is ``extra["autoterminatedays"]`` days after the service's
    registration date (WHMCS "Auto Terminate/Fixed Term"); the client gets the e-mail
    template named in ``extra["autoterminateemail"]`` when one is set.
    """

    name = "FixedTermTerminations"
    title = "Fixed-term terminations"
    order = 62
    batch_size = 100
    isolate_items = True

    def _terms(self, uow: UnitOfWork) -> dict[int, tuple[int, str]]:
        terms = {}
        for product in uow.session.scalars(select(Product)):
            days = int((product.extra or {}).get("autoterminatedays") or 0)
            if days > 0:
                terms[product.id] = (days, str((product.extra or {}).get("autoterminateemail") or ""))
        return terms

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        terms = self._terms(uow)
        if not terms:
            return []
        found: list[int] = []
        for product_id, (days, _) in terms.items():
            found.extend(uow.session.scalars(
                select(Service.id).where(
                    Service.id > after, Service.packageid == product_id,
                    Service.status.in_(("Active", "Suspended")),
                    Service.regdate <= ctx.today - timedelta(days=days))
                .order_by(Service.id).limit(limit)))
        return sorted(found)[:limit]

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        service = uow.session.get(Service, item, with_for_update=True)
        terms = self._terms(uow)
        if service is None or service.status not in ("Active", "Suspended") or service.packageid not in terms:
            return
        days, template = terms[service.packageid]
        if service.regdate > ctx.today - timedelta(days=days):
            return
        if error := module_action(uow, service, "terminate"):
            ctx.fail_in_transaction(self, item, error)
            return
        if template:
            request_email(uow, template, service.id)
        ctx.count("terminated")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        EndedServiceAddons(self.name).run(ctx)


class CancellationRequests(Task):
    """Carry out cancellation requests: Immediate at once, End of Billing Period on the due date.

    The service is terminated through its module and becomes Cancelled; its unpaid
    invoices for the service are cancelled when nothing else is on them.
    """

    name = "CancellationRequests"
    title = "Cancellation requests"
    order = 70
    batch_size = 100
    isolate_items = True
    setting = "AutoCancellationRequests"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return list(uow.session.scalars(
            select(CancelRequest.id).join(Service, Service.id == CancelRequest.service_id).where(
                CancelRequest.id > after, Service.status.in_(("Pending", "Active", "Suspended")),
                or_(CancelRequest.type == "Immediate",
                    Service.nextduedate.is_(None), Service.nextduedate <= ctx.today))
            .order_by(CancelRequest.id).limit(limit)))

    def describe(self, item: int) -> str:
        return f"cancelrequest:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        request = uow.session.get(CancelRequest, item)
        service = uow.session.get(Service, request.service_id, with_for_update=True) if request else None
        if service is None or service.status not in ("Pending", "Active", "Suspended"):
            return
        if service.status != "Pending" and (error := module_action(uow, service, "terminate")):
            ctx.fail_in_transaction(self, item, error)
            return
        service.status = "Cancelled"
        # Addons with a module are terminated through it by EndedServiceAddons, next.
        for addon in list(uow.session.scalars(select(ServiceAddon).where(
                ServiceAddon.service_id == service.id,
                ServiceAddon.status.in_(("Pending", "Active", "Suspended")),
                or_(~module_backed(), ServiceAddon.status == "Pending")))):
            addon_provisioning.set_status(uow, addon, addon_provisioning.Step("Cancelled", "AddonCancelled"))
        ctx.count("invoices_cancelled", _cancel_unpaid_invoices(uow, service))
        log_activity(uow, f"Cancellation Request Processed - Service ID: {service.id}",
                     client_id=service.userid)
        ctx.count("cancelled")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        EndedServiceAddons(self.name).run(ctx)


def _cancel_unpaid_invoices(uow: UnitOfWork, service: Service) -> int:
    """Cancel Unpaid invoices whose only lines bill this service (WHMCS does the same)."""
    from billow.services.billing.invoices import cancel_invoice

    cancelled = 0
    invoice_ids = set(uow.session.scalars(
        select(InvoiceItem.invoice_id).join(Invoice, Invoice.id == InvoiceItem.invoice_id)
        .where(InvoiceItem.type.in_(("Hosting", "Setup", "PromoHosting")), InvoiceItem.relid == service.id,
               Invoice.status == "Unpaid")))
    for invoice_id in sorted(invoice_ids):
        invoice = uow.session.get(Invoice, invoice_id)
        others = [line for line in invoice.items if line.type != "LateFee" and line.relid != service.id] \
            if invoice is not None else []
        if invoice is None or others:
            continue
        cancel_invoice(uow, invoice)  # returns any credit it had taken, fires InvoiceCancelled
        cancelled += 1
    return cancelled


class CancelUnpaidOrders(Task):
    """Cancel Pending orders whose invoice is still unpaid ``OrderDaysGrace`` days after the order."""

    name = "CancelUnpaidOrders"
    title = "Cancel unpaid orders"
    order = 75
    batch_size = 100
    setting = "OrderDaysGrace"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        cutoff = ctx.now - timedelta(days=setting_int(uow, "OrderDaysGrace", 0))
        return list(uow.session.scalars(
            select(Order.id).join(Invoice, Invoice.id == Order.invoiceid).where(
                Order.id > after, Order.status == "Pending", Order.date <= cutoff, Invoice.status == "Unpaid")
            .order_by(Order.id).limit(limit)))

    def describe(self, item: int) -> str:
        return f"order:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        from billow.services.orders.orders import cancel_order

        order = uow.session.get(Order, item)
        if order is None or order.status != "Pending":
            return
        cancel_order(uow, item)
        ctx.count("cancelled")


class UpdateServerUsage(Task):
    """Ask each server's module for disk and bandwidth usage (``UpdateStatsAuto``)."""

    name = "UpdateServerUsage"
    title = "Usage statistics"
    order = 80
    batch_size = 20
    isolate_items = True
    setting = "UpdateStatsAuto"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        from billow.modules.servers import get_module

        found = []
        for server in uow.session.scalars(select(Server).where(Server.id > after, Server.disabled.is_(False))
                                          .order_by(Server.id)):
            try:
                supported = type(get_module(server.type)).supports("usage_update")
            except Exception:  # noqa: BLE001 - an uninstalled module just has no usage to read
                supported = False
            if supported:
                found.append(server.id)
            if len(found) >= limit:
                break
        return found

    def describe(self, item: int) -> str:
        return f"server:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        from billow.services.hosting.provisioning import update_usage

        ctx.count("services", update_usage(uow, item))
        ctx.count("servers")


class AutoClientStatusSync(Task):
    """Set clients Inactive when nothing active remains, and Active again when something is.

    On when ``AutoClientStatusChange`` is 2 (WHMCS: "change based on active products").
    Closed clients are never touched.
    """

    name = "AutoClientStatusSync"
    title = "Client status update"
    order = 90
    batch_size = 1000

    def enabled(self, ctx: RunContext, uow: UnitOfWork) -> bool:
        return get_setting(uow, "AutoClientStatusChange").strip() == "2"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return list(uow.session.scalars(
            select(Client.id).where(Client.id > after, Client.status.in_(("Active", "Inactive")))
            .order_by(Client.id).limit(limit)))

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        live = ("Pending", "Active", "Suspended")
        active = set(uow.session.scalars(select(Service.userid).where(
            Service.userid.in_(items), Service.status.in_(live))))
        active |= set(uow.session.scalars(select(ServiceAddon.userid).where(
            ServiceAddon.userid.in_(items), ServiceAddon.status.in_(live))))
        to_inactive = [i for i in items if i not in active]
        to_active = sorted(active)
        if to_inactive:
            done = uow.session.execute(
                update(Client).where(Client.id.in_(to_inactive), Client.status == "Active")
                .values(status="Inactive")).rowcount
            ctx.count("inactive", done or 0)
        if to_active:
            done = uow.session.execute(
                update(Client).where(Client.id.in_(to_active), Client.status == "Inactive")
                .values(status="Active")).rowcount
            ctx.count("active", done or 0)
