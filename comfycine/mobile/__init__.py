"""Phone exports: a template or a saved workflow made ready for a phone-side tool.

* :func:`tg_export` (ComfyUI-TG, a Telegram bot on the PC): an API graph with a
  ``TG_ImageSaver`` on the image output (a poster frame for video templates), titled
  the way the bot finds nodes, written locally for the user to copy to the PC.
* :func:`tag_workflow` / :func:`mcww_tag_file` (MCWW, a phone-friendly web UI beside
  ComfyUI): ``<Label:category:order>`` titles on the prompt, seed, key numbers, input
  files and outputs of a UI-format workflow.
* :func:`portal_export` (Comfy Portal, an iOS app): a clean API graph with readable
  titles, and the host and port to enter in the app.

Every result is a :class:`MobileExport` whose ``warnings`` state each tool's limits.
The facts about the three tools are cited in each module (shared FIELD-FACTS §5).
"""

from __future__ import annotations

from .common import MobileExport, PhoneAddress, phone_address, render_export
from .mcww import Tag, TagResult, mcww_tag_file, tag_workflow
from .portal import portal_export
from .tg import build_tg_graph, tg_export

__all__ = [
    "MobileExport",
    "PhoneAddress",
    "Tag",
    "TagResult",
    "build_tg_graph",
    "mcww_tag_file",
    "phone_address",
    "portal_export",
    "render_export",
    "tag_workflow",
    "tg_export",
]
