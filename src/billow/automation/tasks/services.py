"""Service lifecycle tasks: overdue suspension and unsuspension, terminations,
cancellation requests, unpaid orders, usage statistics and client status.

Each task selects its page through a service query and hands each item to a service
step; the rules live in :mod:`billow.services.hosting.overdue` (non-payment),
:mod:`~billow.services.hosting.status_changes` (module or status-only changes, fixed
terms, addons of ended services), :mod:`~billow.services.hosting.cancellations`,
:mod:`billow.services.orders.status_changes` (unpaid orders),
:mod:`~billow.services.hosting.panel_reads` (usage) and
:mod:`~billow.services.hosting.client_steps` (client status). Each service is its own
transaction (:attr:`~billow.automation.base.Task.isolate_items`): a refused module call
leaves the service as it was, is recorded in the automation log with the module's
message, and is tried again by the next run.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from billow.automation.base import RunContext, Task
from billow.services.hosting import cancellations, client_steps, overdue, panel_reads, status_changes
from billow.services.hosting.status_changes import Outcome
from billow.services.orders import status_changes as order_status
from billow.uow import UnitOfWork


def _record(ctx: RunContext, task: Task, item: int, outcome: Outcome, counter: str) -> bool:
    """Count a done step under *counter*, record a refused one as the task's failure."""
    if outcome.error:
        ctx.fail_in_transaction(task, item, outcome.error)
        return False
    if outcome.done:
        ctx.count(counter)
    return outcome.done


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
    #: the automation log counter of done addons
    counter = "addons"

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self, item: int) -> str:
        return f"addon:{item}"

    @abstractmethod
    def change(self, uow: UnitOfWork, item: int) -> Outcome:
        """Apply this task's module action to addon *item* (a hosting service step)."""

    def counter_for(self, outcome: Outcome) -> str:
        return self.counter

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        outcome = self.change(uow, item)
        _record(ctx, self, item, outcome, self.counter_for(outcome))


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
        return overdue.services_to_suspend(uow, ctx.today, after, limit)

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        _record(ctx, self, item, overdue.suspend_service(uow, item), "suspended")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        OverdueAddons(self.name).run(ctx)


class OverdueAddons(AddonModuleActions):
    """The addon half of :class:`AutoSuspensions`: addons overdue on their own invoice, and
    addons with a module whose service this task suspended (see
    :func:`billow.services.hosting.overdue.addons_to_suspend`)."""

    counter = "addons_suspended"
    batch_size = 200

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return overdue.addons_to_suspend(uow, ctx.today, ctx.now, after, limit)

    def change(self, uow: UnitOfWork, item: int) -> Outcome:
        return overdue.suspend_addon(uow, item)


class PaidAddons(AddonModuleActions):
    """The addon half of :class:`AutoUnsuspensions`: addons suspended for non-payment whose
    service is Active again and that owe nothing overdue themselves."""

    counter = "addons_unsuspended"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return overdue.addons_to_unsuspend(uow, ctx.today, ctx.now, after, limit)

    def change(self, uow: UnitOfWork, item: int) -> Outcome:
        return overdue.unsuspend_addon(uow, item)


class EndedServiceAddons(AddonModuleActions):
    """Addons with a module on a service that was terminated or cancelled: their module
    terminates them too. Runs after :class:`AutoTerminations`, :class:`FixedTermTerminations`
    and :class:`CancellationRequests` (whichever ended the service); an addon of a
    cancelled service becomes Cancelled (``AddonCancelled``), else Terminated."""

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return status_changes.addons_of_ended_services(uow, ctx.now, after, limit)

    def change(self, uow: UnitOfWork, item: int) -> Outcome:
        return status_changes.end_addon(uow, item)

    def counter_for(self, outcome: Outcome) -> str:
        return "addons_cancelled" if outcome.status == "Cancelled" else "addons_terminated"


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
        return overdue.services_to_unsuspend(uow, ctx.today, after, limit)

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        # A payment unsuspends the service in the paying transaction; its addons follow here.
        PaidAddons(self.name).run(ctx)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        _record(ctx, self, item, overdue.unsuspend_service(uow, item), "unsuspended")


class AutoTerminations(Task):
    """Terminate Active or Suspended services overdue by ``AutoTerminationDays`` (off by default)."""

    name = "AutoTerminations"
    title = "Overdue terminations"
    order = 60
    batch_size = 100
    isolate_items = True
    setting = "AutoTermination"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return overdue.services_to_terminate(uow, ctx.today, after, limit)

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        _record(ctx, self, item, overdue.terminate_service(uow, item), "terminated")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        EndedServiceAddons(self.name).run(ctx)


class FixedTermTerminations(Task):
    """Terminate services of fixed-term products once their term has run out
    (see :func:`billow.services.hosting.status_changes.fixed_terms`)."""

    name = "FixedTermTerminations"
    title = "Fixed-term terminations"
    order = 62
    batch_size = 100
    isolate_items = True

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return status_changes.services_past_term(uow, ctx.today, after, limit)

    def describe(self, item: int) -> str:
        return f"service:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        _record(ctx, self, item, status_changes.terminate_fixed_term(uow, item, ctx.today), "terminated")

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
        return cancellations.due_cancel_requests(uow, ctx.today, after, limit)

    def describe(self, item: int) -> str:
        return f"cancelrequest:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        outcome = cancellations.carry_out(uow, item)
        if outcome.done:
            ctx.count("invoices_cancelled", outcome.invoices_cancelled)
        _record(ctx, self, item, outcome, "cancelled")

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        EndedServiceAddons(self.name).run(ctx)


class CancelUnpaidOrders(Task):
    """Cancel Pending orders whose invoice is still unpaid ``OrderDaysGrace`` days after the order."""

    name = "CancelUnpaidOrders"
    title = "Cancel unpaid orders"
    order = 75
    batch_size = 100
    setting = "OrderDaysGrace"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return order_status.unpaid_orders(uow, ctx.now, after, limit)

    def describe(self, item: int) -> str:
        return f"order:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        if order_status.cancel_unpaid_order(uow, item):
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
        return panel_reads.usage_servers(uow, after, limit)

    def describe(self, item: int) -> str:
        return f"server:{item}"

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        ctx.count("services", panel_reads.update_usage(uow, item))
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
        return client_steps.client_status_sync_on(uow)

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return client_steps.clients_to_sync(uow, after, limit)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        self.process_batch(ctx, uow, [item])

    def process_batch(self, ctx: RunContext, uow: UnitOfWork, items: Sequence[int]) -> None:
        made_inactive, made_active = client_steps.sync_client_statuses(uow, items)
        if made_inactive is not None:
            ctx.count("inactive", made_inactive)
        if made_active is not None:
            ctx.count("active", made_active)
