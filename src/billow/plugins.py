"""Plugin discovery: entry points and the local hooks folder."""

from __future__ import annotations

import importlib.util
import logging
from importlib.metadata import entry_points
from pathlib import Path

from billow.config import get_settings

log = logging.getLogger("billow.plugins")


def load_hooks(folder: Path | None = None) -> list[str]:
    """Import ``billow.hooks`` entry points and every ``*.py`` in the hooks folder.

    Hook files register themselves with :func:`billow.events.add_hook`. Returns the names
    of what was loaded. A broken hook file is logged and skipped.
    """
    loaded: list[str] = []
    for ep in entry_points(group="billow.hooks"):
        try:
            ep.load()
            loaded.append(ep.name)
        except Exception:  # noqa: BLE001
            log.exception("hook entry point %s failed to load", ep.name)
    folder = folder or get_settings().hooks_dir
    if folder.is_dir():
        for path in sorted(folder.glob("*.py")):
            spec = importlib.util.spec_from_file_location(f"billow_hooks_{path.stem}", path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
                loaded.append(path.name)
            except Exception:  # noqa: BLE001
                log.exception("hook file %s failed to load", path)
    return loaded
