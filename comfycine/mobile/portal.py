"""Comfy Portal (ShunL12324/comfy-portal, iOS): a clean API graph and the server to enter.

The app imports API-format JSON from a file or the clipboard and connects to a server
given as **Host** (no ``http://``) and **Port** (``docs/guide/workflow-json.md``,
``docs/guide/local-server.md``; shared FIELD-FACTS §5). The export is the template with
every placeholder filled and readable ``_meta.title``s; the host and port come from the
target's URL (``COMFYUI_URL`` for ``local``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..templates import Template
from .common import MobileExport, phone_address, render_export, write_json

if TYPE_CHECKING:
    from ..settings import Settings

TOOL = "comfy-portal"
LISTEN_NOTE = (
    "the PC must run ComfyUI with --listen (Pinokio: add it to the start arguments) so "
    "the phone can reach it over Tailscale."
)


def portal_server(settings: Settings, target_name: str | None) -> str:
    """The URL of the ComfyUI server the phone should use (never Comfy Cloud)."""
    from ..targets import resolve_target

    target = resolve_target(settings, target_name)
    if target.is_cloud:
        raise UsageError(
            "Comfy Portal connects to a ComfyUI server, not to Comfy Cloud.",
            hint="Export for the PC: comfycine mobile portal-export NAME --target local",
        )
    return target.url


def portal_export(
    template: Template,
    server_url: str,
    *,
    out: Path | None = None,
    force: bool = False,
    rng: random.Random | None = None,
) -> MobileExport:
    """The Comfy Portal export of ``template``, written to ``out`` when given.

    ``data`` carries ``host``, ``port`` and ``scheme`` for the app's server form. A
    loopback URL is warned about: the phone needs the PC's Tailscale address.
    """
    graph, warnings = render_export(template, rng)
    address = phone_address(server_url)
    warnings = [*address.warnings, *warnings, LISTEN_NOTE]
    path = write_json(out, graph, force=force) if out is not None else None
    data = {
        **address.to_dict(),
        "hint": f"In Comfy Portal add a server with Host {address.host} and Port "
        f"{address.port}, then import the workflow from the file or the clipboard.",
    }
    return MobileExport(template.name, TOOL, graph, path, warnings, data)
