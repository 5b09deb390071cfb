"""Notifications: the filmmaker's notify command and Telegram, for jobs and batches.

* :class:`Notifier` — every configured channel; ``send`` never raises;
* the notices: :func:`job_done_notice`, :func:`job_failed_notice`,
  :func:`batch_done_notice`, :func:`still_rendering_notice`;
* :func:`remind_when_long` — a job observer sending one "still rendering" notice;
* :func:`notify_enabled` — what ``--notify/--no-notify`` (or neither) means;
* :func:`send_notification` — ``comfycine notify``.

The names are imported on first use: the senders pull in httpx and asyncio, which a
command that sends nothing (most runs of ``status`` or ``wait``) must not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .messages import (
        Notice,
        batch_done_notice,
        format_duration,
        job_done_notice,
        job_failed_notice,
        still_rendering_notice,
    )
    from .notifier import Notifier, notify_enabled, send_notification
    from .reminder import Reminder, remind_when_long
    from .telegram import Limits, TelegramClient

_HOMES = {
    "Notice": "messages",
    "batch_done_notice": "messages",
    "format_duration": "messages",
    "job_done_notice": "messages",
    "job_failed_notice": "messages",
    "still_rendering_notice": "messages",
    "Notifier": "notifier",
    "notify_enabled": "notifier",
    "send_notification": "notifier",
    "Reminder": "reminder",
    "remind_when_long": "reminder",
    "Limits": "telegram",
    "TelegramClient": "telegram",
}

__all__ = [
    "Limits",
    "Notice",
    "Notifier",
    "Reminder",
    "TelegramClient",
    "batch_done_notice",
    "format_duration",
    "job_done_notice",
    "job_failed_notice",
    "notify_enabled",
    "remind_when_long",
    "send_notification",
    "still_rendering_notice",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
