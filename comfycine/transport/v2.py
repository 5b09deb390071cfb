"""A Comfy API v2 server behind the :class:`ComfyClient` interface.

Comfy API v2 (``/api/v2/...``, COMFY-API-V2.md) is served by Comfy Cloud, by managed
deployments (``https://NAME.run.comfy.app``) and by ``comfy-api-proxy`` in front of a
self-hosted ComfyUI. :class:`V2Client` speaks it with httpx (not the SDK: its import
alone costs ~340 ms, and it takes the base URL from one process-wide variable):

* submit with an ``Idempotency-Key`` (comfycine's own job id), so a POST sent again
  after a lost answer can never make a second job, nor bill one twice;
* ``GET /api/v2/jobs/{id}`` is the authority (:meth:`locate`), the per-job event
  stream (:mod:`.sse`) only says when to look; 501 there means polling;
* per-job cancel; inputs uploaded once (blake3 hash asked first); outputs through their
  links, fetched without credentials from any other origin (a signed storage URL).

v2 has no node catalog, model list or queue view: those raise :class:`NoCatalog` (the
callers skip the checks and say why). The server mints job ids, so the runner records
the id the submission answers.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from ..errors import (
    CloudAccountError,
    ComfycineError,
    DownloadFailed,
    NoCatalog,
    RejectedError,
    UsageError,
)
from ..urls import origin
from .auth import TargetAuth
from .failures import map_http_errors
from .local import CONNECT_TIMEOUT, READ_TIMEOUT, ComfyClient, EventSource
from .records import HistoryEntry, JobSighting, OutputRef, QueueState
from .v2answers import (
    V2_PREFIX,
    IdempotencyKeyReused,
    NotServed,
    asset_reference,
    error_body,
    is_reuse,
    job_history,
    job_sighting,
    raise_not_served,
    read_job,
    read_object,
    v2_error,
    with_assets,
)

logger = logging.getLogger(__name__)

# The contract expects uploads in one request of about 100 MB at most (proxy default).
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# A 429 with Retry-After (queue full, rate limited) is waited out this long in all, at
# least MIN_RETRY_WAIT apart and at most MAX_RETRY_WAIT per wait (as the SDK does).
RETRY_FOR = 60.0
MIN_RETRY_WAIT = 1.0
MAX_RETRY_WAIT = 30.0
RETRYABLE_429 = frozenset({"queue_full", "rate_limited", "deployment_not_ready"})
# An "expired" answer is asked again after these delays before it is believed.
EXPIRED_RECHECKS = (0.1, 0.5)
# How far back a lost submission is looked for in the job list (servers that list).
FIND_WINDOW = 120.0

Sleep = Callable[[float], Awaitable[None]]


def retry_wait(response: httpx.Response) -> float:
    """Seconds a 429 asks to wait (``Retry-After`` in seconds), within our bounds."""
    value = response.headers.get("retry-after", "").strip()
    wait = float(value) if value.replace(".", "", 1).isdigit() else 5.0
    return min(max(wait, MIN_RETRY_WAIT), MAX_RETRY_WAIT)


class V2Client(ComfyClient):
    """Async client for a Comfy API v2 server (Cloud, a deployment, comfy-api-proxy).

    ``cloud``: the credentials are a Comfy account key (refusals are account errors,
    exit 7: credits, queue full); otherwise a self-hosted server's token.
    """

    server_minted_ids = True

    def __init__(
        self,
        base_url: str,
        *,
        auth: TargetAuth | None = None,
        cloud: bool = False,
        target: str = "",
        label: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        storage_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        super().__init__(
            base_url,
            transport=transport,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            auth=auth,
            target_name=target or None,
        )
        self.cloud = cloud
        self.target = target
        self.label = label or (f"Target {target}" if target else self.base_url)
        self._auth = auth
        self._storage_transport = storage_transport or transport
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._sleep = sleep
        self._hashes: dict[str, str] = {}  # asset id → blake3 hash, for core/ASSET inputs

    def __repr__(self) -> str:
        return f"V2Client({self.base_url!r})"

    def api_parts(self) -> dict[str, str]:
        """Which API serves each part of the work (``targets``, ``doctor``)."""
        return {
            "jobs": "Comfy API v2",
            "events": "Comfy API v2 event stream (polling where not served)",
            "nodes": "none: Comfy API v2 has no node catalog (validation skipped)",
        }

    # ------------------------------------------------------------------ plumbing

    def auth_error(self, status: int) -> ComfycineError | None:
        """A refused account key is an account error (exit 7 ``cloud_auth``), not a token's."""
        if not self.cloud:
            return super().auth_error(status)
        return CloudAccountError(
            f"{self.label} refused the API key (HTTP {status}).",
            code="cloud_auth",
            hint="Check COMFY_CLOUD_API_KEY (keys come from platform.comfy.org), then: "
            "comfycine doctor --target cloud",
            details={"status": status},
        )

    def _error(self, response: httpx.Response) -> Exception:
        if response.status_code in {401, 403} and not self.cloud:
            # The same error (target, URL, what was sent, which variable) as a ComfyUI's.
            refused = super().auth_error(response.status_code)
            if refused is not None:
                return refused
        source = self._auth.source if self._auth is not None else None
        return v2_error(
            response,
            label=self.label,
            cloud=self.cloud,
            auth_source=source,
            target=self.target,
            secrets=(self._auth.secret,) if self._auth is not None else (),
        )

    async def _v2(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One v2 call; a 429 with Retry-After is waited out (bounded), then returned."""
        spent = 0.0
        while True:
            response = await self._request(method, V2_PREFIX + path, **kwargs)
            if response.status_code != 429:
                return response
            code = error_body(response)[0]
            wait = retry_wait(response)
            if code not in RETRYABLE_429 or spent + wait > RETRY_FOR:
                return response
            logger.info("%s answered 429 %s; again in %.1f s", self.label, code, wait)
            await self._sleep(wait)
            spent += wait

    def _ok(self, response: httpx.Response, *expected: int) -> httpx.Response:
        if response.status_code in expected:
            return response
        raise_not_served(response)
        raise self._error(response)

    # ------------------------------------------------------------------ jobs

    async def submit(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        extra_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /api/v2/jobs`` under ``Idempotency-Key: prompt_id``; answers the job's id.

        Raises :class:`IdempotencyKeyReused` when the server has a submission under this
        key already (the answer to an earlier try was lost), :class:`NotServed` when the
        server has no v2 jobs route.
        """
        body: dict[str, Any] = {"workflow": with_assets(graph, self._hashes)}
        # extra_data is a closed object in v2: only the partner-node key may go in it.
        partner_key = (extra_data or {}).get("api_key_comfy_org")
        if partner_key:
            body["extra_data"] = {"api_key_comfy_org": partner_key}
        response = await self._v2(
            "POST", "/jobs", json=body, headers={"Idempotency-Key": prompt_id}
        )
        if is_reuse(response):
            raise IdempotencyKeyReused(prompt_id)
        job = read_job(self._ok(response, 200, 201), self.label)
        return {"prompt_id": job["id"], "job": job}

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        """``GET /api/v2/jobs/{id}``; None when the server does not know the job."""
        response = await self._v2("GET", f"/jobs/{job_id}")
        if response.status_code == 404:
            raise_not_served(response)
            return None
        return read_job(self._ok(response, 200), self.label)

    async def _settled_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's answer, an ``expired`` one asked again before it is believed.

        comfy-api-proxy reads ComfyUI's history, then its queue: a job that finishes
        between the two is in neither, and reads ``expired`` for one poll.
        """
        job = await self.get_job(job_id)
        for delay in EXPIRED_RECHECKS:
            if job is None or job.get("status") != "expired":
                break
            await self._sleep(delay)
            job = await self.get_job(job_id)
        return job

    async def locate(self, prompt_id: str) -> JobSighting:
        """Where the job is, from its own answer (status, queue position, progress)."""
        job = await self._settled_job(prompt_id)
        if job is None:
            return JobSighting("absent")
        return job_sighting(job, self._base_for_links())

    async def history(self, prompt_id: str) -> HistoryEntry | None:
        """The finished job (outputs, or its error), None while in flight or unknown."""
        job = await self._settled_job(prompt_id)
        return None if job is None else job_history(job, self._base_for_links())

    def _base_for_links(self) -> httpx.URL:
        # Links may be host-relative with the mount prefix: resolve against the origin.
        return httpx.URL(self.base_url + "/")

    async def queue(self) -> QueueState:
        """v2 has no queue view: a job's own answer gives its position (:meth:`locate`)."""
        raise NoCatalog(
            f"{self.label} speaks Comfy API v2, which has no queue view.",
            hint="Look at one job with: comfycine status JOB",
        )

    async def reachable(self) -> None:
        """An authenticated look at an unknown job: 404 means the server and key are fine."""
        try:
            await self.get_job(str(uuid.uuid4()))
        except NotServed as exc:
            raise RejectedError(
                f"{self.label} does not serve Comfy API v2 jobs (HTTP {exc.status}).",
                code="not_comfy_api_v2",
                hint="Check the target's URL: comfycine targets",
            ) from None

    async def cancel(self, prompt_id: str, *, running: bool) -> None:
        """``POST /api/v2/jobs/{id}/cancel``: this job only, queued or running."""
        response = await self._v2("POST", f"/jobs/{prompt_id}/cancel")
        if response.status_code == 404:
            raise_not_served(response)
            return
        self._ok(response, 200, 202)

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Cancel one job (v2 has no "stop whatever runs")."""
        if prompt_id is None:
            raise UsageError(
                f"{self.label} speaks Comfy API v2: a job is cancelled by its id.",
                hint="Cancel one job with: comfycine cancel JOB",
            )
        await self.cancel(prompt_id, running=True)

    async def delete_pending(self, prompt_ids: list[str]) -> None:
        """Cancel each queued job."""
        for prompt_id in prompt_ids:
            await self.cancel(prompt_id, running=False)

    def event_source(self, client_id: str, job_id: str | None) -> EventSource | None:
        """The job's SSE stream once its id is known (v2 streams are per job)."""
        if job_id is None:
            return None
        from .sse import JobEventStream

        return JobEventStream(self._http, f"{V2_PREFIX}/jobs/{job_id}/events", job_id, self.label)

    async def find_submission(self, graph: dict[str, Any], since: float) -> str | None:
        """The id of a job made from ``graph`` after ``since`` (epoch s), if the server lists.

        For a submission whose answer was lost: ``GET /api/v2/jobs`` (served by
        comfy-api-proxy, 501 on Cloud) then each recent job's workflow compared with
        ours. None when the server cannot list, or when not exactly one job matches.
        """
        response = await self._v2("GET", "/jobs", params={"limit": 50})
        if response.status_code != 200:
            return None
        data = read_object(response, self.label)
        ours = with_assets(graph, self._hashes)
        skip = _asset_inputs(ours)
        sent = _comparable(ours, skip)
        matches = []
        for job in data.get("jobs") or ():
            if not isinstance(job, dict) or not isinstance(job.get("id"), str):
                continue
            created = _epoch(job.get("created_at") or job.get("create_time"))
            if created is not None and created < since - FIND_WINDOW:
                continue
            answer = await self._v2("GET", f"/jobs/{job['id']}/workflow")
            if answer.status_code != 200:
                continue
            workflow = read_object(answer, self.label).get("workflow")
            if isinstance(workflow, dict) and _comparable(workflow, skip) == sent:
                matches.append(job["id"])
        return matches[0] if len(matches) == 1 else None

    # ------------------------------------------------------------------ media

    async def upload_image(
        self, path: Path, *, subfolder: str = "", overwrite: bool = False
    ) -> dict[str, str]:
        """Upload an input once: its blake3 hash is asked first, the bytes sent only if new.

        Answers the reference the graph holds (``asset:ID/NAME``), turned into a
        ``core/ASSET`` input on submission.
        """
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise UsageError(
                f"{path.name} is {size / 1024 / 1024:.0f} MB: Comfy API v2 takes uploads of "
                "about 100 MB at most.",
                code="upload_too_large",
                hint="Re-encode or trim the file, or render on the local ComfyUI.",
                details={"path": path.name},
            )
        digest = await asyncio.to_thread(blake3_of, path)
        asset = await self._asset_from_hash(digest, path.name)
        if asset is None:
            asset = await self._upload(path, digest)
        asset_id = str(asset.get("id") or "")
        if not asset_id:
            raise RejectedError(
                f"{self.label} answered the upload of {path.name} without an asset id.",
                code="upload_failed",
            )
        self._hashes[asset_id] = digest
        return {"name": asset_reference(asset_id, path.name), "subfolder": "", "type": "input"}

    async def _asset_from_hash(self, digest: str, name: str) -> dict[str, Any] | None:
        """An asset over bytes the server has already, without sending them; else None."""
        head = await self._v2("HEAD", f"/assets/by-hash/{digest}")
        if head.status_code != 200:
            return None
        response = await self._v2(
            "POST", "/assets/from-hash", json={"hash": digest, "file_path": name}
        )
        if response.status_code in {200, 201}:
            return read_object(response, self.label)
        return None  # a blob that went away between the two calls: upload it

    async def _upload(self, path: Path, digest: str) -> dict[str, Any]:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        fields = {"file_path": path.name, "content_type": kind, "expected_hash": digest}
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, kind)}
            response = await self._v2(
                "POST",
                "/assets",
                data=fields,
                files=files,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        if response.status_code == 409:
            raise RejectedError(
                f"{self.label} received {path.name} damaged (its hash does not match); "
                "nothing was submitted.",
                code="upload_failed",
                hint="Retry: the file is sent again.",
                details={"path": path.name},
            )
        return read_object(self._ok(response, 200, 201), self.label)

    @asynccontextmanager
    async def stream_output(
        self, ref: OutputRef, *, headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Stream one output from its link (or its asset's content route).

        A link on this server's origin is fetched with the credentials, and a redirect
        from it followed without them; a link elsewhere (a signed storage URL) is
        fetched without them from the start. An expired signed link is renewed once
        through ``GET /api/v2/assets/{id}``.
        """
        extra = {k: v for k, v in (headers or {}).items() if k.lower() == "range"}
        url = ref.url or (
            f"{self.base_url}{V2_PREFIX}/assets/{ref.asset_id}/content" if ref.asset_id else ""
        )
        if not url:
            raise DownloadFailed(
                f"{self.label} gave no link for {ref.filename}.", details={"filename": ref.filename}
            )
        for attempt in (1, 2):
            async with self._fetch(url, ref, extra) as response:
                if response.status_code in {401, 403, 410} and attempt == 1 and ref.asset_id:
                    fresh = await self._fresh_link(ref)
                    if fresh:
                        url = fresh
                        continue
                if response.status_code >= 400:
                    raise DownloadFailed(
                        f"{self.label}: HTTP {response.status_code} for {ref.filename}.",
                        details={"filename": ref.filename, "status": response.status_code},
                    )
                yield response
                return

    async def _fresh_link(self, ref: OutputRef) -> str | None:
        response = await self._v2("GET", f"/assets/{ref.asset_id}")
        if response.status_code != 200:
            return None
        link = read_object(response, self.label).get("url")
        return str(self._base_for_links().join(link)) if isinstance(link, str) and link else None

    @asynccontextmanager
    async def _fetch(
        self, url: str, ref: OutputRef, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        if origin(url) == origin(self.base_url):
            with map_http_errors(self.base_url):
                request = self._http.build_request("GET", url, headers=headers)
                response = await self._http.send(request, stream=True)
            try:
                if not response.is_redirect:
                    if response.status_code >= 400:
                        # Our own origin (the proxy's /content): a refusal is the token's.
                        await response.aread()
                        raise self._error(response)
                    yield response
                    return
                await response.aread()
                location = response.headers.get("location", "")
                url = str(response.request.url.join(location))
            finally:
                await response.aclose()
            if origin(url) == origin(self.base_url):
                raise DownloadFailed(
                    f"{self.label} redirected {ref.filename} to itself.",
                    details={"filename": ref.filename},
                )
        async with self._keyless(url, ref, headers) as response:
            yield response

    @asynccontextmanager
    async def _keyless(
        self, url: str, ref: OutputRef, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """GET ``url`` on another origin with a fresh client: no credentials, no cookies."""
        async with httpx.AsyncClient(
            transport=self._storage_transport,
            timeout=self._timeout,
            follow_redirects=True,
            headers={"User-Agent": "comfycine"},
        ) as storage:
            request = storage.build_request("GET", url, headers=headers)
            secrets = (self._auth.secret,) if self._auth is not None else ()
            if "authorization" in request.headers or any(s in url for s in secrets if s):
                raise DownloadFailed(
                    f"Refused to fetch {ref.filename}: the request would carry the credentials.",
                    details={"filename": ref.filename},
                )
            where = f"{request.url.scheme}://{request.url.host}"
            with map_http_errors(where):
                response = await storage.send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        await response.aread()
                    yield response
                finally:
                    await response.aclose()

    # ------------------------------------------------------------------ no catalog

    def _no_catalog(self, what: str) -> NoCatalog:
        return NoCatalog(
            f"{self.label} speaks Comfy API v2, which has no {what}: checks that need it "
            "are skipped.",
            hint="Validate the workflow on a ComfyUI target instead: "
            "comfycine workflow validate FILE --target local",
        )

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """v2 has no node catalog."""
        raise self._no_catalog("node catalog")

    async def system_stats(self) -> dict[str, Any]:
        """v2 has no system view."""
        raise self._no_catalog("system view")

    async def model_folders(self) -> list[str]:
        """v2 has no model list."""
        raise self._no_catalog("model list")

    async def models_in(self, folder: str) -> list[str] | None:
        """v2 has no model list."""
        raise self._no_catalog("model list")

    async def list_userdata(self, directory: str) -> list[dict[str, Any]] | None:
        """v2 has no user files."""
        raise self._no_catalog("user files")

    async def get_userdata(self, path: str) -> Any:
        """v2 has no user files."""
        raise self._no_catalog("user files")

    async def first_json(self, paths: Any, *, timeout: float = 5.0) -> Any | None:
        """Optional routes (ComfyUI-Manager) do not exist behind v2."""
        return None

    async def free_memory(self, *, unload_models: bool = True) -> None:
        """The v2 server manages its memory itself."""
        raise UsageError(
            f"{self.label} speaks Comfy API v2: it frees its GPU memory itself.",
            code="not_on_v2",
            hint="Free a ComfyUI's memory with: comfycine free --target local",
        )


def blake3_of(path: Path) -> str:
    """``blake3:<hex>`` of a file, as v2 names blobs (read in 1 MiB chunks)."""
    from blake3 import blake3

    hasher = blake3()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return f"blake3:{hasher.hexdigest()}"


def _asset_inputs(graph: dict[str, Any]) -> set[tuple[str, str]]:
    """The (node, input) pairs of a graph that hold a ``core/ASSET`` object."""
    return {
        (str(node_id), name)
        for node_id, node in graph.items()
        if isinstance(node, dict) and isinstance(node.get("inputs"), dict)
        for name, value in node["inputs"].items()
        if isinstance(value, dict) and value.get("__type") == "core/ASSET"
    }


def _comparable(graph: dict[str, Any], skip: set[tuple[str, str]]) -> dict[str, Any]:
    """A graph without the inputs in ``skip``: a server rewrites asset inputs (an object in
    what we sent, a file name in what it ran), so those are left out of the comparison."""
    out: dict[str, Any] = {}
    for node_id, node in graph.items():
        if not isinstance(node, dict):
            continue
        found = node.get("inputs")
        inputs: dict[str, Any] = found if isinstance(found, dict) else {}
        out[str(node_id)] = {
            "class_type": node.get("class_type"),
            "inputs": {k: v for k, v in inputs.items() if (str(node_id), k) not in skip},
        }
    return out


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    if isinstance(value, str) and value:
        from datetime import datetime

        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None
