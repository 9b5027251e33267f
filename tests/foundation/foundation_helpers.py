"""Data and helpers shared by the foundation tests."""

from __future__ import annotations

import base64
from typing import Any

import phpserialize

#: What a valid AddClient needs (WHMCS requires every one of these).
NEW_CLIENT = {
    "firstname": "Alan", "lastname": "Turing", "email": "alan@example.com",
    "address1": "1 Bletchley Park", "city": "Milton Keynes", "state": "Buckinghamshire",
    "postcode": "MK3 6EB", "country": "GB", "phonenumber": "+44 1908 640404",
}


def php_b64(data: dict[Any, Any]) -> str:
    """WHMCS's ``base64_encode(serialize($array))``, as integrations build custom fields."""
    return base64.b64encode(phpserialize.dumps(data)).decode()
