"""Ticket messages to HTML: markdown (or plain text) always through a sanitiser.

Ticket text comes from strangers (guests, inbound e-mail), so nothing a customer typed may
reach a staff browser or an e-mail client as live HTML. Markdown is rendered by
``markdown-it-py`` with raw HTML disabled, and the result is cleaned by ``nh3`` (Ammonia)
with a small allow-list: no ``<script>``/``<style>``/``<iframe>``, no ``on*`` attributes,
and links only to ``http``, ``https`` and ``mailto`` (so no ``javascript:`` or ``data:``).
Plain-text messages are escaped and get line breaks only.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

__all__ = ["render_message", "sanitise_html"]

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "del",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
        "img",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "html": False makes raw HTML in the source text literal; linkify stays off (no extra deps).
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def sanitise_html(fragment: str) -> str:
    """Return *fragment* with everything outside the allow-list removed."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_message(text: str, *, markdown: bool) -> str:
    """Render a ticket message as safe HTML (markdown when the message was written in it)."""
    if markdown:
        return sanitise_html(_markdown().render(text or ""))
    escaped = html.escape(text or "").replace("\r\n", "\n")
    return sanitise_html(escaped.replace("\n", "<br>\n"))
