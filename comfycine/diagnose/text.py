"""A pasted error (a ComfyUI console line, a JSON answer, a traceback) → a comfycine error.

``debug --error-text`` accepts whatever the filmmaker copies: the 400 body of
``POST /prompt``, an ``execution_error`` payload, a comfycine JSON envelope, a history
entry, a Comfy Cloud refusal (v1 ``{"error": {"type"}}``, v2 ``{"error": {"code"}}``, or
as text: "402 Payment Required", "HTTP 429 … queue_full, Retry-After: 30"), a v2 job
error, or plain text. Each is turned into the error comfycine itself would have raised,
so the same rules diagnose it (account refusals: :mod:`comfycine.diagnose.account`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import (
    CloudAccountError,
    ComfycineError,
    JobFailed,
    ServerError,
    TargetAuthError,
    TargetUnreachable,
    ValidationFailed,
)
from ..sanitize import clean_text, redact
from ..urls import shown_url
from .account import ACCOUNT_KINDS, AUTH_UNKNOWN, account_code, seconds
from .place import is_cloud_url

_OOM = re.compile(
    r"OutOfMemoryError|out of memory|Allocation on device|OOMError|ran out of memory",
    re.IGNORECASE,
)
_NO_NODE = re.compile(r"node (\S+?) does not exist", re.IGNORECASE)
_NOT_IN_LIST = re.compile(r"Value not in list:\s*(\w+)\s*:\s*'([^']+)'\s+not in")
_UNREACHABLE = (
    (re.compile(r"connection refused|ECONNREFUSED|errno 111|actively refused", re.I), "refused"),
    (re.compile(r"timed out|timeout|ETIMEDOUT|no route to host", re.I), "timeout"),
    (re.compile(r"name or service not known|nodename nor servname|getaddrinfo", re.I), "dns"),
)
_URL = re.compile(r"https?://[\w.\-\[\]:@*%]+")
# An account status: said as HTTP ("HTTP 429", "status: 402", "Error: 401", a line's first
# word) or with its reason phrase ("401 Unauthorized"), never a bare number ("line 401").
_STATUS = re.compile(
    r"(?:\bHTTP(?:/[\d.]+)?\s*|\bstatus(?:[ _]?code)?\W{0,3}|\berror\W{0,3}|^\W{0,3})"
    r"(40[123]|429)\b"
    r"|\b(40[123]|429)\W{0,3}(?:Unauthori[sz]ed|Payment Required|Forbidden|Too Many Requests)",
    re.I | re.M,
)
# v1 types are upper case (QUEUE_LIMIT): matched as written, so that "Payment Required"
# (a 402's reason phrase) is not the PAYMENT_REQUIRED plan refusal.
_V1_KINDS = re.compile(r"\b(" + "|".join(k for k in ACCOUNT_KINDS if k.isupper()) + r")\b")
_V2_KINDS = re.compile(
    r"\b(" + "|".join(k for k in ACCOUNT_KINDS if k.islower() and "_" in k) + r")\b", re.I
)
_PHRASES = (
    (
        re.compile(
            r"insufficient (?:credits|funds)|not enough credits|out of credits|"
            r"payment required|InsufficientFundsError",
            re.I,
        ),
        "cloud_credits",
    ),
    (re.compile(r"queue (?:is )?full|queue limit", re.I), "cloud_queue_full"),
    (re.compile(r"rate[- ]limit|too many (?:requests|streams)", re.I), "cloud_rate_limited"),
    (
        re.compile(
            r"subscription (?:is )?(?:required|inactive|expired)|inactive subscription|"
            r"InactiveSubscriptionError|free tier (?:is )?exhausted",
            re.I,
        ),
        "cloud_plan",
    ),
    (
        re.compile(
            r"unauthori[sz]ed|invalid (?:api )?key|api key (?:is )?(?:invalid|missing|revoked)"
            r"|missing (?:api )?key|authentication (?:failed|required)|not authenticated",
            re.I,
        ),
        AUTH_UNKNOWN,
    ),
)
_PLAN_WORDS = re.compile(r"subscription|\bplan\b|free tier|upgrade", re.I)
_AUTH_STATUS = {"unauthorized": 401, "forbidden": 403}  # v2 codes and their HTTP status
_RETRY_AFTER = re.compile(r"retry[-_ ]after\W{0,4}(\d+)", re.I)
# What says the refusal came from Comfy Cloud, or from a self-hosted server's own auth.
_CLOUD_WORDS = re.compile(
    r"cloud|comfy\.org|comfy\.app|credits|api[ _-]?key|x-api-key|COMFY_CLOUD", re.I
)
_SELF_HOSTED_WORDS = re.compile(
    r"basic realm|www-authenticate:\s*basic|comfy-api-proxy|--token|COMFYCINE_TARGET_|"
    r"nginx|caddy|traefik|reverse proxy|auth(?:entication)? proxy",
    re.I,
)
# v2 error codes of a refused request (not a job's failure): read as the server's answer.
_V2_REQUEST_CODES = frozenset(
    {
        "workflow_format_ui",
        "missing_asset",
        "idempotency_key_reuse",
        "hash_mismatch",
        "blob_not_found",
        "asset_in_use",
        "deployment_stopped",
        "not_implemented",
        "not_found",
        "upstream_error",
        "invalid_request",
        "payload_too_large",
        "upstream_unreachable",
        "output_unavailable",
        "forbidden_origin",
    }
)


def error_from_text(text: str) -> ComfycineError:
    """The comfycine error a pasted message stands for (never raises).

    Secrets in it (a URL's password, an ``X-API-Key``, a bearer token) are masked first:
    the message and details are shown back and may be stored.
    """
    stripped = redact(text.strip())
    parsed = _json_or_none(stripped)
    if isinstance(parsed, dict):
        found = _from_json(parsed)
        if found is not None:
            return found
    return _from_plain(clean_text(stripped))


def _json_or_none(text: str) -> Any:
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _from_json(data: dict[str, Any]) -> ComfycineError | None:
    from ..outcomes import failure_from_payload
    from ..transport.failures import validation_error

    if "schema" in data and isinstance(data.get("error"), dict):
        error = data["error"]
        return ComfycineError(
            str(error.get("message") or ""),
            hint=str(error.get("hint") or ""),
            details=dict(error.get("details") or {}),
            code=str(error.get("code") or "unexpected"),
        )
    refusal = _account_from_json(data)
    if refusal is not None:
        return refusal
    if "node_errors" in data or (isinstance(data.get("error"), dict) and "type" in data["error"]):
        return validation_error(data)
    v2 = _v2_from_json(data)
    if v2 is not None:
        return v2
    payload = data.get("data") if data.get("type") == "execution_error" else data
    if isinstance(payload, dict) and "exception_message" in payload:
        return failure_from_payload(payload, {})
    status = data.get("status")
    messages = status.get("messages") if isinstance(status, dict) else None
    for item in messages if isinstance(messages, list) else ():
        pair = item if isinstance(item, list) and len(item) == 2 else (None, None)
        if pair[0] == "execution_error" and isinstance(pair[1], dict):
            return failure_from_payload(pair[1], {})
    return None


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _account_from_json(data: dict[str, Any]) -> ComfycineError | None:
    """A Comfy Cloud refusal body: v1 ``{"error": {"type"}}`` / ``{"type"}``, v2 ``{"error":
    {"code"}}``, with an HTTP status when the paste has one (``"status": 429``)."""
    error = _obj(data.get("error")) or data
    kind = error.get("type") or error.get("code")
    if not isinstance(kind, str):
        return None
    status = next(
        (
            v
            for v in (data.get("status"), data.get("status_code"), error.get("status"))
            if isinstance(v, int) and not isinstance(v, bool)
        ),
        None,
    )
    if status is None and kind not in ACCOUNT_KINDS and kind.lower() not in ACCOUNT_KINDS:
        return None
    status = status or _AUTH_STATUS.get(kind.lower())
    message = clean_text(str(error.get("message") or kind))
    extra = _obj(error.get("details"))
    wait = next(
        (
            seconds(source.get(key))
            for source in (data, error, extra)
            for key in ("retry_after", "Retry-After", "retry-after")
            if seconds(source.get(key)) is not None
        ),
        None,
    )
    text = json.dumps(data)
    code = account_code(status, kind, plan=bool(_PLAN_WORDS.search(message)))
    if code is None:
        return None
    return _refusal(code, message, text, {"status": status, "type": kind, "retry_after": wait})


def _v2_from_json(data: dict[str, Any]) -> ComfycineError | None:
    """A v2 answer that is not an account refusal: ``invalid_workflow``, another refused
    request, or a failed job's ``error`` (``{"code": "node_execution_error", …}``, alone
    or inside the job)."""
    from ..outcomes import failure_from_payload
    from ..transport.failures import validation_error

    wrapped = _obj(data.get("error"))
    if isinstance(wrapped.get("code"), str) and "id" not in data:
        code, message = wrapped["code"], clean_text(str(wrapped.get("message") or ""))
        extra = _obj(wrapped.get("details"))
        if code == "invalid_workflow":
            node_errors = extra.get("node_errors")
            if isinstance(node_errors, dict) and all(
                isinstance(v, dict) for v in node_errors.values()
            ):
                body = {"error": {"message": message}, "node_errors": node_errors}
                return validation_error(body)
            return ValidationFailed(message or "The server rejected the workflow.")
        if code in _V2_REQUEST_CODES:
            return ServerError(message or code, code="server_error", details={"type": code})
    job_error = wrapped if data.get("status") == "failed" and wrapped else data
    code = job_error.get("code")
    if not isinstance(code, str) or "message" not in job_error or code in _V2_REQUEST_CODES:
        return None
    trace = job_error.get("traceback")
    payload = {
        "node_id": job_error.get("node_id"),
        "node_type": job_error.get("class_type"),
        "exception_type": code,
        "exception_message": str(job_error.get("message") or ""),
        "traceback": trace if isinstance(trace, list) else [],
    }
    return failure_from_payload(payload, {})


def _from_plain(text: str) -> ComfycineError:
    first = next((line.strip() for line in text.splitlines() if line.strip()), text)
    if _OOM.search(text):
        return JobFailed(f"Out of GPU memory: {first}", code="out_of_memory")
    missing = _NO_NODE.search(text)
    if missing:
        return ValidationFailed(first, code="unknown_node")
    model = _NOT_IN_LIST.search(text)
    if model:
        problem = {"code": "value_not_in_list", "input": model.group(1), "message": model.group(0)}
        return ValidationFailed(first, code="missing_model", details={"problems": [problem]})
    refusal = _account_from_plain(first, text)
    if refusal is not None:
        return refusal
    for pattern, reason in _UNREACHABLE:
        if pattern.search(text):
            details = {"url": _url_in(text), "reason": reason}
            return TargetUnreachable(first, details=details)
    if "Traceback" in text or "Error" in text or "Exception" in text:
        exc_type, _, message = _last_exception_line(text).partition(": ")
        return JobFailed(
            f"{exc_type}: {message}" if message else first,
            details={"exception_type": exc_type, "exception_message": message or text},
        )
    return ComfycineError(first, hint="", code="unrecognised_error")


def _account_from_plain(first: str, text: str) -> ComfycineError | None:
    """A refusal pasted as text: its status, a v1/v2 kind, or the words that mean one."""
    found = _STATUS.search(text)
    status = int(found.group(1) or found.group(2)) if found else None
    kind_match = _V1_KINDS.search(text) or _V2_KINDS.search(text)
    kind = kind_match.group(1) if kind_match else None
    code = account_code(status, kind, plan=bool(_PLAN_WORDS.search(text)))
    if code is None:
        code = next((c for pattern, c in _PHRASES if pattern.search(text)), None)
    if code is None:
        return None
    wait = _RETRY_AFTER.search(text)
    details = {"status": status, "type": kind, "retry_after": int(wait.group(1)) if wait else None}
    return _refusal(code, first, text, details)


def _refusal(code: str, message: str, text: str, details: dict[str, Any]) -> ComfycineError:
    """The error comfycine raises for refusal ``code``; a 401/403 is Comfy Cloud's only
    when the text says so, a self-hosted server's when it says that, else undecided."""
    url = _url_in(text)
    details = {k: v for k, v in details.items() if v is not None}
    if url:
        details["url"] = url
    if code == AUTH_UNKNOWN:
        if _CLOUD_WORDS.search(text) or is_cloud_url(url):
            return CloudAccountError(message, code="cloud_auth", details=details)
        if _SELF_HOSTED_WORDS.search(text):
            return TargetAuthError(message, details={**details, "self_hosted": True})
        return ComfycineError(message, hint="", code=AUTH_UNKNOWN, details=details)
    return CloudAccountError(message, code=code, details=details)


def _url_in(text: str) -> str:
    """The first URL of ``text``, as shown (a password in it masked)."""
    found = _URL.search(text)
    return shown_url(found.group(0).rstrip(".:")) if found else ""


def _last_exception_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if re.fullmatch(r"[\w.]*(Error|Exception)", head):
            return line
    return lines[-1] if lines else text
