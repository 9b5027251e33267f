"""Webhooks end to end: a real receiver on loopback, signatures checked independently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from swh_verify import verify_standard_webhook

from billow import clock
from billow.db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from billow.services.events import _webhook_signing as webhook_signing
from billow.services.events import ssrf_guard, webhook_delivery
from billow.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _add_endpoint(api, receiver, **params) -> tuple[int, str]:
    body = api.ok("AddWebhook", url=receiver.url, **params)
    return int(body["webhookid"]), body["signingsecret"]


def test_event_is_posted_signed_with_hook_name_variables_and_resource(api, receiver, add_client, drain):
    webhook_id, secret = _add_endpoint(api, receiver, events="ClientAdd,ClientEdit")
    assert secret.startswith("whsec_")
    client_id = add_client()
    stats = drain()
    assert stats.webhooks_sent == 1 and not stats.errors
    [request] = receiver.requests
    body = verify_standard_webhook(secret, request.headers, request.body)
    assert body["type"] == "ClientAdd"
    assert body["data"]["hook"] == "ClientAdd"
    assert body["data"]["resource"] == {"type": "client", "id": client_id}
    variables = body["data"]["variables"]
    assert variables["client_id"] == client_id and variables["email"] == "ada@example.com"
    assert "password" not in variables or variables["password"] in ("", None)
    with UnitOfWork(api.client.app.state.session_factory) as uow:
        event = uow.session.scalar(select(OutboxEvent).where(OutboxEvent.name == "ClientAdd"))
        assert request.headers["webhook-id"] == event.uuid
    deliveries = api.ok("GetWebhookDeliveries", webhookid=webhook_id)
    assert deliveries["totalresults"] == 1
    [delivery] = deliveries["deliveries"]["delivery"]
    assert delivery["status"] == "succeeded" and delivery["responsecode"] == 200
    [attempt] = delivery["attemptlog"]["attempt"]
    assert attempt["status"] == "succeeded" and attempt["responsecode"] == 200
    assert attempt["response"] == '{"received":true}' and attempt["latency_ms"] >= 0


def test_a_tampered_body_fails_the_independent_check(api, receiver, add_client, drain):
    _, secret = _add_endpoint(api, receiver)
    add_client()
    drain()
    request = receiver.requests[0]
    try:
        verify_standard_webhook(secret, request.headers, request.body.replace(b"Ada", b"Eve"))
    except ValueError:
        pass
    else:
        raise AssertionError("a changed body must not verify")


def test_signature_matches_the_specification_example():
    # The example of the Standard Webhooks specification's reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = webhook_signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_rolled_back_transaction_sends_nothing(api, db, receiver, drain):
    _add_endpoint(api, receiver)
    with UnitOfWork(db) as uow:
        uow.emit("ClientClose", {"userid": 7}, resource_type="client", resource_id=7)
        # leaving without commit rolls back
    error = api.error("AddClient", firstname="Ada", lastname="Lovelace", email="not-an-email")
    assert error
    stats = drain()
    assert stats.dispatched == 0 and receiver.requests == []


def test_endpoint_filter_and_default_subscription(api, receiver, add_client, drain, db):
    _add_endpoint(api, receiver, events="ClientClose")
    add_client()
    drain()
    assert receiver.requests == []
    with UnitOfWork(db) as uow:
        uow.emit("PreDeleteClient", {"userid": 1}, resource_type="client", resource_id=1)
        uow.emit("ClientClose", {"userid": 1}, resource_type="client", resource_id=1)
        uow.commit()
    drain()
    assert [b["type"] for b in receiver.bodies()] == ["ClientClose"]


def test_receiver_down_then_up_delivers_each_event_once_in_order_per_resource(api, db, receiver):
    from billow.worker import Worker

    _, secret = _add_endpoint(api, receiver)
    receiver.status = 503
    with clock.frozen(T0):
        with UnitOfWork(db) as uow:
            for n in range(3):
                for client_id in (1, 2):
                    uow.emit("ClientEdit", {"userid": client_id, "n": n}, resource_type="client",
                             resource_id=client_id)
            uow.commit()
        with Worker(db) as worker:
            worker.run_once()
            # Only the first event of each resource is tried while the receiver is down.
            assert sorted(r.json["data"]["variables"]["userid"] for r in receiver.requests) == [1, 2]
            with clock.frozen(T0 + timedelta(seconds=6)):
                worker.run_once()
            assert len(receiver.requests) == 4
            receiver.status = 200
            with clock.frozen(T0 + timedelta(minutes=6)):
                worker.run_once()
    accepted = receiver.accepted()
    assert len(accepted) == 6
    for request in accepted:
        verify_standard_webhook(secret, request.headers, request.body)
    for client_id in (1, 2):
        seq = [r.json["data"]["variables"]["n"] for r in accepted
               if r.json["data"]["variables"]["userid"] == client_id]
        assert seq == [0, 1, 2]
    with UnitOfWork(db) as uow:
        statuses = {d.status for d in uow.session.scalars(select(WebhookDelivery))}
        assert statuses == {"succeeded"}


def test_retries_back_off_for_days_then_fail_and_disable_the_endpoint(api, db, receiver, monkeypatch):
    from billow.config import reset_settings
    from billow.worker import Worker

    monkeypatch.setenv("BILLOW_WEBHOOK_DISABLE_AFTER", "2")
    reset_settings()
    webhook_id, _ = _add_endpoint(api, receiver)
    receiver.status = 500
    with clock.frozen(T0):
        with UnitOfWork(db) as uow:
            uow.emit("ClientClose", {"userid": 1}, resource_type="client", resource_id=1)
            uow.emit("ClientClose", {"userid": 2}, resource_type="client", resource_id=2)
            uow.commit()
        with Worker(db) as worker:
            worker.run_once()
            at = T0
            for wait in webhook_delivery.RETRY_SCHEDULE:
                at += wait
                with clock.frozen(at):
                    worker.run_once()
    assert at - T0 > timedelta(days=3)
    assert len(receiver.requests) == 2 * webhook_delivery.MAX_ATTEMPTS
    hook = api.ok("GetWebhooks", webhookid=webhook_id)["webhooks"]["webhook"][0]
    assert hook["enabled"] is False
    assert "2 deliveries in a row failed" in hook["disabledreason"] and "HTTP 500" in hook["disabledreason"]
    assert hook["deliveries"] == {"pending": 0, "succeeded": 0, "failed": 2}
    failed = api.ok("GetWebhookDeliveries", webhookid=webhook_id, status="failed")
    delivery = failed["deliveries"]["delivery"][0]
    assert delivery["attempts"] == webhook_delivery.MAX_ATTEMPTS
    assert len(delivery["attemptlog"]["attempt"]) == webhook_delivery.MAX_ATTEMPTS
    assert delivery["attemptlog"]["attempt"][0]["response"] == '{"error":"down for maintenance"}'
    # A disabled endpoint refuses replays until it is enabled again.
    refused = api.error("RetryWebhookDelivery", deliveryid=delivery["id"])
    assert refused.startswith("Webhook endpoint is disabled")


def test_replay_resends_the_same_event_id(api, db, receiver, add_client, drain):
    webhook_id, secret = _add_endpoint(api, receiver)
    add_client()
    drain()
    delivery_id = api.ok("GetWebhookDeliveries", webhookid=webhook_id)["deliveries"]["delivery"][0]["id"]
    replay = api.ok("RetryWebhookDelivery", deliveryid=delivery_id)
    assert replay["replayof"] == delivery_id and replay["deliveryid"] != delivery_id
    drain()
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    verify_standard_webhook(secret, second.headers, second.body)
    assert len(receiver.accepted()) == 1
    assert api.error("RetryWebhookDelivery", deliveryid=999) == "Webhook Delivery ID Not Found"


def test_expired_lease_of_a_dead_worker_is_delivered_by_the_next_run(api, db, receiver):
    from billow.worker import RunStats, Worker, dispatch_outbox

    _add_endpoint(api, receiver)
    with clock.frozen(T0):
        with UnitOfWork(db) as uow:
            uow.emit("ClientClose", {"userid": 3}, resource_type="client", resource_id=3)
            uow.commit()
        dispatch_outbox(db, RunStats())
        with UnitOfWork(db) as uow:
            jobs = webhook_delivery.claim_due(uow, 10)   # a worker takes the delivery ... and dies
            uow.commit()
        assert len(jobs) == 1
        with Worker(db) as worker:
            worker.run_once()
            assert receiver.requests == []       # still leased to the dead worker
            with clock.frozen(T0 + timedelta(minutes=3)):
                worker.run_once()
    assert len(receiver.accepted()) == 1


def test_worker_process_killed_mid_delivery_loses_nothing(api, db, receiver, database_url, data_dir):
    import os
    import signal
    import subprocess
    import sys
    import time

    _add_endpoint(api, receiver)
    with UnitOfWork(db) as uow:
        uow.emit("ClientClose", {"userid": 4}, resource_type="client", resource_id=4)
        uow.commit()
    receiver.delay = 5.0     # the request hangs, and the worker is killed while it waits
    env = dict(os.environ, BILLOW_WORKER_LEASE_SECONDS="1", BILLOW_WEBHOOK_ALLOW_PRIVATE="1",
               BILLOW_WEBHOOK_TIMEOUT_SECONDS="10")
    proc = subprocess.Popen([sys.executable, "-m", "billow.cli", "worker", "--interval", "0.1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the worker never posted"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    receiver.delay = 0.0
    time.sleep(1.2)          # let the dead worker's lease run out
    from billow.config import reset_settings
    from billow.worker import run_once

    reset_settings()
    stats = run_once(db)
    assert stats.webhooks_sent == 1
    # The receiver saw the event twice (at-least-once) and, de-duplicated by id, once.
    assert len(receiver.requests) == 2
    assert len(receiver.accepted()) == 1


def test_concurrent_workers_dispatch_each_event_once(api, db, receiver):
    import threading

    from billow.worker import RunStats, dispatch_outbox

    _add_endpoint(api, receiver)
    with UnitOfWork(db) as uow:
        for n in range(60):
            uow.emit("ClientClose", {"userid": n}, resource_type="client", resource_id=n)
        uow.commit()
    stats = [RunStats(), RunStats()]

    def work(s: RunStats) -> None:
        while dispatch_outbox(db, s, batch=7):
            pass

    threads = [threading.Thread(target=work, args=(s,)) for s in stats]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(s.dispatched for s in stats) == 60
    with UnitOfWork(db) as uow:
        assert len(uow.session.scalars(select(WebhookDelivery)).all()) == 60


def test_ssrf_guard_refuses_private_targets(api, monkeypatch):
    from billow.config import reset_settings

    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "0")
    reset_settings()
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://localhost/x", "http://[::1]/x",
                "http://169.254.169.254/latest"):
        assert api.error("AddWebhook", url=url) == "Webhook URL targets a private or loopback address"
    assert api.error("AddWebhook", url="ftp://example.com/") == \
        "Webhook URL must be an absolute http or https URL"


def test_redirects_are_not_followed(api, receiver, add_client, drain):
    receiver.status = 302
    webhook_id, _ = _add_endpoint(api, receiver)
    add_client()
    drain()
    delivery = api.ok("GetWebhookDeliveries", webhookid=webhook_id)["deliveries"]["delivery"][0]
    assert delivery["status"] == "pending" and delivery["lasterror"] == "redirect not followed"


def test_webhook_actions_crud_and_errors(api, receiver):
    webhook_id, secret = _add_endpoint(api, receiver, events="ClientAdd", description="CRM")
    listed = api.ok("GetWebhooks")
    assert listed["totalresults"] == 1
    hook = listed["webhooks"]["webhook"][0]
    assert hook["events"] == ["ClientAdd"] and hook["description"] == "CRM" and "secret" not in hook
    assert json.dumps(hook)  # plain JSON types only
    assert "signingsecret" not in hook
    updated = api.ok("UpdateWebhook", webhookid=webhook_id, events="ClientAdd,ClientEdit",
                     rotatesecret=1)
    assert updated["signingsecret"].startswith("whsec_") and updated["signingsecret"] != secret
    assert api.ok("GetWebhooks", webhookid=webhook_id)["webhooks"]["webhook"][0]["events"] == \
        ["ClientAdd", "ClientEdit"]
    unknown = api.error("UpdateWebhook", webhookid=webhook_id, events="NoSuchHook")
    assert unknown == "Unknown event: NoSuchHook"
    assert api.error("AddWebhook") == "A webhook URL is required"
    assert api.error("AddWebhook", url=receiver.url, signingsecret="whsec_!!") == \
        "Webhook secret must be whsec_ followed by base64"
    assert api.error("GetWebhooks", webhookid=99) == "Webhook ID Not Found"
    assert api.error("UpdateWebhook", webhookid=99) == "Webhook ID Not Found"
    assert api.error("GetWebhookDeliveries", status="weird").startswith("Invalid status")
    assert api.ok("DeleteWebhook", webhookid=webhook_id) == {"result": "success", "webhookid": webhook_id}
    assert api.error("DeleteWebhook", webhookid=webhook_id) == "Webhook ID Not Found"
    assert api.ok("GetWebhooks") == {"result": "success", "totalresults": 0, "webhooks": {"webhook": []}}


def test_cli_manages_webhooks(db, receiver, add_client, drain):
    from typer.testing import CliRunner

    from billow.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["webhook", "add", receiver.url, "--event", "ClientAdd"])
    assert out.exit_code == 0, out.output
    assert "whsec_" in out.output
    listed = json.loads(runner.invoke(app, ["webhook", "list", "--json"]).stdout)
    assert listed[0]["url"] == receiver.url and listed[0]["events"] == ["ClientAdd"]
    add_client()
    once = runner.invoke(app, ["worker", "--once"])
    assert once.exit_code == 0 and "webhooks sent 1" in once.output, once.output
    deliveries = json.loads(runner.invoke(app, ["webhook", "deliveries", "--json"]).stdout)
    assert deliveries["total"] == 1 and deliveries["deliveries"][0]["status"] == "succeeded"
    retry = runner.invoke(app, ["webhook", "retry", str(deliveries["deliveries"][0]["id"])])
    assert retry.exit_code == 0, retry.output
    drain()
    assert len(receiver.requests) == 2
    assert runner.invoke(app, ["webhook", "remove", str(listed[0]["id"])]).exit_code == 0
    assert runner.invoke(app, ["webhook", "remove", "99"]).exit_code == 1
    with UnitOfWork(db) as uow:
        assert uow.session.scalars(select(WebhookEndpoint)).all() == []


def test_in_process_worker_delivers_while_the_api_serves(api, db, receiver, add_client):
    import time

    from billow.worker import start_in_thread

    _add_endpoint(api, receiver)
    worker = start_in_thread(db, interval=0.02)
    try:
        add_client()
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.close()
    assert [r.json["type"] for r in receiver.requests] == ["ClientAdd"]


def test_connections_to_private_addresses_are_refused_at_connect_time(receiver, monkeypatch):
    """The address checked is the one connected to, so DNS rebinding cannot slip through."""
    import httpx

    from billow.config import reset_settings

    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "0")
    reset_settings()
    with ssrf_guard.new_client() as client:
        try:
            client.post(receiver.url, content=b"{}")
        except httpx.ConnectError as exc:
            assert "private or loopback" in str(exc)
        else:
            raise AssertionError("a loopback connection must be refused")
    assert receiver.requests == []
    monkeypatch.setenv("BILLOW_WEBHOOK_ALLOW_PRIVATE", "1")
    reset_settings()
    with ssrf_guard.new_client() as client:
        assert client.post(receiver.url, content=b"{}").status_code == 200


def test_purge_removes_finished_history_but_keeps_pending_work(api, db, receiver):
    from billow.worker import Worker, purge_history

    webhook_id, _ = _add_endpoint(api, receiver)
    with clock.frozen(T0):
        with UnitOfWork(db) as uow:
            uow.emit("ClientClose", {"userid": 1}, resource_type="client", resource_id=1)
            uow.commit()
        with Worker(db) as worker:
            worker.run_once()
    receiver.status = 500
    with clock.frozen(T0 + timedelta(days=20)):
        with UnitOfWork(db) as uow:
            uow.emit("ClientClose", {"userid": 2}, resource_type="client", resource_id=2)
            uow.commit()
        with Worker(db) as worker:
            worker.run_once()
    with clock.frozen(T0 + timedelta(days=40)):
        assert purge_history(db, timedelta(days=30)) == {"attempts": 1, "deliveries": 1, "events": 1}
    left = api.ok("GetWebhookDeliveries", webhookid=webhook_id)
    assert [d["status"] for d in left["deliveries"]["delivery"]] == ["pending"]
    paged = api.ok("GetWebhookDeliveries", limitstart=1, limitnum=5)
    assert (paged["totalresults"], paged["startnumber"], paged["numreturned"]) == (1, 1, 0)
