"""API v2 scenario methods and records of :class:`~tests.fakecloud.server.FakeCloud`.

A mixin: each method runs its work on the server loop through ``_on_loop`` (provided by
``FakeCloud``) and returns when done. The v2 attribute knobs (``v2_enabled``,
``v2_events``, ...) are plain attributes set in ``FakeCloud.__init__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tests.fakecloud.state import CloudState
from tests.fakecloud.storage import Storage
from tests.fakecloud.v2shapes import DEFAULT_MESSAGES
from tests.fakecloud.v2state import AssetUpload, V2Refusal

T = TypeVar("T")


class V2Scenarios:
    """Arm v2 refusals, drop answers, expire jobs; read what v2 clients did."""

    def _on_loop(self, action: Callable[[CloudState, Storage], T]) -> T:
        raise NotImplementedError

    def v2_refuse(
        self,
        status: int,
        code: str,
        times: int = 1,
        retry_after: str | int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` valid ``POST /api/v2/jobs`` with ``status``/``code``.

        E.g. ``(402, "insufficient_credits")``, ``(429, "queue_full", retry_after="1")``.
        The idempotency key is not claimed, so a retry with the same key goes through.
        ``message`` replaces the default text (a server echoing the key, say).
        """
        refusal = _refusal(status, code, retry_after, message)
        self._on_loop(lambda state, _: state.v2.submit_refusals.extend([refusal] * times))

    def v2_refuse_get(
        self, status: int, code: str, times: int = 1, retry_after: str | int | None = None
    ) -> None:
        """Answer the next ``times`` ``GET /api/v2/jobs/{id}`` with ``status``/``code``."""
        refusal = _refusal(status, code, retry_after)
        self._on_loop(lambda state, _: state.v2.get_refusals.extend([refusal] * times))

    def drop_submit_answer(self, times: int = 1) -> None:
        """Create the next ``times`` v2 jobs (key claimed) but cut the connection unanswered."""

        def act(state: CloudState, _: Storage) -> None:
            state.v2.drop_submits += times

        self._on_loop(act)

    def expire_job(self, job_id: str) -> None:
        """Move a job to ``expired`` (stopped if still queued or running; outputs gone)."""

        def act(state: CloudState, _: Storage) -> None:
            job = state.jobs[job_id]
            job.expired = True
            if job_id in state.pending:
                state.pending.remove(job_id)
                state.queue_changed()
            job.interrupt.set()
            job.sync_status()

        self._on_loop(act)

    @property
    def v2_submits(self) -> list[tuple[str | None, Any]]:
        """Every ``POST /api/v2/jobs`` JSON body with its ``Idempotency-Key`` (or None)."""
        return self._on_loop(lambda state, _: list(state.v2.submits))

    @property
    def asset_uploads(self) -> list[AssetUpload]:
        """Every ``POST /api/v2/assets`` that sent a file: ``(file_path, hash, size, status)``."""
        return self._on_loop(lambda state, _: list(state.v2.asset_uploads))

    @property
    def cancels(self) -> list[str]:
        """The job id of every ``POST /api/v2/jobs/{id}/cancel`` to a known job."""
        return self._on_loop(lambda state, _: list(state.v2.cancels))

    @property
    def deprecated_calls(self) -> list[str]:
        """``"GET /api/job/{id}/status"``-like entries for calls to routes deprecated in v1."""
        return self._on_loop(lambda state, _: list(state.deprecated_calls))

    @property
    def job_ids(self) -> list[str]:
        """Every job the fake holds (v1 and v2), in creation order."""
        return self._on_loop(lambda state, _: list(state.jobs))

    def loaded_images(self, job_id: str) -> list[str]:
        """Stored file names a v2 job's ``LoadImage`` nodes read, in order."""
        return self._on_loop(lambda state, _: list(state.jobs[job_id].loaded))

    def v2_status(self, job_id: str) -> str:
        """The job's current API v2 status."""
        return self._on_loop(lambda state, _: state.jobs[job_id].v2_status)


def _refusal(
    status: int, code: str, retry_after: str | int | None, message: str | None = None
) -> V2Refusal:
    after = str(retry_after) if retry_after is not None else None
    return V2Refusal(status, code, message or DEFAULT_MESSAGES.get(code, code), after)
