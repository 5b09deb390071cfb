"""What a target's URL points at: a ComfyUI, a Comfy API v2 server, or Comfy Cloud.

``COMFYCINE_TARGETS=name=URL`` takes any of them with no extra syntax: the URL says
enough. Comfy Cloud and managed deployments are known by their host names
(``cloud.comfy.org``, ``NAME.run.comfy.app``); a URL ending in ``/api/v2`` is v2; any
other URL is asked once — ``GET /api/v2/health`` answers only on ``comfy-api-proxy`` —
and the answer is remembered for an hour in the cache directory, so a command pays
for the question at most once an hour per target.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from .errors import TargetUnreachable
from .transport.auth import OriginBoundAuth, TargetAuth
from .transport.failures import map_http_errors
from .urls import bare_url, credentials

COMFYUI = "comfyui"
CLOUD = "cloud"
V2 = "v2"  # a self-hosted ComfyUI behind comfy-api-proxy
DEPLOYMENT = "deployment"  # a Comfy API deployment: v2, the account's key, billed
CLOUD_HOSTS = frozenset({"cloud.comfy.org", "stagingcloud.comfy.org"})
DEPLOYMENT_SUFFIX = ".run.comfy.app"
KIND_TTL = 3600.0
PROBE_TIMEOUT = 2.0
_CACHE_FILE = "server-kinds.json"


def kind_from_url(url: str) -> str | None:
    """The kind a URL shows by itself; None when the server must be asked."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if host in CLOUD_HOSTS:
        return CLOUD
    if host.endswith(DEPLOYMENT_SUFFIX):
        return DEPLOYMENT
    if parts.path.rstrip("/").endswith("/api/v2"):
        return V2
    return None


def server_url(url: str) -> str:
    """The base URL to use: without a trailing ``/api/v2`` (the client adds it)."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if path.endswith("/api/v2"):
        path = path[: -len("/api/v2")]
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")).rstrip("/")


def is_billed(kind: str) -> bool:
    """Whether jobs there spend the account's credits (Comfy Cloud, a deployment)."""
    return kind in {CLOUD, DEPLOYMENT}


def _cache_path(cache_dir: Path) -> Path:
    return cache_dir / _CACHE_FILE


def _read_cache(cache_dir: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_cache_path(cache_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_kind(cache_dir: Path | None, url: str) -> str | None:
    """The kind asked less than :data:`KIND_TTL` ago, if any."""
    if cache_dir is None:
        return None
    entry = _read_cache(cache_dir).get(bare_url(url))
    if not isinstance(entry, dict):
        return None
    seen = entry.get("at")
    kind = entry.get("kind")
    if not isinstance(seen, int | float) or time.time() - seen > KIND_TTL:
        return None
    return kind if kind in {COMFYUI, V2} else None


def remember_kind(cache_dir: Path | None, url: str, kind: str) -> None:
    """Keep an answer for the next commands (best effort: a read-only cache is fine)."""
    if cache_dir is None:
        return
    data = _read_cache(cache_dir)
    data[bare_url(url)] = {"kind": kind, "at": time.time()}
    _write_cache(cache_dir, data)


def forget_kind(cache_dir: Path | None, url: str) -> None:
    """Drop a remembered answer (the next command asks the server again)."""
    if cache_dir is None:
        return
    data = _read_cache(cache_dir)
    if data.pop(bare_url(url), None) is not None:
        _write_cache(cache_dir, data)


def _write_cache(cache_dir: Path, data: dict[str, dict[str, object]]) -> None:
    # Written whole and renamed: two commands at once never leave half a file.
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".kinds.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, _cache_path(cache_dir))
    except OSError:
        return


async def ask_kind(
    url: str,
    *,
    auth: TargetAuth | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> str | None:
    """``v2`` when ``GET /api/v2/health`` answers as comfy-api-proxy does, ``comfyui``
    when the server answers anything else, None when the answer was cut (not known).

    Raises :class:`TargetUnreachable` when the server cannot be reached at all: the
    command says so at once rather than trying again with a client.
    """
    base = bare_url(url)
    secure = base.startswith("https://")
    basic = credentials(url)
    client_auth: httpx.Auth | None = None
    if auth is not None:
        client_auth = OriginBoundAuth(auth, base)
    elif basic is not None:
        client_auth = httpx.BasicAuth(*basic)
    async with httpx.AsyncClient(
        base_url=base,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        verify=secure,
        trust_env=secure,
        follow_redirects=False,
        auth=client_auth,
        headers={"User-Agent": "comfycine"},
    ) as http:
        try:
            with map_http_errors(base):
                response = await http.get("/api/v2/health")
        except TargetUnreachable as exc:
            if exc.details.get("reason") == "dropped":
                return None  # it answered something: the client will find out what
            raise
    if response.status_code != 200:
        return COMFYUI
    try:
        data = response.json()
    except ValueError:
        return COMFYUI
    return V2 if isinstance(data, dict) and "status" in data else COMFYUI


async def resolve_kind(
    url: str,
    *,
    auth: TargetAuth | None = None,
    cache_dir: Path | None = None,
    fresh: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """The kind of a named target's server: from its URL, the cache, or by asking it.

    A server that cannot be reached raises :class:`TargetUnreachable` (nothing is
    remembered); a cut answer is taken for a ComfyUI.
    """
    known = kind_from_url(url)
    if known is not None:
        return known
    if not fresh and (cached := cached_kind(cache_dir, url)) is not None:
        return cached
    asked = await ask_kind(url, auth=auth, transport=transport)
    if asked is None:
        return COMFYUI
    remember_kind(cache_dir, url, asked)
    return asked
