"""Owner-only files and folders for the state Billow keeps on disk.

The data directory holds the database, the server key and ticket attachments: it is
created ``0700`` and its files ``0600`` whatever the process umask, and a folder or file
this user already owns is tightened to the same when found looser.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """Create *path* (and missing parents) owner-only; tighten it if this user owns it."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create *path* empty and owner-only unless it exists; tighten it if this user owns it."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    _tighten(path, FILE_MODE)
    return path


def tighten_file(path: Path) -> None:
    """Make an existing file of this user owner-only (nothing when it does not exist)."""
    _tighten(path, FILE_MODE)
