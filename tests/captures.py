"""Access to the recorded real ComfyUI exchanges in ``tests/fixtures/comfyui-captures``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CAPTURES = Path(__file__).parent / "fixtures" / "comfyui-captures"


def load(scenario: str, name: str) -> Any:
    """One JSON file of a recorded scenario."""
    return json.loads((CAPTURES / scenario / name).read_text())


def ws_frames(scenario: str, name: str = "ws_messages.json") -> list[str]:
    """The recorded text frames of a scenario, re-serialised as the server sent them."""
    return [json.dumps(m["raw"]) for m in load(scenario, name) if "raw" in m]


def scenarios_with(name: str) -> list[str]:
    """Every scenario folder that recorded a file called ``name``."""
    return sorted(p.parent.name for p in CAPTURES.glob(f"*/{name}"))
