"""Warm start: a forking server that keeps comfycine imported, so each call starts warm.

An agent runs comfycine many times per request, each call a fresh process, and most of
a short call is Python importing comfycine, httpx, asyncio and websockets again. The
first such call starts ``comfycine.warm.server`` in the background; it imports all of
that once and waits on a Unix socket private to the user. Each later call
(``client.run_warm``) connects, hands over its stdin, stdout and stderr, its
arguments, environment and working directory, and the server forks: the child runs
the command in a fresh copy of the warm process, exactly as the call would have run
it, and sends back its exit code. Signals (Ctrl-C) are passed on to the child.

Anything unusual falls back to running in the calling process: no server yet (it is
started for next time), a server of other code (an upgrade or an edit: it exits), a
socket folder that is not private, Windows, ``COMFYCINE_WARM=off``. The server exits
after 10 idle minutes. Only commands that end by themselves go through it (see
:data:`WARM_COMMANDS`); ``watch``, ``server`` or ``batch`` always run in place.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_WARM = "COMFYCINE_WARM"
# envnames.ENV_DOTENV, spelled here: importing envnames costs more than a warm call
# (a test keeps the two equal).
ENV_DOTENV = "COMFYCINE_ENV_FILE"
OFF = {"0", "off", "false", "no"}
IDLE_SECONDS = 600.0
# Short commands an agent repeats; the rest run in the calling process.
WARM_COMMANDS = {
    "generate",
    "status",
    "wait",
    "cancel",
    "workflow",
    "take",
    "retake",
    "review",
    "version",
}
# macOS limits a socket path to 104 bytes, Linux to 108.
MAX_SOCKET_PATH = 100


def warm_wanted(argv: list[str], env: Mapping[str, str]) -> bool:
    """Whether this command line may run warm: a warm command, not switched off."""
    if sys.platform == "win32":
        return False
    if argv not in ([], ["--help"], ["-h"]) and argv[0] not in WARM_COMMANDS:
        return False
    return warm_setting(env).strip().lower() not in OFF


def warm_setting(env: Mapping[str, str]) -> str:
    """``COMFYCINE_WARM`` from the environment, else from the .env file (default on).

    The same .env as the settings read (settings.find_dotenv): COMFYCINE_ENV_FILE, else
    ./.env, else the user's config folder's; found without pathlib, parsed only when the
    name is in it.
    """
    if env.get(ENV_WARM):
        return env[ENV_WARM]
    dotenv = _dotenv_file(env)
    if dotenv is None:
        return ""
    try:
        with open(dotenv, "rb") as handle:
            if ENV_WARM.encode() not in handle.read():
                return ""  # the usual case: no need to parse the file
    except OSError:
        return ""
    from pathlib import Path

    from comfycine.envnames import dotenv_file_values
    from comfycine.errors import ComfycineError

    try:
        return dotenv_file_values(Path(dotenv)).get(ENV_WARM, "")
    except ComfycineError:
        return ""  # the command itself reports a broken .env


def _dotenv_file(env: Mapping[str, str]) -> str | None:
    if env.get(ENV_DOTENV):
        return env[ENV_DOTENV]
    config = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    for candidate in (".env", os.path.join(config, "comfycine", ".env")):
        if os.path.isfile(candidate):
            return candidate
    return None


def server_key() -> str:
    """What identifies a server that runs this very code: the interpreter and package."""
    import zlib

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    identity = "\0".join((sys.executable, package, sys.version))
    return f"{zlib.crc32(identity.encode()):08x}"


def socket_path(env: Mapping[str, str]) -> str | None:
    """The server's socket in a folder only this user can enter, or None if none is."""
    for base in (env.get("XDG_RUNTIME_DIR"), env.get("TMPDIR"), "/tmp"):
        if not base:
            continue
        folder = os.path.join(base, f"comfycine-{os.getuid()}")
        path = os.path.join(folder, f"warm-{server_key()}.sock")
        if len(path) <= MAX_SOCKET_PATH and _private_folder(folder):
            return path
    return None


def _private_folder(folder: str) -> bool:
    """``folder`` exists (made if need be), is ours, is no link, and nobody else enters it."""
    from _stat import S_IRWXG, S_IRWXO, S_ISDIR

    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return (
        S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (S_IRWXG | S_IRWXO)
    )


def server_pid(path: str) -> int | None:
    """The process id of the live server at ``path`` (it holds the lock), else None."""
    import fcntl

    try:
        fd = os.open(path + ".lock", os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.read(fd, 32).strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it
    finally:
        os.close(fd)


def stop_server(path: str, timeout: float = 5.0) -> bool:
    """Stop the server at ``path`` (children finish their commands); True once gone."""
    import signal
    import time

    pid = server_pid(path)
    if pid is None:
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_pid(path) is None:
            return True
        time.sleep(0.02)
    return False
