"""One bounded health check of a ComfyUI target, telling the ways it can fail apart.

:func:`probe` answers within ``timeout`` seconds (3 s by default, DESIGN.md "Targets and
fallback") with a :class:`ProbeResult` whose ``state`` is one of:

* ``ok``: a ComfyUI answered ``/system_stats`` (cloud: ``/api/system_stats`` and an
  authenticated ``/api/user``);
* ``dns``: the host name does not resolve;
* ``refused``: nothing listens (ComfyUI not running, or listening on 127.0.0.1 only);
* ``timeout``: no answer in time (PC off or asleep, firewall, Tailscale down);
* ``http_error``: an HTTP error status (``status`` holds it);
* ``not_comfyui``: something answers, but it is not ComfyUI;
* ``auth``: Comfy Cloud refused the API key (401/403), or a ComfyUI target (or the
  proxy in front of it) refused its token or password, or asks for one (401, or 403
  with a challenge);
* ``connect``: another connection failure (connection reset, TLS);
* ``bad_url``: the URL itself cannot be used (no host, port out of range...).

A probe never raises for a target problem; :func:`unreachable_from` turns a failed
local probe into the exit-3 error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import TargetUnreachable
from ..sanitize import clean_text, redact
from ..urls import bare_url, check_url, credentials, shown_url
from .auth import OriginBoundAuth, TargetAuth
from .failures import is_auth_refusal, target_auth_error, unreachable_reason

DEFAULT_TIMEOUT = 3.0
API_KEY_HEADER = "X-API-Key"
# Tailscale gives nodes addresses from the CGNAT range and its own IPv6 ULA prefix.
_TAILSCALE_NETS = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)
_UNREACHABLE = frozenset({"dns", "refused", "timeout", "connect"})
_BAD_URL_HINT = "Fix the URL (it looks like http://100.64.1.2:8188): see comfycine targets"
_TAILSCALE_HINT = (
    "Check Tailscale on both machines (`tailscale status`: both connected, same tailnet) "
    "and that the PC is awake."
)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe found: a state, how long it took, and the next thing to do."""

    url: str
    state: str
    seconds: float
    detail: str
    hint: str = ""
    status: int | None = None  # the HTTP status, for http_error and auth
    version: str | None = None  # system.comfyui_version
    device: str | None = None  # devices[0].name

    @property
    def ok(self) -> bool:
        """Whether a ComfyUI answered and is usable."""
        return self.state == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``ok`` included, ``seconds`` rounded to milliseconds)."""
        data = asdict(self)
        data["ok"] = self.ok
        data["seconds"] = round(self.seconds, 3)
        return data


def is_tailscale_host(host: str) -> bool:
    """Whether ``host`` is a Tailscale address (100.64.0.0/10, fd7a:115c:a1e0::/48) or
    a MagicDNS name (``*.ts.net``)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name.endswith(".ts.net")
    return any(address in net for net in _TAILSCALE_NETS)


async def probe(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    api_key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: TargetAuth | None = None,
    target: str | None = None,
) -> ProbeResult:
    """Check ``url`` once and classify the outcome; never takes longer than ``timeout``.

    With ``api_key`` the URL is taken as a Comfy Cloud API (``/api/...`` paths, key sent
    as ``X-API-Key`` to ``/api/user`` only). ``auth`` (a target's token or user and
    password) is sent to the URL's origin only; without it, a ``user:password@`` in
    ``url`` is sent as basic auth, and masked in the result. ``target`` names the target
    in the ``auth`` state's hint. Target failures are returned, not raised; a URL that
    cannot be parsed is the state ``bad_url``.
    """
    shown = shown_url(url.strip().rstrip("/"))
    started = time.monotonic()
    try:
        base = check_url(url)
    except ValueError as exc:
        return ProbeResult(shown, "bad_url", 0.0, f"the URL is not usable: {exc}", _BAD_URL_HINT)
    creds = credentials(base)
    if auth is None and creds is not None:
        auth = TargetAuth.basic(*creds, source="the URL's user:password")
    try:
        async with asyncio.timeout(timeout):
            state, detail, fields = await _check(base, timeout, api_key, transport, auth)
    except TimeoutError:
        state, detail, fields = "timeout", f"no answer within {timeout:g} s", {}
    seconds = time.monotonic() - started
    detail = redact(detail, [api_key, creds[1] if creds else None, auth.secret if auth else None])
    hint = _hint_for(bare_url(base), state, api_key is not None)
    if state == "auth" and not api_key:
        refused = target_auth_error(base, fields.get("status") or 401, target=target, auth=auth)
        hint = refused.hint
    return ProbeResult(
        url=shown,
        state=state,
        seconds=seconds,
        detail=clean_text(" ".join(detail.split())),
        hint=hint,
        **fields,
    )


def unreachable_from(result: ProbeResult) -> TargetUnreachable:
    """The exit-3 error for a failed local probe, proposing the cloud as fallback."""
    if result.ok:
        raise ValueError("unreachable_from needs a failed probe")
    return TargetUnreachable(
        f"Cannot reach ComfyUI at {result.url}: {result.detail}.",
        hint=result.hint,
        details={"url": result.url, "reason": result.state, "fallback": "cloud"},
    )


async def _check(
    base: str,
    timeout: float,
    api_key: str | None,
    transport: httpx.AsyncBaseTransport | None,
    auth: TargetAuth | None,
) -> tuple[str, str, dict[str, Any]]:
    secure = base.startswith("https://")
    async with httpx.AsyncClient(
        base_url=bare_url(base),
        auth=OriginBoundAuth(auth, bare_url(base)) if auth is not None else None,
        transport=transport,
        timeout=timeout,
        verify=secure,
        trust_env=secure,  # a proxy from the environment would break a tailnet address
        follow_redirects=False,
        headers={"User-Agent": "comfycine"},
    ) as http:
        try:
            prefix = "/api" if api_key else ""
            response = await http.get(f"{prefix}/system_stats")
            state, detail, fields = _read_stats(response, cloud=api_key is not None, auth=auth)
            if state == "ok" and api_key:
                state, detail = await _check_key(http, api_key, detail)
            return state, detail, fields
        except httpx.TimeoutException:
            return "timeout", f"no answer within {timeout:g} s", {}
        except httpx.ConnectError as exc:
            reason = unreachable_reason(exc)
            return reason, _REASON_TEXT.get(reason, str(exc)), {}
        except httpx.RemoteProtocolError as exc:
            return "not_comfyui", f"the answer is not valid HTTP ({exc})", {}
        except httpx.TransportError as exc:
            return "connect", f"the connection failed ({type(exc).__name__}: {exc})", {}


_REASON_TEXT = {
    "dns": "the host name does not resolve",
    "refused": "connection refused (nothing listening on that port)",
    "connect": "the connection failed",
}


def _read_stats(
    response: httpx.Response, *, cloud: bool, auth: TargetAuth | None = None
) -> tuple[str, str, dict[str, Any]]:
    path = response.request.url.path
    if 300 <= response.status_code < 400:
        where = response.headers.get("location", "elsewhere")
        return "not_comfyui", f"{path} redirects to {where}", {}
    if not cloud and is_auth_refusal(response):
        status = response.status_code
        if auth is None:
            said = f"the server asks for credentials (HTTP {status}) and none are configured"
        else:
            said = f"the server refused {auth.kind_text} from {auth.source} (HTTP {status})"
        return "auth", said, {"status": status}
    if response.status_code >= 400:
        status = response.status_code
        return "http_error", f"HTTP {status} on {path}", {"status": status}
    try:
        data = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return "not_comfyui", f"{path} answered {kind}, not JSON", {}
    # Comfy Cloud's devices list is not documented; a local ComfyUI always has one.
    needed = ("system",) if cloud else ("system", "devices")
    if not isinstance(data, dict) or any(key not in data for key in needed):
        return "not_comfyui", f"{path} answered JSON without {'/'.join(needed)}", {}
    system = data["system"] if isinstance(data["system"], dict) else {}
    devices = data.get("devices") if isinstance(data.get("devices"), list) else []
    version = system.get("comfyui_version")
    first = devices[0] if devices and isinstance(devices[0], dict) else {}
    device = first.get("name")
    fields = {
        "version": str(version) if version else None,
        "device": str(device) if device else None,
    }
    detail = f"ComfyUI {fields['version'] or '(version unknown)'}"
    if fields["device"]:
        detail += f" on {fields['device']}"
    return "ok", detail, fields


async def _check_key(http: httpx.AsyncClient, api_key: str, detail: str) -> tuple[str, str]:
    response = await http.get("/api/user", headers={API_KEY_HEADER: api_key})
    status = response.status_code
    if status in {401, 403}:
        return "auth", f"Comfy Cloud refused the API key (HTTP {status})"
    if status >= 300:
        return "http_error", f"HTTP {status} on /api/user"
    try:
        body = response.json()
    except ValueError:
        return "not_comfyui", "/api/user did not answer JSON"
    account = body.get("status") if isinstance(body, dict) else None
    return "ok", f"{detail}; account {account or 'status unknown'}"


def _hint_for(url: str, state: str, cloud: bool) -> str:
    host = urlsplit(url).hostname or ""
    port = urlsplit(url).port or 8188
    if state == "ok":
        return ""
    if state == "auth":
        return "Check the key at platform.comfy.org and the setting that holds it."
    if state == "http_error":
        return "Check that the URL is the server's root (no path), and the server's log."
    if state == "not_comfyui":
        return "Something else answers there: check the host and port of the URL."
    if cloud:
        return "Check the network connection and the cloud URL, then retry."
    if state in _UNREACHABLE and is_tailscale_host(host):
        if state == "refused":
            return f"{_TAILSCALE_HINT} Then start ComfyUI on the PC with --listen."
        if state == "timeout":
            return f"{_TAILSCALE_HINT} Then allow inbound TCP {port} in the PC's firewall."
        return _TAILSCALE_HINT
    local = host in {"127.0.0.1", "localhost", "::1"}
    if local and state == "refused":
        return "Start ComfyUI (or the test server: comfycine server up), then retry."
    if local and state == "timeout":
        return f"Something on port {port} accepts but never answers: restart ComfyUI."
    if state == "dns":
        return "Check the host name in the URL."
    if state == "refused":
        return f"Start ComfyUI on that machine with --listen (port {port}), then retry."
    return "Check that the machine is on and awake, and that its firewall allows the port."
