"""HTTP and WebSocket routes of the fake Comfy Cloud API (``openapi-cloud.yaml`` shapes).

Every ``/api/*`` route but ``/api/system_stats`` (public in the spec) needs
``X-API-Key``; ``/ws`` needs ``?token=<key>`` and ignores ``clientId``. ``/api/v2/*`` is
API v2 (:mod:`tests.fakecloud.v2routes`, bearer auth). Calls to the routes deprecated
inside v1 (``/api/job/{id}/status``, ``/api/history_v2``) are served and recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakecloud.billing import add_billing_routes
from tests.fakecloud.state import CANCELLED, TERMINAL, CloudState, Job
from tests.fakecloud.storage import Storage
from tests.fakecloud.v2routes import PREFIX, add_v2_routes, v2_gate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = frozenset({"/api/system_stats"})


def error_response(status: int, code: str, message: str) -> web.Response:
    """The spec's generic ``ErrorResponse``: ``{"code", "message"}``."""
    return web.json_response({"code": code, "message": message}, status=status)


def build_app(state: CloudState, storage: Storage) -> web.Application:
    """The Cloud API application over ``state``, linking downloads to ``storage``."""
    routes = Routes(state, storage)

    @web.middleware
    async def check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append((request.method, request.path, dict(request.headers)))
        if request.path.startswith(PREFIX):
            refused = v2_gate(state, request)
            return refused if refused is not None else await handler(request)
        guarded = request.path.startswith("/api/") and request.path not in PUBLIC
        wrong = request.headers.get("X-API-Key") != state.api_key
        if guarded and (wrong or state.knobs.v1_key_refused):
            body = {"error": {"type": "UNAUTHORIZED", "message": "Invalid or missing API key"}}
            return web.json_response(body, status=401)
        return await handler(request)

    app = web.Application(middlewares=[check_key], client_max_size=1024**3)
    add = app.router.add_route
    add("POST", "/api/prompt", routes.post_prompt)
    add("GET", "/api/prompt", routes.get_prompt)
    add("GET", "/api/job/{job_id}/status", routes.job_status)
    add("GET", "/api/jobs", routes.list_jobs)
    add("GET", "/api/jobs/{job_id}", routes.job_detail)
    add("GET", "/api/history_v2", routes.history_list)
    add("GET", "/api/history_v2/{prompt_id}", routes.history_one)
    add("GET", "/api/view", routes.view)
    add("POST", "/api/upload/image", routes.upload_image)
    add("GET", "/api/queue", routes.get_queue)
    add("POST", "/api/queue", routes.post_queue)
    add("POST", "/api/interrupt", routes.interrupt)
    add("GET", "/api/object_info", routes.object_info)
    add("GET", "/api/system_stats", routes.system_stats)
    add("GET", "/api/user", routes.user)
    add("GET", "/ws", routes.websocket)
    add_v2_routes(app, state, storage)
    add_billing_routes(app, state.knobs)
    return app


class Routes:
    """Request handlers; each reads and changes :class:`CloudState` on the server loop."""

    def __init__(self, state: CloudState, storage: Storage) -> None:
        self.state = state
        self.storage = storage

    def _job(self, request: web.Request) -> Job | None:
        return self.state.jobs.get(request.match_info["job_id"])

    async def post_prompt(self, request: web.Request) -> web.StreamResponse:
        """Queue a job, or answer the next armed refusal (402, 429, ...)."""
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return error_response(400, "invalid_json", "Request body is not JSON")
        self.state.submits.append(body)
        if self.state.refusals:
            refusal = self.state.refusals.popleft()
            return web.json_response(refusal.body, status=refusal.status, headers=refusal.headers)
        prompt = body.get("prompt") if isinstance(body, dict) else None
        problem = self._invalid(prompt)
        if problem is not None:
            error = {"type": "invalid_prompt", "message": problem, "details": "", "extra_info": {}}
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        assert isinstance(prompt, dict) and isinstance(body, dict)
        job_id = body.get("prompt_id")
        if not isinstance(job_id, str) or not job_id:
            job_id = str(uuid.uuid4())
        if job_id in self.state.jobs:
            return error_response(400, "duplicate_prompt_id", f"Job {job_id} already exists")
        extra = body.get("extra_data") if isinstance(body.get("extra_data"), dict) else {}
        job = self.state.add_job(job_id, prompt, dict(extra or {}))
        return web.json_response({"prompt_id": job.id, "number": job.number, "node_errors": {}})

    def _invalid(self, prompt: Any) -> str | None:
        """Describe why ``prompt`` cannot run, or None; unknown classes are refused."""
        if not isinstance(prompt, dict) or not prompt:
            return "Prompt has no nodes"
        for node, spec in prompt.items():
            if not isinstance(spec, dict) or "class_type" not in spec:
                return f"Node {node} has no class_type"
            if spec["class_type"] not in self.state.object_info:
                return f"Cannot execute because node {spec['class_type']} does not exist."
        if not any(spec["class_type"] in ("SaveImage", "PreviewImage") for spec in prompt.values()):
            return "Prompt has no outputs"
        return None

    async def get_prompt(self, request: web.Request) -> web.StreamResponse:
        """``{"exec_info": {"queue_remaining": N}}``."""
        return web.json_response({"exec_info": {"queue_remaining": self.state.queue_remaining()}})

    async def job_status(self, request: web.Request) -> web.StreamResponse:
        """The lightweight poll: raw state, or the friendly one with ``friendly_status``."""
        self.state.deprecated_calls.append(f"{request.method} {request.path}")
        job = self._job(request)
        if job is None:
            return error_response(404, "not_found", "Job not found")
        status = job.friendly if self.state.knobs.friendly_status else job.state
        body = {
            "id": job.id,
            "status": status,
            "created_at": _iso(job.create_time),
            "updated_at": _iso(job.update_time),
            "last_state_update": _iso(job.update_time),
            "assigned_inference": None,
            "error_message": job.error["exception_message"] if job.error else None,
        }
        return web.json_response(body)

    def _entry(self, job: Job) -> dict[str, Any]:
        """A ``JobEntry`` (list item)."""
        entry: dict[str, Any] = {
            "id": job.id,
            "status": job.friendly,
            "create_time": int(job.create_time),
            "outputs_count": sum(len(out.get("images", [])) for out in job.outputs.values()),
        }
        if job.outputs:
            first = next(iter(job.outputs.items()))
            entry["preview_output"] = {**first[1]["images"][0], "nodeId": first[0]}
        if job.error is not None:
            entry["execution_error"] = job.error
        if job.start_ms is not None:
            entry["execution_start_time"] = job.start_ms
        if job.end_ms is not None:
            entry["execution_end_time"] = job.end_ms
        return entry

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/jobs``: newest first, ``status`` filter, ``offset``/``limit``."""
        jobs = sorted(self.state.jobs.values(), key=lambda job: job.number, reverse=True)
        if request.query.get("sort_order") == "asc":
            jobs.reverse()
        wanted = request.query.get("status")
        if wanted:
            allowed = set(wanted.split(","))
            jobs = [job for job in jobs if job.friendly in allowed]
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return error_response(400, "invalid_parameter", "offset and limit must be integers")
        if offset < 0 or not 1 <= limit <= 1000:
            return error_response(400, "invalid_parameter", "offset >= 0, 1 <= limit <= 1000")
        page = jobs[offset : offset + limit]
        pagination = {
            "offset": offset,
            "limit": limit,
            "total": len(jobs),
            "has_more": offset + limit < len(jobs),
        }
        return web.json_response({"jobs": [self._entry(j) for j in page], "pagination": pagination})

    async def job_detail(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/jobs/{id}``: a ``JobDetailResponse`` with outputs and errors."""
        job = self._job(request)
        if job is None:
            return error_response(404, "not_found", "Job not found")
        detail = self._entry(job)
        detail.update(
            workflow=job.workflow(),
            update_time=int(job.update_time),
            outputs=job.outputs,
            execution_meta={},
        )
        if job.state in TERMINAL:
            detail["execution_status"] = job.status_block()
        return web.json_response(detail)

    def _history(self, job: Job) -> dict[str, Any]:
        prompt = {
            "priority": job.number,
            "prompt_id": job.id,
            "prompt": job.prompt,
            "extra_data": job.workflow()["extra_data"],
            "outputs_to_execute": job.output_nodes(),
        }
        return {"prompt": prompt, "outputs": job.outputs, "status": job.status_block(), "meta": {}}

    async def history_list(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/history_v2``: ``{"history": [entries]}`` of finished jobs."""
        self.state.deprecated_calls.append(f"{request.method} {request.path}")
        done = [job for job in self.state.jobs.values() if job.state in TERMINAL]
        entries = []
        for job in sorted(done, key=lambda j: j.number, reverse=True):
            entry = self._history(job)
            entry.update(prompt_id=job.id, create_time=int(job.create_time * 1000))
            entries.append(entry)
        return web.json_response({"history": entries})

    async def history_one(self, request: web.Request) -> web.StreamResponse:
        """``{id: entry}`` once finished, ``{}`` while in flight, 404 when unknown."""
        self.state.deprecated_calls.append(f"{request.method} {request.path}")
        job = self.state.jobs.get(request.match_info["prompt_id"])
        if job is None:
            return error_response(404, "not_found", "Prompt not found")
        if job.state not in TERMINAL:
            return web.json_response({})
        return web.json_response({job.id: self._history(job)})

    async def view(self, request: web.Request) -> web.StreamResponse:
        """302 to a signed storage URL; with ``channel`` the PNG itself (200)."""
        filename = request.query.get("filename")
        if not filename:
            return error_response(400, "invalid_parameter", "filename is required")
        if filename not in self.state.files:
            return error_response(404, "not_found", "File not found")
        if request.query.get("channel"):
            return web.Response(body=self.state.files[filename], content_type="image/png")
        raise web.HTTPFound(self.storage.sign(filename, ttl=self.state.knobs.url_ttl))

    async def upload_image(self, request: web.Request) -> web.StreamResponse:
        """Store the ``image`` part; over ``upload_limit_bytes`` answers 400."""
        limit = self.state.knobs.upload_limit_bytes
        fields: dict[str, str] = {}
        name, data, too_big = None, bytearray(), False
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "image":
                name = part.filename or "upload.png"
                while chunk := await part.read_chunk():
                    # Keep draining so the client sees the 400, not a reset connection.
                    if len(data) + len(chunk) > limit:
                        too_big = True
                    else:
                        data += chunk
            elif part.name:
                fields[part.name] = await part.text()
        if name is None:
            return error_response(400, "invalid_request", "No image part")
        if too_big:
            return error_response(400, "file_too_large", f"Image exceeds {limit} bytes")
        self.state.files[name] = bytes(data)
        folder_type = fields.get("type", "input")
        return web.json_response(
            {"name": name, "subfolder": fields.get("subfolder", ""), "type": folder_type}
        )

    async def get_queue(self, request: web.Request) -> web.StreamResponse:
        """``{"queue_running": [...], "queue_pending": [...]}`` of the user's jobs."""
        running = [self.state.queue_item(self.state.running)] if self.state.running else []
        pending = [self.state.queue_item(self.state.jobs[i]) for i in self.state.pending]
        return web.json_response({"queue_running": running, "queue_pending": pending})

    async def post_queue(self, request: web.Request) -> web.StreamResponse:
        """Delete pending jobs or clear them all: ``{"deleted": [...], "cleared": bool}``."""
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return error_response(400, "invalid_json", "Request body is not JSON")
        if not isinstance(body, dict):
            return error_response(400, "invalid_request", "Body must be an object")
        targets = list(self.state.pending) if body.get("clear") else list(body.get("delete", []))
        deleted = [job_id for job_id in targets if job_id in self.state.pending]
        for job_id in deleted:
            self.state.pending.remove(job_id)
            self.state.jobs[job_id].move_to(CANCELLED)
        if deleted:
            self.state.queue_changed()
        return web.json_response({"deleted": deleted, "cleared": bool(body.get("clear"))})

    async def interrupt(self, request: web.Request) -> web.StreamResponse:
        """Interrupt the user's running job, if any; 200 with an empty body."""
        if self.state.running is not None:
            self.state.running.interrupt.set()
        return web.Response(status=200)

    async def object_info(self, request: web.Request) -> web.StreamResponse:
        """The local fake's ``/object_info`` subset."""
        return web.json_response(self.state.object_info)

    async def system_stats(self, request: web.Request) -> web.StreamResponse:
        """A plausible ``SystemStatsResponse`` with the Cloud-only version fields."""
        system = {
            "os": "posix",
            "python_version": "3.12.0",
            "embedded_python": False,
            "comfyui_version": "0.3.75",
            "comfyui_frontend_version": "1.30.0",
            "workflow_templates_version": "0.7.0",
            "cloud_version": "fake",
            "pytorch_version": "2.8.0",
            "argv": ["main.py"],
            "ram_total": 64 * 1024**3,
            "ram_free": 32 * 1024**3,
        }
        device = {"name": "cuda:0 RTX 6000 Pro", "type": "cuda", "vram_total": 96 * 1024**3}
        return web.json_response({"system": system, "devices": [{**device, "vram_free": 0}]})

    async def user(self, request: web.Request) -> web.StreamResponse:
        """``{"status": "active"}``."""
        return web.json_response({"status": "active"})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``/ws?clientId=&token=``: refuse a bad token (401); send ``status``; then relay."""
        if request.query.get("token") != self.state.api_key or self.state.knobs.v1_key_refused:
            return error_response(401, "unauthorized", "Invalid or missing token")
        if self.state.knobs.ws_refused:
            # A proxy in front that passes plain HTTP only.
            return web.Response(status=403, text="Forbidden")
        client_id = request.query.get("clientId")
        self.state.ws_client_ids.append(client_id)
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        status: dict[str, Any] = {"exec_info": {"queue_remaining": self.state.queue_remaining()}}
        data: dict[str, Any] = {"status": status}
        if client_id:
            data["sid"] = client_id
        await ws.send_str(json.dumps({"type": "status", "data": data}))
        self.state.sockets.append(ws)
        try:
            async for _message in ws:
                pass  # feature flags and the like are accepted and ignored
        finally:
            if ws in self.state.sockets:
                self.state.sockets.remove(ws)
        return ws


def _iso(seconds: float) -> str:
    """RFC 3339 UTC timestamp, as the spec's ``date-time`` fields."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
