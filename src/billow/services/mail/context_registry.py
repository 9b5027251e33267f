"""What an e-mail is about (:class:`MailContext`) and which resolver gives it per template type.

WHMCS's ``relid`` means a different record per template type (client for ``general``,
invoice for ``invoice``, service for ``product``, domain, ticket ...). Each area owns the
record, so each area provides the resolver, named here by dotted path: adding an area's
e-mails means one line in :data:`RESOLVERS` (or :func:`register_resolver` from a plugin).
A resolver whose module does not exist yet is skipped cleanly: the e-mail is logged as not
sent, nothing breaks.

Attachment renderers (the invoice PDF) work the same way through :data:`ATTACHMENT_RENDERERS`.
The resolvers themselves live in :mod:`~billow.services.mail.client_contexts`,
:mod:`~billow.services.mail.invoice_service_contexts` and
:mod:`billow.services.support.mail_fields`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billow.services.extension import NotWired, is_wired
from billow.services.settings import get_setting
from billow.uow import UnitOfWork


@dataclass
class MailContext:
    """The record an e-mail is about, for rendering and addressing."""

    merge: dict[str, Any] = field(default_factory=dict)
    #: The client the e-mail is logged under (0: none, e.g. admin notices).
    client_id: int = 0
    #: Explicit recipients ``(name, address)``; empty means the client and its contacts.
    recipients: list[tuple[str, str]] = field(default_factory=list)
    #: Attachments as specs rendered at send time: ``{"kind": "invoice", "id": 5}``.
    attachments: list[dict[str, Any]] = field(default_factory=list)


Resolver = Callable[[UnitOfWork, int], MailContext | None]

Renderer = Callable[[UnitOfWork, int], tuple[str, bytes]]

#: Template type → ``resolver(uow, relid) -> MailContext | None``; filled by bootstrap.
RESOLVERS: dict[str, Resolver] = {}

#: Attachment kind → ``renderer(uow, id) -> (filename, bytes)``; filled by bootstrap.
ATTACHMENT_RENDERERS: dict[str, Renderer] = {}


_registered: dict[str, Resolver] = {}

_renderers: dict[str, Renderer] = {}

def register_resolver(template_type: str, fn: Resolver) -> None:
    """Provide (or replace) the resolver of *template_type* at run time (plugins, tests)."""
    _registered[template_type] = fn


def register_attachment_renderer(kind: str, fn: Renderer) -> None:
    _renderers[kind] = fn


def unregister(template_type: str = "", kind: str = "") -> None:
    _registered.pop(template_type, None)
    _renderers.pop(kind, None)


def _check_wired() -> None:
    if not is_wired():
        raise NotWired("e-mail resolvers used before billow.bootstrap.wire()")


def resolver_for(template_type: str) -> Resolver | None:
    _check_wired()
    return _registered.get(template_type) or RESOLVERS.get(template_type)


def renderer_for(kind: str) -> Renderer | None:
    _check_wired()
    return _renderers.get(kind) or ATTACHMENT_RENDERERS.get(kind)


def common_fields(uow: UnitOfWork) -> dict[str, Any]:
    """Merge fields every template has (WHMCS's global fields)."""
    company = get_setting(uow, "CompanyName")
    url = get_setting(uow, "SystemURL")
    return {
        "company_name": company,
        "company_domain": url.split("//", 1)[-1].strip("/"),
        "whmcs_url": url,
        "whmcs_link": url,
        "signature": get_setting(uow, "Signature") or f"{company}\n{url}",
        "date": uow.today.isoformat(),
        "time": uow.now.strftime("%H:%M"),
    }
