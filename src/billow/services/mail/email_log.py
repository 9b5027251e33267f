"""The client's e-mail log (``GetEmails``): the rows of ``email_messages`` sent to a client."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from billow.db.models import Client, EmailMessage
from billow.db.queries import count_of
from billow.errors import NotFound
from billow.uow import UnitOfWork


def list_client_emails(
    uow: UnitOfWork, client_id: int, *, on_date: date | None = None, subject: str = "",
    offset: int = 0, limit: int = 25,
) -> tuple[int, list[EmailMessage]]:
    if not client_id or uow.session.get(Client, client_id) is None:
        raise NotFound("Client ID Not Found", code="client_not_found")
    query = select(EmailMessage).where(EmailMessage.userid == client_id)
    if on_date is not None:
        query = query.where(func.date(EmailMessage.date) == on_date)
    if subject:
        query = query.where(EmailMessage.subject.like(f"%{subject}%"))
    total = count_of(uow.session, query)
    rows = uow.session.scalars(query.order_by(EmailMessage.id.desc()).offset(offset).limit(limit))
    return total, list(rows)
