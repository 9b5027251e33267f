"""Contact-data validation shared by clients, contacts and users (one place per rule)."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import String

from billow.errors import ValidationError


def normalise_email(email: str, *, required_message: str = "You did not enter your email address",
                    invalid_message: str = "The email address you entered was not valid") -> str:
    email = email.strip()
    if not email:
        raise ValidationError(required_message, code="email_required")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError(invalid_message, code="invalid_email") from None


def normalise_country(code: str, *, message: str = "Valid country required") -> str:
    code = code.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationError(message, code="invalid_country")
    return code


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code.upper()) if code else None
    return country.name if country else ""


def normalise_phone(number: str, country: str, *, message: str = "Invalid telephone phone number") -> str:
    """Return the number in E.164 form; WHMCS refuses what cannot be a phone number."""
    number = number.strip()
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, country.upper() or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(message, code="invalid_phone_number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationError(message, code="invalid_phone_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_parts(e164: str, country: str) -> tuple[str, str, str]:
    """Split a stored number into WHMCS's (phonecc, local number, ``+CC.NUMBER``)."""
    if not e164:
        return "", "", ""
    try:
        parsed = phonenumbers.parse(e164, country.upper() or None)
    except phonenumbers.NumberParseException:
        return "", e164, e164
    cc = str(parsed.country_code)
    national = str(parsed.national_number)
    return cc, national, f"+{cc}.{national}"


def check_lengths(model: Any, values: dict[str, Any]) -> None:
    """Refuse text longer than its column holds (PostgreSQL would fail the whole request).

    MySQL-backed WHMCS refuses such values too; the message names the field and its limit.
    """
    columns = model.__table__.columns
    for key, value in values.items():
        column = columns.get(key)
        if column is None or not isinstance(column.type, String) or not isinstance(value, str):
            continue
        length = column.type.length  # None for Text: unlimited
        if length and len(value) > length:
            raise ValidationError(f"The {key} may be at most {length} characters long", code="value_too_long")
