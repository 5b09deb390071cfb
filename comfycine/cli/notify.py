"""``comfycine notify TEXT``: send a message (and a file) to the configured channels.

Also :data:`NotifyOpt`, the ``--notify/--no-notify`` flag of the long commands
(generate, batch, watch): unset means "notify when a channel is configured", see
:func:`comfycine.notify.notify_enabled`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from comfycine.cli.options import DebugOpt, JsonOpt, load_settings
from comfycine.cli.render import Output

NotifyOpt = Annotated[
    bool | None,
    typer.Option(
        "--notify/--no-notify",
        help="Notify when done (default: when a channel is configured).",
    ),
]


def _print(output: Output, data: dict[str, Any]) -> None:
    for outcome in data["outcomes"]:
        state = "sent" if outcome["ok"] else "failed"
        output.write_stdout(f"{outcome['channel']:9} {state:7} {outcome['detail']}")


def notify(
    text: Annotated[str, typer.Argument(help="The message.")],
    attach: Annotated[
        Path | None,
        typer.Option("--attach", "-a", help="A file to send with it (Telegram only)."),
    ] = None,
    json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Send TEXT to every notification channel (notify command, Telegram).

    Exit 0 when at least one channel delivered it, 2 when none is configured,
    5 when every channel failed.
    """
    from comfycine.notify import Notice, send_notification

    settings = load_settings()
    output = Output("notify", as_json=json, secrets=lambda: settings.secret_values)
    data = send_notification(settings, Notice(text, attach))
    output.success(data, _print)
