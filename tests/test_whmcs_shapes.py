"""The suite's one shape assertion (``tests/whmcs_shapes.py``) and its options."""

from __future__ import annotations

import pytest

from whmcs_shapes import assert_same_shape, shape_differences

EXAMPLE = {"result": "success", "totalresults": "1", "items": {"item": [{"id": "1", "paid": True}]}}


def answer(**changes: object) -> dict[str, object]:
    return {"result": "success", "totalresults": "1",
            "items": {"item": [{"id": "1", "paid": True}, {"id": "2", "paid": False}]}, **changes}


def test_same_shape_passes_and_every_list_item_is_checked() -> None:
    assert_same_shape(answer(), EXAMPLE)
    bad = answer(items={"item": [{"id": "1", "paid": True}, {"id": 2, "paid": False}]})
    assert shape_differences(bad, EXAMPLE) == ["$.items.item[].id: expected string, got number (2)"]


def test_extra_keys_only_with_open_objects() -> None:
    with pytest.raises(AssertionError, match="not in the reference example"):
        assert_same_shape(answer(more="x"), EXAMPLE)
    assert_same_shape(answer(more="x"), EXAMPLE, open_objects=True)
    assert_same_shape(answer(more="x"), EXAMPLE, extra=["$.more"])
    with pytest.raises(AssertionError, match="missing"):
        assert_same_shape({"result": "success"}, EXAMPLE, open_objects=True)


def test_null_for_a_scalar_only_with_null_scalars() -> None:
    with pytest.raises(AssertionError, match="expected string, got null"):
        assert_same_shape(answer(result=None), EXAMPLE)
    assert_same_shape(answer(result=None), EXAMPLE, null_scalars=True)
    with pytest.raises(AssertionError, match="expected object, got null"):
        assert_same_shape(answer(items=None), EXAMPLE, null_scalars=True)


def test_integer_keys_must_be_integers() -> None:
    with pytest.raises(AssertionError, match="expected an integer"):
        assert_same_shape(answer(), EXAMPLE, integer_keys={"totalresults"})
    assert_same_shape(answer(totalresults=1), EXAMPLE, integer_keys={"totalresults"})
