"""Comfy Cloud as a target: Comfy API v2 for jobs, the v1 API where v2 has nothing.

Comfy-Org calls the v1 Cloud API (the ComfyUI-compatible ``/api/prompt``, ``/api/view``,
``/ws``, ``X-API-Key``) deprecated in favour of Comfy API v2 (COMFY-API-V2.md). So
:class:`CloudClient` runs jobs over v2 (:class:`~.v2.V2Client`, ``Authorization:
Bearer``): idempotent submission, the job's own answer as the authority, its event
stream, per-job cancel, assets uploaded once, outputs through their signed links. v2 has
no node catalog, model list, queue view or account probe: those stay on v1. When v2
answers 404/501 for jobs (a deployment without it) the job runs over v1, without the two
v1 routes marked for removal (``/api/job/{id}/status``, ``/api/history_v2``).
``COMFYCINE_CLOUD_API`` (``auto``, ``v2``, ``v1``) forces one.

Differences from a local ComfyUI on v1 that callers should know (PROTOCOL.md §5):

* ``POST /api/prompt`` may ignore our ``prompt_id``: use the one it answers.
* ``POST /api/interrupt`` stops **all** running jobs of the account, not one.
* Outputs come from ``/api/view`` as a 302 to a signed storage URL, fetched without the key.
* The WebSocket takes the key as ``token`` in its query (:meth:`CloudClient.ws_query`).

The key is never put in an error message, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from ..errors import (
    CloudAccountError,
    ComfycineError,
    DownloadFailed,
    NoCatalog,
    ServerError,
    UsageError,
)
from ..sanitize import clean_text, one_line, redact
from ..settings import DEFAULT_CLOUD_URL
from .auth import TargetAuth
from .failures import map_http_errors, validation_error
from .local import CONNECT_TIMEOUT, READ_TIMEOUT, ComfyClient, EventSource, prompt_body
from .records import HistoryEntry, JobSighting, OutputRef, parse_outputs
from .v2 import V2Client
from .v2answers import NotServed, error_body

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
# Legacy deployments send plan refusals as 429 with one of these types: not retryable.
PLAN_REFUSALS = frozenset(
    {
        "FREE_TIER_EXHAUSTED",
        "FREE_TIER_NOT_ALLOWED",
        "PAYMENT_REQUIRED",
        "CLOUD_SUBSCRIPTION_REQUIRED",
        "PARTNER_NODE_PAYMENT_REQUIRED",
        "MODEL_PAYMENT_REQUIRED",
    }
)
# Real backpressure: the job was not queued, sending it again later is safe.
QUEUE_FULL = frozenset({"QUEUE_LIMIT", "FREE_TIER_UNAVAILABLE"})
CLOUD_APIS = ("auto", "v2", "v1")
SUBMIT_TRIES = 3
MAX_RETRY_WAIT = 30.0
DEFAULT_RETRY_WAIT = 5.0
# Union of the raw states of /api/job/{id}/status and the friendly ones of /api/jobs.
TERMINAL_STATUSES = frozenset(
    {"success", "completed", "error", "non_retryable_error", "lost", "cancelled", "failed"}
)
_FAILED = frozenset({"error", "non_retryable_error", "lost", "failed"})
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_EDGE = 16384
MAX_UPLOAD_PIXELS = 67_108_864  # "64 megapixels" as the spec counts them
_MEASURED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
# Where the spec's ExecutionError may carry node inputs (prompts, keys of partner nodes).
_UNSAFE_ERROR_KEYS = ("current_inputs", "current_outputs")

Sleep = Callable[[float], Awaitable[None]]


def is_terminal_status(status: str) -> bool:
    """Whether a Cloud job status (raw or friendly) means the job has ended.

    Anything not known as terminal counts as still in flight, so a new in-flight state
    added by the service never ends a wait early.
    """
    return status.strip().lower() in TERMINAL_STATUSES


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    """``(error.type or code, message)`` of a Cloud error body, whichever shape it uses."""
    kind, message, _ = error_body(response)
    return kind, message


def retry_after(response: httpx.Response, default: float = DEFAULT_RETRY_WAIT) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), capped."""
    value = response.headers.get("retry-after", "").strip()
    wait = default
    if value.isdigit():
        wait = float(value)
    elif value:
        try:
            wait = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            wait = default
    return min(max(wait, 0.0), MAX_RETRY_WAIT)


def check_upload(path: Path) -> None:
    """Raise :class:`UsageError` (cloud_upload_too_large) before sending a file Cloud refuses.

    Size is checked for every file; width, height and pixel count for PNG, JPEG and
    WebP when Pillow can read the header (videos are only size-checked).
    """
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise _too_large(path, f"{size / 1024 / 1024:.1f} MB, the limit is 50 MB")
    if path.suffix.lower() not in _MEASURED_SUFFIXES:
        return
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional: the server checks again anyway
        return
    try:
        # Only the header is read. Pillow's bomb guard warns above ~89 MP and refuses
        # above ~179 MP: both are far past Cloud's 64 MP, so a refusal means too large.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise _too_large(path, "more than 64 megapixels") from None
    except (OSError, ValueError):
        return
    if max(width, height) > MAX_UPLOAD_EDGE:
        raise _too_large(path, f"{width}x{height} px, the limit is 16384 px per edge")
    if width * height > MAX_UPLOAD_PIXELS:
        raise _too_large(path, f"{width}x{height} px, the limit is 64 megapixels")


def _too_large(path: Path, why: str) -> UsageError:
    return UsageError(
        f"{path.name} is too large for Comfy Cloud: {why}.",
        code="cloud_upload_too_large",
        hint="Resize or re-encode the file, or render on the local ComfyUI.",
        details={"path": path.name},
    )


def _job_to_history(prompt_id: str, job: dict[str, Any]) -> HistoryEntry | None:
    """A finished ``/api/jobs/{id}`` body as a :class:`HistoryEntry`; None while in flight."""
    status = str(job.get("status") or "").lower()
    if not is_terminal_status(status):
        return None
    execution = job.get("execution_status")
    messages: list[tuple[str, dict[str, Any]]] = []
    if isinstance(execution, dict):
        messages = [
            (str(m[0]), m[1] if isinstance(m[1], dict) else {})
            for m in execution.get("messages") or ()
            if isinstance(m, list) and len(m) == 2
        ]
    kinds = {kind for kind, _ in messages}
    start, end = job.get("execution_start_time"), job.get("execution_end_time")
    if "execution_start" not in kinds and isinstance(start, int):
        messages.insert(0, ("execution_start", {"prompt_id": prompt_id, "timestamp": start}))
    failed = status in _FAILED
    if status == "cancelled" and "execution_interrupted" not in kinds:
        messages.append(("execution_interrupted", {"prompt_id": prompt_id}))
    elif failed and "execution_error" not in kinds:
        error = job.get("execution_error")
        payload = dict(error) if isinstance(error, dict) else {}
        if not payload:
            payload = {"exception_type": "CloudJobError", "exception_message": status}
        messages.append(("execution_error", {"prompt_id": prompt_id, **payload}))
    elif not failed and "execution_success" not in kinds and isinstance(end, int):
        messages.append(("execution_success", {"prompt_id": prompt_id, "timestamp": end}))
    messages = [(kind, _without_inputs(data)) for kind, data in messages]
    outputs = job.get("outputs")
    return HistoryEntry(
        prompt_id=prompt_id,
        status="success" if status in {"success", "completed"} else "error",
        completed=status in {"success", "completed"},
        outputs=parse_outputs(outputs) if isinstance(outputs, dict) else (),
        messages=tuple(messages),
        raw={k: v for k, v in job.items() if k not in {"workflow", "execution_error"}},
    )


def _without_inputs(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _UNSAFE_ERROR_KEYS}


class CloudClient(ComfyClient):
    """Async client for Comfy Cloud: jobs over Comfy API v2, the rest over v1.

    Account refusals on any call raise :class:`CloudAccountError` with code
    ``cloud_auth`` (401/403), ``cloud_credits`` (402), ``cloud_plan`` (v1 429 plan
    refusal), ``cloud_queue_full`` (429 backpressure, after waiting it out a while) or
    ``cloud_rate_limited``. ``api``: ``auto`` (v2 for jobs, v1 when v2 is not served),
    ``v2`` or ``v1`` only.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_CLOUD_URL,
        *,
        api_key: str,
        api: str = "auto",
        transport: httpx.AsyncBaseTransport | None = None,
        storage_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        if not api_key:
            raise UsageError(
                "No Comfy Cloud API key.",
                code="cloud_auth",
                hint="Create a key at platform.comfy.org and set it in the settings.",
            )
        if api not in CLOUD_APIS:
            raise UsageError(
                f"Unknown Comfy Cloud API {api!r}: use auto, v2 or v1.",
                code="invalid_setting",
                hint="Fix COMFYCINE_CLOUD_API (auto, v2 or v1).",
            )
        super().__init__(
            base_url,
            transport=transport,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._api_key = api_key
        self._http.headers[API_KEY_HEADER] = api_key
        self._storage_transport = storage_transport if storage_transport else transport
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._sleep = sleep
        self.api = api
        self.v2 = V2Client(
            base_url,
            auth=TargetAuth.bearer(api_key, "COMFY_CLOUD_API_KEY"),
            cloud=True,
            target="cloud",
            label="Comfy Cloud",
            transport=transport,
            storage_transport=self._storage_transport,
            sleep=sleep,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        # Whether v2 serves jobs here (None: not known yet); jobs known to be on v1.
        self._v2_served: bool | None = None if api == "auto" else api == "v2"
        self._v1_jobs: set[str] = set()

    def __repr__(self) -> str:
        return f"CloudClient({self.base_url!r})"

    @property
    def server_minted_ids(self) -> bool:  # type: ignore[override]
        """v2 mints job ids (a lost submission is found by its key, never sent blindly);
        on v1 the job is looked up under our id, as on a ComfyUI."""
        return self._v2_served is not False

    def auth_error(self, status: int) -> ComfycineError | None:
        """None: refusals of the key are read from the answer (:meth:`_account_error`)."""
        return None

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self.v2.aclose()
        await super().aclose()

    def ws_query(self) -> dict[str, str]:
        """Extra WebSocket query (``token``) for ``EventStream(query=...)`` (v1 jobs).

        Cloud ignores ``clientId`` and sends every message of the account on each socket:
        filter events by ``prompt_id``.
        """
        return {"token": self._api_key}

    def api_parts(self) -> dict[str, str]:
        """Which API serves each part of the work (``targets``, ``doctor``)."""
        jobs = {
            "auto": "Comfy API v2 (v1 where v2 is not served)",
            "v2": "Comfy API v2",
            "v1": "v1 (deprecated; COMFYCINE_CLOUD_API=v1)",
        }[self.api]
        if self.api == "auto" and self._v2_served is False:
            jobs = "v1 (this server does not serve Comfy API v2 jobs)"
        return {
            "jobs": jobs,
            "events": "v1 WebSocket"
            if self.api == "v1"
            else "Comfy API v2 event stream, polling where not served",
            "nodes": "v1 /api/object_info (v2 has no node catalog)",
            "models": "v1 /api/experiment/models",
            "probe": "v1 /api/system_stats and /api/user",
        }

    # ------------------------------------------------------------------ plumbing

    def _redact(self, text: str) -> str:
        return clean_text(redact(text, [self._api_key]))

    def _account_error(self, response: httpx.Response) -> CloudAccountError | None:
        """The account refusal a response carries, if any (429 backpressure included)."""
        status = response.status_code
        kind, message = _error_body(response)
        said = self._redact(message.strip()) or "(no message)"
        details: dict[str, Any] = {"status": status, "type": kind}
        # A 403 is an auth failure only with a challenge (OAuth scope); otherwise it is a
        # resource refusal ("job does not belong to user") and stays a server error.
        if status == 401 or (status == 403 and "www-authenticate" in response.headers):
            return CloudAccountError(
                f"Comfy Cloud refused the API key (HTTP {status}): {said}",
                code="cloud_auth",
                hint="Check the key at platform.comfy.org and the setting that holds it.",
                details=details,
            )
        if status == 402:
            return CloudAccountError(
                f"Comfy Cloud: not enough credits ({said}).",
                code="cloud_credits",
                hint="Add credits at platform.comfy.org, or render on the local ComfyUI.",
                details=details,
            )
        if status == 429 and kind in QUEUE_FULL:
            return CloudAccountError(
                f"Comfy Cloud's queue is full for this account ({kind}): {said}",
                code="cloud_queue_full",
                hint="Wait for running jobs to finish, then submit again.",
                details=details,
            )
        if status == 429:
            return CloudAccountError(
                f"Comfy Cloud refused the job for this plan ({kind or 'no type'}): {said}",
                code="cloud_plan",
                hint="API access needs an active Standard, Creator or Pro subscription.",
                details=details,
            )
        return None

    def _server_error(self, response: httpx.Response) -> ServerError:
        _, message = _error_body(response)
        said = self._redact(message.strip())
        return ServerError(
            f"Comfy Cloud answered HTTP {response.status_code} to "
            f"{response.request.method} {response.request.url.path}: "
            f"{one_line(said) or '(empty body)'}",
            details={
                "status": response.status_code,
                "path": response.request.url.path,
                "body": said,
                "cloud": True,
            },
        )

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call with the ``/api`` prefix and no status handling."""
        if not path.startswith("/api/"):
            path = "/api" + path
        return await super()._request(method, path, **kwargs)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Every inherited call goes here: account refusals and 5xx raise, 400/404 return."""
        response = await self._send(method, path, **kwargs)
        if response.status_code in {401, 402, 403, 429}:
            await response.aread()
            error = self._account_error(response)
            if error is not None:
                raise error
        if response.status_code >= 500:
            raise self._server_error(response)
        return response

    def _json_of(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise self._server_error(response)
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"{response.request.url.path} did not answer JSON: is this Comfy Cloud?",
                details={"status": response.status_code, "path": response.request.url.path},
            ) from None

    # ------------------------------------------------------------------ jobs

    def _on_v1(self, job_id: str) -> bool:
        return self._v2_served is False or job_id in self._v1_jobs

    async def submit(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        extra_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Submit over v2 (``Idempotency-Key``: ``prompt_id``), or v1 where v2 is not served.

        The answer's ``prompt_id`` is the server's job id: follow that one. Raises
        :class:`~.v2answers.IdempotencyKeyReused` when an earlier try's answer was lost.
        """
        if self._v2_served is not False:
            try:
                answer = await self.v2.submit(
                    graph, prompt_id=prompt_id, client_id=client_id, extra_data=extra_data
                )
            except NotServed as exc:
                self._not_on_v2(exc)
            except CloudAccountError as exc:
                raise await self._v2_key_check(exc) from None
            else:
                self._v2_served = True
                return answer
        answer = await self._submit_v1(
            graph, prompt_id=prompt_id, client_id=client_id, extra_data=extra_data
        )
        self._v1_jobs.add(str(answer["prompt_id"]))
        return answer

    def _not_on_v2(self, exc: NotServed) -> None:
        if self.api == "v2":
            raise ServerError(
                f"Comfy Cloud at {self.base_url} does not serve Comfy API v2 jobs "
                f"(HTTP {exc.status}), and COMFYCINE_CLOUD_API=v2 forbids v1.",
                code="not_comfy_api_v2",
                hint="Set COMFYCINE_CLOUD_API=auto (v1 where v2 is missing), or check "
                "COMFY_CLOUD_URL.",
                details={"status": exc.status},
            )
        logger.info("Comfy Cloud does not serve v2 jobs (HTTP %s): using v1", exc.status)
        self._v2_served = False

    async def _v2_key_check(self, error: CloudAccountError) -> CloudAccountError:
        """A key refused by v2: say so plainly when v1 takes the same key."""
        if error.code != "cloud_auth" or self.api == "v2":
            return error
        try:
            response = await self._send("GET", "/api/user")
        except ComfycineError:
            return error
        if response.status_code != 200:
            return error
        return CloudAccountError(
            "Comfy Cloud's API v2 refused the key that its v1 API accepts; nothing was submitted.",
            code="cloud_auth",
            hint="Create a new key at platform.comfy.org, or use the deprecated v1 API "
            "meanwhile: COMFYCINE_CLOUD_API=v1",
            details={**error.details, "v1_accepts_key": True},
        )

    async def locate(self, prompt_id: str) -> JobSighting:
        """Where the job is: its v2 answer, else v1's ``/api/jobs/{id}``."""
        if not self._on_v1(prompt_id):
            try:
                return await self.v2.locate(prompt_id)
            except NotServed:
                self._v1_jobs.add(prompt_id)
        return await self._locate_v1(prompt_id)

    async def history(self, prompt_id: str) -> HistoryEntry | None:
        """The finished job, or None while in flight or unknown."""
        sighting = await self.locate(prompt_id)
        return sighting.history

    async def _v1_job(self, prompt_id: str) -> dict[str, Any] | None:
        response = await self._request("GET", f"/api/jobs/{prompt_id}")
        if response.status_code == 404:
            return None
        data = self._json_of(response)
        return data if isinstance(data, dict) else None

    async def _locate_v1(self, prompt_id: str) -> JobSighting:
        """v1 ``/api/jobs/{id}`` (friendly statuses); nothing marked for removal."""
        job = await self._v1_job(prompt_id)
        if job is None:
            return JobSighting("absent")
        status = str(job.get("status") or "").lower()
        if is_terminal_status(status):
            return JobSighting("finished", history=_job_to_history(prompt_id, job))
        if status in {"pending", "queued", "pending_execution", "queued_limited"}:
            return JobSighting("queued")
        if status in {"in_progress", "executing", "running"}:
            return JobSighting("running", 0)
        return JobSighting("going")

    async def job_in_flight(self, prompt_id: str) -> bool | None:
        """Whether the job is still going (from :meth:`locate`)."""
        sighting = await self.locate(prompt_id)
        return sighting.state not in {"finished", "absent"}

    async def reachable(self) -> None:
        """Server and key usable: an authenticated v2 look (v1's queue when on v1)."""
        if self._v2_served is not False:
            try:
                await self.v2.get_job(str(uuid.uuid4()))
                return
            except NotServed as exc:
                self._not_on_v2(exc)
            except CloudAccountError as exc:
                raise await self._v2_key_check(exc) from None
        await self.queue()

    async def cancel(self, prompt_id: str, *, running: bool) -> None:
        """Cancel this job only (v2); on v1, interrupt (every job!) or unqueue."""
        if not self._on_v1(prompt_id):
            try:
                await self.v2.cancel(prompt_id, running=running)
                return
            except NotServed:
                self._v1_jobs.add(prompt_id)
        await super().cancel(prompt_id, running=running)

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Stop a job: v2 cancels this one; v1's ``/api/interrupt`` stops **every** job.

        On v1 the id is sent but Cloud's API takes none; to stop one job only, it must
        be the only one running (pending jobs are removed with :meth:`delete_pending`).
        """
        if prompt_id is not None and not self._on_v1(prompt_id):
            await self.cancel(prompt_id, running=True)
            return
        await super().interrupt(prompt_id)

    async def delete_pending(self, prompt_ids: list[str]) -> None:
        """Take queued jobs out: v2 cancels each, v1 deletes them from the queue."""
        on_v1 = [p for p in prompt_ids if self._on_v1(p)]
        for prompt_id in prompt_ids:
            if prompt_id not in on_v1:
                await self.cancel(prompt_id, running=False)
        if on_v1:
            await super().delete_pending(on_v1)

    def event_source(self, client_id: str, job_id: str | None) -> EventSource | None:
        """v2 jobs: their own event stream; v1 jobs: the account's WebSocket."""
        if job_id is None:
            return None  # which API takes the job is known once it is submitted
        if self._on_v1(job_id):
            return super().event_source(client_id, job_id)
        return self.v2.event_source(client_id, job_id)

    async def find_submission(self, graph: dict[str, Any], since: float) -> str | None:
        """A lost v2 submission, if the server lists jobs (Cloud answers 501: None)."""
        return await self.v2.find_submission(graph, since)

    async def free_memory(self, *, unload_models: bool = True) -> None:
        """Comfy Cloud manages its GPUs itself: there is nothing to free."""
        raise UsageError(
            "Comfy Cloud frees its GPU memory itself; /free is for your own ComfyUI.",
            hint="Free the PC's memory with: comfycine free --target local",
            code="not_on_cloud",
        )

    # ------------------------------------------------------------------ v1 only

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """v1 ``/api/object_info``; one class is picked from the full answer if need be.

        ``/api/object_info/{class}`` is not in Cloud's spec, so a 404 there falls back.
        A key that v1 refuses (while v2 may take it) skips the checks: :class:`NoCatalog`.
        """
        try:
            if node_class is not None:
                response = await self._request("GET", f"/api/object_info/{node_class}")
                if response.status_code != 404:
                    data = self._json_of(response)
                    return data if isinstance(data, dict) else {}
            data = self._json_of(await self._request("GET", "/api/object_info"))
        except CloudAccountError as exc:
            if exc.code != "cloud_auth" or self.api == "v1":
                raise
            raise NoCatalog(
                "Comfy Cloud's v1 API (its node catalog) refused the key: the graph is not "
                "checked before it is sent.",
                hint="Check the key at platform.comfy.org; jobs still go through API v2.",
                details={"v1_refuses_key": True},
            ) from None
        if not isinstance(data, dict):
            return {}
        if node_class is None:
            return data
        return {node_class: data[node_class]} if node_class in data else {}

    async def model_folders(self) -> list[str]:
        """Model folder names from ``/api/experiment/models`` (``[{name, folders}]``)."""
        response = await self._request("GET", "/api/experiment/models")
        if response.status_code == 404:
            return []
        data = self._json_of(response)
        items = data if isinstance(data, list) else []
        return [str(i["name"]) for i in items if isinstance(i, dict) and "name" in i]

    async def models_in(self, folder: str) -> list[str] | None:
        """Model files of one folder (``[{name, pathIndex}]``), None when it does not exist."""
        response = await self._request("GET", f"/api/experiment/models/{folder}")
        if response.status_code == 404:
            return None
        data = self._json_of(response)
        items = data if isinstance(data, list) else []
        return [str(i["name"]) for i in items if isinstance(i, dict) and "name" in i]

    async def upload_image(
        self, path: Path, *, subfolder: str = "", overwrite: bool = False
    ) -> dict[str, str]:
        """An input for a job: a v2 asset (uploaded once), or v1's ``/api/upload/image``."""
        if self._v2_served is not False:
            try:
                return await self.v2.upload_image(path, subfolder=subfolder)
            except NotServed as exc:
                self._not_on_v2(exc)
        check_upload(path)
        return await super().upload_image(path, subfolder=subfolder, overwrite=overwrite)

    @asynccontextmanager
    async def stream_output(
        self, ref: OutputRef, *, headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Stream one output: a v2 output from its signed link, a v1 one via ``/api/view``."""
        if ref.asset_id or ref.url:
            async with self.v2.stream_output(ref, headers=headers) as response:
                yield response
            return
        async with self._stream_v1(ref, headers=headers) as response:
            yield response

    async def _submit_v1(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        extra_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """v1 ``POST /api/prompt``; the answer's ``prompt_id`` is the one to follow.

        A full queue (429 QUEUE_LIMIT / FREE_TIER_UNAVAILABLE) is retried after
        ``Retry-After`` (at most :data:`SUBMIT_TRIES` tries, each wait capped at
        :data:`MAX_RETRY_WAIT` s), then raises ``cloud_queue_full``.
        """
        body = prompt_body(graph, prompt_id=prompt_id, client_id=client_id, extra_data=extra_data)
        for attempt in range(1, SUBMIT_TRIES + 1):
            response = await self._send("POST", "/api/prompt", json=body)
            error = self._account_error(response) if response.status_code >= 401 else None
            if error is None or error.code != "cloud_queue_full" or attempt == SUBMIT_TRIES:
                break
            wait = retry_after(response)
            logger.info("Comfy Cloud queue full; try %d again in %.1f s", attempt + 1, wait)
            await self._sleep(wait)
        if error is not None:
            error.details["tries"] = attempt
            raise error
        if response.status_code == 400:
            try:
                data = response.json()
            except ValueError:
                raise self._server_error(response) from None
            raise validation_error(data if isinstance(data, dict) else {})
        data = self._json_of(response)
        if not isinstance(data, dict) or not isinstance(data.get("prompt_id"), str):
            raise ServerError("POST /api/prompt answered without a prompt_id.")
        if data["prompt_id"] != prompt_id:
            logger.info("Comfy Cloud assigned prompt_id %s", data["prompt_id"])
        return data

    @asynccontextmanager
    async def _stream_v1(
        self, ref: OutputRef, *, headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """Stream one output: ``/api/view`` answers 302 to signed storage, fetched keyless.

        The storage request goes through a separate client with no key header and no
        cookies; following the redirect with the API client would send the key along.
        ``headers`` (a ``Range`` to resume) go to storage only: ``/api/view`` just
        redirects, and a direct 200 from it is the whole file, which the caller sees.
        """
        with map_http_errors(self.base_url):
            async with self._http.stream("GET", "/api/view", params=ref.query()) as response:
                if response.status_code == 200:
                    yield response
                    return
                await response.aread()
                if response.status_code in {401, 402, 403, 429}:
                    raise self._account_error(response) or self._server_error(response)
                location = response.headers.get("location")
                if not response.is_redirect or not location:
                    raise self._server_error(response)
                target = response.request.url.join(location)
        async with self._storage_stream(target, ref, headers or {}) as storage:
            yield storage

    @asynccontextmanager
    async def _storage_stream(
        self, url: httpx.URL, ref: OutputRef, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        async with httpx.AsyncClient(
            transport=self._storage_transport,
            timeout=self._timeout,
            follow_redirects=True,
            headers={"User-Agent": "comfycine"},
        ) as storage:
            # Only a Range goes along: nothing of the API client's headers.
            extra = {k: v for k, v in headers.items() if k.lower() == "range"}
            request = storage.build_request("GET", url, headers=extra)
            # The key must never reach storage: not as a header, not echoed into the URL.
            leaked = API_KEY_HEADER.lower() in {k.lower() for k in request.headers} or (
                self._api_key in str(request.url)
            )
            if leaked or "cookie" in request.headers:
                raise DownloadFailed(
                    f"Refused to fetch {ref.filename}: the storage request would carry the key.",
                    details={"filename": ref.filename},
                )
            with map_http_errors(f"{url.scheme}://{url.host}"):
                response = await storage.send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        await response.aread()
                        raise DownloadFailed(
                            f"Storage answered HTTP {response.status_code} for {ref.filename}.",
                            details={"filename": ref.filename, "status": response.status_code},
                        )
                    yield response
                finally:
                    await response.aclose()
