"""Headless Chromium driven over ``--remote-debugging-pipe``, for page tests.

The DevTools protocol runs over two pipes Chromium finds at fds 3 (commands in) and 4
(answers and events out), one JSON message per NUL-terminated chunk: no port, no
websocket library, and every read waits on ``select`` with the deadline given at start,
so a test fails instead of hanging. Console errors, uncaught exceptions and browser log
errors (failed loads, refused scripts) are collected from the events as they pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

# Without these, Chromium dials Google's services at start; this machine refuses them,
# and each refusal is noise in the log (none of it reaches the page's console).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-pipe",
)


class ChromiumError(Exception):
    """Chromium did not answer in time, exited, or reported a protocol error."""


class Chromium:
    """One headless Chromium for the length of a ``with`` block; at most ``timeout`` s."""

    def __init__(self, executable: str, profile: Path, *, timeout: float) -> None:
        self._executable = executable
        self._profile = profile
        self._deadline = time.monotonic() + timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.log = profile / "chromium.log"

    def __enter__(self) -> Chromium:
        # High fds, so the child's dup2 onto 3 and 4 never lands on one of them.
        cmd_read, self._cmd_write = (_high(fd) for fd in os.pipe())
        self._out_read, out_write = (_high(fd) for fd in os.pipe())

        def wire() -> None:
            os.dup2(cmd_read, 3)
            os.dup2(out_write, 4)

        self._profile.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [self._executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=wire,
                start_new_session=True,
            )
        os.close(cmd_read)
        os.close(out_write)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            os.write(self._cmd_write, b'{"id": 0, "method": "Browser.close"}\0')
            self._proc.wait(timeout=5)
        # The browser's helpers (zygote, renderer) share its process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=5)
        os.close(self._cmd_write)
        os.close(self._out_read)

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Send one command (``session=`` for a page) and return its ``result``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if kw.get("session"):
            message["sessionId"] = kw["session"]
        os.write(self._cmd_write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        """The first event named ``method`` not yet taken, read until it comes."""
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(index)
            self._read()

    def open_page(self, url: str) -> str:
        """Load ``url`` in a new tab until its load event; the tab's session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        session = str(attached["sessionId"])
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired")
        return session

    def evaluate(self, session: str, expression: str, *, user_gesture: bool = False) -> Any:
        """The JSON value of ``expression`` in the page, awaited if it is a promise.

        ``user_gesture`` runs it as if the user had clicked, which ``execCommand("copy")``
        needs.
        """
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        result = self.call(
            "Runtime.evaluate", {**params, "userGesture": user_gesture}, session=session
        )
        if "exceptionDetails" in result:
            raise ChromiumError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _read(self) -> dict[str, Any]:
        """The next message, events recorded (errors noted) on the way."""
        while b"\0" not in self._buffer:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no answer in time; log: {self.log}")
            ready, _, _ = select.select([self._out_read], [], [], left)
            if ready:
                chunk = os.read(self._out_read, 1 << 16)
                if not chunk:
                    raise ChromiumError(f"chromium exited; log: {self.log}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self._events.append(message)
            self._note_error(message["method"], message.get("params", {}))
        return message

    def _note_error(self, method: str, params: dict[str, Any]) -> None:
        """Keep a line for an event that would show red in DevTools' console."""
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            values = [a.get("value", a.get("description")) for a in params.get("args", [])]
            self.errors.append(f"console.{params['type']}: {values}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.errors.append(
                f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}"
            )


def _high(fd: int) -> int:
    """``fd`` moved to a number of 10 or more (close-on-exec), the original closed."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved
