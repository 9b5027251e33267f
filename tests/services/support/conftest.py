"""Fixtures for the support desk: a department, a client, and WHMCS's example shapes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

WHMCS = Path(__file__).resolve().parents[4] / "shared" / "whmcs" / "api-actions.json"
if not WHMCS.exists():  # the worktree lives beside main; shared/ sits next to both
    WHMCS = Path("/work/shared/whmcs/api-actions.json")


@pytest.fixture(scope="session")
def whmcs_examples() -> dict[str, Any]:
    return json.loads(WHMCS.read_text())


#: Paging counts are JSON integers (README rule 8) even where an example shows a string.
PAGING = {"totalresults", "startnumber", "numreturned"}


def same_shape(actual: Any, example: Any, path: str = "$") -> None:
    """Assert *actual* has *example*'s keys and nesting, with the same scalar types."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: expected object, got {actual!r}"
        missing = set(example) - set(actual)
        assert not missing, f"{path}: missing keys {sorted(missing)}"
        for key, value in example.items():
            same_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{path}: expected array, got {actual!r}"
        if example and actual and example[0] != []:
            for item in actual:
                same_shape(item, example[0], f"{path}[]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), f"{path}: expected bool, got {actual!r}"
    elif isinstance(example, int):
        ok = isinstance(actual, int) and not isinstance(actual, bool)
        assert ok, f"{path}: expected int, got {actual!r}"
    elif isinstance(example, str) and path.rsplit(".", 1)[-1] in PAGING:
        assert isinstance(actual, int), f"{path}: paging counts are integers, got {actual!r}"
    elif isinstance(example, str):
        assert isinstance(actual, str), f"{path}: expected string, got {actual!r}"


def encode_attachments(*files: tuple[str, bytes]) -> str:
    """WHMCS's form: base64(JSON array of {name, data: base64}))."""
    items = [{"name": n, "data": base64.b64encode(d).decode()} for n, d in files]
    return base64.b64encode(json.dumps(items).encode()).decode()


@pytest.fixture
def dept(uow: Any) -> Any:
    from billow.services.support import departments

    d = departments.add_department(uow, "Technical Support", "support@example.net")
    uow.commit()
    return d


@pytest.fixture
def client_id(api: Any) -> int:
    body = api.ok(
        "AddClient",
        firstname="Cynthia",
        lastname="Reilly",
        email="cynthia@example.com",
        address1="1 Road",
        city="London",
        state="London",
        postcode="N1",
        country="GB",
        phonenumber="+44 20 7946 0958",
        noemail="true",
    )
    return int(body["clientid"])
