"""Ticket statuses and priorities: the default statuses, their flags, and WHMCS's
status and priority names.
"""

from __future__ import annotations

from sqlalchemy import func, select

from billow.db.models import (
    TicketStatus,
)
from billow.errors import ValidationError
from billow.uow import UnitOfWork

PRIORITIES = ("Low", "Medium", "High")

CLOSED = "Closed"

#: WHMCS's shipped statuses: title, colour, sort order, active, awaiting reply, auto-close.
DEFAULT_STATUSES = (
    ("Open", "#779500", 1, True, True, False),
    ("Answered", "#000000", 2, True, False, True),
    ("Customer-Reply", "#ff6600", 3, True, True, False),
    ("On Hold", "#224488", 4, True, False, False),
    ("In Progress", "#cc0000", 5, True, False, False),
    ("Closed", "#888888", 10, False, False, False),
)


def ensure_default_statuses(uow: UnitOfWork) -> None:
    """Create WHMCS's default statuses when none exist (fresh install, emptied table)."""
    if uow.session.scalar(select(func.count()).select_from(TicketStatus)):
        return
    for title, color, order, active, awaiting, auto_close in DEFAULT_STATUSES:
        uow.session.add(
            TicketStatus(
                title=title,
                color=color,
                sort_order=order,
                show_active=active,
                show_awaiting=awaiting,
                auto_close=auto_close,
            )
        )
    uow.session.flush()


def list_statuses(uow: UnitOfWork) -> list[TicketStatus]:
    ensure_default_statuses(uow)
    return list(uow.session.scalars(select(TicketStatus).order_by(TicketStatus.sort_order, TicketStatus.id)))


def _status_titles(uow: UnitOfWork, **flag: bool) -> list[str]:
    rows = list_statuses(uow)
    return [s.title for s in rows if all(getattr(s, k) == v for k, v in flag.items())]


def normalise_status(uow: UnitOfWork, status: str, message: str) -> str:
    """Return the configured status spelled as configured, or refuse with *message*."""
    for title in _status_titles(uow):
        if title.lower() == status.strip().lower():
            return title
    raise ValidationError(message.replace("xxx", ",".join(_status_titles(uow))), code="invalid_ticket_status")


def normalise_priority(priority: str) -> str:
    for known in PRIORITIES:
        if known.lower() == priority.strip().lower():
            return known
    raise ValidationError(
        "Invalid Ticket Priority. Valid priorities are: " + ",".join(PRIORITIES),
        code="invalid_ticket_priority",
    )
