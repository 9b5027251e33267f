"""The composition root: which area's code runs at another area's extension points.

Areas never import each other to *react*: billing does not import hosting to provision a
paid service, and the clients area does not import billing to close a client. Each
declares an :class:`~billow.services.extension.ExtensionPoint`, and this module, the only
one that sees every area, fills them. Reading this file tells you every cross-area edge
of behaviour: what follows a payment, what feeds invoice generation, what closing,
deleting or summarising a client involves, what each e-mail type is about, and whose
defaults the settings know.

:func:`wire` is idempotent and is called by every entry point: the ASGI app factory, the
``billow`` command, the automation runner, the outbox worker and the test suite.
"""

from __future__ import annotations

from billow.services import extension
from billow.services.billing import billable_items, client_steps, generation, invoices
from billow.services.billing.settings import BILLING_DEFAULTS
from billow.services.clients import lifecycle
from billow.services.hosting import client_steps as hosting_client_steps
from billow.services.hosting import invoicing as hosting_invoicing
from billow.services.hosting import paid as hosting_paid
from billow.services.mail import client_contexts, context_registry, invoice_service_contexts
from billow.services.settings import AREA_DEFAULTS
from billow.services.support import mail_fields


def wire() -> None:
    """Fill every extension point (once; calling again changes nothing)."""
    if extension.is_wired():
        return
    # A paid invoice provisions, unsuspends, renews and applies upgrades (hosting).
    invoices.PAID_STEPS.register(hosting_paid.on_invoice_paid)

    # What invoice generation bills: billable items, then services and addons.
    generation.DUE_SOURCES.register(billable_items.due_items)
    generation.DUE_SOURCES.register(hosting_invoicing.due_items)
    generation.DUE_CLIENT_PLANNERS[hosting_invoicing.due_items] = hosting_invoicing.due_clients

    # Closing, deleting and summarising a client, area by area (order matters: services
    # are cancelled before their invoices, and deleted before the billing rows).
    lifecycle.CLOSE_STEPS.register(client_steps.close_client)
    lifecycle.CLOSE_STEPS.register(hosting_client_steps.close_client_services)
    lifecycle.DELETE_STEPS.register(hosting_client_steps.delete_client_services)
    lifecycle.DELETE_STEPS.register(client_steps.delete_client)
    lifecycle.STATS_STEPS.register(client_steps.client_stats)
    lifecycle.STATS_STEPS.register(hosting_client_steps.client_stats)

    # What each e-mail template type is about: merge fields and recipients per area.
    context_registry.RESOLVERS.update({
        "general": client_contexts.client_context,
        "user": client_contexts.user_context,
        "admin": client_contexts.admin_context,
        "invoice": invoice_service_contexts.invoice_email_context,
        "product": invoice_service_contexts.service_email_context,
        "support": mail_fields.ticket_email_context,
    })
    context_registry.ATTACHMENT_RENDERERS["invoice"] = invoice_service_contexts.invoice_pdf_attachment

    # Default values of the areas' settings, known to GetConfigurationValue.
    AREA_DEFAULTS.register(lambda: BILLING_DEFAULTS)

    extension.mark_wired()
