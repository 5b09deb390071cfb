"""API v2 routes of the fake Comfy Cloud (``openapi-v2.yaml``, COMFY-API-V2 §2-7).

Served on the v1 app and port. :func:`v2_gate` runs first for every ``/api/v2/*`` call:
404 when ``v2_enabled`` is off, the hostile stand-ins of ``v2_answers``, then bearer auth
(``X-API-Key`` alone is refused). Jobs go through the v1 executor; the SSE stream lives
in :mod:`tests.fakecloud.v2events`.
"""

from __future__ import annotations

import json
import uuid

from aiohttp import BodyPartReader, web

from tests.fakecloud.state import CANCELLED, CloudState, Job
from tests.fakecloud.storage import Storage
from tests.fakecloud.v2events import stream_events
from tests.fakecloud.v2shapes import asset_body, error_response, hostile_answer, job_body
from tests.fakecloud.v2state import AssetUpload, hash_bytes, is_hash
from tests.fakecloud.v2validate import check_body, check_graph, resolve_assets

PREFIX = "/api/v2/"


def v2_gate(state: CloudState, request: web.Request) -> web.StreamResponse | None:
    """The answer a ``/api/v2/*`` call gets before its handler, or None to go on."""
    knobs = state.knobs
    if not knobs.v2_enabled:
        return web.Response(status=404, text="404: Not Found")
    if knobs.v2_answers != "ok":
        return hostile_answer(knobs.v2_answers, request)
    expected = f"Bearer {state.api_key}"
    if request.headers.get("Authorization") != expected or knobs.v2_key_refused:
        return error_response(401, "unauthorized", "Missing or invalid API key")
    return None


def add_v2_routes(app: web.Application, state: CloudState, storage: Storage) -> None:
    """Register every v2 route on ``app``."""
    routes = V2Routes(state, storage)
    add = app.router.add_route
    add("POST", "/api/v2/jobs", routes.post_job)
    add("GET", "/api/v2/jobs", routes.list_jobs)
    add("GET", "/api/v2/jobs/{job_id}", routes.get_job)
    add("GET", "/api/v2/jobs/{job_id}/workflow", routes.job_workflow)
    add("GET", "/api/v2/jobs/{job_id}/logs", routes.job_logs)
    add("GET", "/api/v2/jobs/{job_id}/events", routes.job_events)
    add("POST", "/api/v2/jobs/{job_id}/cancel", routes.cancel_job)
    add("POST", "/api/v2/assets", routes.post_asset)
    add("POST", "/api/v2/assets/from-hash", routes.asset_from_hash)
    add("HEAD", "/api/v2/assets/by-hash/{hash}", routes.head_by_hash)
    add("GET", "/api/v2/assets/{asset_id}", routes.get_asset)
    add("DELETE", "/api/v2/assets/{asset_id}", routes.delete_asset)
    add("GET", "/api/v2/assets/{asset_id}/content", routes.asset_content)


def _not_found(what: str) -> web.Response:
    return error_response(404, "not_found", f"{what} not found")


class V2Routes:
    """Request handlers; each reads and changes :class:`CloudState` on the server loop."""

    def __init__(self, state: CloudState, storage: Storage) -> None:
        self.state = state
        self.storage = storage
        self.v2 = state.v2

    def _job(self, request: web.Request) -> Job | None:
        job = self.state.jobs.get(request.match_info["job_id"])
        return job if job is not None and job.api == "v2" else None

    # Jobs --------------------------------------------------------------------------------

    async def post_job(self, request: web.Request) -> web.StreamResponse:
        """Submit: reuse check, validation, armed refusals, then 201 ``Job`` (or a drop)."""
        key = request.headers.get("Idempotency-Key")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return error_response(422, "invalid_request", "Request body is not JSON")
        self.v2.submits.append((key, body))
        if key is not None and key in self.v2.job_keys:
            return error_response(422, "idempotency_key_reuse", "Idempotency-Key already used")
        problem = check_body(body) or check_graph(body["workflow"], self.state.object_info)
        if problem is None:
            resolved, problem = resolve_assets(body["workflow"], self.v2)
        if problem is not None:
            return error_response(problem.status, problem.code, problem.message, problem.details)
        # Refusals come after validation, as upstream rejects do; the key stays free.
        if self.v2.submit_refusals:
            refusal = self.v2.submit_refusals.popleft()
            return error_response(
                refusal.status, refusal.code, refusal.message, retry_after=refusal.retry_after
            )
        if key is not None:
            self.v2.job_keys.add(key)
        job_id = str(uuid.uuid4())
        extra = dict(body.get("extra_data") or {})
        job = self.state.add_job(job_id, resolved, extra, api="v2", submitted=body["workflow"])
        if self.v2.drop_submits > 0:
            self.v2.drop_submits -= 1
            return _drop(request)
        return web.json_response(job_body(self.state, self.storage, job), status=201)

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:
        """501 ``not_implemented``, as Cloud answers."""
        return error_response(501, "not_implemented", "Listing jobs is not implemented")

    async def get_job(self, request: web.Request) -> web.StreamResponse:
        """The ``Job``; an armed ``rate_limited`` (or other) refusal first."""
        if self.v2.get_refusals:
            refusal = self.v2.get_refusals.popleft()
            return error_response(
                refusal.status, refusal.code, refusal.message, retry_after=refusal.retry_after
            )
        job = self._job(request)
        if job is None:
            return _not_found("Job")
        return web.json_response(job_body(self.state, self.storage, job))

    async def job_workflow(self, request: web.Request) -> web.StreamResponse:
        """``{"workflow": <graph as submitted>, "format": "api"}``."""
        job = self._job(request)
        if job is None:
            return _not_found("Job")
        return web.json_response({"workflow": job.submitted, "format": "api"})

    async def job_logs(self, request: web.Request) -> web.StreamResponse:
        """204: Cloud captures no logs, for any job."""
        if self._job(request) is None:
            return _not_found("Job")
        return web.Response(status=204)

    async def job_events(self, request: web.Request) -> web.StreamResponse:
        """SSE per ``v2_events``: ``sse`` (spec §4.5), ``501``, ``drop``, or ``refused``
        (a proxy in front that answers 403 with a page: it does not pass streams)."""
        job = self._job(request)
        if job is None:
            return _not_found("Job")
        mode = self.state.knobs.v2_events
        if mode == "501":
            return error_response(501, "not_implemented", "Event streaming is not available")
        if mode == "refused":
            return web.Response(status=403, text="<html>Forbidden</html>", content_type="text/html")
        return await stream_events(self.state, self.storage, job, request, drop=mode == "drop")

    async def cancel_job(self, request: web.Request) -> web.StreamResponse:
        """Cancel one job (idempotent): queued → canceled, running → canceling."""
        job = self._job(request)
        if job is None:
            return _not_found("Job")
        self.v2.cancels.append(job.id)
        if not job.v2_terminal:
            job.cancel_requested = True
            if job.id in self.state.pending:
                self.state.pending.remove(job.id)
                job.move_to(CANCELLED)
                self.state.queue_changed()
            else:
                job.interrupt.set()  # only this job: the executor checks its own event
                job.sync_status()
        return web.json_response(job_body(self.state, self.storage, job))

    # Assets ------------------------------------------------------------------------------

    async def post_asset(self, request: web.Request) -> web.StreamResponse:
        """Multipart upload: 201 new blob / 200 dedup, 409 ``hash_mismatch``, 413, 422."""
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.v2.asset_keys:
            return error_response(422, "idempotency_key_reuse", "Idempotency-Key already used")
        try:
            fields, data, too_big = await self._read_upload(request)
        except (ValueError, AssertionError):
            return error_response(422, "invalid_request", "Body must be multipart/form-data")
        missing = [name for name in ("file_path", "content_type") if not fields.get(name)]
        if data is None or missing:
            need = "file" if data is None else missing[0]
            return error_response(422, "invalid_request", f"Field {need!r} is required")
        limit = self.state.knobs.v2_upload_limit_bytes
        path = fields["file_path"]
        if too_big:
            self.v2.asset_uploads.append(AssetUpload(path, "", len(data), 413))
            return error_response(413, "payload_too_large", f"Upload exceeds {limit} bytes")
        digest = hash_bytes(data)
        expected = fields.get("expected_hash")
        status = 201
        if expected is not None and not is_hash(expected):
            status = 422
        elif expected is not None and expected != digest:
            status = 409
        elif digest in self.v2.blobs:
            status = 200
        self.v2.asset_uploads.append(AssetUpload(path, digest, len(data), status))
        if status == 422:
            return error_response(422, "invalid_request", "expected_hash must be blake3:<hex>")
        if status == 409:
            return error_response(409, "hash_mismatch", f"Content hash is {digest}")
        self.v2.store_blob(self.state.files, data, path)
        expires_in = int(fields["expires_in"]) if fields.get("expires_in") else None
        asset = self.v2.mint(self.state.files, digest, fields["content_type"], path, expires_in)
        if key is not None:
            self.v2.asset_keys.add(key)
        created = status == 201
        return web.json_response(
            asset_body(self.state, self.storage, asset, created_new=created), status=status
        )

    async def _read_upload(self, request: web.Request) -> tuple[dict[str, str], bytes | None, bool]:
        """Text fields, the ``file`` bytes (None if absent), and whether it was too big."""
        limit = self.state.knobs.v2_upload_limit_bytes
        fields: dict[str, str] = {}
        data: bytearray | None = None
        too_big = False
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                data = bytearray()
                while chunk := await part.read_chunk():
                    # Keep draining so the client reads the 413, not a reset connection.
                    too_big = too_big or len(data) + len(chunk) > limit
                    if not too_big:
                        data += chunk
            elif part.name:
                fields[part.name] = await part.text()
        return fields, None if data is None else bytes(data), too_big

    async def asset_from_hash(self, request: web.Request) -> web.StreamResponse:
        """Mint over a stored blob: 201, 200 for an identical existing record, 404."""
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return error_response(422, "invalid_request", "Request body is not JSON")
        digest = body.get("hash") if isinstance(body, dict) else None
        if not isinstance(digest, str):
            return error_response(422, "invalid_request", "Field 'hash' is required")
        if digest not in self.v2.blobs:
            return error_response(404, "blob_not_found", "No blob with this hash")
        path = body.get("file_path")
        existing = self.v2.find(digest, path)
        if existing is not None:
            return web.json_response(
                asset_body(self.state, self.storage, existing, created_new=False)
            )
        source = next(a for a in self.v2.assets.values() if a.hash == digest)
        asset = self.v2.mint(
            self.state.files, digest, source.content_type, path, body.get("expires_in")
        )
        body_out = asset_body(self.state, self.storage, asset, created_new=False)
        return web.json_response(body_out, status=201)

    async def head_by_hash(self, request: web.Request) -> web.StreamResponse:
        """200 when a blob with this hash is stored, else 404 (no body either way)."""
        return web.Response(status=200 if request.match_info["hash"] in self.v2.blobs else 404)

    async def get_asset(self, request: web.Request) -> web.StreamResponse:
        """The ``Asset`` with a fresh signed ``url``."""
        asset = self.v2.assets.get(request.match_info["asset_id"])
        if asset is None:
            return _not_found("Asset")
        return web.json_response(asset_body(self.state, self.storage, asset))

    async def delete_asset(self, request: web.Request) -> web.StreamResponse:
        """204; 409 ``asset_in_use`` for an output of a retained job; 404."""
        asset = self.v2.assets.get(request.match_info["asset_id"])
        if asset is None:
            return _not_found("Asset")
        if asset.job_id is not None:
            return error_response(409, "asset_in_use", "Asset cannot be deleted now")
        del self.v2.assets[asset.id]
        return web.Response(status=204)

    async def asset_content(self, request: web.Request) -> web.StreamResponse:
        """302 to a fresh signed storage URL (which honours ``Range``)."""
        asset = self.v2.assets.get(request.match_info["asset_id"])
        if asset is None:
            return _not_found("Asset")
        url = self.storage.sign(
            asset.blob, ttl=self.state.knobs.url_ttl, content_type=asset.content_type
        )
        raise web.HTTPFound(url)


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (the client sees the 201 lost)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    # aiohttp cannot write to an aborted transport and drops this answer quietly.
    return web.Response(status=201)
