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

from billow.api.actions import build_table
from billow.api.body_limit import BodyLimit, BodyTooLarge
from billow.api.dispatch import _SQLITE_WRITER, dispatch, dispatch_inline, may_be_allowed
from billow.api.documents import invoice_pdf, ticket_attachment
from billow.api.encode import to_json, to_xml
from billow.api.gateway_callbacks import add_routes as add_gateway_callback_routes
from billow.api.params import Params, parse_php_pairs
from billow.bootstrap import wire
from billow.config import get_settings
from billow.db.engine import session_factory
from billow.errors import ValidationError

log = logging.getLogger("billow.api")

JSON_TYPE = "application/json"
#: Most parameters one request may carry (Starlette's form parser has the same default).
MAX_FIELDS = 1000
#: Answer to a body that cannot be parsed at all (WHMCS has no wording for it).
MALFORMED = "Invalid request: the request body could not be read"
XML_TYPE = "text/xml; charset=utf-8"
#: The methods the WHMCS endpoint serves; any other is answered 405 in WHMCS's envelope.
API_METHODS = ("GET", "POST")
#: Parameters that carry credentials, which :attr:`Settings.api_refuse_query_credentials`
#: refuses in a query string.
CREDENTIAL_KEYS = frozenset({"identifier", "secret", "username", "password", "accesskey"})
QUERY_CREDENTIALS = "Credentials are not accepted in the URL: send them in the POST body"
#: A body up to this size is read before the IP check (the check reads the database);
#: a larger one, or one of unknown size, only once the address may be allowed.
SMALL_BODY = 64 * 1024


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


def _envelope(message: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json({"result": "error", "message": message}), status,
                    media_type=JSON_TYPE, headers=headers)


def _declared_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


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
    app.add_middleware(BodyLimit, limit=settings.resolved_max_body_bytes())
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

    @app.api_route("/includes/api.php",
                   methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    async def whmcs_api(request: Request) -> Response:
        if request.method not in API_METHODS:
            return _envelope(f"Invalid request method {request.method}: use POST (or GET)", 405,
                             {"Allow": ", ".join(API_METHODS)})
        if settings.api_refuse_query_credentials and CREDENTIAL_KEYS & set(request.query_params):
            return _envelope(QUERY_CREDENTIALS, 403)
        ip = client_ip(request, settings.trusted_proxies)
        declared = _declared_length(request)
        if request.method == "POST" and (declared is None or declared > SMALL_BODY) and not (
                await run_in_threadpool(may_be_allowed, factory, ip)):
            # A stranger's body is never read: the refusal comes from the query alone.
            params = Params(parse_php_pairs(request.query_params.multi_items()))
            outcome = await run_in_threadpool(dispatch, table, factory, params, ip)
            return Response(to_json(outcome.result), outcome.http_status, media_type=JSON_TYPE)
        try:
            params = await _read_params(request)
        except BodyTooLarge:
            raise
        except ValidationError as exc:
            return _envelope(exc.message)
        except Exception:  # noqa: BLE001 - a body no parser accepts still gets WHMCS's envelope
            log.warning("unreadable API request body from %s", request.client, exc_info=True)
            return _envelope(MALFORMED)
        action = params.str("action").lower()
        outcome = None
        # A read runs on the event loop only while no other call holds the writer lock (a
        # call waiting for it there would stall every request, /healthz included), and
        # never an argon2 password check: dispatch_inline answers None for those.
        if (sqlite and action.startswith("get") and action not in calls_out
                and _SQLITE_WRITER.acquire(blocking=False)):
            try:
                outcome = dispatch_inline(table, factory, params, ip)
            finally:
                _SQLITE_WRITER.release()
        if outcome is None:
            outcome = await run_in_threadpool(dispatch, table, factory, params, ip)
        if params.str("responsetype").lower() == "xml":
            return Response(to_xml(outcome.result, outcome.action), outcome.http_status,
                            media_type=XML_TYPE)
        return Response(to_json(outcome.result), outcome.http_status, media_type=JSON_TYPE)

    @app.get("/admin/invoices/{invoice_id}.pdf")
    async def admin_invoice_pdf(invoice_id: str, request: Request) -> Response:
        # The id is read by the route's own bounded parser, not the framework's int (an id
        # past the column's range is "not found", never an overflow).
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

    add_gateway_callback_routes(app, factory)

    @app.api_route("/healthz", methods=["GET", "POST"])
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON_TYPE)

    return app
