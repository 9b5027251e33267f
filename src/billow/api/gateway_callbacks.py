"""``POST /gateways/{name}/callback``: a payment gateway's signed callback (webhook).

Thin: the raw body and headers go to
:func:`billow.services.billing.gateway_callbacks.process_callback`, which verifies them
with the gateway's own scheme and records what they report; the answer is its status
(200 done or already done, 400 bad signature, 404 unknown gateway, 409 not yet: send it
again, 503 gateway unreachable) with a short plain-text message.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from billow.api.dispatch import _one_writer
from billow.services.billing.gateway_callbacks import process_callback
from billow.uow import Actor, UnitOfWork

#: Longest gateway system name accepted in the path.
MAX_NAME = 50


def handle_callback(factory: sessionmaker[Session], name: str, body: bytes, headers: Mapping[str, str],
                    ip: str) -> tuple[int, str]:
    name = name.strip().lower()
    if not name or len(name) > MAX_NAME:
        return 404, "Unknown gateway"
    with UnitOfWork(factory, Actor(kind="system", ip=ip), lock=_one_writer(factory)) as uow:
        outcome = process_callback(uow, name, body, headers)
        uow.commit()
    return outcome.status, outcome.message


def add_routes(app: FastAPI, factory: sessionmaker[Session]) -> None:
    @app.post("/gateways/{name}/callback")
    async def gateway_callback(name: str, request: Request) -> Response:
        body = await request.body()
        ip = request.client.host if request.client else ""
        status, message = await run_in_threadpool(handle_callback, factory, name, body,
                                                  dict(request.headers), ip)
        return Response(message, status, media_type="text/plain; charset=utf-8")
