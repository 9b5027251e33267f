"""Contact-data validation shared by clients, contacts and users (one place per rule)."""

from __future__ import annotations

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from billow.errors import ValidationError


def normalise_email(email: str, *, required_message: str = "You did not enter your email address",
                    invalid_message: str = "The email address you entered was not valid") -> str:
    email = email.strip()
    if not email:
        raise ValidationError(required_message)
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError(invalid_message) from None


def normalise_country(code: str, *, message: str = "Valid country required") -> str:
    code = code.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationError(message)
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
        raise ValidationError(message) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationError(message)
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
