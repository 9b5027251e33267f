"""WHMCS response encodings: JSON (default) and XML (root ``whmcsapi``).

Handlers return plain dicts shaped as WHMCS's result arrays; this module only serialises.
A list under key ``k`` renders in XML as repeated ``<k>`` elements, which yields WHMCS's
``<clients><client>..</client><client>..</client></clients>`` for ``clients.client[]``.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from billow import WHMCS_COMPAT_VERSION


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_json(result: dict[str, Any]) -> bytes:
    return json.dumps(result, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


#: Characters XML 1.0 forbids even when escaped; a stored value may still contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _default(value) if isinstance(value, Decimal | date) else str(value)
    return escape(_NOT_XML.sub("", str(text)))


def _xml_items(data: dict[str, Any], out: list[str]) -> None:
    for key, value in data.items():
        tag = str(key) if not str(key)[:1].isdigit() else f"item{key}"
        if isinstance(value, list):
            for item in value:
                _xml_value(tag, item, out)
        else:
            _xml_value(tag, value, out)


def _xml_value(tag: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append(f"<{tag}>")
        _xml_items(value, out)
        out.append(f"</{tag}>")
    elif isinstance(value, list):
        out.append(f"<{tag}>")
        for item in value:
            _xml_value(tag[:-1] if tag.endswith("s") else "item", item, out)
        out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{_scalar(value)}</{tag}>")


def to_xml(result: dict[str, Any], action: str) -> bytes:
    version = WHMCS_COMPAT_VERSION if result.get("result") == "success" else ""
    out = ['<?xml version="1.0" encoding="utf-8"?>', f'<whmcsapi version="{version}">']
    out.append(f"<action>{escape(action.lower())}</action>")
    _xml_items(result, out)
    out.append("</whmcsapi>")
    return "\n".join(out).encode()
