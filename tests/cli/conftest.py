"""Fixtures for CLI tests against the real CPU ComfyUI."""

from __future__ import annotations

import pytest

from tests.cli_support import Isolation
from tests.real_server import RealComfyUI


@pytest.fixture
def real(
    isolation: Isolation, real_comfyui: RealComfyUI, monkeypatch: pytest.MonkeyPatch
) -> RealComfyUI:
    """An isolated CLI pointed at the real server."""
    monkeypatch.setenv("COMFYUI_URL", real_comfyui.url)
    return real_comfyui
