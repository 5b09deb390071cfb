"""Options every command takes, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comfycine.cli.settingsload import load_settings as load_settings  # re-exported

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON envelope on stdout (for scripts, agents).")
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", "-t", help="Where to run: local (default).")
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Show tracebacks (also COMFYCINE_DEBUG=1).")
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="ComfyUI URL for the local target (overrides COMFYUI_URL)."),
]


OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="NAME=VALUE for a template parameter (repeatable)."),
]
DetachOpt = Annotated[
    bool, typer.Option("--detach", "-d", help="Submit and print the job id at once.")
]
FollowTimeoutOpt = Annotated[
    float | None,
    typer.Option(help="Stop waiting after S seconds (exit 6; the job goes on)."),
]
EventsOpt = Annotated[
    bool, typer.Option("--events", help="Print progress as NDJSON events on stdout.")
]
NoValidateOpt = Annotated[
    bool,
    typer.Option("--no-validate", help="Skip the check against the server's nodes/models."),
]
TransportOpt = Annotated[
    str | None,
    typer.Option(
        "--transport",
        help="How to follow the job: auto (the socket, polling when it fails), ws or poll.",
    ),
]
AllowSpendOpt = Annotated[
    bool,
    typer.Option(
        "--allow-spend",
        help="Let partner (paid API) nodes run: they bill your Comfy account.",
    ),
]
OfflineOpt = Annotated[
    bool,
    typer.Option("--offline", help="Use the last snapshot of the server's nodes and models."),
]
