"""Every refusal a service raises carries a stable snake_case ``code`` beside WHMCS's message.

The wire layer answers WHMCS's exact text (``message``); Billow's own faces (REST, web
pages, the CLI) use the ``code``. These tests read the source of ``src/billow/services``
(ast) so a new ``raise NotFound("...")`` without a code fails here, not in a client.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import pytest

import billow.services
from billow.errors import BillowError, NotFound

SERVICES = Path(billow.services.__file__).resolve().parent

#: Parts of ``services/`` whose raises do not carry codes yet (paths relative to
#: ``src/billow/services``; a folder ends with ``/``). Converting one means adding
#: ``code="..."`` to its raises and deleting its line here.
NOT_YET_CONVERTED: tuple[str, ...] = ()

SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def _error_classes() -> dict[str, list[type[BillowError]]]:
    """Every BillowError subclass a services module defines or imports, by class name."""
    for info in pkgutil.walk_packages(billow.services.__path__, "billow.services."):
        importlib.import_module(info.name)
    found: dict[str, list[type[BillowError]]] = defaultdict(list)
    todo: list[type[BillowError]] = [BillowError]
    while todo:
        cls = todo.pop()
        found[cls.__name__].append(cls)
        todo.extend(cls.__subclasses__())
    return found


#: The codes of the generic classes: a raise of one of them must name its own code.
GENERIC_CODES = frozenset(
    cls.code for cls in (BillowError, *BillowError.__subclasses__()) if cls.__module__ == "billow.errors"
) | {"module_error"}


def _raises(path: Path, classes: dict[str, list[type[BillowError]]]):
    """``(line, class name, message node, code node or None)`` for each BillowError raise."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        func = node.exc.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in classes:
            continue
        code = next((k.value for k in node.exc.keywords if k.arg == "code"), None)
        message = node.exc.args[0] if node.exc.args else None
        yield node.lineno, name, message, code


def _converted_files() -> list[Path]:
    files = []
    for path in sorted(SERVICES.rglob("*.py")):
        rel = path.relative_to(SERVICES).as_posix()
        if not any(rel == entry or rel.startswith(entry) for entry in NOT_YET_CONVERTED):
            files.append(path)
    return files


def test_the_allow_list_names_what_exists() -> None:
    for entry in NOT_YET_CONVERTED:
        assert (SERVICES / entry).exists(), f"{entry} is gone: drop it from NOT_YET_CONVERTED"


def test_every_raise_outside_the_allow_list_carries_a_snake_case_code() -> None:
    classes = _error_classes()
    missing, malformed = [], []
    checked = 0
    for path in _converted_files():
        rel = path.relative_to(SERVICES).as_posix()
        for line, name, _message, code in _raises(path, classes):
            checked += 1
            if code is None:
                # A specific subclass (SendingFailed, ...) may carry its one code itself.
                if any(cls.code in GENERIC_CODES for cls in classes[name]):
                    missing.append(f"{rel}:{line} raise {name}(...) has no code=")
            elif isinstance(code, ast.Constant) and not (
                isinstance(code.value, str) and SNAKE.fullmatch(code.value)
            ):
                malformed.append(f"{rel}:{line} code={code.value!r} is not snake_case")
    assert checked > 150
    assert not missing, "\n".join(missing)
    assert not malformed, "\n".join(malformed)


def test_class_level_codes_are_snake_case() -> None:
    for name, group in _error_classes().items():
        for cls in group:
            assert SNAKE.fullmatch(cls.code), f"{cls.__module__}.{name}.code = {cls.code!r}"


def test_one_message_one_code() -> None:
    """The same WHMCS message means the same thing, so it carries the same code everywhere."""
    classes = _error_classes()
    codes_of: dict[str, set[str]] = defaultdict(set)
    for path in _converted_files():
        for _line, _name, message, code in _raises(path, classes):
            if isinstance(message, ast.Constant) and isinstance(code, ast.Constant):
                codes_of[message.value].add(code.value)
    assert {m: c for m, c in codes_of.items() if len(c) > 1} == {}


def test_a_service_refusal_has_its_code_and_whmcs_message(uow) -> None:
    from billow.services.support import lookup

    with pytest.raises(NotFound) as caught:
        lookup.get_ticket(uow, 424242)
    assert caught.value.code == "ticket_not_found"
    assert caught.value.message == "Ticket ID not found"


def test_the_wire_answers_whmcs_text_not_the_code(api) -> None:
    answer = api.call("GetTicket", ticketid=424242)
    assert answer == {"result": "error", "message": "Ticket ID not found"}
