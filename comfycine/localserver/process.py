"""Start, find and stop a local ComfyUI server process built by build.py.

A server started with ``record_state=True`` (``comfycine server up``) is written to
``CACHE/real-comfyui/state.json`` and runs in a session of its own, so it outlives the
command that started it; ``server_status`` and ``stop_server`` find it again there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..errors import ComfycineError
from ..pids import process_exists
from .build import ServerInstall, locate_install, log_tail, prepare_base_dir

HOST = "127.0.0.1"
POLL_SECONDS = 0.25
STOP_GRACE_SECONDS = 10.0
# Environment variables of the caller that would make the server's venv load foreign code.
DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")


@dataclass(frozen=True)
class RunningServer:
    """A ComfyUI server process on 127.0.0.1: where it answers and where it logs."""

    url: str
    port: int
    pid: int
    log_path: Path
    base_dir: Path
    # Only set in the process that started it; lets stop reap the child.
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)


def state_path(cache_dir: Path) -> Path:
    """The state file of the server started by ``comfycine server up``."""
    return locate_install(cache_dir).root / "state.json"


def write_state(path: Path, server: RunningServer) -> None:
    """Record ``server`` in the state file (atomically)."""
    data = {
        "url": server.url,
        "port": server.port,
        "pid": server.pid,
        "log_path": str(server.log_path),
        "base_dir": str(server.base_dir),
        "started_at": time.time(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def read_state(path: Path) -> RunningServer | None:
    """The server recorded in the state file, or None when absent or unreadable."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return RunningServer(
            url=str(data["url"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            log_path=Path(data["log_path"]),
            base_dir=Path(data["base_dir"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_state(path: Path) -> None:
    """Remove the state file if present."""
    path.unlink(missing_ok=True)


def pick_free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``port`` of 127.0.0.1 (it can be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server's own bind does: connections in TIME_WAIT do not make it busy.
        # (On Windows the option would allow binding over a live listener.)
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists and has not exited (reaps it if it is our child)."""
    if sys.platform != "win32":
        # A dead child stays a zombie (and "alive" to kill 0) until reaped.
        with contextlib.suppress(ChildProcessError, OSError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return False
    return process_exists(pid)
    return True


def _is_comfyui_process(server: RunningServer) -> bool:
    """Guard against a recycled pid: on Linux, check the command line names our port."""
    cmdline = Path(f"/proc/{server.pid}/cmdline")
    if not cmdline.parent.exists():
        return True
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"main.py" in args and str(server.port).encode() in args


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when GET ``url``/system_stats answers 200."""
    try:
        return httpx.get(f"{url}/system_stats", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def server_command(
    install: ServerInstall, port: int, base_dir: Path, preview_method: str | None
) -> list[str]:
    """The command line that starts ComfyUI on the CPU, on 127.0.0.1 only."""
    # The default database lives in the shared tree; one per base dir keeps servers apart.
    database = (base_dir / "user" / "comfyui.db").resolve().as_posix()
    cmd = [str(install.python), "main.py", "--cpu", "--listen", HOST, "--port", str(port)]
    cmd += ["--base-directory", str(base_dir), "--database-url", f"sqlite:///{database}"]
    cmd += ["--disable-auto-launch"]
    if preview_method:
        cmd += ["--preview-method", preview_method]
    return cmd


def server_environment(base: dict[str, str]) -> dict[str, str]:
    """The server's environment: ``base`` without foreign Python paths, hubs offline."""
    env = {k: v for k, v in base.items() if k not in DROPPED_ENV}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def start_server(
    install: ServerInstall,
    *,
    port: int | None = None,
    base_dir: Path | None = None,
    preview_method: str | None = "latent2rgb",
    timeout: float = 120,
    record_state: bool = True,
) -> RunningServer:
    """Start ComfyUI from ``install`` and wait until GET /system_stats answers.

    Listens on 127.0.0.1 only, on ``port`` (None: a free one), with ``base_dir`` (None:
    the install's) as --base-directory, output to ``base_dir/server.log``. The process
    runs in its own session so it outlives the caller. With ``record_state`` it is written
    to state.json (refused while a recorded server is still up). Raises ComfycineError
    (code ``server_start_failed``) with the log's tail if it exits or times out first.
    """
    state = install.root / "state.json"
    if record_state and (running := _recorded_server(state)) is not None:
        raise ComfycineError(
            f"A local ComfyUI is already running at {running.url} (pid {running.pid})",
            hint="Stop it with: comfycine server down",
            code="server_already_running",
            details={"url": running.url, "pid": running.pid},
        )
    base_dir = (base_dir or install.base_dir).resolve()
    prepare_base_dir(base_dir)
    if port is None:
        port = pick_free_port()
    elif not port_is_free(port):
        # Else another server there could answer the readiness check in ours' place.
        raise ComfycineError(
            f"Port {port} on {HOST} is already in use",
            hint="Pick another port, or omit it to use a free one.",
            code="server_start_failed",
            details={"port": port},
        )
    url = f"http://{HOST}:{port}"
    log_path = base_dir / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            server_command(install, port, base_dir, preview_method),
            cwd=install.comfy_dir,
            env=server_environment(dict(os.environ)),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            **_detached(),
        )
    server = RunningServer(url, port, process.pid, log_path, base_dir, process)
    _wait_ready(server, process, timeout)
    if record_state:
        write_state(state, server)
    return server


def _detached() -> dict[str, Any]:
    """Popen options that keep the server alive after the caller and its Ctrl-C."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        return {"creationflags": flags}
    return {"start_new_session": True}


def _wait_ready(server: RunningServer, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            problem = f"The local ComfyUI exited with code {code} while starting"
            break
        if answers(server.url):
            return
        if time.monotonic() > deadline:
            terminate_server(server)
            problem = f"The local ComfyUI did not answer within {timeout:.0f} s"
            break
        time.sleep(POLL_SECONDS)
    raise ComfycineError(
        problem,
        hint=f"See {server.log_path}",
        code="server_start_failed",
        details={"log": str(server.log_path), "log_tail": log_tail(server.log_path)},
    )


def terminate_server(server: RunningServer, *, grace: float = STOP_GRACE_SECONDS) -> bool:
    """Stop ``server``'s process: SIGTERM, then SIGKILL after ``grace`` seconds.

    Returns False when it was not running any more.
    """
    if not pid_alive(server.pid):
        return False
    _signal(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(server.pid):
        if time.monotonic() > deadline:
            _signal(server.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            deadline = time.monotonic() + grace
        time.sleep(0.1)
    if server.process is not None:
        server.process.wait()
    return True


def _signal(pid: int, signum: int) -> None:
    """Signal the server's whole process group where there is one (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform != "win32" and os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _recorded_server(state: Path) -> RunningServer | None:
    """The recorded server if its process is still ours and alive; stale state removed."""
    server = read_state(state)
    if server is None:
        clear_state(state)
        return None
    if not pid_alive(server.pid) or not _is_comfyui_process(server):
        clear_state(state)
        return None
    return server


def server_status(cache_dir: Path) -> RunningServer | None:
    """The server recorded by ``comfycine server up`` if it is alive and answering.

    A state file whose process is gone is removed. A live process that does not answer
    (still starting, or hung) gives None but keeps its state, so stop_server can end it.
    """
    server = _recorded_server(state_path(cache_dir))
    if server is None or not answers(server.url):
        return None
    return server


def stop_server(cache_dir: Path) -> bool:
    """Stop the server recorded in state.json and remove the state.

    Returns True when a running server was stopped, False when none was recorded or alive.
    """
    path = state_path(cache_dir)
    server = _recorded_server(path)
    if server is None:
        return False
    stopped = terminate_server(server)
    clear_state(path)
    return stopped
