"""Where a job runs: ``local`` (the PC), ``cloud`` (Comfy Cloud), or a named server.

Named targets come from ``COMFYCINE_TARGETS`` (``studio=http://100.64.1.2:8188,
mini=http://mac-mini.tail1234.ts.net:8188``), so a second PC is one line of ``.env``.
A target behind a reverse proxy or an auth plugin takes ``COMFYCINE_TARGET_<NAME>_TOKEN``
(or ``_USER`` and ``_PASSWORD``), sent to its own origin only (:class:`TargetAuth`).
A target knows how to make its client; everything after that is the same code path.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from .envnames import (
    ENV_CLOUD_API_KEY,
    ENV_COMFYUI_URL,
    ENV_TARGETS,
    split_target_auth_name,
    target_auth_env_names,
    target_env_key,
)
from .errors import CloudAccountError, UsageError
from .settings import Settings
from .targetkinds import (
    COMFYUI,
    DEPLOYMENT,
    V2,
    is_billed,
    kind_from_url,
    resolve_kind,
    server_url,
)
from .transport import ComfyClient
from .transport.auth import TargetAuth, travels_in_clear
from .urls import credentials, origin, shown_url, with_credentials

LOCAL = "local"
CLOUD = "cloud"
AUTO = "auto"  # a named target's kind before the server is asked


@dataclass(frozen=True)
class Target:
    """One place to run jobs."""

    name: str
    url: str
    # comfyui | cloud | v2 (comfy-api-proxy) | deployment | auto (asked on first use)
    kind: str
    api_key: str | None = None
    # The target's COMFYCINE_TARGET_<NAME>_* credentials (never the cloud's key).
    auth: TargetAuth | None = None
    # Where the answer to "what is this server" is remembered (targetkinds).
    cache_dir: Path | None = None
    cloud_api: str = "auto"

    @property
    def is_cloud(self) -> bool:
        """Comfy Cloud (keyed, paid per GPU minute)."""
        return self.kind == CLOUD

    @property
    def billed(self) -> bool:
        """Jobs there spend the Comfy account's credits (Cloud, a deployment)."""
        return is_billed(self.kind)

    def client(self) -> AbstractAsyncContextManager[ComfyClient]:
        """A client for this target (the key stays inside it), as ``async with``.

        A named target whose URL does not say what it is (a ComfyUI or a Comfy API v2
        server) is asked on entry, once an hour at most (:mod:`.targetkinds`).
        """
        return _OpenClient(self)

    async def resolved(self, *, fresh: bool = False) -> Target:
        """This target with its kind known (``auto`` asked of the server)."""
        if self.kind != AUTO:
            return self
        kind = await resolve_kind(self.url, auth=self.auth, cache_dir=self.cache_dir, fresh=fresh)
        return replace(self, kind=kind)

    def make_client(self) -> ComfyClient:
        """The client for a target whose kind is known."""
        if self.is_cloud:
            from .transport.cloud import CloudClient

            if not self.api_key:
                raise CloudAccountError(
                    "No Comfy Cloud API key is configured.",
                    hint="Set COMFY_CLOUD_API_KEY in the environment or .env "
                    "(keys come from platform.comfy.org).",
                    code="cloud_auth",
                )
            return CloudClient(self.url, api_key=self.api_key, api=self.cloud_api)
        if self.kind in {V2, DEPLOYMENT}:
            return self._v2_client()
        return ComfyClient(self.url, auth=self.auth, target_name=self.name)

    def _v2_client(self) -> ComfyClient:
        from .transport.v2 import V2Client

        auth = self.auth
        if auth is None and self.kind == DEPLOYMENT:
            if not self.api_key:
                token = target_auth_env_names(self.name)[0]
                raise CloudAccountError(
                    f"No key for the Comfy API deployment {self.name}.",
                    hint=f"Set COMFY_CLOUD_API_KEY (from platform.comfy.org), or {token}.",
                    code="cloud_auth",
                )
            auth = TargetAuth.bearer(self.api_key, ENV_CLOUD_API_KEY)
        return V2Client(
            server_url(self.url),
            auth=auth,
            cloud=self.billed,
            target=self.name,
            label=f"Target {self.name} ({shown_url(server_url(self.url))})",
        )

    @property
    def shown_url(self) -> str:
        """The URL as printed: a password in it is masked (``http://user:***@host``)."""
        return shown_url(self.url)

    def to_dict(self) -> dict[str, str]:
        """JSON form (never the key, the token or the URL's password).

        ``auth`` says what is sent and where it is set
        (``bearer (COMFYCINE_TARGET_STUDIO_TOKEN)``); absent without credentials.
        """
        data = {"name": self.name, "url": self.shown_url, "kind": self.kind}
        if self.auth is not None:
            data["auth"] = self.auth.describe()
        elif self.kind == DEPLOYMENT and self.api_key:
            data["auth"] = f"bearer ({ENV_CLOUD_API_KEY})"
        return data


class _OpenClient:
    """``async with target.client() as client``: the kind is resolved on entry."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._client: ComfyClient | None = None

    async def __aenter__(self) -> ComfyClient:
        target = await self.target.resolved()
        self._client = target.make_client()
        return self._client

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()


def target_auth(settings: Settings, name: str) -> TargetAuth | None:
    """The credentials configured for target ``name`` (None for the cloud: its key).

    ``COMFYCINE_TARGET_<NAME>_TOKEN`` is a bearer token; ``_USER`` with ``_PASSWORD``
    basic auth (settings refuse both at once, or half a pair).
    """
    if name == CLOUD:
        return None
    token, user, password = target_auth_env_names(name)
    given = settings.target_credentials
    if token in given:
        return TargetAuth.bearer(given[token].get_secret_value(), token)
    if user in given and password in given:
        secret = given[password].get_secret_value()
        return TargetAuth.basic(given[user].get_secret_value(), secret, f"{user}/{password}")
    return None


def named_targets(settings: Settings) -> dict[str, Target]:
    """Every configured target, ``local`` and ``cloud`` first.

    A named target's kind comes from its URL (:func:`.targetkinds.kind_from_url`), or
    is ``auto``: asked of the server when a client is made.
    """
    key = settings.cloud_api_key.get_secret_value() if settings.cloud_api_key else None
    targets = {
        LOCAL: Target(LOCAL, settings.comfyui_url, COMFYUI, auth=target_auth(settings, LOCAL)),
        CLOUD: Target(CLOUD, settings.cloud_url, CLOUD, key, cloud_api=settings.cloud_api),
    }
    for name, url in settings.extra_targets.items():
        kind = kind_from_url(url) or AUTO
        targets.setdefault(
            name,
            Target(
                name,
                url,
                kind,
                key if is_billed(kind) else None,
                auth=target_auth(settings, name),
                cache_dir=settings.cache_dir,
                cloud_api=settings.cloud_api,
            ),
        )
    return targets


def auth_warnings(settings: Settings) -> list[str]:
    """Credentials that look wrong but stop no command (``targets`` and ``doctor`` say them).

    A ``COMFYCINE_TARGET_<NAME>_*`` variable whose NAME is no target (a typo), one for
    the cloud (whose key is COMFY_CLOUD_API_KEY), a token or password that would cross
    networks in clear (plain http beyond this machine, the LAN and the tailnet), and a
    URL password that the target's own variables override.
    """
    targets = named_targets(settings)
    keys = {target_env_key(name) for name in targets if name != CLOUD}
    names = ", ".join(targets)
    warnings = []
    for variable in sorted(settings.target_credentials):
        split = split_target_auth_name(variable)
        if split is None:
            continue
        if split[0] == target_env_key(CLOUD):
            warnings.append(f"{variable} is not used: the cloud's key is {ENV_CLOUD_API_KEY}")
        elif split[0] not in keys:
            warnings.append(f"{variable} names no target; targets are {names}")
    for target in targets.values():
        in_url = credentials(target.url) is not None
        setting = ENV_COMFYUI_URL if target.name == LOCAL else ENV_TARGETS
        if target.auth is not None and in_url:
            warnings.append(
                f"the password in the URL of {target.name} ({setting}) is not sent: "
                f"{target.auth.source} is used instead"
            )
        sent = target.auth.describe() if target.auth else None
        if sent is None and in_url:
            sent = f"basic (the password in {setting})"
        if target.is_cloud:
            sent = f"the key ({ENV_CLOUD_API_KEY})" if target.api_key else None
        if sent is not None and travels_in_clear(target.url):
            warnings.append(
                f"{target.name}: {sent} travels in clear to {target.shown_url} (plain http "
                "to a host that is neither this machine, the LAN nor the tailnet); "
                "use https, or reach it over Tailscale"
            )
    return warnings


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


def credentialed_url(settings: Settings, target_name: str, server_url: str) -> str:
    """``server_url`` (as the ledger keeps it: no password) with its credentials back.

    They come from the configured target with the same scheme, host and port
    (``target_name``'s first); ``server_url`` is returned as is when none matches.
    """
    same = _same_origin(settings, target_name, server_url)
    return with_credentials(server_url, credentials(same.url)) if same is not None else server_url


def _same_origin(settings: Settings, target_name: str, server_url: str) -> Target | None:
    """The configured target at ``server_url``'s scheme, host and port (``target_name``'s
    first): whose credentials may go there."""
    targets = named_targets(settings)
    known = targets.get(target_name)
    where = origin(server_url)
    candidates = [known] if known is not None else []
    candidates += [t for t in targets.values() if t is not known]
    return next((t for t in candidates if where is not None and origin(t.url) == where), None)


def client_for(
    settings: Settings, target_name: str, server_url: str
) -> AbstractAsyncContextManager[ComfyClient]:
    """A client for a job recorded on ``target_name`` at ``server_url`` (the ledger's).

    The ledger keeps URLs without their password: :func:`credentialed_url` puts the
    configured one back, and the credentials of the target configured at that origin
    go along (a target moved to another host since does not send its token to the old).
    """
    url = credentialed_url(settings, target_name, server_url)
    same = _same_origin(settings, target_name, server_url)
    if same is None:
        # No configured target there any more: no credentials go, and the URL says
        # what it is, or the server is asked.
        kind = kind_from_url(url) or AUTO
        stray = Target(target_name, url, kind, cache_dir=settings.cache_dir)
        return stray.client()
    return replace(same, url=url).client()


def auth_for(settings: Settings, target_name: str, server_url: str) -> TargetAuth | None:
    """The credentials that may go to ``server_url``: those of the target configured at
    its scheme, host and port (``target_name``'s first), for a probe of a ledger URL."""
    same = _same_origin(settings, target_name, server_url)
    return same.auth if same is not None else None
