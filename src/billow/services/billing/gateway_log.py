"""The Gateway Log (WHMCS "Gateway Log"): every exchange with a payment gateway.

Gateway modules, callbacks and pay-method storage call :func:`record` with what was sent
or received; before anything is written, secrets (by key: keys, passwords, signatures,
tokens) and payment data (card numbers, CVVs, bank account numbers) are masked, and any
run of 12-19 digits in text (a card or account number however it arrived) keeps only its
last four. :func:`entries` reads the log back (``billow gateway log``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from billow.db.models import GatewayLog
from billow.services.billing import gateway_settings
from billow.uow import UnitOfWork

MASK = "********"

#: Keys whose values are never written (compared lower-case, without ``_`` and ``-``).
SECRET_KEYS = frozenset({
    "password", "secret", "secretkey", "apikey", "apisecret", "accesstoken", "token", "webhooksecret",
    "signature", "stripesignature", "clientsecret", "privatekey", "publishablekey", "authorization",
    "cvv", "cvc", "cvv2", "cardcvv", "cccvv", "securitycode", "remotetoken",
})
#: Keys holding a card or account number: written with only their last four digits.
NUMBER_KEYS = frozenset({
    "cardnumber", "cardnum", "ccnumber", "number", "pan", "bankaccount", "accountnumber", "account",
    "iban", "bankcode", "routingnumber", "sortcode",
})

_DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){11,18}\d(?!\d)")


def _norm(key: Any) -> str:
    return str(key).lower().replace("_", "").replace("-", "")


def last_four(value: str) -> str:
    """``************4242``: only the last four characters of a number survive."""
    digits = re.sub(r"[^0-9A-Za-z]", "", value)
    return "*" * max(len(digits) - 4, 4) + digits[-4:] if digits else ""


def _mask_text(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return _DIGIT_RUN.sub(lambda m: last_four(m.group(0)), text)


def mask(value: Any, secrets: Sequence[str] = ()) -> Any:
    """*value* with secrets and payment numbers masked, recursively (mappings, lists, text)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _norm(key)
            if name in SECRET_KEYS and item not in (None, ""):
                out[str(key)] = MASK
            elif name in NUMBER_KEYS and isinstance(item, str | int) and str(item):
                out[str(key)] = last_four(str(item))
            else:
                out[str(key)] = mask(item, secrets)
        return out
    if isinstance(value, list | tuple):
        return [mask(item, secrets) for item in value]
    if isinstance(value, str):
        return _mask_text(value, secrets)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _mask_text(str(value), secrets)


def record(uow: UnitOfWork, gateway: str, kind: str, data: Mapping[str, Any], result: str) -> None:
    """Write one exchange with *gateway* (masked) to the Gateway Log.

    *kind* says what it was (``callback``, ``capture``, ``refund``, ``store_remote``, ...);
    *result* is the outcome in WHMCS's words (``Success``, ``Declined``, ``Error``,
    ``Invalid Signature``...). The values of the gateway's own settings are masked wherever
    they appear in text, besides the masking by key.
    """
    secrets = _gateway_secrets(uow, gateway)
    text = json.dumps(mask(dict(data), secrets), default=str, sort_keys=True)
    uow.session.add(GatewayLog(gateway=gateway, kind=kind, data=text, result=result[:100]))
    uow.session.flush()
    # WHMCS's hook for every Gateway Log line, with the same masked text.
    uow.emit("LogTransaction", {"gateway": gateway, "data": f"{kind}: {text}", "result": result},
             resource_type="gateway", resource_id=0)


def entries(uow: UnitOfWork, *, gateway: str = "", limit: int = 100) -> list[GatewayLog]:
    """The newest *limit* entries, newest first, optionally of one gateway."""
    query = select(GatewayLog).order_by(GatewayLog.id.desc()).limit(limit)
    if gateway:
        query = query.where(GatewayLog.gateway == gateway)
    return list(uow.session.scalars(query))


def _gateway_secrets(uow: UnitOfWork, gateway: str) -> list[str]:
    return gateway_settings.secret_values(uow, gateway)
