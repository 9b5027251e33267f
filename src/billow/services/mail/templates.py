"""E-mail templates: WHMCS's template types, the shipped defaults, editing, and rendering.

Templates are rendered in Jinja2's sandbox (admins edit them) with WHMCS's merge-field
names; the HTML part is autoescaped, the subject and text part are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from jinja2 import TemplateError
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

_html_env = SandboxedEnvironment(autoescape=True, keep_trailing_newline=True)

_text_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)

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


def render(subject: str, html: str, text: str, merge: dict[str, Any]) -> Rendered:
    """Render the three parts; an admin's template error is a clear refusal, not a crash."""
    try:
        subject_out = _text_env.from_string(subject).render(merge).strip().replace("\n", " ")
        html_out = _html_env.from_string(html).render(merge) if html else ""
        text_out = _text_env.from_string(text).render(merge) if text else ""
    except TemplateError as exc:
        raise ValidationError(
            f"Template could not be rendered: {exc}", code="template_render_failed"
        ) from None
    if not html_out and text_out:
        html_out = "<pre>" + escape(text_out) + "</pre>"
    return Rendered(subject_out, html_out, text_out)


def _template_type(uow: UnitOfWork, name: str) -> str:
    row_type = uow.session.scalar(select(EmailTemplate.type).where(EmailTemplate.name == name).limit(1))
    if row_type:
        return str(row_type)
    default = BY_NAME.get(name)
    return default.type if default is not None else ""
