"""Attachment files on disk: decoding, limits, safe names, storage and safe serving.

Files live outside the database in ``Settings.resolved_attachments_dir()`` (default
``<BILLOW_DATA_DIR>/attachments``) under a random prefix, so a name chosen by a stranger
can never pick the path, overwrite another file or be guessed. Limits: the size in
``Settings.attachment_max_bytes`` and the extensions in the ``TicketAllowedFileTypes``
setting (WHMCS's key and format, ``.jpg,.gif,.png``). Files are written without execute
bits and, when served, always as a download (``Content-Disposition: attachment``) with a
content type that no browser renders as a page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.orm import Session

from billow.config import get_settings
from billow.errors import ValidationError
from billow.files import FILE_MODE, private_dir

__all__ = [
    "Upload",
    "decode_whmcs_attachments",
    "download_headers",
    "safe_filename",
    "validate_uploads",
    "write_file",
    "read_file",
    "open_file",
    "remove_file",
    "track_new_file",
    "discard_new_files",
]

#: ``Session.info`` key: files written in the session's open transaction.
_NEW_FILES = "billow_new_attachment_files"

DEFAULT_ALLOWED_TYPES = ".jpg,.jpeg,.gif,.png,.webp,.txt,.log,.pdf,.csv,.zip,.gz,.eml"
#: Types served with their own content type (still as a download); everything else is
#: ``application/octet-stream``. HTML, SVG and XML are deliberately absent.
SAFE_CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".csv": "text/plain; charset=utf-8",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".eml": "message/rfc822",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")
#: Characters never kept in the UTF-8 ``filename*`` of a download: controls (incl. CR/LF).
_UNSAFE_UNICODE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True)
class Upload:
    """One attachment to store: its (untrusted) name and its bytes."""

    name: str
    data: bytes


def decode_whmcs_attachments(value: Any) -> list[Upload]:
    """Decode WHMCS's ``attachments``: base64(JSON array of ``{name, data(base64)}``).

    A JSON text without the outer base64, or an already parsed list (``attachments[0][name]``
    form posts), are accepted as well. Anything else is refused with a clear error.
    """
    if value is None or value == "" or value == {} or value == []:
        return []
    items: Any = value
    if isinstance(value, dict):
        items = [value[k] for k in sorted(value, key=lambda k: (len(str(k)), str(k)))]
    if isinstance(items, str):
        text = items.strip()
        try:
            raw = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raw = text
        try:
            items = json.loads(raw)
        except ValueError:
            raise ValidationError(
                "Invalid attachments: expected base64 encoded JSON", code="invalid_attachments"
            ) from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise ValidationError(
            "Invalid attachments: expected a list of {name, data}", code="invalid_attachments"
        )
    uploads = []
    for item in items:
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise ValidationError(
                "Invalid attachments: each needs a name and data", code="invalid_attachments"
            )
        try:
            data = base64.b64decode(str(item.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                f"Invalid attachment data for {item.get('name')}", code="invalid_attachments"
            ) from None
        uploads.append(Upload(str(item["name"]), data))
    return uploads


def safe_filename(name: str) -> str:
    """Return a harmless display name: no path, no control or shell characters, bounded length."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem[:100] or "attachment"
    ext = ext[:10].lower()
    return f"{stem}.{ext}" if ext else stem


def allowed_extensions(setting: str) -> set[str]:
    return {
        e.strip().lower() if e.strip().startswith(".") else "." + e.strip().lower()
        for e in (setting or DEFAULT_ALLOWED_TYPES).split(",")
        if e.strip()
    }


def validate_uploads(uploads: list[Upload], allowed_types: str) -> list[Upload]:
    """Refuse the whole set when one file breaks a limit; return them with safe names."""
    limit = get_settings().attachment_max_bytes
    allowed = allowed_extensions(allowed_types)
    checked = []
    for upload in uploads:
        name = safe_filename(upload.name)
        ext = os.path.splitext(name)[1].lower()
        if ext not in allowed:
            raise ValidationError(
                f"File type not allowed: {name}. Allowed file types: {', '.join(sorted(allowed))}",
                code="attachment_type_not_allowed",
            )
        if len(upload.data) > limit:
            raise ValidationError(
                f"Attachment {name} is larger than the {limit} bytes allowed", code="attachment_too_large"
            )
        checked.append(Upload(name, upload.data))
    return checked


def _root() -> Path:
    root = get_settings().resolved_attachments_dir()
    return private_dir(root)


def _path(stored_name: str) -> Path:
    # Stored names are ours (random prefix + sanitised name); refuse anything else outright.
    if "/" in stored_name or "\\" in stored_name or stored_name.startswith("."):
        raise ValidationError("Invalid attachment name", code="invalid_attachment_name")
    return _root() / stored_name


def new_stored_name(filename: str) -> str:
    return f"{secrets.token_hex(8)}_{filename}"


def write_file(stored_name: str, data: bytes) -> str:
    """Write *data* as *stored_name* (never overwriting); return its sha256."""
    path = _path(stored_name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return hashlib.sha256(data).hexdigest()


def track_new_file(session: Session, stored_name: str) -> None:
    """Remember a file written inside *session*'s transaction: a rollback deletes it again.

    Files are written before the commit (so a full disk fails the request, not a later
    download); this keeps a rolled-back request from leaving orphans behind.
    """
    names = session.info.get(_NEW_FILES)
    if names is None:
        names = session.info[_NEW_FILES] = []
        event.listen(session, "after_commit", _forget_new_files)
        event.listen(session, "after_rollback", _remove_new_files)
    names.append(stored_name)


def new_files_mark(session: Session) -> int:
    """A position to :func:`discard_new_files` back to (for a savepoint's rollback)."""
    return len(session.info.get(_NEW_FILES) or [])


def discard_new_files(session: Session, mark: int = 0) -> None:
    """Delete the files tracked after *mark* (their rows were rolled back)."""
    names = session.info.get(_NEW_FILES) or []
    for name in names[mark:]:
        remove_file(name)
    del names[mark:]


def _forget_new_files(session: Session) -> None:
    session.info[_NEW_FILES] = []


def _remove_new_files(session: Session) -> None:
    discard_new_files(session, 0)


def read_file(stored_name: str) -> bytes | None:
    path = _path(stored_name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def open_file(stored_name: str) -> tuple[IO[bytes], int] | None:
    """Open a stored file for streaming: (binary handle, size), or None when it is not there.

    Only a regular file directly inside the attachments folder is opened: the name must be
    one of ours (:func:`_path`), a symbolic link is refused (``O_NOFOLLOW``), and the opened
    file's real location is checked, so neither a crafted row nor a link planted in the
    folder can serve anything else from the disk.
    """
    try:
        path = _path(stored_name)
    except ValidationError:
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # missing, a symlink (ELOOP), unreadable
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or path.resolve().parent != _root().resolve():
        os.close(fd)
        return None
    return os.fdopen(fd, "rb"), info.st_size


def remove_file(stored_name: str) -> None:
    try:
        _path(stored_name).unlink()
    except FileNotFoundError:
        return


def download_headers(filename: str) -> dict[str, str]:
    """HTTP headers for serving an attachment: a download, never rendered in the page.

    ``Content-Disposition`` follows RFC 6266: an ASCII ``filename`` for old clients and the
    name itself as UTF-8 in ``filename*`` (RFC 8187 percent-encoding, so no quote, CR or LF
    can break out of the header).
    """
    safe = safe_filename(filename)
    ext = os.path.splitext(safe)[1].lower()
    base = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_UNICODE.sub("_", base).strip(" .")[:255] or safe
    return {
        "Content-Type": SAFE_CONTENT_TYPES.get(ext, "application/octet-stream"),
        "Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
