"""The Stripe gateway against a local server speaking Stripe's API (``tests/stripe_server.py``):
hosted payment → signed webhook → InvoicePaid → service Active; declines, 3-D Secure,
duplicate and out-of-order webhooks, bad signatures, refunds, disputes, and a capture whose
answer is lost then retried (the idempotency key: one charge)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from billow import clock
from billow.db.models import Currency, Invoice, OutboxEvent, Service, Transaction
from billow.modules.gateways import configure_gateway, load_gateway
from billow.modules.gateways.base import DECLINED as RESULT_DECLINED
from billow.modules.gateways.base import ERROR, PENDING, SUCCESS, PaymentRequest
from billow.services.billing import payments
from billow.services.billing.hosted_payments import start_hosted_payment
from billow.services.catalog import products
from billow.services.clients.accounts import ClientInput, add_client
from billow.uow import UnitOfWork
from stripe_server import DECLINED, NEEDS_3DS, SUCCEEDS, WEBHOOK_SECRET, FakeStripe, sign


def _shop(db, server: FakeStripe) -> tuple[int, int]:
    with UnitOfWork(db) as uow:
        currency = Currency(code="USD", prefix="$", suffix=" USD", is_default=True, decimals=2)
        uow.session.add(currency)
        uow.session.flush()
        configure_gateway(uow, "stripe", settings={
            "secret_key": server.secret_key, "publishable_key": "pk_test_fake",
            "webhook_secret": WEBHOOK_SECRET, "api_base": server.url})
        group = products.add_group(uow, "Hosting")
        product = products.add_product(uow, products.ProductInput(
            name="Starter", gid=group.id, type="hostingaccount", module="none", autosetup="payment",
            pricing={currency.id: {"monthly": "10.00"}}))
        client = add_client(uow, ClientInput(values={
            "firstname": "Pay", "lastname": "Er", "email": "payer@example.com", "country": "US"}),
            skip_validation=True)
        uow.session.flush()
        ids = client.id, product.id
        uow.commit()
    return ids


def _order(api, db, server) -> tuple[int, int]:
    client_id, product_id = _shop(db, server)
    placed = api.ok("AddOrder", clientid=client_id, paymentmethod="stripe", pid=product_id,
                    billingcycle="monthly")
    return int(placed["invoiceid"]), int(placed["serviceids"])


def _hosted(db, invoice_id: int):
    with UnitOfWork(db) as uow:
        hosted = start_hosted_payment(uow, invoice_id, return_url="https://billing.example.com/done")
        uow.commit()
    return hosted


def _deliver(http, body: bytes, signature: str | None = None):
    return http.post("/gateways/stripe/callback", content=body,
                     headers={"Stripe-Signature": signature or sign(body),
                              "Content-Type": "application/json"})


def _read(db, read):
    with UnitOfWork(db) as uow:
        return read(uow)


def _invoice_status(db, invoice_id: int) -> str:
    return _read(db, lambda uow: uow.session.get(Invoice, invoice_id).status)


def _transactions(db, invoice_id: int) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return _read(db, lambda uow: [
        (t.transid, t.amountin, t.amountout, t.fees) for t in uow.session.scalars(
            select(Transaction).where(Transaction.invoice_id == invoice_id).order_by(Transaction.id))])


def _events(db, name: str) -> int:
    return _read(db, lambda uow: uow.session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.name == name)))


def _paid(api, http, db, server) -> tuple[int, str]:
    invoice_id, _ = _order(api, db, server)
    hosted = _hosted(db, invoice_id)
    for body in server.pay_session(hosted.reference):
        assert _deliver(http, body).status_code == 200
    return invoice_id, server.sessions[hosted.reference]["payment_intent"]


def _gateway(db):
    return _read(db, lambda uow: load_gateway(uow, "stripe"))


def _capture_request(invoice_id: int, token: str, amount: str = "10.00") -> PaymentRequest:
    return PaymentRequest(invoice_id=invoice_id, amount=Decimal(amount), currency="USD", transid=token)


def test_order_paid_through_checkout_and_webhook_activates_the_service(api, http, db, stripe_server):
    invoice_id, service_id = _order(api, db, stripe_server)
    hosted = _hosted(db, invoice_id)
    assert hosted.redirect_url.startswith(stripe_server.url) and hosted.publishable_key == "pk_test_fake"
    session = stripe_server.sessions[hosted.reference]
    assert session["amount_total"] == 1000 and session["currency"] == "usd"
    assert session["metadata"] == {"invoice_id": str(invoice_id)}
    assert _invoice_status(db, invoice_id) == "Unpaid"

    for body in stripe_server.pay_session(hosted.reference):
        response = _deliver(http, body)
        assert response.status_code == 200, response.text

    intent = session["payment_intent"]
    assert _transactions(db, invoice_id) == [(intent, Decimal("10.00"), Decimal("0.00"), Decimal("0.59"))]
    assert _invoice_status(db, invoice_id) == "Paid"
    assert _read(db, lambda uow: uow.session.get(Service, service_id).status) == "Active"
    assert _events(db, "InvoicePaid") == 1
    assert api.ok("GetInvoice", invoiceid=invoice_id)["status"] == "Paid"


def test_declined_checkout_records_nothing(api, http, db, stripe_server):
    invoice_id, service_id = _order(api, db, stripe_server)
    hosted = _hosted(db, invoice_id)
    [failed] = stripe_server.pay_session(hosted.reference, card=DECLINED)
    assert _deliver(http, failed).status_code == 200
    assert _transactions(db, invoice_id) == []
    assert _invoice_status(db, invoice_id) == "Unpaid"
    assert _read(db, lambda uow: uow.session.get(Service, service_id).status) == "Pending"


def test_capture_declined_and_sca_required_then_completed(api, http, db, stripe_server):
    invoice_id, _ = _order(api, db, stripe_server)
    gateway = _gateway(db)
    declined = gateway.capture(_capture_request(invoice_id, DECLINED))
    assert declined.status == RESULT_DECLINED and declined.reason == "Your card was declined."
    assert stripe_server.charge_count == 0

    sca = gateway.capture(_capture_request(invoice_id, f"cus_123:{NEEDS_3DS}"))
    assert sca.status == PENDING and sca.reason == "requires_action" and sca.transid.startswith("pi_")
    assert _transactions(db, invoice_id) == []
    # The client completes 3-D Secure on Stripe's page; the webhook records the payment.
    for body in stripe_server.authenticate(sca.transid):
        assert _deliver(http, body).status_code == 200
    assert _invoice_status(db, invoice_id) == "Paid"
    assert [t[0] for t in _transactions(db, invoice_id)] == [sca.transid]


def test_network_failure_mid_capture_then_retry_charges_once(api, http, db, stripe_server):
    invoice_id, _ = _order(api, db, stripe_server)
    gateway = _gateway(db)
    stripe_server.drop_next = True
    lost = gateway.capture(_capture_request(invoice_id, SUCCEEDS))
    assert lost.status == ERROR and lost.reason.startswith("Network error")
    assert stripe_server.charge_count == 1  # the charge was made; only its answer was lost

    retried = gateway.capture(_capture_request(invoice_id, SUCCEEDS))
    assert retried.status == SUCCESS and retried.fee == Decimal("0.59")
    assert stripe_server.charge_count == 1
    with UnitOfWork(db) as uow:
        payments.add_payment(uow, invoice_id, transid=retried.transid, gateway="stripe",
                             amount=Decimal("10.00"), fees=retried.fee)
        uow.commit()
    # Stripe's own webhook for that charge is a duplicate.
    body = stripe_server.event("payment_intent.succeeded", stripe_server.intents[retried.transid])
    assert _deliver(http, body).status_code == 200
    assert len(_transactions(db, invoice_id)) == 1
    assert _invoice_status(db, invoice_id) == "Paid"


def test_duplicate_and_out_of_order_webhooks_record_once(api, http, db, stripe_server):
    invoice_id, _ = _order(api, db, stripe_server)
    hosted = _hosted(db, invoice_id)
    completed, succeeded = stripe_server.pay_session(hosted.reference)
    intent = stripe_server.sessions[hosted.reference]["payment_intent"]
    refund = stripe_server.event("refund.created", stripe_server.refund(intent, 300))

    # The refund arrives before the payment: not yet, nothing recorded (Stripe sends it again).
    assert _deliver(http, refund).status_code == 409
    assert _transactions(db, invoice_id) == []
    # payment_intent.succeeded before checkout.session.completed, and each twice.
    for body in (succeeded, completed, succeeded, completed):
        assert _deliver(http, body).status_code == 200
    assert len(_transactions(db, invoice_id)) == 1
    assert _events(db, "InvoicePaid") == 1
    # The refund again: now recorded, once.
    assert _deliver(http, refund).status_code == 200
    assert _deliver(http, refund).status_code == 200
    rows = _transactions(db, invoice_id)
    assert [(r[1], r[2]) for r in rows] == [(Decimal("10.00"), Decimal("0.00")),
                                            (Decimal("0.00"), Decimal("3.00"))]
    assert _invoice_status(db, invoice_id) == "Paid"


def test_bad_signatures_answer_400_and_record_nothing(api, http, db, stripe_server):
    invoice_id, _ = _order(api, db, stripe_server)
    hosted = _hosted(db, invoice_id)
    _, succeeded = stripe_server.pay_session(hosted.reference)
    stale = int(clock.now().timestamp()) - 3600
    for signature in (sign(succeeded, "whsec_wrong"), sign(succeeded, timestamp=stale), "t=1,v1=00",
                      "garbage"):
        response = _deliver(http, succeeded, signature)
        assert response.status_code == 400 and response.text == "Invalid signature"
    tampered = succeeded.replace(b'"amount": 1000', b'"amount": 1')
    assert _deliver(http, tampered, sign(succeeded)).status_code == 400
    assert _transactions(db, invoice_id) == []
    assert _invoice_status(db, invoice_id) == "Unpaid"
    assert http.post("/gateways/nosuch/callback", content=b"{}").status_code == 404
    assert http.post("/gateways/banktransfer/callback", content=b"{}").status_code == 404


def test_amount_or_currency_mismatch_is_logged_not_applied(api, http, db, stripe_server):
    invoice_id, _ = _order(api, db, stripe_server)
    hosted = _hosted(db, invoice_id)
    api.ok("AddInvoicePayment", invoiceid=invoice_id, transid="cash-1", gateway="mailin", amount="2.00")
    _, succeeded = stripe_server.pay_session(hosted.reference)
    before = _events(db, "LogTransaction")
    assert _deliver(http, succeeded).status_code == 200
    assert [t[0] for t in _transactions(db, invoice_id)] == ["cash-1"]
    assert _events(db, "LogTransaction") == before + 1
    logged = _read(db, lambda uow: uow.session.scalars(
        select(OutboxEvent).where(OutboxEvent.name == "LogTransaction")
        .order_by(OutboxEvent.id.desc())).first().payload)
    assert logged["result"] == "Not Applied" and "does not match" in logged["data"]

    other, _ = _order_again(api, db, stripe_server)
    hosted = _hosted(db, other)
    stripe_server.intents[stripe_server.sessions[hosted.reference]["payment_intent"]]["currency"] = "eur"
    _, succeeded = stripe_server.pay_session(hosted.reference)
    assert _deliver(http, succeeded).status_code == 200
    assert _transactions(db, other) == []


def _order_again(api, db, server) -> tuple[int, int]:
    client_id, product_id = _read(db, lambda uow: (
        uow.session.scalar(select(Invoice.client_id).limit(1)),
        uow.session.scalar(select(Service.packageid).limit(1))))
    placed = api.ok("AddOrder", clientid=client_id, paymentmethod="stripe", pid=product_id,
                    billingcycle="monthly")
    return int(placed["invoiceid"]), int(placed["serviceids"])


def test_refunds_through_billow_and_from_the_dashboard(api, http, db, stripe_server):
    invoice_id, intent = _paid(api, http, db, stripe_server)
    [(_, _, _, _)] = _transactions(db, invoice_id)
    payment_id = _read(db, lambda uow: uow.session.scalar(
        select(Transaction.id).where(Transaction.transid == intent)))
    # A partial refund asked in Billow goes through Stripe; Stripe's webhook for it is a duplicate.
    with UnitOfWork(db) as uow:
        refund = payments.refund_payment(uow, payment_id, Decimal("4.00"), through_gateway=True)
        refund_id = refund.transid
        uow.commit()
    assert refund_id.startswith("re_")
    echo = stripe_server.event("refund.created", stripe_server.refunds[refund_id])
    assert _deliver(http, echo).status_code == 200
    assert _invoice_status(db, invoice_id) == "Paid"
    # The rest refunded from Stripe's dashboard: charge.refunded, recorded as a transaction out.
    dashboard = stripe_server.refund(intent, 600)
    charge = dict(stripe_server.charges[stripe_server.intents[intent]["latest_charge"]],
                  refunds={"data": [stripe_server.refunds[refund_id], dashboard]})
    assert _deliver(http, stripe_server.event("charge.refunded", charge)).status_code == 200
    rows = _transactions(db, invoice_id)
    assert [r[2] for r in rows] == [Decimal("0.00"), Decimal("4.00"), Decimal("6.00")]
    assert [r[0] for r in rows] == [intent, refund_id, dashboard["id"]]
    assert _invoice_status(db, invoice_id) == "Refunded"
    assert _events(db, "InvoiceRefunded") == 1


def test_dispute_records_a_transaction_out_and_sends_the_invoice_to_collections(api, http, db, stripe_server):
    invoice_id, intent = _paid(api, http, db, stripe_server)
    dispute = stripe_server.dispute(intent)
    assert _deliver(http, dispute).status_code == 200
    assert _deliver(http, dispute).status_code == 200
    rows = _transactions(db, invoice_id)
    assert [(r[0][:3], r[1], r[2]) for r in rows] == [
        ("pi_", Decimal("10.00"), Decimal("0.00")), ("dp_", Decimal("0.00"), Decimal("10.00"))]
    assert _invoice_status(db, invoice_id) == "Collections"


def test_gateway_log_carries_no_secret_or_signature(api, http, db, stripe_server):
    invoice_id, intent = _paid(api, http, db, stripe_server)
    body = stripe_server.event("payment_intent.succeeded", stripe_server.intents[intent])
    _deliver(http, body, sign(body, "whsec_wrong"))
    logged = _read(db, lambda uow: [e.payload for e in uow.session.scalars(
        select(OutboxEvent).where(OutboxEvent.name == "LogTransaction"))])
    results = {p["result"] for p in logged}
    assert results >= {"Created", "Successful", "Duplicate Transaction", "Invalid Signature"}
    text = repr(logged)
    for secret in (stripe_server.secret_key, WEBHOOK_SECRET, "v1=", "pm_card"):
        assert secret not in text
