"""The one boundary where httpx's exceptions and error answers become comfycine errors.

:func:`map_http_errors` wraps every request; :func:`unreachable_reason` names why a
connection failed (dns, refused, timeout, ...), which both the error text and the
reconnect policy use.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..envnames import ENV_TARGET_PREFIX, target_auth_env_names
from ..errors import (
    ComfycineError,
    ServerError,
    TargetAuthError,
    TargetUnreachable,
    ValidationFailed,
)
from ..sanitize import clean_text, one_line
from ..urls import bare_url, shown_url
from .auth import TargetAuth


def unreachable_reason(exc: httpx.TransportError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return "refused"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text:
        return "dns"
    if "refused" in text:
        return "refused"
    return "connect"


_REASON_TEXT = {
    "dns": "the host name does not resolve",
    "refused": "the connection was refused "
    "(ComfyUI not running, or not listening beyond localhost)",
    "timeout": "no answer in time (PC off or asleep, firewall, or Tailscale down)",
    "connect": "the connection failed",
    "dropped": "the server closed the connection",
}


_CLOUD_REASON_TEXT = {
    "dns": "the host name does not resolve (no internet, or a DNS problem)",
    "refused": "the connection was refused",
    "timeout": "no answer in time",
    "connect": "the connection failed",
    "dropped": "the connection was closed",
}


def unreachable_error(url: str, reason: str, *, sent: bool = True) -> TargetUnreachable:
    """A :class:`TargetUnreachable` with a plain reason and the next command.

    ``sent`` is False when the request never left (no connection): a POST that failed
    that way did not reach the server; any other failure may have come after it did.
    """
    url = shown_url(url)  # a password in the URL is never echoed
    host = urlsplit(url).hostname or url
    if host.endswith((".comfy.org", ".comfy.app")):
        # Comfy's own service: the fault is this machine's connection, or theirs.
        return TargetUnreachable(
            f"Cannot reach Comfy's service at {url}: {_CLOUD_REASON_TEXT.get(reason, reason)}.",
            hint="Check this machine's internet connection, then: comfycine doctor --target cloud",
            details={"url": url, "reason": reason, "sent": sent},
        )
    hint = "Check that ComfyUI runs with --listen and that COMFYUI_URL is right."
    if host.startswith("100.") or host.endswith(".ts.net"):
        hint = (
            "Check that Tailscale runs and is logged in on both machines, and that the PC is awake."
        )
    elif host in {"127.0.0.1", "localhost", "::1"}:
        hint = "Start ComfyUI (or the test server: comfycine server up), then retry."
    return TargetUnreachable(
        f"Cannot reach ComfyUI at {url}: {_REASON_TEXT.get(reason, reason)}.",
        hint=hint,
        details={"url": url, "reason": reason, "fallback": "cloud", "sent": sent},
    )


@contextmanager
def map_http_errors(url: str) -> Iterator[None]:
    """Translate httpx transport errors into comfycine errors (the one boundary)."""
    try:
        yield
    except ComfycineError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise unreachable_error(url, unreachable_reason(exc), sent=False) from exc
    except httpx.TimeoutException as exc:
        raise unreachable_error(url, "timeout") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise unreachable_error(url, "dropped") from exc


# How much of an error body is kept in the error's details.
BODY_LIMIT = 4000


def is_auth_refusal(response: httpx.Response) -> bool:
    """Whether ``response`` refuses the credentials: a 401, or a 403 with a challenge.

    A 403 without ``WWW-Authenticate`` refuses a resource, not the caller: not this.
    """
    status = response.status_code
    return status == 401 or (status == 403 and "www-authenticate" in response.headers)


_SENT_TEXT = {"bearer": "a bearer token", "basic": "a user and password"}


def target_auth_error(
    url: str,
    status: int,
    *,
    target: str | None = None,
    auth: TargetAuth | None = None,
    sent: str | None = None,
) -> TargetAuthError:
    """The exit-7 error for a non-cloud server refusing its credentials.

    ``auth`` is what was sent (its ``source`` names the setting); without it, ``sent``
    says which scheme went (``bearer``/``basic``, from the request) or None. The message
    names the target, its URL (password masked) and what was sent; the hint the exact
    variables to set or fix. No secret value is ever part of it.
    """
    shown = shown_url(bare_url(url))
    scheme = auth.scheme if auth is not None else sent
    token, user, password = target_auth_env_names(target or "NAME")
    who = f"Target {target} at {shown}" if target else f"The ComfyUI server at {shown}"
    if auth is not None and auth.source:
        what = f"{auth.kind_text} from {auth.source}"
    elif scheme is not None:
        what = _SENT_TEXT.get(scheme, "an Authorization header")
    else:
        what = ""
    if what:
        message = f"{who} refused the credentials (HTTP {status}): {what} was sent."
    else:
        message = f"{who} asks for credentials (HTTP {status}) and none are configured."
    from_settings = auth is not None and auth.source.startswith(ENV_TARGET_PREFIX)
    if from_settings and auth is not None and auth.scheme == "bearer":
        names, fix = [token], f"Fix {token} (the server refused that token)"
    elif from_settings:
        names, fix = [user, password], f"Fix {user} and {password}"
    elif scheme == "basic":
        names = [user, password]
        fix = f"Fix the user:password in the URL, or set {user} and {password}"
    else:
        names = [token, user, password]
        fix = f"Set {token} (a bearer token), or {user} and {password} (basic auth)"
    return TargetAuthError(
        message,
        hint=f"{fix} in the environment or .env, then check with: comfycine targets",
        details={
            "url": shown,
            "target": target,
            "status": status,
            "sent": scheme,
            "settings": names,
        },
    )


def sent_scheme(request: httpx.Request) -> str | None:
    """``bearer``/``basic`` for the ``Authorization`` header ``request`` carried, else None."""
    value = request.headers.get("authorization", "")
    kind = value.partition(" ")[0].lower()
    return kind if kind in {"bearer", "basic"} else ("other" if value else None)


def raise_for_server_error(response: httpx.Response) -> None:
    """Raise the comfycine error for an error status (none below 400).

    A refusal of the credentials (:func:`is_auth_refusal`) is a :class:`TargetAuthError`;
    a client that knows its target raises a more precise one before this.
    """
    if response.status_code < 400:
        return
    if is_auth_refusal(response):
        request = response.request
        raise target_auth_error(
            str(request.url.copy_with(path="/", query=None, fragment=None)).rstrip("/"),
            response.status_code,
            sent=sent_scheme(request),
        )
    text = clean_text(response.text[:BODY_LIMIT]).strip()
    kind = response.headers.get("content-type", "").split(";")[0] or "no content type"
    # A traceback or an HTML page spans many lines: one in the message, all in details.
    raise ServerError(
        f"ComfyUI answered HTTP {response.status_code} ({kind}) to "
        f"{response.request.method} {response.request.url.path}: "
        f"{one_line(text) or '(empty body)'}",
        details={"status": response.status_code, "path": response.request.url.path, "body": text},
    )


def read_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"{response.request.url.path} did not answer JSON: is this a ComfyUI server?",
            details={"status": response.status_code, "path": response.request.url.path},
        ) from None


def validation_error(body: dict[str, Any]) -> ValidationFailed:
    """The error for a 400 answer to ``POST /prompt``, with the server's own reason."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    node_errors = body.get("node_errors") if isinstance(body.get("node_errors"), dict) else {}
    problems: list[dict[str, Any]] = []
    for node_id, node in (node_errors or {}).items():
        for err in (node or {}).get("errors", ()):
            extra = err.get("extra_info") or {}
            problems.append(
                {
                    "node": str(node_id),
                    "class_type": (node or {}).get("class_type"),
                    "input": extra.get("input_name"),
                    "code": err.get("type"),
                    "message": clean_text(f"{err.get('message', '')}: {err.get('details', '')}"),
                }
            )
    message = clean_text(str((error or {}).get("message") or "The server rejected the workflow"))
    details = clean_text(str((error or {}).get("details") or ""))
    if problems:
        reasons = "; ".join(f"node {p['node']} {p['message']}" for p in problems)
        text = f"{message}: {reasons}"
    else:
        text = f"{message} ({details})" if details else message
    # The server cannot tell a typo from a missing custom-node pack: unknown_node, as the
    # validator says when no template declares the pack.
    code = "unknown_node" if "does not exist" in message else "validation_failed"
    if any(p["code"] == "value_not_in_list" for p in problems):
        code = "missing_model" if all(p["code"] == "value_not_in_list" for p in problems) else code
    return ValidationFailed(
        text,
        code=code,
        details={"server_error": error, "problems": problems},
    )
