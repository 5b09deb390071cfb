"""Media in: a job's local files uploaded to the server's ``input`` folder.

The server may rename a file (``name (1).png``): the name it answers is the one the
graph must use, so the result maps each parameter to that server-side name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from .local import ComfyClient


async def upload_media(
    client: ComfyClient,
    media: Mapping[str, Path],
    *,
    on_file: Callable[[Path], None] | None = None,
) -> dict[str, str]:
    """Upload each media file; map parameter → the name the server gave it."""
    uploaded: dict[str, str] = {}
    for name, path in media.items():
        if on_file is not None:
            on_file(path)
        answer = await client.upload_image(path)
        sub = answer["subfolder"]
        uploaded[name] = f"{sub}/{answer['name']}" if sub else answer["name"]
    return uploaded
