"""The calling side of warm start: hand the command to the server, or say to run it here.

:func:`run_warm` returns the exit code of a command the server ran, or None when the
caller must run the command itself — and None only while nothing of the command has
run yet: the server's child waits for our go before it starts, so a call that gave up
waiting runs the command in place and the child runs nothing.

This module is the whole start-up of a warm call, so it imports only built-in modules
(``_socket`` and ``_signal`` rather than ``socket`` and ``signal``, whose enums cost
more than the call) and speaks ``marshal``: the server runs this same Python.
"""

from __future__ import annotations

import _signal
import _socket
import _struct
import marshal
import os
import sys

from comfycine.warm import socket_path, warm_wanted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# The signals a person or a supervisor sends to stop a command; passed on to it.
FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)
# A server that does not answer within this runs nothing: the call runs in place.
ANSWER_TIMEOUT = 5.0
GO = b"G"


def run_warm(argv: list[str]) -> int | None:
    """Run ``comfycine ARGV`` in the warm server; None: run it in this process."""
    env = os.environ
    if not warm_wanted(argv, env):
        return None
    path = socket_path(env)
    if path is None:
        return None
    link = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    lines = Lines(link)
    try:
        link.settimeout(ANSWER_TIMEOUT)
        link.connect(path)
        child = _hand_over(link, lines, argv)
    except (OSError, ValueError, EOFError):
        child = None
    except KeyboardInterrupt:  # Ctrl-C before the go: nothing ran
        link.close()
        return _report_interrupted(argv)
    if child is None:
        link.close()
        start_server(path)  # for the next call
        return None
    try:
        return _outcome(lines, argv)
    finally:
        link.close()


class Lines:
    """Newline-ended messages read from a socket (several may come in one read)."""

    def __init__(self, link: Any) -> None:
        self.link = link
        self.buffer = b""

    def next(self) -> bytes:
        """The next message without its newline; empty when the server closed first."""
        while b"\n" not in self.buffer:
            chunk = self.link.recv(4096)
            if not chunk:
                return b""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def request(argv: list[str]) -> dict[str, Any]:
    """What the server's child needs to run the command as this process would."""
    import _locale

    streams = [sys.stdin, sys.stdout, sys.stderr]
    return {
        "argv": list(argv),
        "argv0": sys.argv[0],
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": _umask(),
        "streams": [
            (
                getattr(s, "encoding", None) or "utf-8",
                getattr(s, "errors", None) or "strict",
                bool(getattr(s, "line_buffering", False)),
            )
            for s in streams
        ],
        # The interpreter as started: a child forked from a server started otherwise
        # would import, decode, warn or optimise differently. sys.path[0] is the
        # script's folder (the server, started with -P, has none).
        "python": python_identity(_locale.getencoding(), sys.path[1:], os.environ),
    }


# sys.flags that change behaviour (safe_path is -P, which only the server uses).
FLAGS = (
    "debug", "inspect", "interactive", "optimize", "dont_write_bytecode", "no_user_site",
    "no_site", "ignore_environment", "verbose", "bytes_warning", "hash_randomization",
    "isolated", "dev_mode", "utf8_mode", "warn_default_encoding",
)  # fmt: skip


# Variables the server's libraries read once, when imported (typer.core, websockets):
# a call that sets them otherwise than the server had them runs in place.
IMPORT_TIME_VARIABLES = ("TYPER_USE_RICH",)
IMPORT_TIME_PREFIXES = ("WEBSOCKETS_",)


def python_identity(encoding: str, paths: list[str], env: Mapping[str, str]) -> tuple[Any, ...]:
    """The interpreter settings a call and the server must share to behave the same."""
    read_at_import = sorted(
        f"{k}={v}"
        for k, v in env.items()
        if k in IMPORT_TIME_VARIABLES or k.startswith(IMPORT_TIME_PREFIXES)
    )
    return (
        encoding,
        sys.getfilesystemencoding(),
        tuple(getattr(sys.flags, name, None) for name in FLAGS),
        tuple(sorted(sys.warnoptions)),
        tuple(sorted(f"{k}={v}" for k, v in sys._xoptions.items())),
        tuple(paths),
        tuple(read_at_import),
    )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _hand_over(link: Any, lines: Lines, argv: list[str]) -> int | None:
    """Send the streams and the request; the child's pid, or None if the server declined.

    The child runs the command only after our go: a call that gave up waiting runs it
    in place, and the child, finding the link closed, runs nothing.
    """
    fds = _struct.pack("3i", 0, 1, 2)  # SCM_RIGHTS carries C ints
    link.sendmsg([b"C"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    payload = marshal.dumps(request(argv))
    link.sendall(len(payload).to_bytes(4, "big") + payload)
    answer = lines.next()
    if not answer.startswith(b"P"):
        return None  # gone, or other code (it said nothing): run here
    pid = int(answer[1:])
    _pass_signals_on(pid)  # from now on a Ctrl-C is the command's
    link.settimeout(None)  # the command takes as long as it takes
    link.sendall(GO)
    return pid


_RECEIVED: list[int] = []


def _pass_signals_on(child: int) -> None:
    """Send the signals this process receives on to the child running the command."""

    def pass_on(signum: int, _frame: object) -> None:
        _RECEIVED.append(signum)
        try:  # noqa: SIM105 (contextlib is not imported on this path: start-up)
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        _signal.signal(signum, pass_on)


def _outcome(lines: Lines, argv: list[str]) -> int:
    """Wait for the child's exit code (signals are passed on to it meanwhile)."""
    try:
        answer = lines.next()
    except OSError:
        answer = b""  # the link broke: as if the child ended without a word
    if answer.startswith(b"E"):
        return int(answer[1:])
    # The child ended without a word: killed (by our forwarded signal, or otherwise).
    if _RECEIVED:
        return 128 + _RECEIVED[-1]
    return _report_lost_child(argv)


def _report_lost_child(argv: list[str]) -> int:
    """Say, as any command's error (the JSON envelope with --json), that its process died."""
    from comfycine.errors import ComfycineError
    from comfycine.warm import ENV_WARM

    return _report(
        argv,
        ComfycineError(
            "The command's process ended without an exit code (killed by the system?).",
            hint=f"Run it again with {ENV_WARM}=off to run it in place; "
            "a job it submitted shows in: comfycine status",
            code="warm_process_lost",
        ),
    )


def _report_interrupted(argv: list[str]) -> int:
    """Ctrl-C while handing over: the command's usual interruption (exit 130)."""
    from comfycine.errors import Interrupted

    return _report(argv, Interrupted("Interrupted.", hint=""))


def _report(argv: list[str], error: Any) -> int:
    """``error`` as the command itself would print it; its exit code."""
    from comfycine.cli.main import command_name
    from comfycine.cli.render import Output

    output = Output(command_name(argv), as_json="--json" in argv or "--events" in argv)
    output.error(error)
    return int(error.exit_code)


def start_server(path: str) -> None:
    """Start the warm server in the background, detached; never fails the command."""
    import subprocess

    try:  # noqa: SIM105 (contextlib is not imported on this path: start-up)
        subprocess.Popen(
            # -P: not the caller's folder on sys.path (a stray comfycine/ or json.py there)
            [sys.executable, "-P", "-m", "comfycine.warm.server", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        pass
