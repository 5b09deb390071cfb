"""Comfy API v2 answers as comfycine values: jobs, outputs, errors (pure, no I/O).

The contract is ``openapi-v2.yaml`` (COMFY-API-V2.md §4–§6): a job is one JSON object
(``status``, ``queue_position``, ``progress``, ``outputs``, ``error``); every error is
``{"error": {"code", "message", "details"}}``. A server that answers anything else
(an HTML page, a v1 body) is named as such in one line, never half-understood.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import httpx

from ..errors import (
    CloudAccountError,
    ComfycineError,
    RejectedError,
    ServerError,
    TargetAuthError,
    TargetUnreachable,
    UsageError,
    ValidationFailed,
)
from ..sanitize import clean_text, one_line, redact
from ..urls import shown_url
from .failures import validation_error
from .records import HistoryEntry, JobSighting, OutputRef

V2_PREFIX = "/api/v2"
TERMINAL = frozenset({"succeeded", "failed", "canceled", "expired"})
# Output.type → the history key a ComfyUI would list the file under.
_KINDS = {
    "image": "images",
    "video": "videos",
    "audio": "audio",
    "text": "text",
    "file": "files",
    "latent": "latents",
}
# What a graph input holds for an uploaded asset until submission: "asset:<id>/<name>"
# (readable in the ledger and in --dry-run output); the submission turns it into the
# ``core/ASSET`` object the contract asks for.
ASSET_PREFIX = "asset:"


class IdempotencyKeyReused(Exception):
    """The server already has a submission under this ``Idempotency-Key``.

    After a lost answer this means the job exists; v2 does not say its id.
    """


class NotServed(Exception):
    """A 404 or 501 on a v2 route: this server does not serve that part of v2."""

    def __init__(self, status: int, code: str | None) -> None:
        super().__init__(f"HTTP {status} {code or ''}".strip())
        self.status = status
        self.code = code


def asset_reference(asset_id: str, file_path: str) -> str:
    """The string a graph input holds for an uploaded asset (see :data:`ASSET_PREFIX`)."""
    return f"{ASSET_PREFIX}{asset_id}/{quote(file_path, safe='/ ()._-')}"


def asset_object(value: Any, hashes: dict[str, str]) -> dict[str, Any] | None:
    """The ``core/ASSET`` input for an :func:`asset_reference` string, else None."""
    if not isinstance(value, str) or not value.startswith(ASSET_PREFIX):
        return None
    asset_id, sep, file_path = value[len(ASSET_PREFIX) :].partition("/")
    if not sep or not asset_id:
        return None
    info: dict[str, Any] = {"id": asset_id, "file_path": unquote(file_path)}
    if asset_id in hashes:
        info["hash"] = hashes[asset_id]
    return {"__type": "core/ASSET", "info": info}


def with_assets(graph: dict[str, Any], hashes: dict[str, str]) -> dict[str, Any]:
    """The graph with every asset reference replaced by its ``core/ASSET`` object."""
    out: dict[str, Any] = {}
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
            out[node_id] = node
            continue
        inputs = {
            name: asset_object(value, hashes) or value for name, value in node["inputs"].items()
        }
        out[node_id] = {**node, "inputs": inputs}
    return out


def error_body(response: httpx.Response) -> tuple[str | None, str, dict[str, Any]]:
    """``(code, message, details)`` of a v2 error answer; code None when not v2-shaped."""
    try:
        data = response.json()
    except ValueError:
        return None, clean_text(response.text[:300]), {}
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        raw = error.get("details")
        details: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return (str(code) if code else None), clean_text(str(error.get("message") or "")), details
    if isinstance(data, dict):
        code = data.get("code") or data.get("type")
        return (str(code) if code else None), clean_text(str(data.get("message") or "")), {}
    return None, clean_text(str(data)[:300]), {}


def looks_like_html(response: httpx.Response) -> bool:
    """An HTML page where JSON was expected (a captive portal, a login page, a wrong URL)."""
    kind = response.headers.get("content-type", "")
    return "html" in kind or response.text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def not_v2(response: httpx.Response, label: str, why: str) -> ServerError:
    """The error for an answer that is not Comfy API v2 at all."""
    path = response.request.url.path
    shape = "an HTML page" if looks_like_html(response) else why
    where = shown_url(str(response.request.url.copy_with(path="/", query=None)))
    return ServerError(
        f"{label} answered {response.request.method} {path} with {shape}, not Comfy API v2 "
        f"(HTTP {response.status_code}): is {where} the right URL?",
        code="not_comfy_api_v2",
        hint="Check the target's URL (a Comfy API v2 server, a ComfyUI, or Comfy Cloud): "
        "comfycine targets",
        details={"status": response.status_code, "path": path},
    )


def read_object(response: httpx.Response, label: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer, or :func:`not_v2`."""
    try:
        data = response.json()
    except ValueError:
        raise not_v2(response, label, "a body that is not JSON") from None
    if not isinstance(data, dict):
        raise not_v2(response, label, "JSON that is not an object")
    return data


def read_job(response: httpx.Response, label: str) -> dict[str, Any]:
    """A v2 ``Job`` object; a v1 answer (``prompt_id``) or anything else is named."""
    data = read_object(response, label)
    if not isinstance(data.get("id"), str) or not isinstance(data.get("status"), str):
        why = "a v1 answer (prompt_id)" if "prompt_id" in data else "JSON without a job id"
        raise not_v2(response, label, why)
    return data


def v2_error(
    response: httpx.Response,
    *,
    label: str,
    cloud: bool,
    auth_source: str | None = None,
    target: str = "",
    secrets: tuple[str, ...] = (),
) -> ComfycineError:
    """The comfycine error for a v2 error answer (401/402/403/422/429/5xx...).

    ``cloud``: a Comfy Cloud or deployment key (account codes, exit 7) rather than a
    self-hosted server's token. ``auth_source`` names the setting that holds the
    credentials (shown in the hint), ``target`` the target's name.
    """
    status = response.status_code
    code, message, details = error_body(response)
    message = redact(message, secrets)  # a server may echo the key or token it refused
    said = one_line(message) or "(no message)"
    base = {"status": status, "type": code}
    if status == 413:
        code = code or "payload_too_large"  # a reverse proxy's own page says it too
    if code is None and looks_like_html(response):
        return not_v2(response, label, "an HTML page")
    if status in {401, 403} and (status == 401 or code in {"unauthorized", "forbidden"}):
        if cloud:
            return CloudAccountError(
                f"{label} refused the API key (HTTP {status}, {code or 'no code'}): {said}",
                code="cloud_auth",
                hint="Check COMFY_CLOUD_API_KEY (keys come from platform.comfy.org), "
                "then: comfycine doctor --target cloud",
                details=base,
            )
        where = auth_source or f"COMFYCINE_TARGET_{_env_name(target)}_TOKEN"
        return TargetAuthError(
            f"{label} refused the credentials (HTTP {status}): {said}",
            hint=f"Set or fix {where}, then check with: comfycine targets",
            details={**base, "target": target, "url": _origin_of(response)},
        )
    if cloud:
        base["cloud"] = True
    if status == 402 or code == "insufficient_credits":
        return CloudAccountError(
            f"{label}: not enough credits ({said}).",
            code="cloud_credits",
            hint="Add credits at platform.comfy.org, or render on the local ComfyUI "
            "(--target local).",
            details=base,
        )
    if status == 429:
        wait = response.headers.get("retry-after", "")
        base["retry_after"] = wait
        if code in {"queue_full", "deployment_not_ready"}:
            return CloudAccountError(
                f"{label}'s queue is full for this account ({code}): {said}",
                code="cloud_queue_full",
                hint="Wait for running jobs to finish (comfycine status), then submit again.",
                details=base,
            )
        return CloudAccountError(
            f"{label} is limiting requests ({code or 'HTTP 429'}): {said}",
            code="cloud_rate_limited",
            hint=f"Wait {wait or 'a minute'}{' s' if wait.isdigit() else ''} and retry.",
            details=base,
        )
    if status == 422 and code == "invalid_workflow":
        return _invalid_workflow(message, details)
    refusal = _REFUSALS.get((status, code or ""))
    if refusal is not None:
        kind, text, hint = refusal
        return kind(text.format(label=label, said=said), code=code, hint=hint, details=base)
    if status == 503 and code == "upstream_unreachable":
        # comfy-api-proxy answers for itself while the ComfyUI behind it is down: an
        # outage of that machine (waited out while following). On a submission the
        # proxy made no job ("sent": False), though it keeps the key; a new try is new.
        return TargetUnreachable(
            f"{label} cannot reach the ComfyUI behind it (HTTP 503 upstream_unreachable).",
            hint="Start the ComfyUI that this Comfy API v2 server fronts (or check its "
            "--comfyui URL), then retry.",
            details={**base, "url": _origin_of(response), "reason": "upstream", "sent": False},
        )
    return ServerError(
        f"{label} answered HTTP {status} to {response.request.method} "
        f"{response.request.url.path}: {code or ''}{': ' if code else ''}{said}",
        details={**base, "path": response.request.url.path, "body": message},
    )


# Refusals that need no more than a sentence: (status, code) → (error, message, hint).
_REFUSALS: dict[tuple[int, str], tuple[type[ComfycineError], str, str]] = {
    (422, "workflow_format_ui"): (
        ValidationFailed,
        "{label} refused the graph: it is in the editor's format (nodes and links), not the "
        "API format.",
        "Export it with 'Export (API)' in ComfyUI, or convert it: comfycine workflow convert FILE",
    ),
    (422, "missing_asset"): (
        RejectedError,
        "{label} does not know an input file of this job: {said}",
        "Submit it again: its inputs are uploaded anew.",
    ),
    (422, "deployment_stopped"): (
        RejectedError,
        "{label}: the deployment is stopped ({said}).",
        "Start the deployment at platform.comfy.org, then retry.",
    ),
    (413, "payload_too_large"): (
        UsageError,
        "{label} refused the upload as too large: {said}",
        "Resize or re-encode the file (Comfy API v2 expects uploads under ~100 MB).",
    ),
}


def _origin_of(response: httpx.Response) -> str:
    url = response.request.url
    return shown_url(str(url.copy_with(path="/", query=None))).rstrip("/")


def _env_name(target: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in (target or "NAME").upper())


def _invalid_workflow(message: str, details: dict[str, Any]) -> ValidationFailed:
    """A 422 ``invalid_workflow`` as the same error a ComfyUI 400 gives.

    ``details.node_errors`` is ComfyUI's own dict behind comfy-api-proxy, and the
    contract's ``{node: [{field, reason}]}`` on Cloud; both are read.
    """
    node_errors: dict[str, Any] = {}
    raw = details.get("node_errors")
    for node_id, value in raw.items() if isinstance(raw, dict) else ():
        if isinstance(value, dict):
            node_errors[str(node_id)] = value
        elif isinstance(value, list):
            errors = [
                {
                    "type": str(item.get("reason") or "invalid"),
                    "message": str(item.get("reason") or "invalid"),
                    "details": str(item.get("message") or item.get("field") or ""),
                    "extra_info": {"input_name": item.get("field")},
                }
                for item in value
                if isinstance(item, dict)
            ]
            node_errors[str(node_id)] = {"errors": errors}
    body = {"error": {"message": message or "The server rejected the workflow"}}
    return validation_error({**body, "node_errors": node_errors})


def output_refs(outputs: Any, base: httpx.URL) -> tuple[OutputRef, ...]:
    """The job's ``outputs`` list as refs; links resolved against the answering origin."""
    refs: list[OutputRef] = []
    for item in outputs if isinstance(outputs, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        url = item.get("url")
        # comfy-api-proxy types a saved mp4 "image": its content type tells the truth.
        family = str(item.get("content_type") or "").split("/")[0]
        kind = {"video": "videos", "audio": "audio", "image": "images"}.get(family)
        refs.append(
            OutputRef(
                node=str(item.get("node_id") or ""),
                kind=kind or _KINDS.get(str(item.get("type") or ""), "files"),
                filename=item["name"],
                asset_id=str(item.get("id") or ""),
                url=str(base.join(url)) if isinstance(url, str) and url else "",
            )
        )
    return tuple(refs)


def job_history(job: dict[str, Any], base: httpx.URL) -> HistoryEntry | None:
    """A finished job as a :class:`HistoryEntry` (None while in flight, or expired).

    An execution failure is not an HTTP error in v2: ``job.error`` becomes the
    ``execution_error`` message the rest of comfycine reads (OOM by its text).
    """
    job_id = str(job.get("id") or "")
    status = str(job.get("status") or "").lower()
    if status not in TERMINAL or status == "expired":
        return None
    messages: list[tuple[str, dict[str, Any]]] = [("execution_start", {"prompt_id": job_id})]
    if status == "canceled":
        messages.append(("execution_interrupted", {"prompt_id": job_id}))
    elif status == "failed":
        found = job.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        trace = error.get("traceback")
        messages.append(
            (
                "execution_error",
                {
                    "prompt_id": job_id,
                    "node_id": error.get("node_id"),
                    "node_type": error.get("class_type"),
                    "exception_type": str(error.get("code") or "node_execution_error"),
                    "exception_message": clean_text(str(error.get("message") or "")),
                    "traceback": trace if isinstance(trace, list) else [],
                },
            )
        )
    else:
        messages.append(("execution_success", {"prompt_id": job_id}))
    kept = {k: v for k, v in job.items() if k in {"id", "status", "metrics", "created_at"}}
    return HistoryEntry(
        prompt_id=job_id,
        status="success" if status == "succeeded" else "error",
        completed=status == "succeeded",
        outputs=output_refs(job.get("outputs"), base),
        messages=tuple(messages),
        raw=kept,
    )


def job_sighting(job: dict[str, Any], base: httpx.URL) -> JobSighting:
    """Where a v2 job answer says the job is (the job's own ``status`` decides)."""
    status = str(job.get("status") or "").lower()
    progress = job.get("progress") if isinstance(job.get("progress"), dict) else None
    if status == "expired":
        return JobSighting("absent")
    if status in TERMINAL:
        return JobSighting("finished", history=job_history(job, base))
    position = job.get("queue_position")
    if status == "queued":
        # queue_position counts jobs ahead; comfycine counts the running one as 0.
        ahead = position + 1 if isinstance(position, int) else None
        return JobSighting("queued", ahead, progress=progress)
    if status in {"running", "canceling"}:
        return JobSighting("running", 0, progress=progress)
    return JobSighting("going", progress=progress)  # a state added later: still in flight


def is_not_served(response: httpx.Response) -> bool:
    """A 404/501 that means "no such route here", not "no such job"."""
    if response.status_code == 501:
        return True
    if response.status_code != 404:
        return False
    code, _, _ = error_body(response)
    # A v2 server's 404 for an unknown job says not_found; a server without v2 says
    # nothing JSON (aiohttp's "404: Not Found") or another shape.
    return code not in {"not_found", "job_not_found", "asset_not_found"}


def raise_not_served(response: httpx.Response) -> None:
    """Raise :class:`NotServed` for :func:`is_not_served` answers."""
    if is_not_served(response):
        code, _, _ = error_body(response)
        raise NotServed(response.status_code, code)


def is_reuse(response: httpx.Response) -> bool:
    """A 422 ``idempotency_key_reuse``: the submission was made before."""
    return response.status_code == 422 and error_body(response)[0] == "idempotency_key_reuse"
