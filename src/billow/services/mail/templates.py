"""E-mail templates: WHMCS's template types, the shipped defaults, editing, and rendering.

Templates are rendered in Jinja2's sandbox (admins edit them) with WHMCS's merge-field
names; the HTML part is autoescaped, the subject and text part are not.
"""

from __future__ import annotations

import functools
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from html import escape
from typing import Any

from jinja2 import TemplateError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select

from billow.db.models import EmailTemplate
from billow.errors import NotFound, ValidationError
from billow.services.mail._default_templates import BY_NAME, DEFAULTS
from billow.services.settings import get_setting
from billow.uow import UnitOfWork

TEMPLATE_TYPES = ("general", "product", "domain", "invoice", "support", "affiliate", "admin", "user")

CUSTOM_TYPES = ("general", "product", "domain", "invoice", "support", "affiliate")

ADMIN_TYPES = ("system", "account", "support")

#: Bounds of one render (every part of one message): admins write these templates, and
#: SendEmail's ``custommessage`` is one, so none may cost unbounded memory or time.
MAX_OUTPUT_CHARS = 1_000_000
#: Most items one ``range()`` may produce (Jinja2's own sandbox allows 100,000).
MAX_RANGE = 10_000
MAX_RENDER_SECONDS = 2.0
#: Largest integer a template may compute (``9**9**9`` would take minutes).
MAX_INT_BITS = 4096
#: A width or count of seven digits or more in a format string (``'%999999999d'``).
_HUGE_WIDTH = re.compile(r"[0-9]{7,}")

_deadline: ContextVar[float | None] = ContextVar("billow_template_deadline", default=None)


class TemplateLimitExceeded(SecurityError):
    """A template went over one of the render bounds above."""


def _check_time() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimitExceeded(f"it took longer than {MAX_RENDER_SECONDS:g} seconds to render")


def _sized(value: Any) -> Any:
    """*value*, unless it is bigger than any e-mail needs."""
    if isinstance(value, str | bytes | list | tuple | dict | set):
        _length(len(value))
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitExceeded("it computes a number too large")
    return value


def _length(n: int) -> None:
    if n > MAX_OUTPUT_CHARS:
        raise TemplateLimitExceeded(f"it produces a value longer than {MAX_OUTPUT_CHARS} characters")


def _small_int(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT_CHARS:
        raise TemplateLimitExceeded(f"it uses a width or count above {MAX_OUTPUT_CHARS}")


def _plain_format(value: Any) -> None:
    if isinstance(value, str) and _HUGE_WIDTH.search(value):
        raise TemplateLimitExceeded("it uses a format width above 999,999")


def _range(*args: int) -> range:
    _check_time()
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitExceeded(f"range() may produce at most {MAX_RANGE} items")
    return numbers


class _BoundedCodeGenerator(CodeGenerator):
    # ``a ~ b`` compiles to a plain join Jinja2 does not intercept: check its length.
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")


class _BoundedEnvironment(SandboxedEnvironment):
    """Jinja2's sandbox with bounds on sizes, ranges and time (see the constants above)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    sized = staticmethod(_sized)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _length(len(seq) * times)
            if isinstance(left, int) and isinstance(right, int) and \
                    left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateLimitExceeded("it computes a number too large")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
                    and right * abs(left).bit_length() > MAX_INT_BITS:
                raise TemplateLimitExceeded("it computes a number too large")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _length(len(left) + len(right))
        elif operator == "%":
            _plain_format(left)
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_time()
        for value in (*args, *kwargs.values()):
            _small_int(value)
        if getattr(__obj, "__name__", "") in ("format", "format_map"):
            # Jinja2 wraps str.format; the string is the wrapped method's __self__.
            _plain_format(getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None))
        return _sized(super().call(__context, __obj, *args, **kwargs))


def _bounded_filter(name: str, function: Any) -> Any:
    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        for value in (*args, *kwargs.values()):
            _small_int(value)
        if name == "format":
            for value in args:
                _plain_format(value)
        return _sized(function(*args, **kwargs))

    return bounded


_html_env = _BoundedEnvironment(autoescape=True, keep_trailing_newline=True)

_text_env = _BoundedEnvironment(autoescape=False, keep_trailing_newline=True)

def _html_of(body: str) -> str:
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    return "\n".join(f"<p>{p.replace(chr(10), '<br>' + chr(10))}</p>" for p in paragraphs) + \
        "\n<p>{{ signature }}</p>\n"


def ensure_templates(uow: UnitOfWork) -> int:
    """Copy every shipped template missing from the table into it; returns how many."""
    present = set(uow.session.scalars(select(EmailTemplate.name).where(EmailTemplate.language == "")))
    added = 0
    for default in DEFAULTS:
        if default.name not in present:
            uow.session.add(_from_default(uow, default.name))
            added += 1
    if added:
        uow.session.flush()
    return added


def _from_default(uow: UnitOfWork, name: str) -> EmailTemplate:
    default = BY_NAME[name]
    return EmailTemplate(
        name=default.name, type=default.type, language="", subject=default.subject,
        html=_html_of(default.body), text=default.body + "\n\n{{ signature }}\n", custom=False,
        attach_invoice_pdf=default.attach_invoice_pdf, created_at=uow.now, updated_at=uow.now,
    )


def get_template(uow: UnitOfWork, name: str, language: str = "") -> EmailTemplate:
    """Find a template by WHMCS name (in *language*, else the default language)."""
    for lang in dict.fromkeys((language, "")):
        row = uow.session.scalar(
            select(EmailTemplate).where(func.lower(EmailTemplate.name) == name.strip().lower(),
                                        EmailTemplate.language == lang)
        )
        if row is not None:
            return row
    if name.strip() in BY_NAME:
        row = _from_default(uow, name.strip())
        uow.session.add(row)
        uow.session.flush()
        return row
    raise NotFound("Email Template not found", code="email_template_not_found")


def list_templates(uow: UnitOfWork, *, type_: str = "", language: str = "") -> list[EmailTemplate]:
    """Templates of *type_* in *language*; the installation's default language is ``""``."""
    ensure_templates(uow)
    if language.lower() == get_setting(uow, "Language").lower():
        language = ""
    query = select(EmailTemplate).where(EmailTemplate.language == language)
    if type_:
        query = query.where(EmailTemplate.type == type_)
    return list(uow.session.scalars(query.order_by(EmailTemplate.id)))


def save_template(
    uow: UnitOfWork, name: str, *, type_: str = "", subject: str | None = None,
    html: str | None = None, text: str | None = None, disabled: bool | None = None,
    language: str = "", attach_invoice_pdf: bool | None = None,
) -> EmailTemplate:
    """Edit a template, or add a custom one when *name* is new (then *type_* is needed)."""
    try:
        row = get_template(uow, name, language)
        if row.language != language:
            raise NotFound("Email Template not found", code="email_template_not_found")
    except NotFound:
        if type_ not in TEMPLATE_TYPES:
            raise ValidationError(
                f"Invalid template type: use one of {', '.join(TEMPLATE_TYPES)}", code="invalid_template_type"
            ) from None
        row = EmailTemplate(name=name.strip(), type=type_, language=language, custom=True,
                            created_at=uow.now, updated_at=uow.now)
        uow.session.add(row)
    for value, label in ((subject, "subject"), (html, "html"), (text, "text")):
        if value is not None:
            _check_syntax(value, label)
            setattr(row, label, value)
    if disabled is not None:
        row.disabled = disabled
    if attach_invoice_pdf is not None:
        row.attach_invoice_pdf = attach_invoice_pdf
    row.updated_at = uow.now
    uow.session.flush()
    return row


def _check_syntax(source: str, label: str) -> None:
    try:
        _text_env.parse(source)
    except TemplateError as exc:
        raise ValidationError(f"Template {label} is not valid: {exc}", code="invalid_template") from None


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def _bounded_render(env: _BoundedEnvironment, source: str, merge: dict[str, Any], budget: list[int]) -> str:
    parts: list[str] = []
    for chunk in env.from_string(source).generate(merge):
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise TemplateLimitExceeded(f"the message would be longer than {MAX_OUTPUT_CHARS} characters")
        _check_time()
        parts.append(chunk)
    return "".join(parts)


def render(subject: str, html: str, text: str, merge: dict[str, Any]) -> Rendered:
    """Render the three parts; an admin's template error is a clear refusal, not a crash.

    Rendering is bounded (:data:`MAX_OUTPUT_CHARS` for the whole message, ranges of
    :data:`MAX_RANGE`, :data:`MAX_RENDER_SECONDS`); a template over a bound is refused
    with the reason, like a template with an error.
    """
    budget = [MAX_OUTPUT_CHARS]
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        subject_out = _bounded_render(_text_env, subject, merge, budget).strip().replace("\n", " ")
        html_out = _bounded_render(_html_env, html, merge, budget) if html else ""
        text_out = _bounded_render(_text_env, text, merge, budget) if text else ""
    except TemplateLimitExceeded as exc:
        raise ValidationError(
            f"Template could not be rendered: {exc}", code="template_too_expensive"
        ) from None
    except Exception as exc:  # noqa: BLE001 - an admin's template never crashes the caller
        raise ValidationError(
            f"Template could not be rendered: {exc}", code="template_render_failed"
        ) from None
    finally:
        _deadline.reset(token)
    if not html_out and text_out:
        html_out = "<pre>" + escape(text_out) + "</pre>"
    return Rendered(subject_out, html_out, text_out)


def _template_type(uow: UnitOfWork, name: str) -> str:
    row_type = uow.session.scalar(select(EmailTemplate.type).where(EmailTemplate.name == name).limit(1))
    if row_type:
        return str(row_type)
    default = BY_NAME.get(name)
    return default.type if default is not None else ""
