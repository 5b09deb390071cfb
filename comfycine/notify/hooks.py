"""The notifications of the long commands: ``generate``/``wait``, ``batch``, ``watch``.

A command builds one :class:`JobNotifications` from ``--notify/--no-notify`` and the
settings, wraps its progress observer with :meth:`observe` (the 10-minute "still
rendering" notice), and reports the outcome with :meth:`done` or :meth:`failed`. Only
final outcomes notify: a wait that ends with the job still running sends nothing, so a
job waited on in slices notifies once. Nothing here can fail the command.

The senders are imported only when a channel is on: they pull in httpx and asyncio.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ComfycineError, ExitCode

if TYPE_CHECKING:
    from ..jobs import Observer
    from ..results import JobResult
    from ..settings import Settings

# Outcomes that are not the job's end: nothing to tell the phone yet.
# A refused spend (exit 9) never started: the person at the terminal is asked, or told.
_NOT_AN_END = frozenset(
    {ExitCode.USAGE, ExitCode.STILL_RUNNING, ExitCode.CONSENT, ExitCode.INTERRUPTED}
)


class JobNotifications:
    """Notifications for one command's job, or none when disabled or not configured."""

    def __init__(self, settings: Settings, flag: bool | None, *, label: str | None = None):
        enabled = flag if flag is not None else channel_configured(settings)
        self.notifier = None
        if enabled:
            from .notifier import Notifier

            self.notifier = Notifier.from_settings(settings)
        self.label = label
        self.outcomes: list[dict[str, object]] = []

    def observe(self, inner: Observer | None) -> Observer | None:
        """``inner`` wrapped with the one-time still-rendering reminder."""
        if self.notifier is None:
            return inner
        from .reminder import remind_when_long

        return remind_when_long(self.notifier, inner=inner, label=self.label)

    @contextlib.contextmanager
    def reporting(self) -> Iterator[None]:
        """Report a comfycine error raised inside the block (then let it go on)."""
        try:
            yield
        except ComfycineError as exc:
            self.failed(exc)
            raise

    def done(self, result: JobResult) -> None:
        """A job that ended well (a detached submission is not an end)."""
        if self.notifier is not None and result.status == "succeeded":
            from .messages import job_done_notice

            self.outcomes = self.notifier.send_sync(job_done_notice(result))

    def failed(self, error: ComfycineError) -> None:
        """A job that ended badly, with the top fix of its diagnosis."""
        if self.notifier is None or error.exit_code in _NOT_AN_END:
            return
        from ..diagnose import Diagnosis
        from .messages import job_failed_notice

        found = error.details.get("diagnosis")
        diagnosis = Diagnosis.from_dict(found) if isinstance(found, dict) else None
        self.outcomes = self.notifier.send_sync(
            job_failed_notice(error, diagnosis, label=self.label)
        )


def channel_configured(settings: Settings) -> bool:
    """Whether the settings configure a channel: ``Notifier.from_settings(...).enabled``,
    read without importing the senders."""
    token = settings.telegram_bot_token
    telegram = token is not None and bool(token.get_secret_value()) and settings.telegram_chat_id
    return bool((settings.notify_command or "").strip() or telegram)


BatchHook = Callable[[str, dict[str, Any]], Awaitable[None]]
WatchHook = Callable[[str, dict[str, Any]], Awaitable[None]]


def batch_hook(settings: Settings, flag: bool | None) -> BatchHook | None:
    """The end-of-batch notice ("batch upscale: 11/12 done, 1 failed"), or None.

    A sweep's (``generate --takes/--vary``) says "sweep" and attaches its grid.
    """
    from .messages import Notice, batch_done_notice
    from .notifier import Notifier, notify_enabled

    if not notify_enabled(flag, settings):
        return None
    notifier = Notifier.from_settings(settings)

    async def hook(summary: str, data: dict[str, Any]) -> None:
        previews = data.get("previews")
        grid = previews.get("grid") if isinstance(previews, dict) else None
        total = int(data.get("total") or 0)
        done, failed = int(data.get("succeeded") or 0), int(data.get("failed") or 0)
        kind = summary.split(" ", 1)[0]  # run_sweep says "sweep …", run_conform "conform …"
        if kind == "conform":  # its shots: conformed, or not (failed, QC, offline)
            done = int(data.get("conformed") or 0)
            failed = total - done
        notice = batch_done_notice(
            done,
            failed,
            total,
            data.get("seconds"),
            label=data.get("template"),
            kind=kind if kind in ("sweep", "conform") else "batch",
            grid=grid if isinstance(grid, str) else None,
        )
        if "stopped:" in summary:  # the PC went away mid-batch: say so, not "done"
            notice = Notice(f"⚠️ {summary}", notice.attachment)
        await notifier.send(notice)

    return hook


def watch_hook(settings: Settings, flag: bool | None) -> WatchHook | None:
    """One notice per watched file: the result (attached), or the failure and its fix."""
    from .messages import Notice
    from .notifier import Notifier, notify_enabled

    if not notify_enabled(flag, settings):
        return None
    notifier = Notifier.from_settings(settings)

    async def hook(kind: str, payload: dict[str, Any]) -> None:
        name = str(payload.get("input") or "a file")
        if kind == "watch.succeeded":
            outputs = [str(p) for p in payload.get("outputs") or ()]
            first = Path(outputs[0]) if outputs else None
            where = f" → {first.name}" if first else ""
            await notifier.send(Notice(f"✅ {name}{where} ({payload.get('template')})", first))
            return
        found = payload.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        diagnosis = (error.get("details") or {}).get("diagnosis") or {}
        fixes = diagnosis.get("fixes") or []
        fix = fixes[0] if fixes and isinstance(fixes[0], dict) else {}
        lines = [f"❌ {name} ({payload.get('template')}): {error.get('message') or 'failed'}"]
        if fix:
            lines.append(" ".join(str(v) for v in (fix.get("text"), fix.get("command")) if v))
        await notifier.send(Notice("\n".join(lines)))

    return hook
