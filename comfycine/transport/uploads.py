"""Media in: a job's local files uploaded to the server's ``input`` folder.

The server may rename a file (``name (1).png``): the name it answers is the one the
graph must use, so the result maps each parameter to that server-side name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import MediaNotFound
from .local import ComfyClient


async def upload_media(
    client: ComfyClient,
    media: Mapping[str, Path],
    *,
    on_file: Callable[[Path], None] | None = None,
) -> dict[str, str]:
    """Upload each media file; map parameter → the name the server gave it.

    Raises :class:`MediaNotFound` (code ``media_empty``) before sending anything when a
    file is empty: binding refuses those already, this is the last guard.
    """
    for name, path in media.items():
        if path.is_file() and path.stat().st_size == 0:
            raise MediaNotFound(
                f"{name}: {path} is empty (0 bytes).",
                code="media_empty",
                hint="Export or copy the file again (it has no content), then retry.",
                details={"parameter": name, "path": str(path)},
            )
    uploaded: dict[str, str] = {}
    for name, path in media.items():
        if on_file is not None:
            on_file(path)
        answer = await client.upload_image(path)
        sub = answer["subfolder"]
        uploaded[name] = f"{sub}/{answer['name']}" if sub else answer["name"]
    return uploaded
