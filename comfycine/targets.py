"""Where a job runs: ``local`` (the PC), ``cloud`` (Comfy Cloud), or a named server.

Named targets come from ``COMFYCINE_TARGETS`` (``studio=http://100.64.1.2:8188,
mini=http://mac-mini.tail1234.ts.net:8188``), so a second PC is one line of ``.env``.
A target knows how to make its client; everything after that is the same code path.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .errors import CloudAccountError, UsageError
from .settings import Settings
from .transport import ComfyClient
from .urls import credentials, origin, shown_url, with_credentials

LOCAL = "local"
CLOUD = "cloud"


@dataclass(frozen=True)
class Target:
    """One place to run jobs."""

    name: str
    url: str
    kind: str  # comfyui | cloud
    api_key: str | None = None

    @property
    def is_cloud(self) -> bool:
        """Comfy Cloud (keyed, paid per GPU minute)."""
        return self.kind == CLOUD

    def client(self) -> ComfyClient:
        """A client for this target (the key stays inside it)."""
        if self.is_cloud:
            from .transport.cloud import CloudClient

            if not self.api_key:
                raise CloudAccountError(
                    "No Comfy Cloud API key is configured.",
                    hint="Set COMFY_CLOUD_API_KEY in the environment or .env "
                    "(keys come from platform.comfy.org).",
                    code="cloud_auth",
                )
            return CloudClient(self.url, api_key=self.api_key)
        return ComfyClient(self.url)

    @property
    def shown_url(self) -> str:
        """The URL as printed: a password in it is masked (``http://user:***@host``)."""
        return shown_url(self.url)

    def to_dict(self) -> dict[str, str]:
        """JSON form (never the key, never the URL's password)."""
        return {"name": self.name, "url": self.shown_url, "kind": self.kind}


def named_targets(settings: Settings) -> dict[str, Target]:
    """Every configured target, ``local`` and ``cloud`` first."""
    targets = {
        LOCAL: Target(LOCAL, settings.comfyui_url, "comfyui"),
        CLOUD: Target(
            CLOUD,
            settings.cloud_url,
            CLOUD,
            settings.cloud_api_key.get_secret_value() if settings.cloud_api_key else None,
        ),
    }
    for name, url in settings.extra_targets.items():
        targets.setdefault(name, Target(name, url, "comfyui"))
    return targets


def resolve_target(settings: Settings, name: str | None) -> Target:
    """The target called ``name`` (default ``local``); a clear error for unknown names."""
    wanted = (name or LOCAL).strip().lower()
    targets = named_targets(settings)
    if wanted in targets:
        return targets[wanted]
    raise UsageError(
        f"Unknown target {wanted!r}; known: {', '.join(targets)}.",
        hint="Add it to COMFYCINE_TARGETS (name=url, comma-separated), or list them with: "
        "comfycine targets",
        code="unknown_target",
    )


async def check_targets(settings: Settings, *, timeout: float = 3.0) -> list[dict[str, Any]]:
    """Every target with its reachability, probed at once (≤ ``timeout`` in all)."""
    from .transport.probe import probe

    targets = list(named_targets(settings).values())
    # A cloud target without a key is not probed at all: nothing to learn, no traffic.
    probed = [t for t in targets if not (t.is_cloud and not t.api_key)]
    results = await asyncio.gather(
        *(probe(t.url, timeout=timeout, api_key=t.api_key if t.is_cloud else None) for t in probed)
    )
    by_name = dict(zip([t.name for t in probed], results, strict=True))
    rows = []
    for target in targets:
        result = by_name.get(target.name)
        if result is None:
            rows.append(
                {
                    **target.to_dict(),
                    "ok": False,
                    "state": "no_key",
                    "detail": "COMFY_CLOUD_API_KEY is not set",
                    "hint": "Set COMFY_CLOUD_API_KEY (from platform.comfy.org) to use the cloud.",
                }
            )
        else:
            rows.append({**target.to_dict(), **result.to_dict()})
    return rows


def credentialed_url(settings: Settings, target_name: str, server_url: str) -> str:
    """``server_url`` (as the ledger keeps it: no password) with its credentials back.

    They come from the configured target with the same scheme, host and port
    (``target_name``'s first); ``server_url`` is returned as is when none matches.
    """
    targets = named_targets(settings)
    known = targets.get(target_name)
    where = origin(server_url)
    candidates = [known] if known is not None else []
    candidates += [t for t in targets.values() if t is not known]
    same = next((t for t in candidates if where is not None and origin(t.url) == where), None)
    return with_credentials(server_url, credentials(same.url)) if same is not None else server_url


def client_for(settings: Settings, target_name: str, server_url: str) -> ComfyClient:
    """A client for a job recorded on ``target_name`` at ``server_url`` (the ledger's).

    The ledger keeps URLs without their password: :func:`credentialed_url` puts the
    configured one back.
    """
    known = named_targets(settings).get(target_name)
    url = credentialed_url(settings, target_name, server_url)
    if known is not None and known.is_cloud:
        return Target(known.name, url, known.kind, known.api_key).client()
    return ComfyClient(url)
