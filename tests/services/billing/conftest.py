"""Fixtures of the billing tests."""

from __future__ import annotations

from typing import Any

import pytest
from billing_helpers import make_client


@pytest.fixture
def client(uow: Any) -> Any:
    made = make_client(uow)
    uow.commit()
    return made
