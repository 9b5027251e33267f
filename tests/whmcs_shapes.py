"""Compare an API answer with WHMCS's documented example response, by shape only.

``tests/data/whmcs_api_examples.json`` holds, for each of WHMCS's 162 actions, the
decoded example response, the documented response fields and the documented error
strings (taken from the WHMCS reference; examples that the reference wrote in flattened
PHP-key form, ``"currencies[currency][0][code]"``, are stored decoded into their nesting).

:func:`assert_whmcs_shape` checks what an integration relies on: the same keys, the same
nesting and the same JSON types (string, number, boolean, object, array, null), while
ignoring the values themselves; :func:`assert_same_shape` does the same against any
example (with options for how far an answer may go beyond it). Any area's tests can use
them::

    from whmcs_shapes import assert_whmcs_shape
    assert_whmcs_shape("GetInvoices", api.ok("GetInvoices"))
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent / "data" / "whmcs_api_examples.json"
#: The reference's response-field types, as JSON types.
_DECLARED = {"int": "number", "string": "string", "bool": "boolean", "array": ("object", "array"),
             "float": "number", "decimal": "string"}


@lru_cache(maxsize=1)
def _reference() -> dict[str, Any]:
    return json.loads(EXAMPLES.read_text())


def example_response(action: str) -> dict[str, Any]:
    """The documented example response of *action* (decoded nesting)."""
    return _reference()[action]["example_response"]


def documented_errors(action: str) -> list[str]:
    """The error strings WHMCS documents for *action*."""
    return list(_reference()[action]["errors"])


def json_type(value: Any) -> str:
    """The JSON type name of a decoded JSON value (``bool`` is not a number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def shape_differences(actual: Any, expected: Any, path: str = "$", extra: Iterable[str] = (), *,
                      open_objects: bool = False, null_scalars: bool = False,
                      integer_keys: Iterable[str] = ()) -> list[str]:
    """Every place where *actual* differs from *expected* in keys, nesting or JSON type.

    Lists are compared item by item against the example's first item (the examples cut
    lists to one item); an example whose first item is an empty list says nothing about
    the items. An expected ``null`` accepts any scalar: the reference uses it for "not
    set". *extra* lists paths (``$.client.foo``) of keys allowed beyond the example.

    The options say how far an area's tests let an answer go beyond the example:
    *open_objects* accepts any extra key, *null_scalars* accepts ``null`` where the
    example has a scalar, and *integer_keys* names keys (``totalresults``) that must be
    JSON integers even where the example shows a string.
    """
    allowed, integers = set(extra), frozenset(integer_keys)
    options = {"open_objects": open_objects, "null_scalars": null_scalars, "integer_keys": integers}
    want, got = json_type(expected), json_type(actual)
    if want == "null":
        return [] if got not in ("object", "array") else [f"{path}: expected a scalar, got {got}"]
    if got == "null" and null_scalars and want not in ("object", "array"):
        return []
    if want == "string" and path.rpartition(".")[2] in integers:
        ok = got == "number" and isinstance(actual, int)
        return [] if ok else [f"{path}: expected an integer, got {got} ({actual!r:.60})"]
    if want != got:
        return [f"{path}: expected {want}, got {got} ({actual!r:.60})"]
    problems: list[str] = []
    if want == "object":
        for key in expected:
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_differences(actual[key], expected[key], f"{path}.{key}", allowed, **options)
        for key in actual:
            if key not in expected and f"{path}.{key}" not in allowed and not open_objects:
                problems.append(f"{path}.{key}: not in the reference example")
    elif want == "array" and expected and expected[0] != []:
        for item in actual:
            problems += shape_differences(item, expected[0], f"{path}[]", allowed, **options)
    return problems


def assert_same_shape(actual: Any, expected: Any, *, extra: Iterable[str] = (), open_objects: bool = False,
                      null_scalars: bool = False, integer_keys: Iterable[str] = ()) -> None:
    """Assert that *actual* has *expected*'s shape (see :func:`shape_differences` for the options).

    The one shape assertion of the suite: :func:`assert_whmcs_shape` and every area's
    helper go through it.
    """
    problems = shape_differences(actual, expected, "$", extra, open_objects=open_objects,
                                 null_scalars=null_scalars, integer_keys=integer_keys)
    assert not problems, "differs from the WHMCS example:\n  " + "\n  ".join(problems)


def assert_whmcs_shape(action: str, body: dict[str, Any], *, extra: Iterable[str] = ()) -> None:
    """Assert that *body* has the shape of *action*'s documented example response.

    Top-level fields the reference documents in its response table but leaves out of the
    example (``CloseClient``'s ``clientid``) are accepted with their declared type.
    *extra* names further allowed paths, e.g. ``"$.client.securityqid"``; use ``$.k[]``
    for keys inside list items.
    """
    expected = dict(example_response(action))
    declared = {f["name"]: f["type"] for f in _reference()[action]["response"]}
    allowed = set(extra)
    for name, kind in declared.items():
        if name in body and name not in expected:
            types = _DECLARED.get(kind, ())
            types = (types,) if isinstance(types, str) else types
            assert json_type(body[name]) in types, f"{action}: {name} should be {kind}: {body[name]!r}"
            allowed.add(f"$.{name}")
    problems = shape_differences(body, expected, "$", allowed)
    assert not problems, f"{action} differs from the WHMCS example:\n  " + "\n  ".join(problems)
