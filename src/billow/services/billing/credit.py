"""Account credit: every change goes through :func:`adjust_credit`, which writes the log row.

A client's ``credit`` column is a cache of the sum of its credit-log rows; keeping the
one write path here (with the client row locked) makes "credit equals the sum of its log"
and "credit is never negative" true by construction, under concurrency too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from billow.db.models import Admin, Client, CreditLog
from billow.errors import NotFound, ValidationError
from billow.money import ZERO, quantize, to_decimal
from billow.services.activity import log_activity
from billow.services.clients.accounts import get_client
from billow.uow import UnitOfWork

#: WHMCS's refusal when a removal or application would take credit below zero.
INSUFFICIENT = "Amount exceeds customer credit balance"


def lock_client(uow: UnitOfWork, client_id: int, *, message: str = "Client ID Not Found") -> Client:
    """Load *client_id* with its row locked (PostgreSQL) so credit updates never race."""
    client = uow.session.scalar(
        select(Client).where(Client.id == client_id).with_for_update(of=Client)
        .execution_options(populate_existing=True)
    ) if client_id else None
    if client is None:
        raise NotFound(message, code="client_not_found")
    return client


def adjust_credit(
    uow: UnitOfWork,
    client: Client,
    amount: Decimal,
    description: str,
    *,
    relid: int = 0,
    admin_id: int | None = None,
    on: date | None = None,
) -> CreditLog:
    """Add (positive) or take (negative) *amount* of credit, logging why.

    *client* must have been loaded with :func:`lock_client` in this transaction.
    Refuses to take the balance below zero with WHMCS's message.
    """
    places = client.currency.decimals if client.currency is not None else 2
    amount = quantize(to_decimal(amount), places)
    new_balance = quantize(client.credit + amount, places)
    if new_balance < 0:
        raise ValidationError(INSUFFICIENT, code="credit_exceeds_balance")
    client.credit = new_balance
    entry = CreditLog(
        client_id=client.id,
        date=on or uow.today,
        description=description,
        amount=amount,
        relid=relid,
        admin_id=(uow.actor.admin_id or 0) if admin_id is None else admin_id,
    )
    uow.session.add(entry)
    return entry


def add_credit(
    uow: UnitOfWork,
    client_id: int,
    amount: Decimal,
    description: str,
    *,
    remove: bool = False,
    on: date | None = None,
    admin_id: int | None = None,
) -> Decimal:
    """``AddCredit``: add or remove credit by hand; returns the new balance."""
    client = lock_client(uow, client_id)
    if admin_id is not None and admin_id and uow.session.get(Admin, admin_id) is None:
        raise NotFound("Admin ID Not Found", code="admin_not_found")
    amount = to_decimal(amount)
    if amount <= 0:
        raise ValidationError("No Amount Provided", code="amount_required")
    adjust_credit(uow, client, -amount if remove else amount, description, admin_id=admin_id, on=on)
    verb = "Removed" if remove else "Added"
    log_activity(uow, f"{verb} Credit - User ID: {client.id} - Amount: {amount}", client_id=client.id)
    return client.credit


def list_credits(uow: UnitOfWork, client_id: int) -> list[CreditLog]:
    get_client(uow, client_id)
    return list(uow.session.scalars(
        select(CreditLog).where(CreditLog.client_id == client_id).order_by(CreditLog.id)
    ))


def logged_credit(uow: UnitOfWork, client_id: int) -> Decimal:
    """The sum of the credit log (what ``clients.credit`` must always equal)."""
    total = uow.session.scalar(
        select(func.sum(CreditLog.amount)).where(CreditLog.client_id == client_id)
    )
    return total if total is not None else ZERO
