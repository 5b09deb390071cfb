"""Starting, finding and stopping a local server, with a stand-in main.py instead of ComfyUI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from comfycine.errors import ComfycineError
from comfycine.localserver.build import ServerInstall, locate_install
from comfycine.localserver.process import (
    RunningServer,
    pid_alive,
    read_state,
    server_command,
    server_environment,
    server_status,
    start_server,
    state_path,
    stop_server,
    terminate_server,
    write_state,
)

# Answers GET /system_stats on --port like ComfyUI, with what it was started with.
FAKE_MAIN = """\
import http.server, json, os, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"argv": sys.argv, "offline": os.environ.get("HF_HUB_OFFLINE")})
        self.send_response(200 if self.path == "/system_stats" else 404)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""
CRASHING_MAIN = "import sys\nprint('ModuleNotFoundError: no torch here')\nsys.exit(3)\n"


def fake_install(tmp_path: Path, main: str = FAKE_MAIN) -> ServerInstall:
    """An install whose 'ComfyUI' is ``main`` run by the test interpreter."""
    comfy_dir = tmp_path / "fake-comfyui"
    comfy_dir.mkdir()
    (comfy_dir / "main.py").write_text(main)
    root = locate_install(tmp_path).root
    return ServerInstall(root, comfy_dir, Path(sys.executable), root / "base")


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=60)
    return process.pid


def test_recorded_server_is_found_and_stopped(tmp_path: Path) -> None:
    """A recorded server shows in server_status until stop_server ends it and its state."""
    server = start_server(fake_install(tmp_path), timeout=30)
    try:
        assert read_state(state_path(tmp_path)) == server
        found = server_status(tmp_path)
        assert found is not None and found.url == server.url
        assert stop_server(tmp_path)
        assert not pid_alive(server.pid)
        assert not state_path(tmp_path).exists()
        assert server_status(tmp_path) is None
        assert not stop_server(tmp_path)
    finally:
        terminate_server(server)


def test_second_recorded_start_is_refused(tmp_path: Path) -> None:
    """While a recorded server runs, starting another recorded one fails with a hint."""
    install = fake_install(tmp_path)
    server = start_server(install, timeout=30)
    try:
        with pytest.raises(ComfycineError) as caught:
            start_server(install, timeout=30)
        assert caught.value.code == "server_already_running"
        assert "server down" in caught.value.hint
    finally:
        terminate_server(server)


def test_unrecorded_server_gets_its_own_base_dir(tmp_path: Path) -> None:
    """record_state=False writes no state; the server runs offline on the given base dir."""
    base = tmp_path / "session-base"
    server = start_server(fake_install(tmp_path), base_dir=base, record_state=False, timeout=30)
    try:
        stats = httpx.get(f"{server.url}/system_stats").json()
        assert stats["argv"][stats["argv"].index("--base-directory") + 1] == str(base)
        assert stats["offline"] == "1"
        assert (base / "custom_nodes").is_dir()
        assert not state_path(tmp_path).exists()
    finally:
        assert terminate_server(server)
    assert not terminate_server(server)


def test_start_failure_reports_the_log_tail(tmp_path: Path) -> None:
    """A server that exits while starting raises server_start_failed with its last lines."""
    with pytest.raises(ComfycineError) as caught:
        start_server(fake_install(tmp_path, CRASHING_MAIN), timeout=30)
    assert caught.value.code == "server_start_failed"
    assert "no torch here" in caught.value.details["log_tail"]
    assert not state_path(tmp_path).exists()


def recorded(tmp_path: Path, pid: int) -> Path:
    """Write a state file for a server with ``pid`` on port 1; its path."""
    path = state_path(tmp_path)
    write_state(path, RunningServer("http://127.0.0.1:1", 1, pid, tmp_path / "l", tmp_path))
    return path


def test_stale_state_is_cleaned(tmp_path: Path) -> None:
    """A state file whose process is gone is removed by status and stop alike."""
    path = recorded(tmp_path, dead_pid())
    assert server_status(tmp_path) is None
    assert not path.exists()
    recorded(tmp_path, dead_pid())
    assert not stop_server(tmp_path)
    assert not path.exists()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_recycled_pid_is_not_signalled(tmp_path: Path) -> None:
    """A recorded pid now used by another program is treated as stale, not killed."""
    path = recorded(tmp_path, os.getpid())
    assert not stop_server(tmp_path)
    assert not path.exists()


def test_unreadable_state_is_none(tmp_path: Path) -> None:
    """A broken state file reads as no server."""
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"pid": "x"}')
    assert read_state(path) is None
    assert server_status(tmp_path) is None


def test_server_command_listens_on_loopback_on_the_cpu(tmp_path: Path) -> None:
    """The command is CPU-only, loopback-only, with a database of the base dir's own."""
    install = fake_install(tmp_path)
    cmd = server_command(install, 8199, tmp_path, None)
    assert cmd[:2] == [str(install.python), "main.py"]
    assert cmd[cmd.index("--listen") + 1] == "127.0.0.1"
    assert "--cpu" in cmd and "--preview-method" not in cmd
    assert cmd[cmd.index("--database-url") + 1].endswith("/user/comfyui.db")
    with_preview = server_command(install, 8199, tmp_path, "latent2rgb")
    assert with_preview[-2:] == ["--preview-method", "latent2rgb"]


def test_server_environment_is_offline_and_isolated() -> None:
    """The caller's Python paths are dropped and the model hubs are offline."""
    env = server_environment({"PYTHONPATH": "/x", "VIRTUAL_ENV": "/v", "HOME": "/h"})
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "PYTHONPATH" not in env and "VIRTUAL_ENV" not in env
    assert env["HOME"] == "/h"


def test_busy_port_is_refused_before_starting(tmp_path: Path) -> None:
    """A port something already listens on is refused, not mistaken for the new server."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ComfycineError) as caught:
            start_server(fake_install(tmp_path), port=port, record_state=False, timeout=30)
    assert caught.value.code == "server_start_failed"
    assert caught.value.details == {"port": port}
