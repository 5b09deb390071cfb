"""ComfyUI-Manager's HTTP API, every generation of it, behind one small client.

Generations (read in the ``comfyui-manager`` package 4.x and ComfyUI-Manager 3.x, and
checked against a real 4.3 loaded into the test ComfyUI; tests/fixtures/manager-captures):

- **4.2+** (``/v2/manager/version`` → ``V4.2``…): one ``POST /v2/manager/queue/task``
  per item, ``POST`` start and reboot, per-item results in ``/v2/manager/queue/history``.
- **4.0.5, 4.1**: the same queue, but start and reboot are ``GET`` and the history route
  breaks once it has entries: results come from the re-validation.
- **4.x legacy UI** and **3.x** (``/manager/version``): ``queue/install_model`` and
  ``queue/install`` with the old shapes (models must be in Manager's own list), ``GET``
  start and reboot (3.x), no per-item results either.

Every route exists twice (``/api`` prefix too). Without Manager a GET answers 404 and a
POST 405. A queued task is accepted (200) even when Manager will refuse it: a refusal
(security level, network mode) shows as the item's result ``failed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ComfycineError, ExitCode
from .plan import ModelInstall, PackInstall

CORE_PACK = "https://github.com/comfyanonymous/ComfyUI"
_VERSION = re.compile(r"V?(\d+)\.(\d+)(?:\.(\d+))?")


class ManagerError(ComfycineError):
    """ComfyUI-Manager refused a request or answered something unusable."""

    code = "manager_refused"
    exit_code = ExitCode.REJECTED
    default_hint = "Do the steps by hand on the PC: comfycine fix NAME --dry-run lists them."


@dataclass(frozen=True)
class ManagerInfo:
    """Which Manager the server runs: its version and the routes that follow from it."""

    version: str
    major: int
    minor: int
    legacy_ui: bool = False

    @property
    def v2(self) -> bool:
        """Routes under ``/v2`` (the pip package, 4.x)."""
        return self.major >= 4

    @property
    def task_queue(self) -> bool:
        """``queue/task`` with per-item kinds (4.x default UI, from 4.0.5)."""
        return self.major >= 4 and not self.legacy_ui and (self.major, self.minor) >= (4, 1)

    @property
    def post_controls(self) -> bool:
        """Start, reset and reboot are POST (4.2+); GET before."""
        return (self.major, self.minor) >= (4, 2)

    @property
    def has_history(self) -> bool:
        """Per-item results by ``ui_id`` (4.2+ default UI)."""
        return self.task_queue and self.post_controls

    def route(self, path: str) -> str:
        """``manager/queue/start`` → ``/v2/manager/queue/start`` on 4.x."""
        return ("/v2/" if self.v2 else "/") + path


def parse_version(text: str) -> tuple[int, int] | None:
    """``V4.3`` → (4, 3); None for anything else."""
    found = _VERSION.match(text.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True)
class QueueState:
    """Manager's queue: what is left and whether its worker runs."""

    total: int
    done: int
    in_progress: int
    pending: int
    processing: bool


@dataclass(frozen=True)
class ItemResult:
    """How one queued item ended: ``ok``, and Manager's message when it failed."""

    ok: bool
    message: str


class ManagerClient:
    """Requests to ComfyUI-Manager on one server (``http`` has its base URL and auth)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def detect(self) -> ManagerInfo | None:
        """The Manager the server runs, or None when it has none."""
        for path, v2 in (("/v2/manager/version", True), ("/manager/version", False)):
            response = await self.http.get(path)
            if response.status_code != 200:
                continue
            parsed = parse_version(response.text)
            if parsed is None:
                continue
            legacy = False
            if v2:
                answer = await self.http.get("/v2/manager/is_legacy_manager_ui")
                if answer.status_code == 200:
                    legacy = bool(_json(answer).get("is_legacy_manager_ui"))
            return ManagerInfo(response.text.strip(), parsed[0], parsed[1], legacy_ui=legacy)
        return None

    async def mappings(self, info: ManagerInfo) -> dict[str, dict[str, Any]]:
        """Class name → the pack providing it (``id``, ``name``, ``repo``); core first."""
        response = await self.http.get(
            info.route("customnode/getmappings"), params={"mode": "cache"}
        )
        data = _checked(response, "the node-pack mappings")
        by_class: dict[str, dict[str, Any]] = {}
        ordered = sorted(data.items(), key=lambda item: item[0] != CORE_PACK)
        for key, value in ordered:
            if not isinstance(value, list) or not value or not isinstance(value[0], list):
                continue
            meta = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
            entry = {
                "id": _install_id(key),
                "name": meta.get("title_aux") or key,
                "repo": key if key.startswith(("http://", "https://")) else None,
                "core": key == CORE_PACK,
            }
            for cls in value[0]:
                if isinstance(cls, str):
                    by_class.setdefault(cls, entry)
        return by_class

    async def model_list(self, info: ManagerInfo) -> list[dict[str, Any]]:
        """Manager's model list (legacy UI and 3.x; the 4.2+ default UI has none)."""
        response = await self.http.get(
            info.route("externalmodel/getlist"), params={"mode": "cache"}
        )
        if response.status_code != 200:
            return []
        models = _json(response).get("models")
        listed = []
        for entry in models if isinstance(models, list) else []:
            if not isinstance(entry, dict):
                continue
            folder = entry.get("save_path")
            listed.append(
                {
                    **entry,
                    "folder": folder if isinstance(folder, str) and folder != "default" else None,
                    "size_bytes": parse_size(entry.get("size")),
                }
            )
        return listed

    async def queue_model(
        self, info: ManagerInfo, item: ModelInstall, client_id: str, ui_id: str
    ) -> None:
        """Queue one model download (not started: :meth:`start`)."""
        params = {
            "name": item.name,
            "type": str((item.listing or {}).get("type") or item.folder),
            "base": str((item.listing or {}).get("base") or "unknown"),
            "save_path": item.folder,
            "url": item.url,
            "filename": item.name.replace("\\", "/").rsplit("/", 1)[-1],
        }
        if info.task_queue:
            body = {"ui_id": ui_id, "client_id": client_id, "kind": "install-model"}
            await self._post(info.route("manager/queue/task"), {**body, "params": params})
        else:
            body = {**params, "ui_id": ui_id, "client_id": client_id}
            await self._post(info.route("manager/queue/install_model"), body)

    async def queue_pack(
        self, info: ManagerInfo, item: PackInstall, client_id: str, ui_id: str
    ) -> None:
        """Queue one node-pack install (a git pack Manager knows, by its id)."""
        params: dict[str, Any] = {
            "id": item.id,
            "version": "unknown",
            "selected_version": "unknown",
            "mode": "cache",
            "channel": "default",
        }
        if info.task_queue:
            body = {"ui_id": ui_id, "client_id": client_id, "kind": "install"}
            await self._post(info.route("manager/queue/task"), {**body, "params": params})
        else:
            files = [item.repo] if item.repo else []
            await self._post(
                info.route("manager/queue/install"), {**params, "files": files, "ui_id": ui_id}
            )

    async def start(self, info: ManagerInfo) -> None:
        """Start the worker on what is queued (201: already running, fine too)."""
        await self._control(info, "manager/queue/start")

    async def state(self, info: ManagerInfo, client_id: str | None = None) -> QueueState:
        """The queue's counts (for ``client_id``'s tasks only on 4.2+)."""
        params = {"client_id": client_id} if client_id and info.has_history else None
        response = await self.http.get(info.route("manager/queue/status"), params=params)
        data = _checked(response, "the queue status")
        return QueueState(
            total=_int(data.get("total_count")),
            done=_int(data.get("done_count")),
            in_progress=_int(data.get("in_progress_count")),
            pending=_int(data.get("pending_count")),
            processing=bool(data.get("is_processing")),
        )

    async def result(self, info: ManagerInfo, ui_id: str) -> ItemResult | None:
        """How item ``ui_id`` ended; None while it runs (or without a history route)."""
        if not info.has_history:
            return None
        response = await self.http.get(info.route("manager/queue/history"), params={"ui_id": ui_id})
        if response.status_code != 200:
            return None
        entry = _json(response).get("history")
        if not isinstance(entry, dict) or not entry:
            return None
        if ui_id in entry and isinstance(entry[ui_id], dict):
            entry = entry[ui_id]
        raw = entry.get("status")
        status: dict[str, Any] = raw if isinstance(raw, dict) else {}
        ok = status.get("status_str") == "success" or entry.get("result") == "success"
        messages = status.get("messages") or []
        message = str(messages[0] if messages else entry.get("result") or "")
        return ItemResult(ok, "" if ok else message)

    async def reboot(self, info: ManagerInfo) -> None:
        """Ask Manager to restart ComfyUI. It answers nothing: the process is replaced."""
        try:
            await self._control(info, "manager/reboot")
        except httpx.TransportError:
            # The expected way: the server went away before answering. (Already gone:
            # the wait for it to answer again says so.)
            return

    async def _control(self, info: ManagerInfo, path: str) -> None:
        # No body and no content type: 4.2+ refuses a form content type on these (CSRF).
        method = "POST" if info.post_controls else "GET"
        response = await self.http.request(method, info.route(path))
        if response.status_code not in (200, 201):
            raise _refused(response, path)

    async def _post(self, path: str, body: Mapping[str, Any]) -> None:
        response = await self.http.post(path, json=dict(body))
        if response.status_code != 200:
            raise _refused(response, path)


def _install_id(key: str) -> str:
    """A mappings key (a repository URL or a registry id) as Manager's install id."""
    if key.startswith(("http://", "https://")):
        return key.rstrip("/").rsplit("/", 1)[-1]
    return key


def parse_size(text: Any) -> int | None:
    """Manager's display sizes (``"4.71MB"``, ``"2GB"``) in bytes; None if unreadable."""
    if not isinstance(text, str):
        return None
    found = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)B?\s*", text.upper())
    if not found:
        return None
    try:
        number = float(found.group(1))
    except ValueError:
        return None
    return int(number * 1024 ** "_KMGT".index(found.group(2) or "_"))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise _refused(response, what)
    return _json(response)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _refused(response: httpx.Response, what: str) -> ManagerError:
    body = " ".join(response.text.split())[:200]
    security = response.status_code == 403
    return ManagerError(
        f"ComfyUI-Manager refused {what} (HTTP {response.status_code}"
        + (f": {body}" if body else "")
        + ")"
        + ("; its security level does not allow it." if security else "."),
        code="manager_security" if security else "manager_refused",
        details={"status": response.status_code, "body": body, "route": what},
    )
