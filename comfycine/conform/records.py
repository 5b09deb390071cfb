"""Small JSON files a conform keeps in its work folder: read forgivingly, written whole.

The pulls' manifest, the deliveries made, the pulls Resolve rendered: each maps a key
to what was made for it, so a run again finds its work. A missing or damaged file
reads as empty (the work is then redone, never trusted half-read); every write goes
to a ``.part`` file first and replaces the old one whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_record(path: Path) -> dict[str, Any]:
    """The mapping in ``path``; empty when it is missing, unreadable or not a mapping."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` (JSON), never leaving half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    temp.write_text(json.dumps(data, indent=1, sort_keys=True))
    temp.replace(path)
