"""A pasted error (a ComfyUI console line, a JSON answer, a traceback) → a comfycine error.

``debug --error-text`` accepts whatever the filmmaker copies: the 400 body of
``POST /prompt``, an ``execution_error`` payload, a comfycine JSON envelope, a history
entry, or plain text. Each is turned into the error comfycine itself would have raised,
so the same rules diagnose it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import (
    CloudAccountError,
    ComfycineError,
    JobFailed,
    TargetUnreachable,
    ValidationFailed,
)
from ..sanitize import clean_text

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
_URL = re.compile(r"https?://[\w.\-\[\]:]+")
_CLOUD = (
    (re.compile(r"\b401\b|unauthori[sz]ed|invalid api key", re.I), "cloud_auth"),
    (re.compile(r"\b402\b|insufficient credits|payment required", re.I), "cloud_credits"),
)


def error_from_text(text: str) -> ComfycineError:
    """The comfycine error a pasted message stands for (never raises)."""
    stripped = text.strip()
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
    if "node_errors" in data or (isinstance(data.get("error"), dict) and "type" in data["error"]):
        return validation_error(data)
    payload = data.get("data") if data.get("type") == "execution_error" else data
    if isinstance(payload, dict) and "exception_message" in payload:
        return failure_from_payload(payload, {})
    messages = (data.get("status") or {}).get("messages") if "status" in data else None
    for name, body in messages or ():
        if name == "execution_error" and isinstance(body, dict):
            return failure_from_payload(body, {})
    return None


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
    for pattern, code in _CLOUD:
        if pattern.search(text) and ("cloud" in text.lower() or "api key" in text.lower()):
            return CloudAccountError(first, code=code)
    for pattern, reason in _UNREACHABLE:
        if pattern.search(text):
            url = _URL.search(text)
            details = {"url": url.group(0) if url else "", "reason": reason}
            return TargetUnreachable(first, details=details)
    if "Traceback" in text or "Error" in text or "Exception" in text:
        exc_type, _, message = _last_exception_line(text).partition(": ")
        return JobFailed(
            f"{exc_type}: {message}" if message else first,
            details={"exception_type": exc_type, "exception_message": message or text},
        )
    return ComfycineError(first, hint="", code="unrecognised_error")


def _last_exception_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if re.fullmatch(r"[\w.]*(Error|Exception)", head):
            return line
    return lines[-1] if lines else text
