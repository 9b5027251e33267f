"""Pay method and capture actions: AddPayMethod, GetPayMethods, UpdatePayMethod,
DeletePayMethod, CapturePayment.

Shapes and error strings as ``api-actions.json`` gives them. Card numbers go to the
gateway only (``RemoteCreditCard``); a ``cvv`` given to CapturePayment is never stored or
logged (Billow's gateways capture stored tokens without it).
"""

from __future__ import annotations

from typing import Any

from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.db.models import PayMethod
from billow.services.billing import card_payments, pay_methods
from billow.services.billing.pay_methods import BankInput, CardInput


def _id(params: Params, key: str) -> int:
    raw = params.str(key).strip()
    return params.int(key, 0, error=f"Invalid {key}") if raw else 0


def _card(params: Params) -> CardInput:
    return CardInput(number=params.str("card_number").strip(), expiry=params.str("card_expiry").strip(),
                     start=params.str("card_start").strip(),
                     issue_number=params.str("card_issue_number").strip())


def _bank(params: Params) -> BankInput:
    return BankInput(name=params.str("bank_name").strip(),
                     account_type=params.str("bank_account_type").strip(),
                     code=params.str("bank_code").strip(), account=params.str("bank_account").strip())


def add_pay_method(ctx: Context, params: Params) -> dict[str, Any]:
    client_id = _id(params, "clientid")
    method = pay_methods.add_pay_method(
        ctx.uow, client_id, params.str("type").strip(), description=params.str("description"),
        gateway=params.str("gateway_module_name").strip(), card=_card(params), bank=_bank(params),
        set_as_default=params.bool("set_as_default"))
    return {"clientid": str(client_id), "paymethodid": str(method.id)}


def update_pay_method(ctx: Context, params: Params) -> dict[str, Any]:
    client_id, pay_method_id = _id(params, "clientid"), _id(params, "paymethodid")
    method = pay_methods.update_pay_method(
        ctx.uow, client_id, pay_method_id, card=_card(params), bank=_bank(params),
        set_as_default=params.bool("set_as_default"))
    return {"clientid": str(client_id), "paymethodid": str(method.id)}


def delete_pay_method(ctx: Context, params: Params) -> dict[str, Any]:
    pay_method_id = _id(params, "paymethodid")
    pay_methods.delete_pay_method(ctx.uow, _id(params, "clientid"), pay_method_id,
                                  fail_on_remote_failure=params.bool("failonremotefailure"))
    return {"paymethodid": str(pay_method_id)}


def _shape(method: PayMethod) -> dict[str, Any]:
    shown = pay_methods.describe(method)
    row: dict[str, Any] = {
        "id": method.id, "type": method.type, "description": method.description,
        "gateway_name": method.gateway, "contact_type": "Client", "contact_id": method.client_id,
    }
    if method.type in pay_methods.CARD_TYPES:
        row.update({"card_last_four": method.card_last_four, "expiry_date": method.card_expiry,
                    "start_date": "", "issue_number": "", "card_type": method.card_type})
    else:
        row.update({"bank_name": method.bank_name, "bank_account_type": method.bank_account_type,
                    "bank_account": shown["bank_account"]})
    row["remote_token"] = shown["remote_token"]
    row["last_updated"] = shown["updated_at"].strftime("%d/%m/%Y %H:%M")
    return row


def get_pay_methods(ctx: Context, params: Params) -> dict[str, Any]:
    client_id = _id(params, "clientid")
    rows = pay_methods.list_pay_methods(ctx.uow, client_id, pay_method_id=_id(params, "paymethodid") or None,
                                        kind=params.str("type").strip())
    return {"clientid": str(client_id), "paymethods": [_shape(m) for m in rows]}


def capture_payment(ctx: Context, params: Params) -> dict[str, Any]:
    card_payments.capture_now(ctx.uow, _id(params, "invoiceid"))
    return {}


ACTIONS = [
    Action("AddPayMethod", add_pay_method),
    Action("GetPayMethods", get_pay_methods),
    Action("UpdatePayMethod", update_pay_method),
    Action("DeletePayMethod", delete_pay_method),
    Action("CapturePayment", capture_payment),
]
