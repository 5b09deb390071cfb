"""The JSON shapes the fake Cloud's API v2 answers (``openapi-v2.yaml`` components).

``Job`` (spec §4.2), ``Output`` and ``Asset`` (§4.3), the ``ErrorEnvelope`` (§4.4), and
the hostile stand-ins served with ``v2_answers`` (an HTML page, v1 bodies). Output and
asset ``url`` values are signed storage URLs, fresh on every answer, valid for
``url_ttl`` seconds.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakecloud.state import CloudState, Job
from tests.fakecloud.storage import Storage
from tests.fakecloud.v2state import JOB_RETENTION, Asset

CAPTIVE_PORTAL = """<!DOCTYPE html>
<html><head><title>Hotel WiFi - Sign in</title></head>
<body><h1>Welcome!</h1><p>Please accept the terms to continue browsing.</p>
<form method="post" action="/login"><button>Accept</button></form></body></html>
"""

DEFAULT_MESSAGES = {
    "insufficient_credits": "Insufficient credits to run this workflow",
    "queue_full": "Your queue is full; retry later",
    "rate_limited": "Too many requests; slow down",
    "not_implemented": "Not implemented on this deployment",
    "upstream_error": "An unexpected error occurred",
}


def iso(seconds: float | None) -> str | None:
    """RFC 3339 UTC timestamp with ``Z`` (None stays None)."""
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def error_response(
    status: int,
    code: str,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    retry_after: str | None = None,
) -> web.Response:
    """An ``ErrorEnvelope``: ``{"error": {"code", "message", "details"?}}``."""
    error: dict[str, Any] = {"code": code, "message": message or DEFAULT_MESSAGES.get(code, code)}
    if details is not None:
        error["details"] = details
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return web.json_response({"error": error}, status=status, headers=headers)


def signed_url(state: CloudState, storage: Storage, asset: Asset) -> tuple[str, str | None]:
    """A fresh signed storage URL for ``asset`` and its expiry timestamp."""
    ttl = state.knobs.url_ttl
    url = storage.sign(asset.blob, ttl=ttl, content_type=asset.content_type)
    return url, iso(time.time() + ttl)


def asset_body(
    state: CloudState, storage: Storage, asset: Asset, created_new: bool | None = None
) -> dict[str, Any]:
    """The spec's ``Asset``; ``created_new`` only on create answers."""
    url, expires = signed_url(state, storage, asset)
    body: dict[str, Any] = {
        "id": asset.id,
        "hash": asset.hash,
        "size_bytes": asset.size_bytes,
        "content_type": asset.content_type,
        "file_path": asset.file_path,
        "created_at": iso(asset.created_at),
        "url": url,
        "url_expires_at": expires,
        "expires_at": iso(asset.expires_at),
        "job_id": asset.job_id,
    }
    if created_new is not None:
        body["created_new"] = created_new
    return body


def output_body(state: CloudState, storage: Storage, asset: Asset) -> dict[str, Any]:
    """The spec's ``Output`` for an output asset (every fake output is a PNG image)."""
    url, expires = signed_url(state, storage, asset)
    return {
        "node_id": asset.node_id,
        "name": asset.file_path,
        "type": "image",
        "content_type": asset.content_type,
        "size_bytes": asset.size_bytes,
        "id": asset.id,
        "hash": asset.hash,
        "url": url,
        "url_expires_at": expires,
        "job_id": asset.job_id,
    }


def job_error(job: Job) -> dict[str, Any] | None:
    """``JobError`` from the executor's ``execution_error`` (code ``node_execution_error``)."""
    if job.error is None:
        return None
    return {
        "code": "node_execution_error",
        "message": job.error["exception_message"],
        "node_id": job.error["node_id"],
        "class_type": job.error["node_type"],
        "traceback": "".join(job.error["traceback"]),
    }


def job_body(state: CloudState, storage: Storage, job: Job) -> dict[str, Any]:
    """The spec's ``Job``: status, snapshot, outputs so far, error, metrics, host-relative urls."""
    created_ms = int(job.create_time * 1000)
    started = job.start_ms / 1000 if job.start_ms is not None else None
    completed = None
    if job.v2_terminal:
        completed = job.end_ms / 1000 if job.end_ms is not None else job.update_time
    outputs = [] if job.expired else job.output_assets
    base = f"/api/v2/jobs/{job.id}"
    return {
        "id": job.id,
        "status": job.v2_status,
        "created_at": iso(job.create_time),
        "started_at": iso(started),
        "completed_at": iso(completed),
        "expires_at": iso(job.create_time + JOB_RETENTION),
        "queue_position": state.queue_position(job),
        "progress": dict(job.progress) if job.progress is not None else None,
        "outputs": [output_body(state, storage, state.v2.assets[i]) for i in outputs],
        "error": job_error(job),
        "metrics": {
            "queue_ms": job.start_ms - created_ms if job.start_ms is not None else None,
            "execution_ms": (
                job.end_ms - job.start_ms
                if job.start_ms is not None and job.end_ms is not None
                else None
            ),
        },
        "urls": {"self": base, "events": f"{base}/events", "cancel": f"{base}/cancel"},
    }


def hostile_answer(mode: str, request: web.Request) -> web.Response:
    """What a wrong server says to a v2 call: a captive-portal page or a v1 body."""
    if mode == "html":
        return web.Response(text=CAPTIVE_PORTAL, content_type="text/html")
    path = request.path
    if request.method == "POST" and path == "/api/v2/jobs":
        body: dict[str, Any] = {"prompt_id": str(uuid.uuid4()), "number": 1, "node_errors": {}}
    elif request.method == "POST" and path.startswith("/api/v2/assets"):
        body = {"name": "upload.png", "subfolder": "", "type": "input"}
    elif path.startswith("/api/v2/jobs/"):
        job_id = path.split("/")[4]
        body = {"id": job_id, "status": "success", "error_message": None}
    else:
        body = {"exec_info": {"queue_remaining": 0}}
    return web.json_response(body)
