"""One notice to every configured channel: the notify command and Telegram.

A notification is a courtesy: :meth:`Notifier.send` never raises, it returns one
outcome per channel (``{"channel", "ok", "detail"}``), so a render never fails because
a phone could not be told. Only ``comfycine notify``, whose whole job is the
notification, turns "nothing delivered" into an error (:func:`send_notification`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MediaNotFound, NotifyFailed, UsageError
from ..sanitize import clean_text, redact
from .command import DEFAULT_TIMEOUT, run_command
from .messages import Notice
from .telegram import Limits, Sleep, TelegramClient

if TYPE_CHECKING:
    from ..settings import Settings

NOT_CONFIGURED_HINT = (
    "Set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, or COMFYCINE_NOTIFY_COMMAND "
    "(in the environment or .env; see .env.example)."
)


class Notifier:
    """Sends notices to the configured channels (``command``, ``telegram``)."""

    def __init__(
        self,
        *,
        command: str | None = None,
        telegram: TelegramClient | None = None,
        secrets: tuple[str, ...] = (),
        command_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.command = command.strip() if command and command.strip() else None
        self.telegram = telegram
        self.secrets = secrets
        self.command_timeout = command_timeout

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        limits: Limits | None = None,
        ffmpeg: str | None = "ffmpeg",
        sleep: Sleep = asyncio.sleep,
    ) -> Notifier:
        """The channels the settings configure (Telegram needs both token and chat id).

        ``limits``, ``ffmpeg`` and ``sleep`` reach the Telegram client (for tests).
        """
        telegram = None
        token = settings.telegram_bot_token
        if token is not None and token.get_secret_value() and settings.telegram_chat_id:
            telegram = TelegramClient(
                token.get_secret_value(),
                settings.telegram_chat_id,
                api_url=settings.telegram_api_url,
                limits=limits,
                ffmpeg=ffmpeg,
                sleep=sleep,
            )
        return cls(
            command=settings.notify_command, telegram=telegram, secrets=settings.secret_values
        )

    @property
    def channels(self) -> list[str]:
        """The configured channels, in sending order."""
        return [name for name, on in (("command", self.command), ("telegram", self.telegram)) if on]

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return bool(self.channels)

    async def send(self, notice: Notice) -> list[dict[str, Any]]:
        """Send ``notice`` to every channel at once; one outcome each, never an exception.

        The text is cleaned of control characters and of every configured secret first.
        """
        text = redact(clean_text(notice.text), self.secrets)
        jobs: list[tuple[str, Awaitable[dict[str, Any]]]] = []
        if self.command:
            jobs.append(
                (
                    "command",
                    run_command(
                        self.command, text, timeout=self.command_timeout, secrets=self.secrets
                    ),
                )
            )
        if self.telegram is not None:
            jobs.append(("telegram", self.telegram.send(text, notice.attachment)))
        results = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
        outcomes = []
        for (channel, _), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                detail = redact(f"{type(result).__name__}: {result}", self.secrets)
                result = {"channel": channel, "ok": False, "detail": clean_text(detail)}
            outcomes.append(result)
        return outcomes

    def send_sync(self, notice: Notice) -> list[dict[str, Any]]:
        """:meth:`send` from synchronous code (in a helper thread if a loop is running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.send(notice))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.send(notice)).result()


def notify_enabled(flag: bool | None, settings: Settings) -> bool:
    """Whether a long command notifies: ``--notify`` yes, ``--no-notify`` no, else when
    a channel is configured."""
    if flag is not None:
        return flag
    return Notifier.from_settings(settings).enabled


def send_notification(
    settings: Settings, notice: Notice, *, notifier: Notifier | None = None
) -> dict[str, Any]:
    """``comfycine notify``: send ``notice``; ``{"channels", "outcomes", "delivered"}``.

    Raises :class:`UsageError` (exit 2) for an empty text or, as
    ``notify_not_configured``, with no channel; :class:`MediaNotFound` for an attachment
    that is not a file; :class:`NotifyFailed` (exit 5, outcomes in the details) when no
    channel delivered.
    """
    if not notice.text.strip():
        raise UsageError("The message is empty.", hint='Give it as: comfycine notify "TEXT"')
    notifier = notifier or Notifier.from_settings(settings)
    if not notifier.enabled:
        missing = _missing_telegram(settings)
        raise UsageError(
            "No notification channel is configured" + (f" ({missing})." if missing else "."),
            hint=NOT_CONFIGURED_HINT,
            code="notify_not_configured",
        )
    if notice.attachment is not None and not Path(notice.attachment).is_file():
        raise MediaNotFound(f"No such file to attach: {notice.attachment}")
    outcomes = notifier.send_sync(notice)
    delivered = [o["channel"] for o in outcomes if o["ok"]]
    data = {"channels": notifier.channels, "outcomes": outcomes, "delivered": delivered}
    if not delivered:
        details = "; ".join(f"{o['channel']}: {o['detail']}" for o in outcomes)
        raise NotifyFailed(f"No notification was delivered ({details}).", details=data)
    return data


def _missing_telegram(settings: Settings) -> str:
    token = settings.telegram_bot_token
    has_token = token is not None and bool(token.get_secret_value())
    if has_token and not settings.telegram_chat_id:
        return "TELEGRAM_BOT_TOKEN is set but TELEGRAM_CHAT_ID is not"
    if settings.telegram_chat_id and not has_token:
        return "TELEGRAM_CHAT_ID is set but TELEGRAM_BOT_TOKEN is not"
    return ""
