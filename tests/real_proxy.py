"""The real ``comfy-api-proxy`` (PyPI) as a Comfy API v2 server in front of the real ComfyUI.

Session fixtures for tests marked ``real``: ``real_v2_proxy`` (no auth) and
``real_v2_proxy_token`` (``--token``, exposed as ``.token``). Each runs
``python -m comfy_api_proxy.cli run`` (the same ``main`` as the ``comfy-api-proxy`` script)
on a free loopback port with its own ``--state-dir``, in a process group of its own that
teardown kills. Tests are skipped when the package (the ``test`` extra) is missing.
Helpers for the v2 wire: :func:`wait_for_status` polls a job, :func:`read_events` reads an
SSE stream to its end. All waits are bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .graphs import blur_chain, random_colour, txt2img
from .ports import closed_port
from .real_server import RealComfyUI

START_LIMIT = 30.0  # the proxy answers /api/v2/health in about a second here
STOP_GRACE = 5.0
POLL_SECONDS = 0.2
# "expired" is left out on purpose: see wait_for_status.
SETTLED = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class RealV2Proxy:
    """A running comfy-api-proxy: its base URL, the ComfyUI behind it, its optional token."""

    url: str
    upstream: str
    state_dir: Path
    log_path: Path
    token: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def api(self) -> str:
        """The v2 root, ``<url>/api/v2``."""
        return f"{self.url}/api/v2"

    def headers(self) -> dict[str, str]:
        """The Authorization header the proxy expects (empty without a token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An httpx client on the proxy's origin, with the token when there is one."""
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=timeout)


def proxy_command(upstream: str, port: int, state_dir: Path, *extra: str) -> list[str]:
    """The command line that runs comfy-api-proxy in the foreground on 127.0.0.1:``port``."""
    cmd = [sys.executable, "-m", "comfy_api_proxy.cli", "run", "--comfyui", upstream]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--state-dir", str(state_dir)]
    return [*cmd, *extra]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the proxy's process group, SIGKILL it after a grace period; never hangs."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_GRACE)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v2/health", timeout=2.0).status_code == 200:
                return
        time.sleep(POLL_SECONDS)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    raise RuntimeError(f"comfy-api-proxy did not become healthy at {url}:\n{tail}")


@contextlib.contextmanager
def running_proxy(
    upstream: str, workdir: Path, *, token: str | None = None, base_dir: Path | None = None
) -> Iterator[RealV2Proxy]:
    """Run comfy-api-proxy in front of ``upstream`` until the block ends (then kill it)."""
    pytest.importorskip("comfy_api_proxy", reason="comfy-api-proxy is in the test extra")
    state_dir = workdir / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    extra: list[str] = []
    if token:
        extra += ["--token", token]
    if base_dir is not None:
        extra += ["--comfyui-base-dir", str(base_dir)]
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "proxy.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            proxy_command(upstream, port, state_dir, *extra),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one on teardown
        )
    try:
        _wait_healthy(url, process, log_path)
        yield RealV2Proxy(url, upstream, state_dir, log_path, token, process)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def real_v2_proxy(
    real_comfyui: RealComfyUI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealV2Proxy]:
    """comfy-api-proxy without auth in front of the session's real ComfyUI."""
    workdir = tmp_path_factory.mktemp("real-v2-proxy")
    with running_proxy(real_comfyui.url, workdir, base_dir=real_comfyui.base_dir) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def real_v2_proxy_token(
    real_comfyui: RealComfyUI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealV2Proxy]:
    """comfy-api-proxy with ``--token <random>`` in front of the session's real ComfyUI."""
    workdir = tmp_path_factory.mktemp("real-v2-proxy-token")
    token = secrets.token_urlsafe(16)
    with running_proxy(
        real_comfyui.url, workdir, token=token, base_dir=real_comfyui.base_dir
    ) as proxy:
        yield proxy


def wait_for_status(
    client: httpx.Client, job_id: str, wanted: frozenset[str] = SETTLED, limit: float = 60.0
) -> dict[str, Any]:
    """Poll ``GET /api/v2/jobs/{id}`` until its status is in ``wanted``; the Job body.

    ``expired`` is not in the default set: proxy 0.1.6 reports it for one poll when a job
    finishes between its /history and /queue look-ups (docs/comfy-api-proxy.md), so it
    is polled through like any other status unless asked for. Raises TimeoutError past
    ``limit`` seconds.
    """
    deadline = time.monotonic() + limit
    while True:
        answer = client.get(f"/api/v2/jobs/{job_id}")
        answer.raise_for_status()
        job: dict[str, Any] = answer.json()
        if job["status"] in wanted:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {limit:.0f} s")
        time.sleep(POLL_SECONDS)


def read_events(
    proxy: RealV2Proxy, job_id: str, limit: float = 60.0
) -> list[tuple[str, dict[str, Any]]]:
    """Read ``GET /api/v2/jobs/{id}/events`` until the server ends it: (event, data) pairs.

    Comment lines (keepalives) are dropped. Raises TimeoutError past ``limit`` seconds.
    """
    events: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + limit
    name = "message"
    url = f"{proxy.api}/jobs/{job_id}/events"
    timeout = httpx.Timeout(10.0, read=limit)
    with httpx.stream("GET", url, headers=proxy.headers(), timeout=timeout) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise TimeoutError(f"event stream of {job_id} still open after {limit:.0f} s")
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.removeprefix("data:"))))
    return events


# --- graphs that run on the CPU ComfyUI (fresh inputs each call, so ComfyUI never caches) ---


def image_graph(prefix: str = "v2", size: int = 32) -> dict[str, Any]:
    """EmptyImage → SaveImage: one PNG in well under a second."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": size, "height": size, "batch_size": 1, "color": random_colour()},
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def slow_graph(blurs: int = 30) -> dict[str, Any]:
    """A chain of ImageBlur on a 768×768 batch of 2: seconds of CPU, two PNGs at the end."""
    return blur_chain(blurs, prefix="v2slow")


def failing_graph() -> dict[str, Any]:
    """A blur wider than a 4×4 image: valid for /prompt, fails at run time in node 2."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 4, "height": 4, "batch_size": 1, "color": random_colour()},
        },
        "2": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 1.0},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "v2f"}},
    }


def sampling_graph(checkpoint: str, steps: int = 8) -> dict[str, Any]:
    """txt2img on the tiny checkpoint, 64×64: per-step progress and latent previews."""
    return txt2img(checkpoint, steps=steps, seed=random_colour(), prefix="v2sd")


def solid_png(rgb: int, size: int = 8) -> bytes:
    """A ``size``×``size`` PNG of one colour (``0xRRGGBB``): an input for LoadImage."""
    row = b"\x00" + rgb.to_bytes(3, "big") * size

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * size)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
