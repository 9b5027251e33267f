"""Documents for authenticated admins over HTTP: invoice PDFs and ticket attachments.

``GET /admin/invoices/{id}.pdf`` and ``GET /admin/tickets/attachments/{type}/{relatedid}/{index}``
take an API credential's identifier and secret as HTTP basic auth, and the same checks as
the WHMCS endpoint (lock-out, IP allow-list, the credential's role must allow the action
the document mirrors: ``GetInvoice``, ``GetTicketAttachment``). Refusals and misses are
short plain-text answers, never JSON, so a browser or ``curl -f`` shows them as they are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import IO

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from billow.errors import AuthError, NotFound
from billow.services.access import api_authentication
from billow.services.billing.invoice_pdf import render_invoice_pdf
from billow.services.support import ticket_attachments
from billow.services.support.attachment_files import download_headers
from billow.uow import Actor, UnitOfWork

PDF_TYPE = "application/pdf"
#: Bytes read from disk per chunk of a streamed attachment.
CHUNK = 64 * 1024
#: Largest id a route accepts (the columns are 32-bit integers on PostgreSQL).
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return "", ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    identifier, _, secret = decoded.partition(":")
    return identifier, secret


def _refuse(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="Billow admin"'} if status == 401 else {}
    return Response(message.encode(), status, headers=headers, media_type="text/plain")


def _authorise(uow: UnitOfWork, authorization: str, ip: str, action: str) -> Response | None:
    """The refusal for this caller, or None once *uow*'s actor is the authenticated admin.

    One rule for every document route: a locked-out or unlisted address is 403 before the
    secret is even checked, a wrong secret is 401 (and counts toward the lock-out), and a
    credential whose roles lack *action* is 403 with WHMCS's permission message.
    """
    identifier, secret = _basic(authorization)
    try:
        gate = api_authentication.lockout(uow, ip, identifier)
        if gate.banned:
            raise AuthError("IP Banned")
        credential = api_authentication.find_credential(uow, identifier)
        api_authentication.check_ip(uow, ip, credential, "")
    except AuthError as exc:
        return _refuse(403, exc.message)
    try:
        admin, credential = api_authentication.authenticate(uow, identifier, secret)
    except AuthError as exc:
        api_authentication.record_failure(uow, ip, identifier, secret)
        uow.commit()
        return _refuse(401, exc.message)
    if gate.failures:
        api_authentication.clear_failures(uow, ip, identifier)  # a success resets the count
        uow.commit()
    if not api_authentication.allows(credential, action):
        return _refuse(403, f'Invalid Permissions: API action "{action.lower()}" is not allowed')
    uow.actor.admin_id, uow.actor.admin_username = admin.id, admin.username
    return None


def invoice_pdf(factory: sessionmaker[Session], authorization: str, ip: str, invoice_text: str) -> Response:
    """Authenticate the caller, then answer the invoice as a PDF download."""
    with UnitOfWork(factory, Actor(kind="admin", ip=ip)) as uow:
        refusal = _authorise(uow, authorization, ip, "GetInvoice")
        if refusal is not None:
            return refusal
        invoice_id = _number(invoice_text)
        if invoice_id is None:
            return _refuse(404, "Invoice ID Not Found")
        try:
            pdf = render_invoice_pdf(uow, invoice_id)
        except NotFound as exc:
            return _refuse(404, exc.message)
    return Response(pdf, 200, media_type=PDF_TYPE,
                    headers={"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'})


def _number(text: str) -> int | None:
    if not _DIGITS.fullmatch(text) or int(text) > MAX_ID:
        return None
    return int(text)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


def ticket_attachment(factory: sessionmaker[Session], authorization: str, ip: str, path: str) -> Response:
    """Authenticate the caller, then stream one ticket, reply or note attachment as a download.

    *path* is ``{type}/{relatedid}/{index}`` (GetTicketAttachment's parameters); it is read
    only after authentication, so a stranger learns nothing, not even which ids exist.
    """
    with UnitOfWork(factory, Actor(kind="admin", ip=ip)) as uow:
        refusal = _authorise(uow, authorization, ip, "GetTicketAttachment")
        if refusal is not None:
            return refusal
        parts = path.split("/")
        if len(parts) != 3:
            return _refuse(404, "Not Found")
        kind, related_id, position = parts[0].lower(), _number(parts[1]), _number(parts[2])
        if kind not in ("ticket", "reply", "note"):
            return _refuse(404, "Invalid Type. Must be one of ticket, reply, note")
        if related_id is None:
            return _refuse(404, "Related ID Not Found")
        if position is None:
            return _refuse(404, "Invalid Attachment Index")
        try:
            filename, handle, size = ticket_attachments.open_attachment(uow, kind, related_id, position)
        except NotFound as exc:
            return _refuse(404, exc.message)
    headers = download_headers(filename)
    media_type = headers.pop("Content-Type")
    headers["Content-Length"] = str(size)
    return StreamingResponse(_chunks(handle), 200, headers=headers, media_type=media_type)
