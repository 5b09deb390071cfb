"""The warm server: comfycine imported once, a forked child per command.

``python -P -m comfycine.warm.server SOCKET [--idle SECONDS]``, started by the first
warm command (``client.start_server``). It imports what the warm commands load, then
accepts calls on ``SOCKET`` until it has been idle for ``--idle`` seconds. It runs no
command itself and starts no thread, so each forked child begins from the same clean
state a fresh process would have, only with its imports done. Before each fork it
checks that the files it imported are unchanged (an upgrade, an edit); if not, it
declines the call (which then runs in place) and exits.
"""

from __future__ import annotations

import contextlib
import io
import marshal
import os
import signal
import socket
import sys
import time
from importlib import import_module
from typing import Any

from comfycine.warm import IDLE_SECONDS
from comfycine.warm.client import GO

# How long a child waits for the caller's go once it said its pid (the caller sends it
# at once; a caller that stopped meanwhile must not keep a child forever).
GO_TIMEOUT = 60.0

# What the warm commands load; a module missing here is simply imported by the child.
PRELOAD = (
    "comfycine.cli.main",
    "comfycine.cli.fastpath",
    "comfycine.cli.bodies.jobs",
    "comfycine.cli.bodies.workflow",
    "comfycine.cli.progressview",
    "comfycine.settings",
    "comfycine.ledger",
    "comfycine.journal",
    "comfycine.templates",
    "comfycine.templates.choices",
    "comfycine.generation",
    "comfycine.jobcontrol",
    "comfycine.sweepcontrol",
    "comfycine.jobs",
    "comfycine.collecting",
    "comfycine.preflight",
    "comfycine.graph",
    "comfycine.graph.validate",
    "comfycine.transport",
    "comfycine.transport.local",
    "comfycine.transport.events",
    "comfycine.transport.eventstream",
    "comfycine.transport.updates",
    "comfycine.transport.downloads",
    "comfycine.notify.hooks",
    "comfycine.takes",
    "comfycine.takes.stamp",
    "comfycine.diagnose",
    "httpx",
    "httpcore",
    "anyio",
    "anyio._backends._asyncio",
    "asyncio",
    "websockets.asyncio.client",
    "PIL.Image",
    "PIL.PngImagePlugin",
    "rich.console",
    "rich.table",
    "typer",
    "comfycine.cli.app",
    "comfycine.cli.jobs",
    "comfycine.cli.workflow",
    "comfycine.cli.takes",
)


def preload() -> None:
    """Import what the warm commands need; what fails is left to the child to import."""
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            import_module(name)


def loaded_files() -> dict[str, tuple[int, int]]:
    """The files whose change means a server of old code: comfycine's, and packages'.

    Every comfycine module, the ``__init__`` of every other package (an upgrade
    rewrites it), and the interpreter itself.
    """
    files = [sys.executable]
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        if name == "comfycine" or name.startswith("comfycine.") or path.endswith("__init__.py"):
            files.append(path)
    found: dict[str, tuple[int, int]] = {}
    for path in files:
        with contextlib.suppress(OSError):
            info = os.stat(path)
            found[path] = (info.st_mtime_ns, info.st_size)
    return found


def unchanged(files: dict[str, tuple[int, int]]) -> bool:
    """Whether every recorded file is still as it was imported."""
    for path, (mtime, size) in files.items():
        try:
            info = os.stat(path)
        except OSError:
            return False
        if (info.st_mtime_ns, info.st_size) != (mtime, size):
            return False
    return True


def listen(path: str) -> socket.socket | None:
    """The listening socket at ``path`` (the lock is held: a file there is a dead one's)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)  # the socket itself: the user's only
    try:
        listener.bind(path)
    except OSError:
        listener.close()
        return None
    finally:
        os.umask(old_mask)
    listener.listen(64)
    return listener


def hold_lock(path: str) -> int | None:
    """A lock only one server per socket holds while it lives; None if another has it."""
    import fcntl

    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, b"%d" % os.getpid())  # for server_pid / stop_server
    return fd


def serve(path: str, idle: float = IDLE_SECONDS) -> None:
    """Accept calls until idle for ``idle`` seconds or the code changes; then go."""
    import _locale

    from comfycine.warm.client import python_identity

    identity = python_identity(_locale.getencoding(), list(sys.path), os.environ)
    lock = hold_lock(path)
    if lock is None:
        return  # a server is there, or starting
    preload()
    files = loaded_files()
    listener = listen(path)
    if listener is None:
        return
    inode = os.stat(path).st_ino
    # Children are reaped by the system; each child sets this back for its own use.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop_server: clean up
    listener.settimeout(idle)
    try:
        while True:
            try:
                link, _ = listener.accept()
            except TimeoutError:
                return
            if not unchanged(files):
                link.close()  # the call runs in place
                return
            if os.fork() == 0:
                listener.close()
                os.close(lock)  # the server's alone: a new server may start after it
                child(link, identity)  # never returns
            link.close()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:  # not a newer server's socket
                os.unlink(path)


def child(link: socket.socket, identity: tuple[Any, ...]) -> None:
    """Run one command as the calling process would have, then report its exit code."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        link.settimeout(10.0)
        _, fds, _, _ = socket.recv_fds(link, 1, 3)
        payload = _read_request(link)
        if len(fds) != 3 or payload.get("python") != identity:
            os._exit(0)  # a caller started otherwise: it runs in place
        _become_caller(payload, fds)
        link.sendall(b"P%d\n" % os.getpid())
        link.settimeout(GO_TIMEOUT)
        try:
            go = link.recv(1)
        except OSError:
            go = b""
        if go != GO:
            os._exit(0)  # the caller gave up (it runs the command in place) or hangs
        link.settimeout(None)
        _interrupt_when_caller_goes(link)
        from comfycine.cli.main import run

        code = run(list(payload["argv"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    finally:
        # The caller closing the link after reading the code must not interrupt this.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _exit_as_a_process_does()
        with contextlib.suppress(Exception):
            link.sendall(b"E%d\n" % code)
        os._exit(code)


def _exit_as_a_process_does() -> None:
    """Flush the streams and run the exit handlers (temporary folders, finalizers).

    The child ends with ``os._exit``: a normal exit would unwind into the server's own
    clean-up and remove its socket. So what an interpreter does at exit is done here,
    before the caller is told the command ended.
    """
    import atexit

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _read_request(link: socket.socket) -> dict[str, Any]:
    size = int.from_bytes(_read_exactly(link, 4), "big")
    request: dict[str, Any] = marshal.loads(_read_exactly(link, size))
    return request


def _read_exactly(link: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = link.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the caller closed the link")
        data += chunk
    return bytes(data)


def _become_caller(request: dict[str, Any], fds: list[int]) -> None:
    """Take the caller's streams, folder, umask, environment and arguments."""
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    sys.argv = [str(request["argv0"]), *request["argv"]]
    specs = request["streams"]
    # The __std*__ originals too: a library that falls back on them gets the caller's.
    sys.stdin = sys.__stdin__ = _stream(0, "r", specs[0])  # type: ignore[misc]
    sys.stdout = sys.__stdout__ = _stream(1, "w", specs[1])  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = _stream(2, "w", specs[2])  # type: ignore[misc]


def _stream(fd: int, mode: str, spec: tuple[str, str, bool]) -> io.TextIOWrapper:
    """A text stream on ``fd`` encoded as the caller's was (encoding, errors, lines)."""
    encoding, errors, line_buffering = spec
    raw = io.FileIO(fd, mode, closefd=False)
    buffered: Any = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffered, encoding=encoding, errors=errors, line_buffering=bool(line_buffering)
    )


def _interrupt_when_caller_goes(link: socket.socket) -> None:
    """Interrupt the command if the calling process goes away (killed, or its terminal).

    Like a fresh process whose terminal closed: the command ends as on Ctrl-C.
    """
    import threading

    def watch() -> None:
        with contextlib.suppress(OSError):
            while link.recv(1):
                pass
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="caller-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """``python -m comfycine.warm.server SOCKET [--idle SECONDS]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    idle = IDLE_SECONDS
    if "--idle" in args:
        at = args.index("--idle")
        idle = float(args[at + 1])
        del args[at : at + 2]
    serve(args[0], idle)


if __name__ == "__main__":
    main()
