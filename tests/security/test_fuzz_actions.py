"""Hypothesis fuzz over every registered action's parameters: no crash reaches the wire.

Each example sends one action from the action table with hostile values in its
parameters (the names WHMCS's reference documents plus every name the handler reads):
deeply nested bracket keys, huge and exotic numbers, control characters, long text.
A crash is an answer with the dispatcher's generic message or an HTTP 500; there must be
none. The counts are printed (``-s``) for the record.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billow.api.actions import build_table

FORM = {"content-type": "application/x-www-form-urlencoded"}

CRASH = "An unexpected error occurred"
REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "whmcs_api_actions.json").read_text())
_READS = re.compile(r"""(?:params|_nth\(params)\.?\w*\(\s*["']([a-z0-9_]+)["']""")


def _param_names(action: Any) -> list[str]:
    names = {p["name"] for p in REFERENCE.get(action.name, {}).get("params", [])}
    try:
        source = inspect.getsource(inspect.getmodule(action.handler))  # type: ignore[arg-type]
        handler = inspect.getsource(action.handler)
    except (OSError, TypeError):
        source = handler = ""
    names.update(_READS.findall(handler))
    # Helpers in the same module read names too (``_amount(params, "amount")``).
    if not names:
        names.update(_READS.findall(source))
    names.discard("action")
    return sorted(names) or ["id"]


ACTIONS = sorted(((a.name, _param_names(a)) for a in build_table()), key=lambda t: t[0])

HOSTILE_SCALARS = st.one_of(
    st.sampled_from([
        "1", "0", "-1", "1.5", "10.00", "99999999999999999999999999999999", "2147483648",
        "9223372036854775808", "922337203685477.99", "1e28", "1E+30", "1e-308", "1_000",
        "nan", "inf", "-inf", "0x10", "1,000.00", "", " ", "0.001", "1.999",
        "a\r\nBcc: x@example.com", "\x00\x01\x07", "name\x1b[31m", "\u202e\u0000",
        "x" * 70_000, "2026-02-30", "0000-00-00", "9999-99-99", "-9999999999",
        "a@b.c", "Paid", "YTowOnt9", "[]", "{}", "true",
    ]),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.text(max_size=40),
)


@st.composite
def requests(draw: Any) -> tuple[str, list[tuple[str, str]]]:
    name, params = draw(st.sampled_from(ACTIONS))
    chosen = draw(st.lists(st.sampled_from(params), min_size=1, max_size=6, unique=True))
    pairs: list[tuple[str, str]] = [("action", name)]
    for key in chosen:
        shape = draw(st.integers(0, 4))
        if shape == 0:
            key = key + "[1]" + "[a]" * draw(st.sampled_from([1, 2, 5, 15, 40, 3000]))
        elif shape == 1:
            index = draw(st.sampled_from(["", "0", "1", "9" * 30, "-1", "x", "\u2460"]))
            key = f"{key}[{index}]"
        pairs.append((key, draw(HOSTILE_SCALARS)))
    return name, pairs


@pytest.fixture
def seeded(api: Any) -> Any:
    """A client, a product and an invoice, so that actions get past "not found"."""
    api.call("AddClient", firstname="Ada", lastname="Lovelace", email="ada@example.com",
             address1="1 Road", city="Town", state="ST", postcode="12345", country="GB",
             phonenumber="123456", password2="pw-123456", skipvalidation="true")
    api.call("AddProductGroup", name="Group")
    api.call("AddProduct", name="Product", gid="1", type="hostingaccount", paytype="free")
    api.call("CreateInvoice", userid="1", itemdescription1="Thing", itemamount1="10.00")
    api.call("OpenTicket", deptid="1", clientid="1", subject="Hi", message="Hello")
    return api


def _post(api: Any, pairs: list[tuple[str, str]]) -> Any:
    response = api.client.post("/includes/api.php", content=urlencode(pairs), headers=FORM)
    MESSAGES[str(response.json().get("message", "success"))[:60]] += 1
    return response


MESSAGES: Counter[str] = Counter()
COUNTS = {"requests": 0, "crashes": 0, "http500": 0}
CRASHED: list[str] = []
#: Set to count crashes without failing (how the before/after numbers were taken).
COUNT_ONLY = bool(os.environ.get("BILLOW_FUZZ_COUNT_ONLY"))


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    print(f"\nfuzz counts: {COUNTS}")
    print("  top answers:", MESSAGES.most_common(12))
    for line in sorted(set(CRASHED)):
        print("  crash:", line[:200])


@settings(max_examples=800, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(request=requests())
def test_fuzz_every_action_never_crashes(seeded: Any, request: tuple[str, list[tuple[str, str]]]) -> None:
    name, pairs = request
    pairs += [("identifier", seeded.identifier), ("secret", seeded.secret), ("responsetype", "json")]
    response = _post(seeded, pairs)
    COUNTS["requests"] += 1
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 500:
        COUNTS["http500"] += 1
    if body.get("message") == CRASH:
        COUNTS["crashes"] += 1
        CRASHED.append(name + " " + " ".join(k[:40] + "=" + v[:30] for k, v in pairs[1:-3]))
    if not COUNT_ONLY:
        assert response.status_code < 500 and body.get("message") != CRASH, (name, pairs)


def test_fuzz_sweep_every_parameter_of_every_action(seeded: Any) -> None:
    """Deterministic: every parameter of every action gets each of the worst values once."""
    worst = ["99999999999999999999999999999999", "1e28", "nan", "1_000", "1e-308",
             "a\r\nb", "922337203685477.99", "\u2460", "x" * 70_000]
    for name, params in ACTIONS:
        for value in worst:
            pairs = [("action", name)] + [(p, value) for p in params]
            if value == worst[0]:
                pairs.append((params[0] + "[1]" + "[a]" * 2000, "1"))
            pairs += [("identifier", seeded.identifier), ("secret", seeded.secret)]
            response = _post(seeded, pairs)
            COUNTS["requests"] += 1
            body = response.json()
            if response.status_code >= 500:
                COUNTS["http500"] += 1
            if body.get("message") == CRASH:
                COUNTS["crashes"] += 1
                CRASHED.append(f"{name} {value!r}")
    if not COUNT_ONLY:
        assert COUNTS["crashes"] == 0 and COUNTS["http500"] == 0, sorted(set(CRASHED))
