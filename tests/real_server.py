"""The real CPU ComfyUI for tests marked ``real``: the session fixture ``real_comfyui``.

The install is built once per machine (a few minutes the first time) into the cache dir
named by COMFYCINE_TEST_CACHE, else the user's default cache dir. Each test session gets
its own server on a free port with a fresh base dir, so tests never share outputs with a
server started by ``comfycine server up``. Deselect with ``-m "not real"``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from comfycine.localserver import (
    ServerInstall,
    build_server,
    ensure_tiny_checkpoint,
    start_server,
    terminate_server,
)
from comfycine.settings import default_cache_dir

# Test-only: where the test suite builds the real ComfyUI (not a setting of comfycine).
ENV_TEST_CACHE = "COMFYCINE_TEST_CACHE"
# The first build downloads about 6 GB: far beyond one test's limit (pyproject.toml).
BUILD_LIMIT = 3600.0
_PREBUILT: ServerInstall | Exception | None = None


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


@contextlib.contextmanager
def _time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise TimeoutError in the main thread after ``seconds`` (SIGALRM, restored after)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"{what} took more than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _needs_real(item: pytest.Item) -> bool:
    return "real_comfyui" in getattr(item, "fixturenames", ())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the real ComfyUI before the first test, when a selected test needs it.

    The first build takes minutes: inside the session fixture it would count against the
    first real test's per-test time limit (pytest-timeout counts fixture setup). Here it
    has its own, larger limit. A failure is kept for the fixture to raise, so only the
    tests that need the real server error.
    """
    global _PREBUILT
    if session.config.option.collectonly or not any(map(_needs_real, session.items)):
        return
    try:
        with _time_limit(BUILD_LIMIT, "building the real ComfyUI"):
            install = build_server(real_cache_dir(), log=_report)
            with tempfile.TemporaryDirectory(prefix="real-comfyui-prebuild-") as scratch:
                ensure_tiny_checkpoint(install, Path(scratch))  # generated once per machine
    except Exception as exc:
        _PREBUILT = exc
    else:
        _PREBUILT = install


@pytest.fixture(scope="session")
def real_comfyui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealComfyUI]:
    """Build (once per machine) and start a real ComfyUI with the tiny checkpoint."""
    if isinstance(_PREBUILT, Exception):
        raise _PREBUILT
    cache_dir = real_cache_dir()
    install = _PREBUILT or build_server(cache_dir, log=_report)
    base_dir = tmp_path_factory.mktemp("real-comfyui-base")
    started = time.monotonic()
    checkpoint = ensure_tiny_checkpoint(install, base_dir)
    server = start_server(install, base_dir=base_dir, record_state=False)
    _report(f"server at {server.url} ready in {time.monotonic() - started:.1f} s")
    try:
        yield RealComfyUI(server.url, server.port, base_dir, checkpoint, cache_dir)
    finally:
        terminate_server(server)
