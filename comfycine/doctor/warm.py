"""The ``warm`` rung: whether this Mac's calls start warm (comfycine.warm).

Never fails the ladder: without warm start every command still runs, only slower to
start. No network; it reads the socket folder and the server's lock.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from ..warm import ENV_WARM, IDLE_SECONDS, OFF, server_pid, socket_path, warm_setting
from .checks import OK, SKIP, WARN, Check


def check_warm(env: Mapping[str, str] | None = None) -> Check:
    """ok: on (with the server's pid, or started by the next call); skip: off; warn: no
    private folder for its socket."""
    env = os.environ if env is None else env
    if sys.platform == "win32":
        return Check("warm", SKIP, "not on Windows: every call starts from scratch")
    if warm_setting(env).strip().lower() in OFF:
        return Check("warm", SKIP, f"off ({ENV_WARM})", f"Unset {ENV_WARM} to start calls warm.")
    path = socket_path(env)
    if path is None:
        return Check(
            "warm",
            WARN,
            "no private folder for the warm server's socket: every call starts from scratch",
            "Make $TMPDIR (or /tmp/comfycine-UID) a folder only you can open (chmod 700).",
        )
    pid = server_pid(path)
    minutes = int(IDLE_SECONDS // 60)
    state = (
        f"on: server {pid} (exits after {minutes} idle minutes)"
        if pid is not None
        else "on: no server now (the next status, wait or generate starts one)"
    )
    return Check("warm", OK, state, details={"socket": path, "pid": pid})
