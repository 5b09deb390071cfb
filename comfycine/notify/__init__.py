"""Notifications: the filmmaker's notify command and Telegram, for jobs and batches.

* :class:`Notifier` — every configured channel; ``send`` never raises;
* the notices: :func:`job_done_notice`, :func:`job_failed_notice`,
  :func:`batch_done_notice`, :func:`still_rendering_notice`;
* :func:`remind_when_long` — a job observer sending one "still rendering" notice;
* :func:`notify_enabled` — what ``--notify/--no-notify`` (or neither) means;
* :func:`send_notification` — ``comfycine notify``.
"""

from __future__ import annotations

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
