"""E-mail end to end against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from billow import clock
from billow.db.models import EmailMessage
from billow.events import request_email
from billow.services.clients.contacts import add_contact
from billow.services.mail import client_contexts, context_registry, templates
from billow.uow import UnitOfWork
from whmcs_shapes import assert_same_shape


def _load_examples() -> dict:
    vendored = Path(__file__).resolve().parents[2] / "data" / "whmcs_api_actions.json"
    if vendored.is_file():
        return json.loads(vendored.read_text())
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "whmcs" / "api-actions.json"
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return {}


EXAMPLES = _load_examples()
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


#: Same keys and nesting as WHMCS's example; scalars of the same JSON type (or null).
same_shape = partial(assert_same_shape, null_scalars=True)



def _example(action):
    if action not in EXAMPLES:
        pytest.skip("shared/whmcs/api-actions.json is not beside this checkout")
    return EXAMPLES[action]["example_response"]


def test_signup_email_reaches_the_client_and_the_log(api, smtp, add_client, drain):
    client_id = add_client()
    stats = drain()
    assert stats.emails_queued == 1 and stats.emails_sent == 1, stats
    [(rcpts, message)] = smtp.box.wait_for(1)
    assert rcpts == ["ada@example.com"]
    assert message["Subject"] == "Welcome to Billow Hosting"
    assert message["From"] == "Billow Hosting <billing@billow.test>"
    assert "Dear Ada" in message.get_body(("plain",)).get_content()
    assert "<p>Dear Ada,</p>" in message.get_body(("html",)).get_content()
    body = api.ok("GetEmails", clientid=client_id)
    same_shape(body, {"result": "success", "totalresults": 1, "startnumber": 0, "numreturned": 1,
                      "emails": {"email": [_example("GetEmails")["emails"]["email"][0]]}})
    [logged] = body["emails"]["email"]
    assert logged["subject"] == "Welcome to Billow Hosting" and logged["pending"] == 0
    assert logged["to"] == "Ada Lovelace <ada@example.com>" and logged["userid"] == client_id
    assert api.ok("GetEmails", clientid=client_id, subject="Nothing like it")["totalresults"] == 0
    assert api.error("GetEmails", clientid=999) == "Client ID Not Found"


def test_contacts_get_what_their_preferences_allow(api, db, smtp, add_client, drain):
    client_id = add_client(noemail=1)
    with UnitOfWork(db) as uow:
        add_contact(uow, client_id, {"firstname": "Ben", "lastname": "B", "email": "ben@example.com"},
                    {"general": True, "invoice": False})
        add_contact(uow, client_id, {"firstname": "Cy", "lastname": "C", "email": "cy@example.com"},
                    {"general": False, "invoice": True})
        uow.commit()
    api.ok("SendEmail", messagename="Order Confirmation", id=client_id,
           customvars=email_params({"order_number": "1001"}))
    drain()
    [(rcpts, message)] = smtp.box.wait_for(1)
    assert sorted(rcpts) == ["ada@example.com", "ben@example.com"]
    assert message["Cc"] == "Ben B <ben@example.com>"
    assert "order #1001" in message.get_body(("plain",)).get_content()


def email_params(values: dict) -> str:
    from billow.api.params import encode_php_array

    return encode_php_array(values)


def test_client_preferences_and_opt_out(api, db, smtp, add_client, drain):
    client_id = add_client(noemail=1)
    api.ok("UpdateClient", clientid=client_id, **{"email_preferences[general]": "0"})
    api.ok("SendEmail", customtype="general", id=client_id, customsubject="News", custommessage="<p>Hi</p>")
    api.ok("UpdateClient", clientid=client_id, **{"email_preferences[general]": "1"}, emailoptout=1)
    api.ok("SendEmail", customtype="general", id=client_id, customsubject="News", custommessage="<p>Hi</p>")
    # Essential account e-mails still go out to a client who opted out.
    api.ok("SendEmail", messagename="Client Signup Email", id=client_id)
    drain()
    messages = smtp.box.wait_for(1)
    assert [m["Subject"] for _, m in messages] == ["Welcome to Billow Hosting"]


@pytest.fixture
def invoice_area(db):
    """What the billing area registers: a resolver for invoice e-mails and the PDF renderer."""

    def resolve(uow, invoice_id):
        from billow.db.models import Client

        client = uow.session.scalar(select(Client).order_by(Client.id))
        merge = client_contexts.client_fields(client)
        merge.update(invoice_num=str(invoice_id), invoice_total="$15.95 USD", invoice_date_due="2026-03-10",
                     invoice_link=f"http://billow.test/viewinvoice.php?id={invoice_id}")
        return context_registry.MailContext(merge=merge, client_id=client.id)

    context_registry.register_resolver("invoice", resolve)
    context_registry.register_attachment_renderer("invoice", lambda uow, i: (f"Invoice-{i}.pdf", PDF))
    yield
    context_registry.unregister("invoice", "invoice")


def test_invoice_email_carries_the_pdf(api, db, smtp, add_client, drain, invoice_area):
    client_id = add_client(noemail=1)
    with UnitOfWork(db) as uow:
        request_email(uow, "Invoice Created", 5)
        request_email(uow, "Order Confirmation", client_id, order_number="77")
        uow.commit()
    drain()
    messages = {m["Subject"]: m for _, m in smtp.box.wait_for(2)}
    invoice = messages["Customer Invoice"]
    [attachment] = list(invoice.iter_attachments())
    assert attachment.get_filename() == "Invoice-5.pdf"
    assert attachment.get_content_type() == "application/pdf" and attachment.get_content() == PDF
    assert "Amount due: $15.95 USD" in invoice.get_body(("plain",)).get_content()
    assert list(messages["Order Confirmation"].iter_attachments()) == []
    logged = api.ok("GetEmails", clientid=client_id)["emails"]["email"]
    assert [e["attachments"] for e in logged] == [None, ["invoice-5.pdf"]]


def test_area_without_a_resolver_is_skipped_cleanly(db, smtp, add_client, drain):
    with UnitOfWork(db) as uow:
        request_email(uow, "Hosting Account Welcome Email", 12)
        uow.commit()
    stats = drain()
    assert stats.dispatched == 1 and stats.emails_queued == 0 and not stats.errors
    assert smtp.box.messages == []


def test_smtp_outage_delays_but_never_drops_mail(api, db, smtp, add_client):
    from billow.worker import Worker

    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    smtp.stop()
    with clock.frozen(t0):
        client_id = add_client()
        with Worker(db) as worker:
            stats = worker.run_once()
            assert stats.emails_failed == 1
            logged = api.ok("GetEmails", clientid=client_id)["emails"]["email"][0]
            assert logged["pending"] == 1 and logged["retry_count"] == 1 and logged["failure_reason"]
            smtp.start()
            worker.run_once()               # not due yet: the retry waits a minute
            assert smtp.box.messages == []
            with clock.frozen(t0 + timedelta(minutes=2)):
                stats = worker.run_once()
    assert stats.emails_sent == 1
    assert len(smtp.box.wait_for(1)) == 1
    logged = api.ok("GetEmails", clientid=client_id)["emails"]["email"][0]
    assert logged["pending"] == 0 and logged["failed"] == 0 and logged["failure_reason"] == ""


def test_send_email_sends_at_once_and_checks_its_input(api, db, smtp, add_client):
    client_id = add_client(noemail=1)
    api.ok("SendEmail", customtype="general", id=client_id, customsubject="Hello {{ client_first_name }}",
           custommessage="<p>Your code is {{ code }}</p>", customvars=email_params({"code": "X1"}))
    [(_, message)] = smtp.box.messages        # sent inside the request, before its answer
    assert message["Subject"] == "Hello Ada"
    assert "Your code is X1" in message.get_body(("html",)).get_content()
    assert api.error("SendEmail") == \
        "You must provide either an existing email template name or a custom message type"
    assert api.error("SendEmail", customtype="bogus", id=client_id) == "Invalid message type provided"
    assert api.error("SendEmail", customtype="general", id=client_id, custommessage="x") == \
        "A subject is required for a custom message"
    assert api.error("SendEmail", customtype="general", id=client_id, customsubject="x") == \
        "A message body is required for a custom message"
    assert api.error("SendEmail", customtype="general", id=client_id, customsubject="x", custommessage="y",
                     customvars="%%%") == "The custom variables you provided are invalid."
    assert api.error("SendEmail", messagename="Client Signup Email") == "A related ID is required"
    assert api.error("SendEmail", messagename="No Such Template", id=client_id) == "Email Template not found"
    with UnitOfWork(db) as uow:
        templates.save_template(uow, "Order Confirmation", disabled=True)
        uow.commit()
    assert api.error("SendEmail", messagename="Order Confirmation", id=client_id) == \
        "Email Template is disabled"
    assert api.ok("SendEmail", messagename="Client Signup Email", id=client_id) == {"result": "success"}


def test_edited_template_is_used(api, db, smtp, add_client, drain):
    with UnitOfWork(db) as uow:
        templates.save_template(uow, "Client Signup Email", subject="Hi {{ client_first_name }}!",
                            text="Welcome aboard, {{ client_name }}.", html="<b>{{ client_name }}</b>")
        uow.commit()
    with UnitOfWork(db) as uow, pytest.raises(Exception, match="not valid"):
        templates.save_template(uow, "Client Signup Email", subject="{% if %}")
    add_client()
    drain()
    [(_, message)] = smtp.box.wait_for(1)
    assert message["Subject"] == "Hi Ada!"
    assert message.get_body(("plain",)).get_content().strip() == "Welcome aboard, Ada Lovelace."


def test_send_admin_email(api, smtp):
    api.ok("SendAdminEmail", customsubject="Disk almost full", custommessage="<p>Server 3 at 91%</p>",
           type="system")
    [(rcpts, message)] = smtp.box.wait_for(1)
    assert rcpts == ["a@example.com"] and message["Subject"] == "Disk almost full"
    api.ok("SendAdminEmail", messagename="Automatic Setup Failed",
           mergefields=email_params({"service_id": "9", "error_msg": "panel down"}))
    messages = smtp.box.wait_for(2)
    assert "service #9 failed: panel down" in messages[1][1].get_body(("plain",)).get_content()
    assert api.error("SendAdminEmail", messagename="Nope") == "Email Template not found"
    assert api.ok("SendAdminEmail", customsubject="x", custommessage="y") == {"result": "success"}


def test_get_email_templates(api):
    body = api.ok("GetEmailTemplates")
    example = _example("GetEmailTemplates")
    flat = {"result": example["result"], "totalresults": example["totalresults"],
            "emailtemplates": {"emailtemplate": [
                {"id": example["emailtemplates[emailtemplate][0][id]"],
                 "name": example["emailtemplates[emailtemplate][0][name]"],
                 "subject": example["emailtemplates[emailtemplate][0][subject]"],
                 "custom": example["emailtemplates[emailtemplate][0][custom]"]}]}}
    same_shape(body, flat)
    names = {t["name"] for t in body["emailtemplates"]["emailtemplate"]}
    for name in ("Client Signup Email", "Order Confirmation", "Invoice Created",
                 "Invoice Payment Confirmation", "Invoice Payment Reminder",
                 "First Invoice Overdue Notice", "Second Invoice Overdue Notice",
                 "Third Invoice Overdue Notice", "Hosting Account Welcome Email",
                 "Service Suspension Notification", "Cancellation Request Confirmation",
                 "Domain Registration Confirmation", "Domain Renewal Confirmation",
                 "Support Ticket Opened", "Support Ticket Reply", "Password Reset Validation"):
        assert name in names
    invoice = api.ok("GetEmailTemplates", type="invoice")
    assert int(invoice["totalresults"]) == len(invoice["emailtemplates"]["emailtemplate"]) >= 5
    assert api.ok("GetEmailTemplates", type="nothing")["totalresults"] == "0"
    assert api.ok("GetEmailTemplates", language="english")["totalresults"] == body["totalresults"]
    assert api.ok("GetEmailTemplates", language="french")["totalresults"] == "0"


def test_password_reset_mail_goes_to_the_user(api, smtp, drain):
    api.ok("AddUser", firstname="Una", lastname="User", email="una@example.com",
           password2="a long password 123")
    api.ok("ResetPassword", email="una@example.com")
    drain()
    [(rcpts, message)] = smtp.box.wait_for(1)
    assert rcpts == ["una@example.com"]
    assert "/password/reset/" in message.get_body(("plain",)).get_content()
    with UnitOfWork(api.client.app.state.session_factory) as uow:
        row = uow.session.scalar(select(EmailMessage))
        assert row.userid == 0 and row.template == "Password Reset Validation"


def test_an_event_that_cannot_be_fanned_out_does_not_hold_back_the_others(api, db, smtp, add_client, drain):
    from billow.db.models import OutboxEvent
    from billow.worker import MAX_DISPATCH_ATTEMPTS

    def broken(uow, relid):
        raise RuntimeError("resolver bug")

    from billow.services.billing.contract import InvoiceLine
    from billow.services.billing.invoices import create_invoice

    client_id = add_client()
    with UnitOfWork(db) as uow:
        # A real invoice, so that once the resolver is fixed its PDF renders and attaches.
        invoice = create_invoice(uow, client_id, [InvoiceLine("Hosting", Decimal("10.00"))], send_email=False)
        uow.commit()
    context_registry.register_resolver("invoice", broken)
    try:
        with UnitOfWork(db) as uow:
            request_email(uow, "Invoice Created", invoice.id)
            uow.commit()
        for _ in range(MAX_DISPATCH_ATTEMPTS + 1):
            stats = drain()
    finally:
        context_registry.unregister("invoice")
    assert [m["Subject"] for _, m in smtp.box.wait_for(1)] == ["Welcome to Billow Hosting"]
    with UnitOfWork(db) as uow:
        parked = uow.session.scalar(select(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None)))
        assert parked.dispatch_attempts == MAX_DISPATCH_ATTEMPTS
        assert parked.dispatch_error == "RuntimeError: resolver bug"
    assert stats.errors == []
    from typer.testing import CliRunner

    from billow.cli import app

    status = json.loads(CliRunner().invoke(app, ["outbox", "--json"]).stdout)
    assert status["undispatched"] == 0
    assert [p["error"] for p in status["parked"]] == ["RuntimeError: resolver bug"]
    # Once the area's bug is fixed, the parked event is retried and the e-mail goes out.
    context_registry.register_resolver(
        "invoice", lambda uow, _: client_contexts.client_context(uow, client_id)
    )
    try:
        retried = CliRunner().invoke(app, ["outbox", "--retry-parked"])
        assert "1 parked events will be retried" in retried.output
        drain()
    finally:
        context_registry.unregister("invoice")
    sent = smtp.box.wait_for(2)[-1][1]
    assert sent["Subject"] == "Customer Invoice"
    [pdf] = [part for part in sent.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"Invoice-{invoice.id}.pdf" and pdf.get_content().startswith(b"%PDF")


def test_cli_lists_and_edits_templates(db, tmp_path, smtp, add_client, drain):
    from typer.testing import CliRunner

    from billow.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["email", "templates", "--type", "invoice"])
    assert listed.exit_code == 0 and "Invoice Created" in listed.output
    text = tmp_path / "signup.txt"
    text.write_text("Hello {{ client_first_name }}, welcome.")
    edited = runner.invoke(app, ["email", "edit", "Client Signup Email", "--subject", "Hi there",
                                 "--text-file", str(text)])
    assert edited.exit_code == 0, edited.output
    bad = runner.invoke(app, ["email", "edit", "Brand New", "--subject", "x"])
    assert bad.exit_code == 1 and "Invalid template type" in bad.output
    add_client()
    drain()
    [(_, message)] = smtp.box.wait_for(1)
    assert message["Subject"] == "Hi there"
    assert message.get_body(("plain",)).get_content().strip() == "Hello Ada, welcome."


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made here so the test needs nothing from outside."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "billow test smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS is TLS
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_smtp_over_tls_with_login(db, tmp_path, monkeypatch, add_client, drain, mode):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from billow.config import reset_settings

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[tuple[list[str], bool]] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append((list(envelope.rcpt_tos), session.authenticated))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password == b"s3cret-pw")
        return AuthResult(success=False)

    from socket import socket

    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {"authenticator": authenticator, "auth_required": True}
    if mode == "starttls":
        controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                                require_starttls=True, **options)
    else:
        controller = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=context,
                                auth_require_tls=False, **options)
    controller.start()
    try:
        monkeypatch.setenv("BILLOW_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BILLOW_SMTP_PORT", str(port))
        monkeypatch.setenv("BILLOW_SMTP_TLS", mode)
        monkeypatch.setenv("BILLOW_SMTP_USER", "mailer")
        monkeypatch.setenv("BILLOW_SMTP_PASSWORD", "s3cret-pw")
        monkeypatch.setenv("BILLOW_SMTP_CA_FILE", str(cert))
        monkeypatch.setenv("BILLOW_SMTP_FROM", "billing@billow.test")
        reset_settings()
        add_client()
        stats = drain()
    finally:
        controller.stop()
        reset_settings()
    assert stats.emails_sent == 1, stats
    assert received == [(["ada@example.com"], True)]
    assert logins == [("mailer", "s3cret-pw")]
