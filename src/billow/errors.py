"""The error family of the services.

A service raises a :class:`BillowError` whose ``message`` is WHMCS's own text where WHMCS
has one, so the wire layer can answer ``{"result": "error", "message": ...}`` without
translating. ``code`` is a stable snake_case identifier for Billow's own faces (REST, web
pages, CLI): one code per meaning, the same code wherever that meaning is raised, e.g.
``raise NotFound("Ticket ID not found", code="ticket_not_found")``. The classes' own codes
below are generic fallbacks; a raise names its specific code, and a subclass with a single
meaning (``SendingFailed``) carries it as its class attribute.
``tests/services/test_error_codes.py`` keeps the services to this.
"""

from __future__ import annotations


class BillowError(Exception):
    """A refusal the caller can act on; never a bug."""

    http_status = 200
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(BillowError):
    code = "not_found"


class ValidationError(BillowError):
    code = "invalid"


class Conflict(BillowError):
    code = "conflict"


class NotAllowed(BillowError):
    code = "not_allowed"


class AuthError(BillowError):
    """Authentication, IP and permission failures: WHMCS answers these with HTTP 403."""

    http_status = 403
    code = "forbidden"


class ModuleError(BillowError):
    """A provisioning, registrar or gateway module refused or failed."""

    code = "module_error"


class ModuleFailed(ModuleError):
    """A module call failed after the request did useful work that must be kept.

    The failure itself is a record (module queue entry, module log, the order that was
    accepted, the other services that were provisioned), so the dispatcher commits the
    transaction and still answers with the module's error message.
    """

    keep_changes = True
