"""What Tailscale on this machine says: running, logged in, and whether the PC is online.

The CLI is looked up as ``COMFYCINE_TAILSCALE`` (passed in by the caller from the
settings), then ``tailscale`` on PATH, then the macOS app bundle, whose binary switches
to CLI mode when run from a terminal. ``tailscale status --json`` is read with a short
timeout and parsed by the pure :func:`parse_status`.

Only the JSON is trusted, never the exit code: a logged-out client exits 0 with
``BackendState: "NeedsLogin"``, and some versions exit non-zero while printing a
complete status. No JSON at all means the daemon (or the app) is not running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MACOS_APP_CLI = "/Applications/Tailscale.app/Contents/MacOS/Tailscale"
DEFAULT_TIMEOUT = 2.0
# Backend states in which the node has a key, i.e. someone logged in on it.
LOGGED_IN_STATES = frozenset({"Running", "Starting", "Stopped", "NeedsMachineAuth"})
_MAX_ERROR = 300  # characters of the CLI's own message kept


@dataclass(frozen=True)
class Peer:
    """One node of the tailnet as ``status --json`` describes it."""

    host_name: str
    dns_name: str  # MagicDNS name without the trailing dot ("" when none)
    ips: tuple[str, ...]
    online: bool
    os: str = ""
    last_seen: str = ""
    relay: str = ""  # the DERP region when the traffic is relayed
    direct: str = ""  # the direct endpoint ("" when relayed)

    @property
    def label(self) -> str:
        """The name a person knows the node by."""
        return self.dns_name.split(".", 1)[0] if self.dns_name else self.host_name

    def matches(self, host: str) -> bool:
        """Whether ``host`` (a URL's host) names this node: IP, MagicDNS or host name."""
        wanted = _normalize(host)
        if not wanted:
            return False
        address = _address(wanted)
        if address is not None:
            return any(_address(ip) == address for ip in self.ips)
        dns = self.dns_name.lower()
        return wanted in {dns, dns.split(".", 1)[0], self.host_name.lower()} - {""}

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "host_name": self.host_name,
            "dns_name": self.dns_name,
            "ips": list(self.ips),
            "online": self.online,
            "os": self.os,
            "last_seen": self.last_seen,
            "relay": self.relay,
            "direct": self.direct,
        }


@dataclass(frozen=True)
class TailscaleStatus:
    """The state of Tailscale on this machine, as far as the CLI could tell.

    ``backend_state`` is None when no status was read (no CLI, daemon down, no answer
    in time); ``error`` then says why.
    """

    cli: str | None
    backend_state: str | None = None
    self_node: Peer | None = None
    peers: tuple[Peer, ...] = ()
    auth_url: str = ""
    tailnet: str = ""
    health: tuple[str, ...] = ()
    error: str = ""

    @property
    def cli_found(self) -> bool:
        """Whether a Tailscale CLI was found."""
        return self.cli is not None

    @property
    def daemon_running(self) -> bool:
        """Whether the daemon (or the app) answered with a status."""
        return self.backend_state is not None

    @property
    def logged_in(self) -> bool:
        """Whether this machine is logged in to a tailnet (connected or not)."""
        return self.backend_state in LOGGED_IN_STATES

    @property
    def connected(self) -> bool:
        """Whether this machine is up on the tailnet."""
        return self.backend_state == "Running"

    def peer_for(self, host: str) -> Peer | None:
        """The peer ``host`` names (IP, MagicDNS name with or without dot, host name)."""
        return next((peer for peer in self.peers if peer.matches(host)), None)

    def is_self(self, host: str) -> bool:
        """Whether ``host`` names this machine itself."""
        return self.self_node is not None and self.self_node.matches(host)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (without the one-time login link)."""
        return {
            "cli": self.cli,
            "backend_state": self.backend_state,
            "logged_in": self.logged_in,
            "self": self.self_node.to_dict() if self.self_node else None,
            "peers": [p.to_dict() for p in self.peers],
            "tailnet": self.tailnet,
            "health": list(self.health),
            "error": self.error,
        }


def _normalize(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_peer(data: Mapping[str, Any]) -> Peer:
    """One ``PeerStatus`` object (``Self`` or a ``Peer`` value); missing fields are empty."""
    last_seen = _text(data.get("LastSeen"))
    return Peer(
        host_name=_text(data.get("HostName")),
        dns_name=_text(data.get("DNSName")).rstrip("."),
        ips=_texts(data.get("TailscaleIPs")),
        online=data.get("Online") is True,
        os=_text(data.get("OS")),
        # Go's zero time means "never seen" (or "seen now", for online peers).
        last_seen="" if last_seen.startswith("0001-") else last_seen,
        relay=_text(data.get("Relay")),
        direct=_text(data.get("CurAddr")),
    )


def parse_status(
    stdout: str, stderr: str = "", *, cli: str | None = "tailscale"
) -> TailscaleStatus:
    """Parse the output of ``tailscale status --json`` (the exit code is not an input).

    Output that is not a JSON object with a ``BackendState`` means the daemon did not
    answer; the CLI's own message (usually "failed to connect to local Tailscale
    daemon") goes into ``error``. The format "might change" between releases, so every
    field is read defensively.
    """
    try:
        data = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("BackendState"), str):
        message = " ".join((stderr.strip() or stdout.strip() or "no status").split())
        return TailscaleStatus(cli=cli, error=message[:_MAX_ERROR])
    raw_peers = data.get("Peer")
    peers = raw_peers.values() if isinstance(raw_peers, dict) else ()
    tailnet = data.get("CurrentTailnet")
    own = data.get("Self")
    return TailscaleStatus(
        cli=cli,
        backend_state=data["BackendState"],
        self_node=parse_peer(own) if isinstance(own, dict) else None,
        peers=tuple(parse_peer(p) for p in peers if isinstance(p, dict)),
        auth_url=_text(data.get("AuthURL")),
        tailnet=_text(tailnet.get("Name")) if isinstance(tailnet, dict) else "",
        health=_texts(data.get("Health")),
    )


def find_cli(
    override: str | None = None,
    *,
    app_paths: Sequence[str] = (MACOS_APP_CLI,),
    path: str | None = None,
) -> str | None:
    """The Tailscale CLI to run: ``override``, else ``tailscale`` on PATH, else the app's.

    ``path`` replaces the PATH environment variable for the lookup (tests).
    """
    if override:
        found = shutil.which(os.path.expanduser(override), path=path)
        return found or None
    found = shutil.which("tailscale", path=path)
    if found:
        return found
    return next((p for p in app_paths if os.path.isfile(p) and os.access(p, os.X_OK)), None)


async def tailscale_status(
    timeout: float = DEFAULT_TIMEOUT, *, cli: str | None = None
) -> TailscaleStatus:
    """Run ``tailscale status --json`` once (≤ ``timeout`` s) and parse what it printed.

    ``cli`` is the configured override (``Settings.tailscale_cli``); without one the
    CLI is searched with :func:`find_cli`. Never raises for a Tailscale problem.
    """
    found = find_cli(cli)
    if found is None:
        where = f"{cli!r} is not an executable" if cli else "not on PATH nor in the app bundle"
        return TailscaleStatus(cli=None, error=f"Tailscale CLI not found ({where})")
    try:
        process = await asyncio.create_subprocess_exec(
            found,
            "status",
            "--json",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return TailscaleStatus(cli=found, error=f"could not run {found}: {exc.strerror or exc}")
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return TailscaleStatus(cli=found, error=f"no answer from the CLI within {timeout:g} s")
    return parse_status(
        out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace"), cli=found
    )
