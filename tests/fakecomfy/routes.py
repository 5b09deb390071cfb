"""HTTP and WebSocket routes of the fake, each also served under ``/api``.

Handlers follow the real ``server.py`` of ComfyUI 0.3.75 closely, including how they
fail: a body that is not JSON, a prompt that is not a dict or an unknown upload
``type`` raise inside the handler, and aiohttp turns that into its plain-text
``500 Internal Server Error`` (captures 10d, 10m, 20). Error answers without a body
(``/view`` 400/403/404, ``POST /queue``) are bare ``web.Response(status=...)``.

Known differences: ``/view`` ignores ``preview=`` and ``channel=`` (the real server
re-encodes the image with Pillow) and serves the file as stored.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import sys
import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakecomfy import hostile
from tests.fakecomfy.files import is_inside, split_annotation
from tests.fakecomfy.hostile import strip_api
from tests.fakecomfy.state import SERVER_FEATURES, QueueEntry, ServerState, Socket
from tests.fakecomfy.validation import PromptValidator

SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
MODEL_FOLDERS = (
    "checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models",
    "clip_vision", "style_models", "embeddings", "diffusers", "vae_approx", "controlnet",
    "gligen", "upscale_models", "custom_nodes", "hypernetworks", "photomaker",
    "classifiers", "model_patches", "audio_encoders",
)  # fmt: skip
FORCED_DOWNLOAD_TYPES = {
    "text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css",
}  # fmt: skip
MAX_UPLOAD_SIZE = 100 * 1024 * 1024
COMFYUI_VERSION = "0.3.75"


class InjectedServerError(Exception):
    """Raised for ``answer_500_text``; aiohttp answers it with its plain-text 500."""


def build_app(state: ServerState) -> web.Application:
    """Return the aiohttp application serving ``state``."""

    @web.middleware
    async def record_and_inject(request: web.Request, handler: Any) -> web.StreamResponse:
        state.requests.append((request.method, request.path))
        wanted = state.knobs.basic_auth
        if wanted is not None:
            token = base64.b64encode(wanted.encode()).decode()
            if request.headers.get("Authorization") != f"Basic {token}":
                headers = {"WWW-Authenticate": 'Basic realm="comfyui"'}
                return web.Response(status=401, text="401: Unauthorized", headers=headers)
        bearer = state.knobs.bearer_token
        if bearer is not None and request.headers.get("Authorization") != f"Bearer {bearer}":
            headers = {"WWW-Authenticate": 'Bearer realm="comfyui"'}
            return web.Response(status=401, text="401: Unauthorized", headers=headers)
        key = strip_api(request.path)
        if state.fail_paths.get(key, 0) > 0:
            state.fail_paths[key] -= 1
            raise InjectedServerError(f"injected failure for {request.path}")
        injected = state.hostile.next_error(key)
        if injected is not None:
            return hostile.error_response(injected)
        response: web.StreamResponse = await handler(request)
        seconds = state.hostile.dribble_for(key)
        if seconds is not None and isinstance(response, web.Response):
            return await hostile.dribble(request, response, seconds)
        return response

    app = web.Application(client_max_size=MAX_UPLOAD_SIZE, middlewares=[record_and_inject])
    routes = Routes(state)
    table = [
        ("GET", "/ws", routes.websocket),
        ("GET", "/prompt", routes.get_prompt),
        ("POST", "/prompt", routes.post_prompt),
        ("GET", "/queue", routes.get_queue),
        ("POST", "/queue", routes.post_queue),
        ("POST", "/interrupt", routes.post_interrupt),
        ("POST", "/free", routes.post_free),
        ("GET", "/history", routes.get_history),
        ("GET", "/history/{prompt_id}", routes.get_history_item),
        ("POST", "/history", routes.post_history),
        ("GET", "/view", routes.view),
        ("GET", "/view_metadata/{folder_name}", routes.not_found),
        ("POST", "/upload/image", routes.upload_image),
        ("GET", "/system_stats", routes.system_stats),
        ("GET", "/features", routes.features),
        ("GET", "/object_info", routes.object_info),
        ("GET", "/object_info/{node_class}", routes.object_info_class),
        ("GET", "/models", routes.models),
        ("GET", "/models/{folder}", routes.models_in_folder),
        ("GET", "/embeddings", routes.empty_list),
        ("GET", "/extensions", routes.empty_list),
    ]
    for method, path, handler in table:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, "/api" + path, handler)
    return app


class Routes:
    """Request handlers bound to one :class:`ServerState`."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    # Prompts and queue ---------------------------------------------------------------

    async def post_prompt(self, request: web.Request) -> web.Response:
        """Validate and queue a prompt (``{prompt_id, number, node_errors}`` or a 400)."""
        state = self.state
        body = await request.json()
        state.prompts_received.append(body)
        if "number" in body:
            number: float = float(body["number"])
        else:
            number = state.number
            if _field(body, "front"):
                number = -number
            state.number += 1
        if "prompt" not in body:
            missing = {
                "type": "no_prompt",
                "message": "No prompt provided",
                "details": "No prompt provided",
                "extra_info": {},
            }
            return web.json_response({"error": missing, "node_errors": {}}, status=400)
        prompt = body["prompt"]
        prompt_id = str(body.get("prompt_id", uuid.uuid4()))
        targets = _field(body, "partial_execution_targets")
        validator = PromptValidator(prompt, state.object_info(), state.folders)
        ok, error, outputs, node_errors = validator.validate(targets)
        extra_data = _field(body, "extra_data", {})
        if "client_id" in body:
            extra_data["client_id"] = body["client_id"]
        if not ok:
            return web.json_response({"error": error, "node_errors": node_errors}, status=400)
        sensitive = {k: extra_data.pop(k) for k in SENSITIVE_EXTRA_DATA_KEYS if k in extra_data}
        extra_data["create_time"] = int(time.time() * 1000)
        state.put(QueueEntry(number, prompt_id, prompt, extra_data, outputs, sensitive))
        return web.json_response(
            {"prompt_id": prompt_id, "number": number, "node_errors": node_errors}
        )

    async def get_prompt(self, request: web.Request) -> web.Response:
        """Answer ``{"exec_info": {"queue_remaining": N}}``."""
        return web.json_response(self.state.queue_info())

    async def get_queue(self, request: web.Request) -> web.Response:
        """List running and pending prompts (pending in heap order, as the real server)."""
        return web.json_response(
            {
                "queue_running": [entry.public() for entry in self.state.running.values()],
                "queue_pending": [item[3].public() for item in self.state.queue],
            }
        )

    async def post_queue(self, request: web.Request) -> web.Response:
        """Clear the queue or delete pending prompts; always an empty 200."""
        body = await request.json()
        if _field(body, "clear"):
            self.state.wipe_queue()
        if "delete" in body:
            for prompt_id in body["delete"]:
                self.state.delete_pending(prompt_id)
        return web.Response(status=200)

    async def post_interrupt(self, request: web.Request) -> web.Response:
        """Interrupt the running prompt (any, or only the given ``prompt_id``)."""
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        prompt_id = body.get("prompt_id")
        running = [entry.prompt_id for entry in self.state.running.values()]
        if (not prompt_id or prompt_id in running) and self.state.stuck is None:
            self.state.interrupt.set()
        return web.Response(status=200)

    async def post_free(self, request: web.Request) -> web.Response:
        """Accept ``{"unload_models", "free_memory"}``; frees a node stuck ``until_free``."""
        await request.json()
        if self.state.stuck == "until_free":
            self.state.stuck = None
            self.state.interrupt.set()
        return web.Response(status=200)

    # History -------------------------------------------------------------------------

    async def get_history(self, request: web.Request) -> web.Response:
        """Return history, honouring ``max_items`` and ``offset`` like the real server."""
        query = request.rel_url.query
        max_items = int(query["max_items"]) if "max_items" in query else None
        offset = int(query["offset"]) if "offset" in query else -1
        history = self.state.history
        if offset < 0 and max_items is not None:
            offset = len(history) - max_items
        out: dict[str, Any] = {}
        for index, (prompt_id, entry) in enumerate(history.items()):
            if index >= offset:
                out[prompt_id] = entry
                if max_items is not None and len(out) >= max_items:
                    break
        return web.json_response(out)

    async def get_history_item(self, request: web.Request) -> web.Response:
        """Return ``{id: entry}``, or ``{}`` for unknown, unfinished or held-back prompts."""
        return web.json_response(self.state.lookup_history(request.match_info["prompt_id"]))

    async def post_history(self, request: web.Request) -> web.Response:
        """Clear history or delete entries; always an empty 200."""
        body = await request.json()
        if _field(body, "clear"):
            self.state.history.clear()
        if "delete" in body:
            for prompt_id in body["delete"]:
                self.state.history.pop(prompt_id, None)
        return web.Response(status=200)

    # Files ---------------------------------------------------------------------------

    async def view(self, request: web.Request) -> web.StreamResponse:
        """Serve an input, output or temp file (400 bad name/type, 403 escape, 404 missing)."""
        query = request.rel_url.query
        if "filename" in query:
            filename, annotated = split_annotation(query["filename"])
            if not filename or filename[0] == "/" or ".." in filename:
                return web.Response(status=400)
            folder = self.state.folders.by_type(annotated or query.get("type", "output"))
            if folder is None:
                return web.Response(status=400)
            if "subfolder" in query:
                full = os.path.join(folder, query["subfolder"])
                if not is_inside(folder, full):
                    return web.Response(status=403)
                folder = full
            filename = os.path.basename(filename)
            path = os.path.join(folder, filename)
            if os.path.isfile(path):
                content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                if content_type in FORCED_DOWNLOAD_TYPES:
                    content_type = "application/octet-stream"
                headers = {
                    "Content-Disposition": f'filename="{filename}"',
                    "Content-Type": content_type,
                }
                if self.state.hostile.view_is_hostile():
                    return await hostile.serve_view(request, path, headers, self.state.hostile)
                return web.FileResponse(path, headers=headers)
        return web.Response(status=404)

    async def not_found(self, request: web.Request) -> web.Response:
        """Answer a bare 404 (``/view_metadata``: the fake has no safetensors files)."""
        return web.Response(status=404)

    async def upload_image(self, request: web.Request) -> web.Response:
        """Store a multipart ``image``; a different file with the same name gets `` (1)``."""
        post = await request.post()
        image = post.get("image")
        overwrite = post.get("overwrite")
        raw_type = post.get("type")
        upload_type = "input" if raw_type is None else str(raw_type)
        upload_dir = self.state.folders.by_type(upload_type)
        if upload_dir is None:
            # The real handler fails with UnboundLocalError here, hence a plain 500.
            raise ValueError(f"unknown upload type {upload_type!r}")
        if isinstance(image, str) and image:
            raise AttributeError("'str' object has no attribute 'file'")
        if not isinstance(image, web.FileField):
            return web.Response(status=400)
        filename = image.filename
        if not filename:
            return web.Response(status=400)
        subfolder = str(post.get("subfolder", ""))
        folder = os.path.join(upload_dir, os.path.normpath(subfolder))
        path = os.path.abspath(os.path.join(folder, filename))
        if os.path.commonpath((upload_dir, path)) != upload_dir:
            return web.Response(status=400)
        os.makedirs(folder, exist_ok=True)
        content = image.file.read()
        stem, ext = os.path.splitext(filename)
        duplicate = False
        if overwrite not in ("true", "1"):
            counter = 1
            while os.path.exists(path):
                with open(path, "rb") as existing:
                    if existing.read() == content:
                        duplicate = True
                        break
                filename = f"{stem} ({counter}){ext}"
                path = os.path.join(folder, filename)
                counter += 1
        if not duplicate:
            with open(path, "wb") as out:
                out.write(content)
        return web.json_response({"name": filename, "subfolder": subfolder, "type": upload_type})

    # Server information ----------------------------------------------------------------

    async def system_stats(self, request: web.Request) -> web.Response:
        """Return ``/system_stats`` in the real shape, describing a CPU-only machine."""
        memory = 16 * 1024**3
        return web.json_response(
            {
                "system": {
                    "os": os.name,
                    "ram_total": memory,
                    "ram_free": memory // 2,
                    "comfyui_version": COMFYUI_VERSION,
                    "required_frontend_version": "1.28.8",
                    "installed_templates_version": "0.1.95",
                    "required_templates_version": "0.1.95",
                    "python_version": sys.version,
                    "pytorch_version": "2.14.1+cpu",
                    "embedded_python": False,
                    "argv": ["main.py", "--cpu", "--listen", "127.0.0.1"],
                },
                "devices": [
                    {
                        "name": "cpu",
                        "type": "cpu",
                        "index": None,
                        "vram_total": memory,
                        "vram_free": memory // 2,
                        "torch_vram_total": memory,
                        "torch_vram_free": memory // 2,
                    }
                ],
            }
        )

    async def features(self, request: web.Request) -> web.Response:
        """Return the server feature flags."""
        return web.json_response(dict(SERVER_FEATURES))

    async def object_info(self, request: web.Request) -> web.Response:
        """Return every known node class schema."""
        return web.json_response(self.state.object_info())

    async def object_info_class(self, request: web.Request) -> web.Response:
        """Return one class schema, or ``{}`` when the class is unknown."""
        name = request.match_info["node_class"]
        info = self.state.object_info()
        return web.json_response({name: info[name]} if name in info else {})

    async def models(self, request: web.Request) -> web.Response:
        """List the model folder names."""
        return web.json_response(list(MODEL_FOLDERS))

    async def models_in_folder(self, request: web.Request) -> web.Response:
        """List the files of one model folder (404 for an unknown folder)."""
        folder = request.match_info["folder"]
        if folder not in MODEL_FOLDERS:
            return web.Response(status=404)
        return web.json_response(list(self.state.models.get(folder, [])))

    async def empty_list(self, request: web.Request) -> web.Response:
        """Answer ``[]`` (embeddings, frontend extensions)."""
        return web.json_response([])

    # WebSocket -----------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Serve ``/ws?clientId=``: initial status, feature flags, then pushed events."""
        state = self.state
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.rel_url.query.get("clientId", "")
        if sid:
            state.sockets.pop(sid, None)  # a reconnect replaces the old socket
        else:
            sid = uuid.uuid4().hex
        socket = Socket(ws, request.transport)
        state.sockets[sid] = socket
        state.open_sockets.append(socket)
        try:
            await ws.send_str(json.dumps(_status_with_sid(state, sid)))
            if state.client_id == sid and state.last_node_id is not None:
                executing = {"type": "executing", "data": {"node": state.last_node_id}}
                await ws.send_str(json.dumps(executing))
            first_message = True
            async for message in ws:
                if message.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except json.JSONDecodeError:
                    continue
                if first_message and isinstance(data, dict) and data.get("type") == "feature_flags":
                    flags = data.get("data", {})
                    socket.feature_flags = flags
                    state.ws_feature_flags[sid] = flags
                    reply = {"type": "feature_flags", "data": dict(SERVER_FEATURES)}
                    await ws.send_str(json.dumps(reply))
                first_message = False
        finally:
            # The real server pops by id even if a newer socket took the id over; a socket
            # dropped on purpose was already unregistered, and must not evict its successor.
            if not socket.dropped:
                state.sockets.pop(sid, None)
            if socket in state.open_sockets:
                state.open_sockets.remove(socket)
        return ws


def _status_with_sid(state: ServerState, sid: str) -> dict[str, Any]:
    return {"type": "status", "data": {"status": state.queue_info(), "sid": sid}}


def _field(body: Any, key: str, default: Any = None) -> Any:
    """Return ``body[key]`` when ``key in body``, the test the real handlers make.

    It also accepts JSON lists and strings: a list body merely lacks every key (a 400
    or an empty 200), where ``dict.get`` would raise and turn the answer into a 500.
    """
    return body[key] if key in body else default  # noqa: SIM401 - see above
