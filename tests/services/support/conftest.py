"""Fixtures for the support desk: a department, a client, and WHMCS's example shapes."""

from __future__ import annotations

import base64
import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from whmcs_shapes import assert_same_shape

WHMCS = Path(__file__).resolve().parents[4] / "shared" / "whmcs" / "api-actions.json"
if not WHMCS.exists():  # the worktree lives beside main; shared/ sits next to both
    WHMCS = Path("/work/shared/whmcs/api-actions.json")


@pytest.fixture(scope="session")
def whmcs_examples() -> dict[str, Any]:
    return json.loads(WHMCS.read_text())


#: Paging counts are JSON integers (README rule 8) even where an example shows a string.
PAGING = {"totalresults", "startnumber", "numreturned"}


#: *actual* has *example*'s keys and nesting, with the same JSON types (extra keys allowed).
same_shape = partial(assert_same_shape, open_objects=True, integer_keys=PAGING)


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
