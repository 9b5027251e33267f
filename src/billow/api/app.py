"""The ASGI application: the WHMCS endpoint, a health endpoint, and Billow's own routes."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from billow.api.dispatch import dispatch, dispatch_inline
from billow.api.documents import invoice_pdf, ticket_attachment
from billow.api.encode import to_json, to_xml
from billow.api.params import Params, parse_php_pairs
from billow.api.registry import build_table
from billow.bootstrap import wire
from billow.config import get_settings
from billow.db.engine import session_factory

log = logging.getLogger("billow.api")

JSON_TYPE = "application/json"
#: Most parameters one request may carry (Starlette's form parser has the same default).
MAX_FIELDS = 1000
#: Answer to a body that cannot be parsed at all (WHMCS has no wording for it).
MALFORMED = "Invalid request: the request body could not be read"
XML_TYPE = "text/xml; charset=utf-8"


def client_ip(request: Request, trusted: list[str]) -> str:
    """The caller's address: the socket peer, unless that peer is a trusted proxy."""
    peer = request.client.host if request.client else ""
    if not trusted or not _in_networks(peer, trusted):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _in_networks(ip: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks
               if ipaddress.ip_network(n, strict=False).version == address.version)


async def _read_params(request: Request) -> Params:
    pairs: list[tuple[str, Any]] = list(request.query_params.multi_items())
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if isinstance(body, dict):
                pairs.extend((str(k), v) for k, v in body.items())
        elif content_type.startswith("application/x-www-form-urlencoded"):
            # What nearly every WHMCS client sends: parsed directly (the general form
            # parser costs more than some actions), with the same field-count limit.
            body_text = (await request.body()).decode("utf-8", "replace")
            pairs.extend(parse_qsl(body_text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
        else:
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    value = {"filename": value.filename or "", "data": await value.read()}
                pairs.append((key, value))
    # NUL characters are never meaningful in a form field, and PostgreSQL refuses them
    # in text: drop them here so no action fails on them half way.
    clean = [(_no_nul(k), _no_nul(v)) for k, v in pairs]
    return Params(parse_php_pairs(clean))


def _no_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def create_app() -> FastAPI:
    wire()
    settings = get_settings()
    app = FastAPI(title="Billow", docs_url=None, redoc_url=None, openapi_url=None)
    table = build_table()
    factory = session_factory()
    app.state.table = table
    app.state.session_factory = factory
    # SQLite has one writer and every call writes (the API log at least), so calls run one
    # at a time whatever the threads. On SQLite they therefore run on the event loop
    # itself: no thread hand-off and no GIL ping-pong per call (GetClients: 56% of the bare
    # endpoint's throughput against 38% through a worker thread, same run conditions).
    # The cost: a slow call also delays /healthz. Only reads (``Get*``) run inline: any
    # other action may wait on a remote panel (a module call, the provisioning a payment
    # triggers), which must not block the loop; it runs in the thread pool and lets go of
    # the writer lock while it waits. PostgreSQL runs every call in the thread pool.
    sqlite = factory.kw["bind"].dialect.name == "sqlite"
    calls_out = frozenset({"getservers"})  # fetchStatus asks each server's status page

    @app.api_route("/includes/api.php", methods=["GET", "POST"])
    async def whmcs_api(request: Request) -> Response:
        try:
            params = await _read_params(request)
        except Exception:  # noqa: BLE001 - a body no parser accepts still gets WHMCS's envelope
            log.warning("unreadable API request body from %s", request.client, exc_info=True)
            return Response(to_json({"result": "error", "message": MALFORMED}), 200,
                            media_type=JSON_TYPE)
        ip = client_ip(request, settings.trusted_proxies)
        action = params.str("action").lower()
        outcome = None
        if sqlite and action.startswith("get") and action not in calls_out:
            # None: the call needs an argon2 password check, never run on the loop.
            outcome = dispatch_inline(table, factory, params, ip)
        if outcome is None:
            outcome = await run_in_threadpool(dispatch, table, factory, params, ip)
        if params.str("responsetype").lower() == "xml":
            return Response(to_xml(outcome.result, outcome.action), outcome.http_status,
                            media_type=XML_TYPE)
        return Response(to_json(outcome.result), outcome.http_status, media_type=JSON_TYPE)

    @app.get("/admin/invoices/{invoice_id}.pdf")
    async def admin_invoice_pdf(invoice_id: int, request: Request) -> Response:
        ip = client_ip(request, settings.trusted_proxies)
        return await run_in_threadpool(invoice_pdf, factory, request.headers.get("authorization", ""),
                                       ip, invoice_id)

    # One catch-all path, split by the handler: {type}/{relatedid}/{index}, and any other
    # shape gets the same authenticated plain-text 404 rather than the framework's JSON one.
    @app.get("/admin/tickets/attachments/{rest:path}")
    async def admin_ticket_attachment(rest: str, request: Request) -> Response:
        ip = client_ip(request, settings.trusted_proxies)
        return await run_in_threadpool(ticket_attachment, factory, request.headers.get("authorization", ""),
                                       ip, rest)

    @app.api_route("/healthz", methods=["GET", "POST"])
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON_TYPE)

    return app
