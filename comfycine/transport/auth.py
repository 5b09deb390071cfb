"""Credentials for one ComfyUI target, sent to that target's origin and nowhere else.

A second PC behind a reverse proxy, a ComfyUI behind an auth plugin or a rented GPU box
asks for a bearer token or basic auth. :class:`TargetAuth` holds what the settings give
(``COMFYCINE_TARGET_<NAME>_TOKEN``, or ``_USER`` and ``_PASSWORD``; a ``user:password@``
in the URL becomes one too) and never shows the secret; :class:`OriginBoundAuth` puts it
on a request only when the request goes to the target's scheme, host and port, so an
absolute URL elsewhere (a storage host) or a redirect to another host never carries it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from ..urls import basic_authorization, origin

Scheme = Literal["bearer", "basic"]
# Hosts a plain-http credential may travel to: this machine, the LAN, the tailnet.
_TAILSCALE_NETS = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)


@dataclass(frozen=True, repr=False)
class TargetAuth:
    """A bearer token or a user and password, and the setting(s) they came from.

    ``source`` names the environment variable(s) for display
    (``COMFYCINE_TARGET_STUDIO_TOKEN``); the secret is in neither ``repr`` nor ``str``.
    """

    scheme: Scheme
    secret: str  # the token, or the password
    user: str = ""  # basic auth only
    source: str = ""

    @classmethod
    def bearer(cls, token: str, source: str) -> TargetAuth:
        """``Authorization: Bearer <token>``."""
        return cls("bearer", token, "", source)

    @classmethod
    def basic(cls, user: str, password: str, source: str) -> TargetAuth:
        """``Authorization: Basic base64(user:password)``."""
        return cls("basic", password, user, source)

    def header_value(self) -> str:
        """The value of the ``Authorization`` header."""
        if self.scheme == "bearer":
            return f"Bearer {self.secret}"
        return basic_authorization((self.user, self.secret))

    def describe(self) -> str:
        """``bearer (COMFYCINE_TARGET_STUDIO_TOKEN)``: the kind and where it is set."""
        return f"{self.scheme} ({self.source})" if self.source else self.scheme

    @property
    def kind_text(self) -> str:
        """``a bearer token`` / ``a user and password``, for sentences."""
        return "a bearer token" if self.scheme == "bearer" else "a user and password"

    def __repr__(self) -> str:
        return f"TargetAuth({self.describe()})"

    __str__ = __repr__


class OriginBoundAuth(httpx.Auth):
    """An httpx auth that adds the target's header only on requests to its origin.

    The origin is scheme, host and port (the scheme's default port when none is given).
    httpx itself drops ``Authorization`` when following a redirect to another origin;
    this also covers an absolute URL requested through the client.
    """

    def __init__(self, auth: TargetAuth, base_url: str) -> None:
        self.auth = auth
        self._origin = origin(base_url)

    def __repr__(self) -> str:
        return f"OriginBoundAuth({self.auth!r})"

    def applies_to(self, url: httpx.URL | str) -> bool:
        """Whether a request to ``url`` goes to the target's origin."""
        return self._origin is not None and origin(str(url)) == self._origin

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.applies_to(request.url):
            request.headers["Authorization"] = self.auth.header_value()
        yield request


def travels_in_clear(url: str) -> bool:
    """Whether credentials sent to ``url`` cross networks unencrypted.

    True for plain ``http://`` to a host that is neither loopback, a private or
    link-local address, a Tailscale address (100.64.0.0/10, its IPv6 prefix, ``*.ts.net``,
    whose traffic WireGuard encrypts), ``localhost``, an mDNS ``*.local`` name nor a
    single-label LAN name.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if parts.scheme.lower() != "http" or not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        local_name = host == "localhost" or host.endswith((".localhost", ".local", ".ts.net"))
        return not (local_name or "." not in host)
    if any(address in net for net in _TAILSCALE_NETS):
        return False
    return not (address.is_loopback or address.is_private or address.is_link_local)
