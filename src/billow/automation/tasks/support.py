"""Support desk tasks of the automation run: close inactive tickets, poll support mailboxes."""

from __future__ import annotations

from collections.abc import Sequence

from billow.automation.base import RunContext, Task
from billow.services.support import auto_close
from billow.services.support.imap import mailbox_department_ids, poll_department
from billow.uow import UnitOfWork


class CloseInactiveTickets(Task):
    """WHMCS's CloseInactiveTickets: close tickets answered and left for ``CloseInactiveTickets`` hours.

    Which tickets qualify is :func:`billow.services.support.auto_close.inactive_ticket_ids`; each is
    re-checked and closed by :func:`~billow.services.support.auto_close.auto_close_ticket`, so a
    ticket that got a reply since the page was listed stays open, and a re-run after a
    crash finds exactly the tickets still to close.
    """

    name = "CloseInactiveTickets"
    title = "Close inactive tickets"
    daily = False
    order = 600
    setting = "CloseInactiveTickets"

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return auto_close.inactive_ticket_ids(uow, ctx.now, after=after, limit=limit)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        if auto_close.auto_close_ticket(uow, item, ctx.now):
            ctx.count("closed")

    def describe(self, item: int) -> str:
        return f"Ticket ID {item}"


class PollSupportMailboxes(Task):
    """Import unseen mail from every department's IMAP mailbox (WHMCS's POP/IMAP import).

    One department per item and transaction (:attr:`isolate_items`): an unreachable
    mailbox is recorded as that item's failure and retried next run; each message is
    imported and committed on its own by :func:`billow.services.support.imap.poll_department`
    before it is flagged ``\\Seen``, so nothing is lost or imported twice.
    """

    name = "PollSupportMailboxes"
    title = "Import support e-mail (IMAP)"
    daily = False
    order = 550
    isolate_items = True

    def pending(self, ctx: RunContext, uow: UnitOfWork, after: int, limit: int) -> Sequence[int]:
        return mailbox_department_ids(uow, after=after, limit=limit)

    def process(self, ctx: RunContext, uow: UnitOfWork, item: int) -> None:
        result = poll_department(ctx.unit_of_work, item)
        ctx.count("fetched", result.fetched)
        ctx.count("imported", result.imported)
        ctx.count("dropped", result.dropped)

    def describe(self, item: int) -> str:
        return f"Department ID {item} mailbox"
