"""Record exchanges with a real ComfyUI-Manager as JSON files, machine paths and ports scrubbed.

Each exchange is one file ``NN_name.json``::

    {"request": {"method", "path", "query", "content_type", "body"},
     "response": {"status", "content_type", "body"} | null,
     "error": "…"}            # only when no response came (the reboot route)

Bodies are parsed JSON when the answer says so, else text. Very large answers (the node
map, the model list) keep a few entries and say how many there were. WebSocket frames a
client saw go to ``ws_messages.json``. Used by tests/record_manager_captures.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from .real_manager import RealManager

# The ports the captures show, whatever the recording machine picked.
COMFY_PORT = 8188
FILES_PORT = 8190
Trim = Callable[[Any], Any]


class Scrubber:
    """Replace this machine's paths and ports in strings (longest first)."""

    def __init__(self, manager: RealManager) -> None:
        venv = manager.install.python.parent.parent
        pairs = {
            str(manager.install.comfy_dir / ".." / "venv"): "/VENV",
            str(venv): "/VENV",
            str(manager.install.comfy_dir): "/COMFYUI",
            str(manager.install.root): "/CACHE/real-comfyui",
            str(manager.base_dir): "/BASE",
            str(manager.files.root): "/SERVED",
            str(manager.files.root.parent): "/RECORDING",
            f"127.0.0.1:{manager.port}": f"127.0.0.1:{COMFY_PORT}",
            f"127.0.0.1:{manager.files.port}": f"127.0.0.1:{FILES_PORT}",
            str(Path.home()): "~",
        }
        self.pairs = sorted(pairs.items(), key=lambda item: -len(item[0]))
        self.comfy_port = manager.port
        self.port = re.compile(rf"'--port', '{manager.port}'")

    def text(self, value: str) -> str:
        """``value`` with paths and ports replaced."""
        for old, new in self.pairs:
            value = value.replace(old, new)
        return self.port.sub(f"'--port', '{COMFY_PORT}'", value)

    def data(self, value: Any, key: str = "") -> Any:
        """A JSON value with every string (keys included) and ``port`` number scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v, str(k)) for k, v in value.items()}
        if key == "port" and value == self.comfy_port:
            return COMFY_PORT
        return value


def keep_keys(keys: list[str], samples: int = 2) -> Trim:
    """Trim a big JSON object to ``keys`` (those present) plus the first ``samples`` others."""

    def trim(body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        others = [k for k in body if k not in keys][:samples]
        kept = {k: body[k] for k in [*others, *keys] if k in body}
        return {"_trimmed": f"{len(kept)} of {len(body)} entries kept", **kept}

    return trim


def keep_list_items(field: str, wanted: Callable[[Any], bool], samples: int = 2) -> Trim:
    """Trim ``body[field]`` (a list) to the wanted items plus the first ``samples`` others."""

    def trim(body: Any) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get(field), list):
            return body
        items = body[field]
        kept = [x for x in items if wanted(x)]
        others = [x for x in items if not wanted(x)][:samples]
        note = f"{len(kept) + len(others)} of {len(items)} {field} kept"
        return {**body, "_trimmed": note, field: others + kept}

    return trim


class Recorder:
    """Send requests to the Manager server and write each exchange into ``folder``."""

    def __init__(self, manager: RealManager, folder: Path, scrub: Scrubber) -> None:
        self.manager = manager
        self.folder = folder
        self.scrub = scrub
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        text_body: str | None = None,
        content_type: str | None = None,
        trim: Trim | None = None,
    ) -> httpx.Response | None:
        """Send one request; record it with its answer (or the transport error)."""
        headers = {"Content-Type": content_type} if content_type else {}
        content = json.dumps(json_body) if json_body is not None else text_body
        if json_body is not None and not content_type:
            headers["Content-Type"] = "application/json"
        record: dict[str, Any] = {
            "request": {
                "method": method,
                "path": path,
                "query": params or {},
                "content_type": headers.get("Content-Type"),
                "body": json_body if json_body is not None else text_body,
            }
        }
        answer: httpx.Response | None = None
        try:
            answer = httpx.request(
                method,
                f"{self.manager.url}{path}",
                params=params,
                content=content,
                headers=headers,
                timeout=60.0,
            )
        except httpx.HTTPError as exc:
            record["response"] = None
            record["error"] = f"{type(exc).__name__}: {exc}"
        else:
            record["response"] = self._response(answer, trim)
        self.write(name, record)
        return answer

    def _response(self, answer: httpx.Response, trim: Trim | None) -> dict[str, Any]:
        content_type = answer.headers.get("content-type", "")
        body: Any = answer.text
        if "json" in content_type:
            body = answer.json()
            if trim is not None:
                body = trim(body)
        return {"status": answer.status_code, "content_type": content_type, "body": body}

    def write(self, name: str, data: Any) -> None:
        """Write ``data`` (scrubbed) as the next numbered file."""
        self.count += 1
        path = self.folder / f"{self.count:02d}_{name}.json"
        path.write_text(json.dumps(self.scrub.data(data), indent=1, sort_keys=False) + "\n")

    def note(self, filename: str, data: Any) -> None:
        """Write an unnumbered file (what landed on disk, the WebSocket frames...)."""
        text = json.dumps(self.scrub.data(data), indent=1)
        (self.folder / filename).write_text(text + "\n")


@contextlib.contextmanager
def ws_tap(manager: RealManager, client_id: str) -> Iterator[list[Any]]:
    """Collect the text frames a WebSocket client ``client_id`` receives, while open."""
    frames: list[Any] = []
    url = f"ws://127.0.0.1:{manager.port}/ws?clientId={client_id}"
    with ws_connect(url, open_timeout=10, max_size=None) as socket:

        def read() -> None:
            with contextlib.suppress(ConnectionClosed):
                for message in socket:
                    if isinstance(message, str):
                        frames.append(json.loads(message))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        yield frames
        socket.close()
        reader.join(timeout=5)
