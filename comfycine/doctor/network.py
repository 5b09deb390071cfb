"""The network rungs: Tailscale, DNS, TCP, HTTP, WebSocket, GPU, and the deep test job.

Each rung is bounded in time and returns a :class:`Check`; none raises for a target
problem. DNS runs in a daemon thread, so a resolver that hangs never holds the command
past its budget (``asyncio.run`` would otherwise wait for the executor at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
import uuid
from typing import Any

from ..errors import ComfycineError, ExitCode
from ..sanitize import clean_text
from ..settings import Settings
from ..tailscale import TailscaleStatus, tailscale_status
from ..targetkinds import DEPLOYMENT, V2
from ..targets import Target
from ..transport import ComfyClient
from ..transport.eventstream import EventStream
from ..transport.probe import ProbeResult, _hint_for, is_tailscale_host, probe
from .checks import FAIL, OK, WARN, Check, failed, skipped

GIB = 1024**3
LOW_VRAM = 4 * GIB  # less free than this on a GPU: something else holds the card
DEEP_TEMPLATE = "testimage"  # needs no model on any ComfyUI
_NOT_TAILSCALE = "not a Tailscale address"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def tailscale_applies(host: str) -> bool | None:
    """True for a Tailscale address or ``*.ts.net``; None for a bare name that may be a
    MagicDNS short name; False otherwise (addresses, ``localhost``, dotted names)."""
    if is_tailscale_host(host):
        return True
    name = host.strip("[]").rstrip(".").lower()
    if _is_address(name) or name == "localhost" or "." in name or not name:
        return False
    return None


async def check_tailscale(host: str, *, cli: str | None = None, timeout: float = 2.0) -> Check:
    """The ``tailscale`` rung: CLI, daemon, login, and the PC's peer online."""
    applies = tailscale_applies(host)
    if applies is False:
        return skipped("tailscale", _NOT_TAILSCALE)
    return judge_tailscale(host, await tailscale_status(timeout, cli=cli), maybe=applies is None)


def judge_tailscale(host: str, status: TailscaleStatus, *, maybe: bool = False) -> Check:
    """The ``tailscale`` rung from a status already read (pure).

    ``maybe``: the host is a bare name; it is a Tailscale rung only if a peer has it.
    """
    name = "tailscale"
    peer = status.peer_for(host) if status.connected else None
    if maybe and peer is None and not (status.connected and status.is_self(host)):
        return skipped(name, f"{_NOT_TAILSCALE} ({host} is not a peer)")
    if not status.cli_found:
        fix = "Install the Tailscale app (or: brew install tailscale), or set COMFYCINE_TAILSCALE."
        return Check(name, WARN, status.error, fix)
    state = status.backend_state
    if state is None:
        if status.error.startswith("no answer"):
            return Check(name, WARN, status.error, "Run: tailscale status")
        value = f"Tailscale is not running ({status.error})"
        return failed(
            name, value, "Open the Tailscale app (open -a Tailscale).", code="tailscale_down"
        )
    if state == "NeedsLogin":
        where = f", or open {status.auth_url}" if status.auth_url else ""
        return failed(name, "logged out", f"Log in: tailscale login{where}", code="tailscale_down")
    if state == "NeedsMachineAuth":
        fix = "Approve this machine in the Tailscale admin console (Machines)."
        return failed(name, "this machine waits for approval", fix, code="tailscale_down")
    if state == "Stopped":
        fix = "Connect: tailscale up (or Connect in the Tailscale menu)."
        return failed(name, "Tailscale is stopped (disconnected)", fix, code="tailscale_down")
    if state != "Running":
        return Check(name, WARN, f"Tailscale is {state}", "Wait a moment, then: comfycine doctor")
    tailnet = f" to {status.tailnet}" if status.tailnet else ""
    if status.is_self(host):
        return Check(name, OK, f"connected{tailnet}; {host} is this machine")
    if peer is None:
        fix = (
            "Check COMFYUI_URL against `tailscale status` (the PC's 100.x address or MagicDNS "
            "name); both machines must be logged in to the same tailnet."
        )
        return failed(name, f"connected{tailnet}, but no peer is {host}", fix)
    where = f"{peer.label} ({', '.join(peer.ips[:1]) or host})"
    if not peer.online:
        seen = f", last seen {peer.last_seen}" if peer.last_seen else ""
        fix = f"Wake {peer.label} and check that Tailscale runs on it, logged in and connected."
        return failed(name, f"{where} is offline{seen}", fix)
    route = f"direct {peer.direct}" if peer.direct else f"relay {peer.relay or '?'}"
    return Check(name, OK, f"connected{tailnet}; {where} online, {route}")


async def resolve_host(host: str, port: int, timeout: float) -> list[str]:
    """The addresses of ``host``, in resolver order (OSError or TimeoutError otherwise)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()

    def settle(result: list[Any] | None, error: OSError | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or [])

    def work() -> None:
        try:
            infos: list[Any] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            reply: tuple[list[Any] | None, OSError | None] = (None, exc)
        else:
            reply = (infos, None)
        # RuntimeError: the loop closed, nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, *reply)

    threading.Thread(target=work, name="doctor-dns", daemon=True).start()
    infos = await asyncio.wait_for(done, timeout)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_dns(host: str, port: int, timeout: float) -> tuple[Check, list[str]]:
    """The ``dns`` rung and the addresses found (an address needs no lookup)."""
    bare = host.strip("[]")
    if _is_address(bare):
        return Check("dns", OK, f"{bare} (an address: no lookup)"), [bare]
    if bare.endswith(".ts.net"):
        fix = "Turn on MagicDNS (Use Tailscale DNS), or put the PC's 100.x address in COMFYUI_URL."
    else:
        fix = "Check the host name in COMFYUI_URL."
    try:
        addresses = await resolve_host(bare, port, timeout)
    except TimeoutError:
        return failed("dns", f"no DNS answer for {bare} within {timeout:g} s", fix), []
    except OSError as exc:
        why = exc.strerror or str(exc)
        return failed("dns", f"{bare} does not resolve ({why})", fix), []
    return Check("dns", OK, f"{bare} → {', '.join(addresses[:3])}"), addresses


async def check_tcp(url: str, addresses: list[str], port: int, timeout: float) -> Check:
    """The ``tcp`` rung: does anything accept on the port (refused versus timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    first_error: tuple[str, str] | None = None
    for address in addresses:
        started = loop.time()
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address, port), max(deadline - started, 0.05)
            )
        except TimeoutError:
            first_error = first_error or ("timeout", f"no answer from {address}:{port}")
            break
        except ConnectionRefusedError:
            first_error = first_error or ("refused", f"nothing listens on {address}:{port}")
            continue
        except OSError as exc:
            first_error = first_error or ("connect", f"{address}:{port}: {exc.strerror or exc}")
            continue
        writer.close()
        ms = (loop.time() - started) * 1000
        return Check("tcp", OK, f"{address}:{port} accepts connections ({ms:.0f} ms)")
    state, detail = first_error or ("connect", "no address to connect to")
    suffix = f" within {timeout:g} s" if state == "timeout" else ""
    return failed("tcp", f"{state}: {detail}{suffix}", _hint_for(url, state, False))


async def check_http(target: Target, timeout: float) -> tuple[Check, ProbeResult]:
    """The ``http`` rung: ``/system_stats`` answers as ComfyUI (the probe's verdict).

    A Comfy API v2 server (comfy-api-proxy, a deployment) is asked its own way: one
    authenticated look at an unknown job, which also checks the credentials.
    """
    if target.kind in {V2, DEPLOYMENT}:
        from ..targetcheck import probe_v2

        result, parts = await probe_v2(target, timeout=timeout)
        uses = "; ".join(f"{part}: {how}" for part, how in parts.items())
        if result.ok:
            return Check(
                "http", OK, f"{result.detail}. Uses {uses}", details={"api": parts}
            ), result
        if result.state == "auth":
            code = "cloud_auth" if target.billed else "target_auth"
            check = failed(
                "http", result.detail, result.hint, exit_code=ExitCode.CLOUD_ACCOUNT, code=code
            )
            return check, result
        return failed("http", f"{result.state}: {result.detail}", result.hint), result
    key = target.api_key if target.is_cloud else None
    result = await probe(
        target.url, timeout=timeout, api_key=key, auth=target.auth, target=target.name
    )
    if result.ok:
        return Check("http", OK, result.detail), result
    if result.state == "auth":
        code = "cloud_auth" if target.is_cloud else "target_auth"
        check = failed(
            "http", result.detail, result.hint, exit_code=ExitCode.CLOUD_ACCOUNT, code=code
        )
        return check, result
    return failed("http", f"{result.state}: {result.detail}", result.hint), result


async def check_websocket(client: ComfyClient, timeout: float) -> Check:
    """The ``websocket`` rung: open ``/ws``, send the feature flags, get the first status."""
    stream = EventStream(
        client.base_url,
        uuid.uuid4().hex,
        open_timeout=timeout,
        query=client.ws_query(),
        headers=client.ws_headers(),
        auth_error=client.auth_error,
    )
    started = time.monotonic()
    try:
        status = await stream.connect()
    except ComfycineError as exc:
        return failed("websocket", exc.message, exc.hint, code=exc.code)
    finally:
        await stream.close()
    ms = (time.monotonic() - started) * 1000
    if status is None:
        fix = "A proxy may be buffering the socket: connect to ComfyUI directly."
        return Check("websocket", WARN, f"/ws opened but sent no status in {timeout:g} s", fix)
    return Check("websocket", OK, f"round trip {ms:.0f} ms (queue {status.queue_remaining})")


def _gib(value: Any) -> float | None:
    return value / GIB if isinstance(value, int | float) and value >= 0 else None


async def check_gpu(client: ComfyClient) -> Check:
    """The ``gpu`` rung: the first device of ``/system_stats`` and its free VRAM."""
    try:
        stats = await client.system_stats()
    except ComfycineError as exc:
        return failed("gpu", exc.message, exc.hint, code=exc.code)
    devices = stats.get("devices")
    first = devices[0] if isinstance(devices, list) and devices else None
    if not isinstance(first, dict):
        return Check("gpu", WARN, "the server reports no device", "See the ComfyUI console.")
    name = clean_text(str(first.get("name") or "unknown device"))
    free, total = _gib(first.get("vram_free")), _gib(first.get("vram_total"))
    memory = f": {free:.1f} GB free of {total:.1f} GB" if free is not None and total else ""
    value = f"{name}{memory}"
    if str(first.get("type")) == "cpu":
        fix = "CPU only: fine for trying comfycine; renders need the PC's GPU (COMFYUI_URL)."
        return Check("gpu", WARN, value, fix)
    from ..transport.cloud import CloudClient

    if isinstance(client, CloudClient):
        # Comfy Cloud's GPUs are shared and managed: their free memory is not ours to fix.
        return Check("gpu", OK, f"{name} (managed by Comfy Cloud)")
    if free is not None and free * GIB < LOW_VRAM:
        fix = "Free VRAM: comfycine free (unloads ComfyUI's models), or close other GPU programs."
        return Check("gpu", WARN, value, fix)
    return Check("gpu", OK, value)


async def check_job(settings: Settings, target: Target, timeout: float) -> Check:
    """The ``job`` rung (``--deep``): render the shipped ``testimage`` small, end to end."""
    from ..generation import prepare_template_job, run_prepared
    from ..templates import load_template, template_dirs

    started = time.monotonic()
    try:
        template = load_template(DEEP_TEMPLATE, template_dirs(settings.workflow_dir))
        job = prepare_template_job(template, assignments=["width=64", "height=64"])
        result = await run_prepared(
            settings, job, target=target, detach=False, timeout=timeout, observer=None
        )
    except ComfycineError as exc:
        return Check("job", FAIL, exc.message, exc.hint, int(exc.exit_code), exc.code)
    seconds = time.monotonic() - started
    if result.status != "succeeded" or not result.outputs:
        value = f"{DEEP_TEMPLATE} ended {result.status} without output"
        fix = f"See the job with: comfycine status {result.job[:8]}"
        return Check("job", FAIL, value, fix, int(ExitCode.FAILED), "node_exception")
    value = (
        f"{DEEP_TEMPLATE} rendered in {seconds:.1f} s (job {result.job[:8]}): {result.outputs[0]}"
    )
    return Check("job", OK, value)
