"""The real CPU ComfyUI for tests marked ``real``: the session fixture ``real_comfyui``.

The install is built once per machine (a few minutes the first time) into the cache dir
named by COMFYCINE_TEST_CACHE, else the user's default cache dir. Each test session gets
its own server on a free port with a fresh base dir, so tests never share outputs with a
server started by ``comfycine server up``. Deselect with ``-m "not real"``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from comfycine.localserver import (
    build_server,
    ensure_tiny_checkpoint,
    start_server,
    terminate_server,
)
from comfycine.settings import default_cache_dir

# Test-only: where the test suite builds the real ComfyUI (not a setting of comfycine).
ENV_TEST_CACHE = "COMFYCINE_TEST_CACHE"


@dataclass(frozen=True)
class RealComfyUI:
    """A running real ComfyUI for one test session."""

    url: str
    port: int
    base_dir: Path
    checkpoint: str
    cache_dir: Path

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint (add ``?clientId=...``)."""
        return "ws" + self.url.removeprefix("http") + "/ws"


def real_cache_dir() -> Path:
    """The cache dir the tests build the real ComfyUI into."""
    explicit = os.environ.get(ENV_TEST_CACHE)
    return Path(explicit) if explicit else default_cache_dir(os.environ)


def _report(line: str) -> None:
    # Past pytest's capture: the first build takes minutes and should say so.
    stream = sys.__stderr__ or sys.stderr
    print(f"[real-comfyui] {line}", file=stream, flush=True)


@pytest.fixture(scope="session")
def real_comfyui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealComfyUI]:
    """Build (once per machine) and start a real ComfyUI with the tiny checkpoint."""
    cache_dir = real_cache_dir()
    install = build_server(cache_dir, log=_report)
    base_dir = tmp_path_factory.mktemp("real-comfyui-base")
    started = time.monotonic()
    checkpoint = ensure_tiny_checkpoint(install, base_dir)
    server = start_server(install, base_dir=base_dir, record_state=False)
    _report(f"server at {server.url} ready in {time.monotonic() - started:.1f} s")
    try:
        yield RealComfyUI(server.url, server.port, base_dir, checkpoint, cache_dir)
    finally:
        terminate_server(server)
