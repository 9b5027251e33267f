"""Fixtures of the foundation tests: the demo data set behind the API fixture."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def demo(uow: Any) -> dict[str, int]:
    """The demo data (3 currencies, 2 groups, 4 clients, 2 contacts); returns a few ids."""
    from billow.demo import load_demo

    load_demo(uow)
    uow.commit()
    return {"ada": 1, "grace": 2, "linus": 3, "marie": 4, "charles_contact": 1, "ava_contact": 2}
