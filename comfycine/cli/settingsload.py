"""The settings of one invocation, for command bodies (no Typer needed)."""

from __future__ import annotations

from typing import Any


def load_settings(url: str | None = None, **flags: Any) -> Any:
    """Resolve settings once for this invocation (flag > environment > .env > default)."""
    from comfycine.settings import resolve

    return resolve({"comfyui_url": url, **flags})
