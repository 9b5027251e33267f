"""Every e-mail template the areas request renders with real records and reaches an SMTP server.

The records are made the way production makes them (a client through AddClient, an order
accepted and provisioned, its invoice paid, a ticket opened and answered, a password reset
asked for), then every template the code requests is checked: each merge field the template
uses had a value when it was rendered, the message arrived at a real aiosmtpd server, and
invoice e-mails carry the invoice PDF as WHMCS sends them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from billow import event_catalog, events
from billow.db.models import Currency, Invoice, Service
from billow.events import request_email
from billow.services.billing.reminders import REMINDER_STAGES
from billow.services.catalog import products
from billow.services.hosting import servers
from billow.services.hosting.provisioning import WELCOME_TEMPLATES, welcome_template
from billow.services.mail._default_templates import BY_NAME
from billow.uow import UnitOfWork
from protocol_servers import whm  # noqa: F401 - the fixture: a local WHM API 1 server

SRC = Path(__file__).resolve().parents[3] / "src" / "billow"
REQUEST = re.compile(r"""\brequest_email\(\s*[\w.]+\s*,\s*["']([^"']+)["']""")
FIELD = re.compile(r"\{\{\s*(\w+)")
#: Templates with a PDF attached in WHMCS.
PDF_TEMPLATES = {"Invoice Created", "Invoice Payment Confirmation", "Invoice Payment Reminder",
                 "First Invoice Overdue Notice", "Second Invoice Overdue Notice",
                 "Third Invoice Overdue Notice"}


def requested_templates() -> set[str]:
    """Every template name the code asks for: literal requests plus the named tables."""
    names = {m for p in SRC.rglob("*.py") for m in REQUEST.findall(p.read_text())}
    names |= set(WELCOME_TEMPLATES.values()) | {welcome_template("other")}
    names |= {stage[3] for stage in REMINDER_STAGES}
    return names


def _shop(uow: UnitOfWork, server: Any) -> Any:
    """A cPanel hosting product on a WHM server (the welcome e-mail names the server)."""
    host, _, port = server.url.split("//", 1)[1].partition(":")
    servers.add_server(uow, servers.ServerInput(
        name="web1", type="cpanel", hostname=host, port=int(port), secure=False, username="root",
        accesshash=server.token, maxaccounts=50,
    ))
    currency = uow.session.scalars(select(Currency).order_by(Currency.is_default.desc())).first()
    group = products.add_group(uow, "Hosting")
    return products.add_product(uow, products.ProductInput(
        name="Starter", gid=group.id, type="hostingaccount", module="cpanel", autosetup="on",
        module_settings={"configoption1": "starter_pkg"},
        pricing={currency.id: {"monthly": "10.00", "msetupfee": "5.00"}},
    ))


def _area_flows(api: Any, db: Any, whm_server: Any, add_client: Any) -> dict[str, Any]:
    """Client, order accepted on WHM, invoice paid, password reset, ticket opened and answered."""
    from billow.services.support import departments

    client_id = add_client()
    with UnitOfWork(db) as uow:
        product = _shop(uow, whm_server)
        dept = departments.add_department(uow, "Technical Support", "support@example.net")
        uow.commit()
    order = api.ok("AddOrder", clientid=client_id, paymentmethod="mailin", pid=product.id,
                   billingcycle="monthly", domain="ada.example")
    api.ok("AcceptOrder", orderid=order["orderid"])
    invoice_id = int(order["invoiceid"])
    api.ok("AddInvoicePayment", invoiceid=invoice_id, transid="T-1", gateway="mailin", amount="15.00")
    user = api.ok("AddUser", firstname="Ada", lastname="Lovelace", email="ada.user@example.com",
                  password2="a long password 123")
    api.ok("ResetPassword", id=user["user_id"])
    ticket = api.ok("OpenTicket", deptid=dept.id, clientid=client_id, subject="Site down",
                    message="My site is down")
    api.ok("AddTicketReply", ticketid=ticket["id"], message="We are on it", adminusername="apiadmin")
    api.ok("AddTicketReply", ticketid=ticket["id"], message="Works now", clientid=client_id)
    return {"client_id": client_id, "order": order, "invoice_id": invoice_id, "ticket": ticket}


def test_area_events_carry_every_whmcs_variable(api, db, add_client, whm):  # noqa: F811
    """The hooks the merged areas fire on these flows carry each variable of WHMCS's reference."""
    seen: dict[str, dict[str, Any]] = {}
    for name in event_catalog.CATALOGUE:
        events.registry.add(name, lambda v, n=name: seen.setdefault(n, v), 99)
    _area_flows(api, db, whm, add_client)
    assert {"ClientAdd", "AfterShoppingCartCheckout", "AcceptOrder", "AfterModuleCreate", "InvoiceCreated",
            "InvoicePaid", "AddInvoicePayment", "UserAdd", "TicketOpen", "TicketAdminReply",
            "TicketUserReply"} <= set(seen)
    for name, variables in seen.items():
        assert event_catalog.missing_variables(name, variables) == [], name


def test_every_requested_template_renders_with_real_records(api, db, smtp, add_client, drain, whm):  # noqa: F811
    merges: dict[str, dict[str, Any]] = {}
    events.registry.add("EmailPreSend", lambda v: merges.setdefault(v["messagename"], v["mergefields"]), 99)
    flows = _area_flows(api, db, whm, add_client)
    client_id, order, invoice_id, ticket = (flows["client_id"], flows["order"], flows["invoice_id"],
                                            flows["ticket"])
    with UnitOfWork(db) as uow:
        service_id = uow.session.scalar(select(Service.id).where(Service.userid == client_id))
        service = uow.session.get(Service, service_id)
        service.suspendreason = "Overdue on Payment"
        service.dedicatedip = "203.0.113.5"  # what a VPS module sets; the VPS welcome shows it
        # The automation run's requests (reminders, suspensions, card failures, ticket
        # closing), with the relids those tasks pass.
        relids = {"invoice": invoice_id, "product": service_id, "support": int(ticket["id"]),
                  "general": client_id}
        # Extras exactly as the requesting code passes them.
        extra = {"Invoice Refund Confirmation": {"invoice_refund_type": "gateway",
                                                 "invoice_refund_amount": "15.00"},
                 "Credit Card Expiring Soon": {"paymethodid": 1, "cardlastfour": "4242",
                                               "expirydate": "12/26"}}
        for name in sorted(requested_templates() - set(merges)):
            template = BY_NAME[name]
            if template.type in relids:
                request_email(uow, name, relids[template.type], **extra.get(name, {}))
        uow.commit()
    for _ in range(3):
        drain()
    wanted = {n for n in requested_templates() if BY_NAME[n].type != "admin" or n == "Support Ticket Created"}
    missing = wanted - set(merges)
    assert not missing, f"never rendered: {sorted(missing)}"
    for name in sorted(wanted):
        template = BY_NAME[name]
        empty = [f for f in FIELD.findall(template.subject + template.body)
                 if merges[name].get(f) in (None, "")]
        assert empty == [], f"{name}: no value for {empty}"
    received = smtp.box.wait_for(len(wanted))
    by_template = {m["X-Billow-Template"]: m for _, m in received}
    assert wanted <= set(by_template)
    for name in PDF_TEMPLATES:
        pdfs = [p for p in by_template[name].iter_attachments() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1 and pdfs[0].get_content().startswith(b"%PDF"), name
    welcome = by_template["Hosting Account Welcome Email"].get_body(("plain",)).get_content()
    account = whm.accounts[merges["Hosting Account Welcome Email"]["service_username"]]
    assert account["password"] in welcome and "ada.example" in welcome
    with UnitOfWork(db) as uow:
        number = uow.session.get(Invoice, invoice_id).invoicenum
    confirmation = by_template["Invoice Payment Confirmation"].get_body(("plain",)).get_content()
    assert number and f"#{number}" in confirmation
    assert merges["Order Confirmation"]["order_id"] == int(order["orderid"])
    assert "Starter" in merges["Order Confirmation"]["order_details"]
