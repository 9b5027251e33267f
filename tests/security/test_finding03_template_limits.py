"""Issue 12, finding 3: e-mail templates (SendEmail's ``custommessage`` and every editable
template) render in Jinja2's sandbox with bounds on output size, ranges and time, off the
event loop; a template over a bound is refused with a clear, WHMCS-style error."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from billow.errors import ValidationError
from billow.services.mail import composing, templates

HOSTILE = {
    "huge string": "{{ 'a' * 20000000 }}",
    "huge list": "{{ [1] * 10**9 }}",
    "nested ranges": "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "nested output": "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}",
    "big range": "{{ range(10**7) | list | length }}",
    "doubling ~": "{% set n = namespace(s='ab') %}{% for i in range(40) %}{% set n.s = n.s ~ n.s %}"
                  "{% endfor %}{{ n.s | length }}",
    "doubling +": "{% set n = namespace(s='ab') %}{% for i in range(40) %}{% set n.s = n.s + n.s %}"
                  "{% endfor %}{{ n.s | length }}",
    "center filter": "{{ 'x' | center(999999999) }}",
    "ljust method": "{{ 'x'.ljust(10**9) }}",
    "printf width": "{{ '%999999999d' % 1 }}",
    "format filter": "{{ '%999999999d' | format(1) }}",
    "str.format width": "{{ '{:>999999999}'.format(1) }}",
    "huge power": "{{ 2 ** 100000000 }}",
    "float overflow": "{{ 10.0 ** 400 }}",
    "sandbox escape": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_templates_are_refused_quickly(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(ValidationError, match="^Template could not be rendered: ") as refused:
        templates.render("Subject", source, source, {})
    assert time.monotonic() - started < templates.MAX_RENDER_SECONDS + 1.5
    assert refused.value.code in ("template_too_expensive", "template_render_failed")


def test_ordinary_templates_still_render() -> None:
    source = ("Dear {{ client_name }}, {% for i in range(3) %}{{ i }}{% endfor %} {{ 'ab' * 2 }} "
              "{{ '%05.2f' | format(3.14159) }} {{ '{:>4}'.format(7) }} {{ 'x' | center(5) }}")
    out = templates.render("Hi {{ client_name }}", "", source, {"client_name": "Ada"})
    assert out.subject == "Hi Ada"
    assert out.text == "Dear Ada, 012 abab 03.14    7   x  "


@pytest.fixture
def client_id(api: Any) -> int:
    body = api.ok("AddClient", firstname="Ada", lastname="Lovelace", email="ada@example.com",
                  address1="12 Engine Row", city="London", state="London", postcode="N1 9GU",
                  country="GB", phonenumber="+44 20 7946 0958")
    return int(body["clientid"])


@pytest.fixture
def render_threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each render: whether it ran on an event loop's thread."""
    seen: list[bool] = []
    real = composing.render

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(composing, "render", spy)
    return seen


def test_send_email_custommessage_over_a_bound_gets_a_whmcs_error(
    api: Any, client_id: int, render_threads: list[bool]
) -> None:
    for source in (HOSTILE["huge string"], HOSTILE["nested ranges"]):
        started = time.monotonic()
        body = api.call("SendEmail", customtype="general", id=client_id, customsubject="News",
                        custommessage=source)
        assert body["result"] == "error"
        assert body["message"].startswith("Template could not be rendered: ")
        assert time.monotonic() - started < templates.MAX_RENDER_SECONDS + 2
    assert render_threads == [False, False], "templates render in a worker thread, not on the loop"


def test_edited_template_over_a_bound_is_refused(
    api: Any, uow: Any, client_id: int, render_threads: list[bool]
) -> None:
    templates.save_template(uow, "Client Signup Email", text=HOSTILE["doubling ~"],
                            html=HOSTILE["huge string"])
    uow.commit()
    message = api.error("SendEmail", messagename="Client Signup Email", id=client_id)
    assert message.startswith("Template could not be rendered: ")
    assert render_threads == [False]
