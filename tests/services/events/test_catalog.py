"""The event catalogue keeps up with the code and with WHMCS's hooks reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from billow import event_catalog
from billow.services.mail._default_templates import BY_NAME

SRC = Path(__file__).resolve().parents[3] / "src" / "billow"
EMIT = re.compile(r"""\bemit\(\s*(?:[\w.]+\s*,\s*)?["'](\w+)["']""")
EMAIL = re.compile(r"""\brequest_email\(\s*[\w.]+\s*,\s*["']([^"']+)["']""")


def _module_of(path: Path) -> str:
    return "billow." + ".".join(path.relative_to(SRC).with_suffix("").parts)


def _sources() -> list[tuple[str, str]]:
    return [(_module_of(p), p.read_text()) for p in sorted(SRC.rglob("*.py"))
            if p.name != "event_catalog.py"]


def _hooks_reference() -> dict[str, list[str]]:
    # The reference travels with the tests (tests/data) so CI checks it in any checkout.
    candidates = [Path(__file__).resolve().parents[2] / "data" / "whmcs_hooks.json"]
    candidates += [parent / "shared" / "whmcs" / "hooks.json" for parent in Path(__file__).resolve().parents]
    for candidate in candidates:
        if candidate.is_file():
            return {h["name"]: [v[0] for v in h["vars"] if not v[0].startswith("~~") and " " not in v[0]]
                    for h in json.loads(candidate.read_text())}
    pytest.skip("shared/whmcs/hooks.json is not beside this checkout")


def test_every_emitted_event_is_catalogued_with_its_emitter():
    found = 0
    for module, text in _sources():
        for name in EMIT.findall(text):
            if module == "billow.events" or name in event_catalog.INTERNAL_EVENTS:
                continue
            found += 1
            spec = event_catalog.get(name)
            assert spec is not None, f"{module} emits {name!r}: add it to billow/event_catalog.py"
            assert module in spec.emitted_by, (
                f"{module} emits {name!r}: add {module!r} to its emitted_by in billow/event_catalog.py")
    assert found >= 10


def test_catalogued_variables_match_the_whmcs_hooks_reference():
    reference = _hooks_reference()
    for name, spec in event_catalog.CATALOGUE.items():
        assert name in reference, f"{name} is not a WHMCS hook"
        assert list(spec.variables) == reference[name], name


def test_every_requested_email_template_ships():
    for module, text in _sources():
        for template in EMAIL.findall(text):
            assert template in BY_NAME, f"{module} requests e-mail {template!r}, which is not shipped"


def test_webhook_events_leave_pre_hooks_in_process():
    names = event_catalog.webhook_events()
    assert "ClientAdd" in names and "InvoicePaid" in names
    assert "PreDeleteClient" not in names and "ShoppingCartValidateCheckout" not in names


def test_foundation_events_carry_every_whmcs_variable(api, add_client):
    """Run each foundation operation and check its events against the catalogue at run time."""
    from billow import events

    seen: dict[str, dict] = {}
    for name in event_catalog.CATALOGUE:
        events.registry.add(name, lambda v, n=name: seen.setdefault(n, v), 99)
    client_id = add_client()
    api.ok("UpdateClient", clientid=client_id, city="Paris")
    contact_id = api.ok("AddContact", clientid=client_id, firstname="B", lastname="C",
                        email="b@example.com")["contactid"]
    api.ok("UpdateContact", contactid=contact_id, firstname="Bea")
    api.ok("DeleteContact", contactid=contact_id)
    user_id = api.ok("AddUser", firstname="U", lastname="V", email="u@example.com",
                     password2="a long password 123")["user_id"]
    api.ok("UpdateUser", user_id=user_id, firstname="Una")
    api.ok("CloseClient", clientid=client_id)
    api.ok("DeleteClient", clientid=client_id)
    assert {"ClientAdd", "ClientEdit", "ContactAdd", "ContactEdit", "ContactDelete", "PreUserAdd",
            "UserAdd", "UserEdit", "ClientClose", "PreDeleteClient", "ClientDelete"} <= set(seen)
    for name, variables in seen.items():
        assert event_catalog.missing_variables(name, variables) == [], name
    assert seen["ClientEdit"]["olddata"]["city"] == "London" and seen["ClientEdit"]["city"] == "Paris"
    assert seen["ContactEdit"]["olddata"]["firstname"] == "B"
    assert seen["UserEdit"]["olddata"]["firstname"] == "U"
