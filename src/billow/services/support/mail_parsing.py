"""Parsing inbound support e-mail: a raw message into :class:`ParsedMail`.

Parsing uses only the standard library ``email`` package (``policy.default``): MIME trees,
RFC 2047 headers, base64 and quoted-printable bodies, any charset Python knows (unknown
ones fall back to Latin-1 rather than failing), HTML-only mail reduced to text, inline
images and attached files kept as attachments. Auto-responders and our own ``X-Loop``
marker are recognised here; the quoted earlier conversation of a reply is cut off by
:func:`strip_quoted_reply`.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from billow.services.support.attachment_files import (
    Upload,
)

#: Outgoing ticket e-mail carries ``X-Loop: billow-support``; inbound mail with it is ours.
LOOP_HEADER, LOOP_VALUE = "X-Loop", "billow-support"


#: Line ticket e-mails put above the quoted conversation; replies are cut at it.
REPLY_ABOVE_MARKER = "##- Please type your reply above this line -##"


_QUOTE_MARKERS = (
    re.compile(r"^\s*##-.*reply above this line.*-##", re.I),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.I),
    re.compile(r"^\s*-{2,}\s*Reply above this line\s*-{2,}", re.I),
    re.compile(r"^_{20,}\s*$"),
    re.compile(r"^\s*On .{1,200}\bwrote:\s*$", re.I | re.S),
    re.compile(r"^\s*Le .{1,200}\ba écrit\s*:\s*$", re.I | re.S),
    re.compile(r"^\s*Am .{1,200}\bschrieb .{0,100}:\s*$", re.I | re.S),
)


_OUTLOOK_HEADER = re.compile(r"^\s*From:\s.+", re.I)

_OUTLOOK_NEXT = re.compile(r"^\s*(Sent|Date|To|Subject):\s", re.I)

@dataclass
class ParsedMail:
    message_id: str = ""
    from_name: str = ""
    from_email: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    attachments: list[Upload] = field(default_factory=list)
    #: Why this is an automatic message ("" when a person wrote it).
    automatic: str = ""
    loop_marker: bool = False


class _TextFromHtml(HTMLParser):
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "hr",
        "blockquote",
        "pre",
    }
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        if tag == "blockquote":
            self.quote += 1
        if tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        if tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = re.sub(r"[ \t\r\n\f\u00a0]+", " ", data)
        if self.quote and text.strip():
            text = "> " + text.strip()
        self.parts.append(text)


def html_to_text(markup: str) -> str:
    """Reduce an HTML body to readable text (scripts and styles dropped, quotes marked ``>``)."""
    parser = _TextFromHtml()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_quoted_reply(text: str) -> str:
    """Cut the earlier conversation a mail client quoted below a reply."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        pair = line + " " + lines[i + 1] if i + 1 < len(lines) else line
        if any(m.match(line) for m in _QUOTE_MARKERS) or (
            i + 1 < len(lines) and _QUOTE_MARKERS[4].match(pair) and not line.strip().startswith(">")
        ):
            cut = i
            break
        if _OUTLOOK_HEADER.match(line) and i + 1 < len(lines) and _OUTLOOK_NEXT.match(lines[i + 1]):
            cut = i
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    stripped = "\n".join(kept).strip()
    return stripped or text.strip()


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError, KeyError):
        content = None  # an unknown charset or a broken encoding: decode by hand below
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def _automatic(msg: Message, sender: str) -> str:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(header) is not None:
            return header
    if msg.get("List-Id") is not None:
        return "List-Id"
    local = sender.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster") or str(msg.get("Return-Path", "")).strip() == "<>":
        return "bounce"
    return ""


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in (msg.get_all(name) or [])]
    return [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]


def parse_message(raw: bytes) -> ParsedMail:
    """Parse a raw RFC 5322 message into the parts a ticket needs."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        from_name, from_email = parseaddr(str(msg.get("From", "")))
    except (IndexError, ValueError):
        from_name, from_email = "", ""
    plain, markup, uploads = "", "", []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if (
            ctype == "message/rfc822"
            or (filename and disposition != "inline" and not ctype.startswith("text/"))
            or disposition == "attachment"
        ):
            data = part.get_payload(decode=True)
            if data is None and ctype == "message/rfc822":
                inner = part.get_payload()
                data = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
            uploads.append(
                Upload(
                    filename or ("message.eml" if ctype == "message/rfc822" else "attachment"), data or b""
                )
            )
        elif ctype.startswith("image/"):
            ext = ctype.split("/", 1)[1].split("+")[0]
            uploads.append(
                Upload(filename or f"inline-{len(uploads) + 1}.{ext}", part.get_payload(decode=True) or b"")
            )
        elif ctype == "text/plain" and not plain:
            plain = _text_of(part)
        elif ctype == "text/html" and not markup:
            markup = _text_of(part)
        elif filename:
            uploads.append(Upload(filename, part.get_payload(decode=True) or b""))
    body = plain if plain.strip() else html_to_text(markup)
    loop = str(msg.get(LOOP_HEADER, "")).strip().lower() == LOOP_VALUE
    return ParsedMail(
        message_id=str(msg.get("Message-ID", "")).strip()[:255],
        from_name=from_name.strip(),
        from_email=from_email.strip().lower(),
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        delivered_to=_addresses(msg, "Delivered-To", "X-Original-To", "Envelope-To"),
        subject=" ".join(str(msg.get("Subject", "")).split())[:250],
        body=body.replace("\r\n", "\n").strip(),
        attachments=uploads,
        automatic=_automatic(msg, from_email),
        loop_marker=loop,
    )


def message_of(raw_message: EmailMessage) -> bytes:
    """Bytes of an ``EmailMessage`` as an MTA would pipe them (used by tests and tools)."""
    return raw_message.as_bytes(policy=email.policy.SMTP)
