"""Attachments of tickets, replies and notes: checking uploads, storing them as rows,
reading them back and removing their files after the commit.

The files themselves live in :mod:`billow.services.support.attachment_files`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from sqlalchemy import select

from billow.db.models import (
    Ticket,
    TicketAttachment,
    TicketNote,
    TicketReply,
)
from billow.errors import NotFound, ValidationError
from billow.services.settings import get_setting
from billow.services.support import attachment_files as support_files
from billow.services.support.attachment_files import Upload
from billow.services.support.lookup import _visible
from billow.uow import UnitOfWork


def _store_attachments(
    uow: UnitOfWork, ticket: Ticket, kind: str, related_id: int, uploads: list[Upload]
) -> list[TicketAttachment]:
    rows = []
    for position, upload in enumerate(uploads):
        stored = support_files.new_stored_name(upload.name)
        digest = support_files.write_file(stored, upload.data)
        support_files.track_new_file(uow.session, stored)
        row = TicketAttachment(
            ticket_id=ticket.id,
            kind=kind,
            related_id=related_id,
            position=position,
            filename=upload.name,
            stored_name=stored,
            size=len(upload.data),
            sha256=digest,
            created_at=uow.now,
        )
        uow.session.add(row)
        rows.append(row)
    return rows


def check_uploads(uow: UnitOfWork, uploads: list[Upload]) -> list[Upload]:
    return support_files.validate_uploads(uploads, get_setting(uow, "TicketAllowedFileTypes"))


def attachments_of(
    uow: UnitOfWork, kind: str, related_ids: Iterable[int]
) -> dict[int, list[TicketAttachment]]:
    ids = list(related_ids)
    out: dict[int, list[TicketAttachment]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = uow.session.scalars(
        select(TicketAttachment)
        .where(TicketAttachment.kind == kind, TicketAttachment.related_id.in_(ids))
        .order_by(TicketAttachment.position, TicketAttachment.id)
    )
    for row in rows:
        out.setdefault(row.related_id, []).append(row)
    return out


def _remove_files_after_commit(uow: UnitOfWork, rows: Iterable[TicketAttachment]) -> None:
    names = [r.stored_name for r in rows]
    if names:
        uow.after_commit.append(lambda: [support_files.remove_file(n) for n in names] and None)


def _attachment_row(uow: UnitOfWork, kind: str, related_id: int, index: int) -> TicketAttachment:
    """Attachment *index* of a ticket, reply or note the actor may see, or WHMCS's error."""
    if kind not in ("ticket", "reply", "note"):
        raise ValidationError(
            "Invalid Type. Must be one of ticket, reply, note", code="invalid_attachment_type"
        )
    model = {"ticket": Ticket, "reply": TicketReply, "note": TicketNote}[kind]
    owner = uow.session.get(model, related_id)
    ticket_id = owner.id if isinstance(owner, Ticket) else getattr(owner, "ticket_id", 0)
    if (
        owner is None
        or not _visible(uow, uow.session.get(Ticket, ticket_id))
        or (kind == "note" and uow.actor.kind == "client")
    ):
        raise NotFound("Related ID Not Found", code="attachment_owner_not_found")
    rows = attachments_of(uow, kind, [related_id])[related_id]
    if not rows:
        raise NotFound("No Attachments Found", code="attachment_not_found")
    if all(r.removed for r in rows):
        raise NotFound("Attachments Deleted", code="attachments_deleted")
    if index < 0 or index >= len(rows):
        raise NotFound("Invalid Attachment Index", code="attachment_not_found")
    row = rows[index]
    if row.removed:
        raise NotFound("Attachments Deleted", code="attachments_deleted")
    return row


def get_attachment(uow: UnitOfWork, kind: str, related_id: int, index: int) -> tuple[str, bytes]:
    """Return (filename, bytes) of attachment *index* of a ticket, reply or note."""
    row = _attachment_row(uow, kind, related_id, index)
    data = support_files.read_file(row.stored_name)
    if data is None:
        raise NotFound("Attachments Deleted", code="attachments_deleted")
    return row.filename, data


def open_attachment(
    uow: UnitOfWork, kind: str, related_id: int, index: int
) -> tuple[str, IO[bytes], int]:
    """Open attachment *index* for streaming: (filename, binary handle, size).

    Same rules and errors as :func:`get_attachment`; the caller closes the handle. The file
    is opened here, inside the access check, so a download never reads a path that was not
    checked.
    """
    row = _attachment_row(uow, kind, related_id, index)
    opened = support_files.open_file(row.stored_name)
    if opened is None:
        raise NotFound("Attachments Deleted", code="attachments_deleted")
    return row.filename, *opened
