"""Documents for authenticated admins over HTTP: invoice PDFs.

``GET /admin/invoices/{id}.pdf`` takes an API credential's identifier and secret as HTTP
basic auth, and the same checks as the WHMCS endpoint (lock-out, IP allow-list, the
credential's role must allow ``GetInvoice``). Rendering happens on demand.
"""

from __future__ import annotations

import base64
import binascii

from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from billow.errors import AuthError, NotFound
from billow.services import access
from billow.uow import Actor, UnitOfWork

PDF_TYPE = "application/pdf"


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


def invoice_pdf(factory: sessionmaker[Session], authorization: str, ip: str, invoice_id: int) -> Response:
    """Authenticate the caller, then answer the invoice as a PDF download."""
    from billow.services.invoice_pdf import render_invoice_pdf

    identifier, secret = _basic(authorization)
    with UnitOfWork(factory, Actor(kind="admin", ip=ip)) as uow:
        try:
            if access.is_locked_out(uow, ip):
                raise AuthError("IP Banned")
            credential = access.find_credential(uow, identifier)
            access.check_ip(uow, ip, credential, "")
        except AuthError as exc:
            return _refuse(403, exc.message)
        try:
            admin, credential = access.authenticate(uow, identifier, secret)
        except AuthError as exc:
            access.record_failure(uow, ip, identifier)
            uow.commit()
            return _refuse(401, exc.message)
        if not access.allows(credential, "GetInvoice"):
            return _refuse(403, 'Invalid Permissions: API action "getinvoice" is not allowed')
        uow.actor.admin_id, uow.actor.admin_username = admin.id, admin.username
        try:
            pdf = render_invoice_pdf(uow, invoice_id)
        except NotFound as exc:
            return _refuse(404, exc.message)
    return Response(pdf, 200, media_type=PDF_TYPE,
                    headers={"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'})
