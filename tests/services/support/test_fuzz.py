"""Property tests: the mail parser never crashes, the renderer never emits live markup."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from billow.services.support._render import ALLOWED_TAGS, render_message
from billow.services.support.mail_parsing import parse_message, strip_quoted_reply

TOKENS = [
    "<",
    ">",
    "/",
    "script",
    "img",
    "a",
    "svg",
    " ",
    "=",
    '"',
    "'",
    "on",
    "error",
    "load",
    "href",
    "src",
    "javascript",
    ":",
    "data",
    "&#",
    "x6a;",
    "(",
    ")",
    "[",
    "]",
    "!",
    "*",
    "`",
    "\n",
    "style",
    "iframe",
    "http://e.x",
    "mailto:a@b",
    "&lt;",
    "%0a",
    "\\",
    "vbscript",
]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join), st.booleans())
def test_rendered_messages_never_carry_live_markup(source: str, markdown: bool) -> None:
    parser = _Elements()
    parser.feed(render_message(source, markdown=markdown))
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS
        assert not any(a.startswith("on") or a == "style" for a in attrs)
        for key in ("href", "src"):
            url = "".join(attrs.get(key, "").split()).lower()
            assert not url.startswith(("javascript:", "vbscript:", "data:"))


HEADER_LINES = st.sampled_from(
    [
        b"From: a@example.org\r\n",
        b"From: =?utf-8?b?!!!?= <x@y>\r\n",
        b"From: \r\n",
        b"To: support@example.net\r\n",
        b"Subject: =?koi8-r?q?=F0=D2?=\r\n",
        b"Subject: =?bogus?q?x?=\r\n",
        b"Content-Type: multipart/mixed\r\n",
        b'Content-Type: multipart/mixed; boundary="B"\r\n',
        b"Content-Type: text/plain; charset=nope\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt\r\n",
        b"Auto-Submitted: no\r\n",
    ]
)
BODY_LINES = st.sampled_from(
    [
        b"--B\r\n",
        b"--B--\r\n",
        b"\r\n",
        b"=E4=\r\n",
        b"aGVsbG8=\r\n",
        b"!!!\r\n",
        b"<html><p>x</p>\r\n",
        b"Content-Type: text/html\r\n",
        b"\xff\xfe\x00\r\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(HEADER_LINES, max_size=8), st.lists(BODY_LINES, max_size=12))
def test_parser_survives_malformed_mime(headers: list[bytes], body: list[bytes]) -> None:
    mail = parse_message(b"".join(headers) + b"\r\n" + b"".join(body))
    assert isinstance(mail.body, str) and isinstance(mail.subject, str)
    assert all(isinstance(a.data, bytes) for a in mail.attachments)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500))
def test_parser_survives_arbitrary_bytes(raw: bytes) -> None:
    parse_message(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_quote_stripping_never_empties_a_message(text: str) -> None:
    out = strip_quoted_reply(text)
    assert out or not text.strip()
